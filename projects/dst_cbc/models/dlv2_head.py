"""The DeepLabV2 classifier head (ASPP of dilated 3x3 convolutions, summed)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


@MODELS.register_module()
class DLV2Head(BaseDecodeHead):
    """DeepLabV2 ASPP classifier.

    Each branch is a 3x3 convolution with bias and its own dilation that maps
    the backbone features straight to class logits; the logits of all
    branches are summed. There is no image pooling, no bottleneck and, by
    default, no dropout. The original code returned inside its summing loop
    and so only added the first two branches; this head sums all of them
    unless ``summed_branches`` says otherwise (the paper protocol sets 2).

    The branches live in ``conv2d_list`` (the name of the original
    ``Classifier_Module``), so converted DeepLabV2 weights map one to one.
    ``BaseDecodeHead`` builds a ``conv_seg`` that this head does not use; it
    is removed so that every parameter takes part in the loss (as DDP needs).

    Args:
        in_channels (int | Sequence[int]): Channels of the selected backbone
            feature map (a sequence with ``input_transform='resize_concat'``).
        num_classes (int): Number of classes (output channels).
        dilations (Sequence[int]): Dilation of each branch.
            Defaults to (6, 12, 18, 24).
        channels (int, optional): Unused by this head (logits come straight
            from the features); accepted so that configs inheriting a
            ``_base_`` decode head keep working. Defaults to the (summed)
            ``in_channels``.
        dropout_ratio (float): Dropout on the features before the branches.
            Defaults to 0.0 (none).
        summed_branches (int, optional): Sum only the first this many
            branches, as the authors' code did (2: dilations 6 and 12). The
            other branches are still built, so DeepLabV2 weights load one to
            one, but frozen (``requires_grad=False``): they get no gradient,
            no weight decay and need no ``find_unused_parameters`` under
            DDP. Defaults to None: every branch is summed.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to normal(std=0.01) weights and zero biases for every
            branch, as in the original.
        **kwargs: Other arguments of :class:`BaseDecodeHead` (``in_index``,
            ``input_transform``, ``loss_decode``, ``align_corners``, ...).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 num_classes: int,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 channels: Optional[int] = None,
                 dropout_ratio: float = 0.0,
                 summed_branches: Optional[int] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal',
                     std=0.01,
                     bias=0,
                     override=dict(name='conv2d_list')),
                 **kwargs) -> None:
        if len(dilations) == 0:
            raise ValueError('DLV2Head: dilations must not be empty')
        if summed_branches is not None and not (
                isinstance(summed_branches, int)
                and 1 <= summed_branches <= len(dilations)):
            raise ValueError('DLV2Head: summed_branches must be an int in '
                             f'[1, {len(dilations)}] or None, got '
                             f'{summed_branches!r}')
        if kwargs.get('input_transform') == 'multiple_select':
            raise ValueError('DLV2Head: input_transform="multiple_select" is '
                             'not supported; the branches need one tensor')
        if channels is None:
            channels = sum(in_channels) if isinstance(in_channels,
                                                      (list,
                                                       tuple)) else in_channels
        super().__init__(
            in_channels,
            channels,
            num_classes=num_classes,
            dropout_ratio=dropout_ratio,
            init_cfg=init_cfg,
            **kwargs)
        del self.conv_seg
        self.dilations = tuple(dilations)
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(
                self.in_channels,
                self.out_channels,
                kernel_size=3,
                padding=dilation,
                dilation=dilation,
                bias=True) for dilation in self.dilations)
        self.summed_branches = summed_branches or len(self.dilations)
        for conv in self.conv2d_list[self.summed_branches:]:
            conv.requires_grad_(False)

    def cls_seg(self, feat: Tensor) -> Tensor:
        """Sum the logits of the (first ``summed_branches``) dilated branches.

        Args:
            feat (Tensor): Features of shape (N, in_channels, H, W).

        Returns:
            Tensor: Logits of shape (N, out_channels, H, W).
        """
        if self.dropout is not None:
            feat = self.dropout(feat)
        summed = self.conv2d_list[:self.summed_branches]
        return sum(conv(feat) for conv in summed)

    def forward(self, inputs: Tuple[Tensor]) -> Tensor:
        """Classify the selected backbone feature map.

        Args:
            inputs (tuple[Tensor]): Multi-level backbone features.

        Returns:
            Tensor: Logits of shape (N, out_channels, H, W).
        """
        return self.cls_seg(self._transform_inputs(inputs))
