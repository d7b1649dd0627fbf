"""MMSeg's data preprocessor with batch augmentations built from configs.

MMSeg 1.x's ``SegDataPreProcessor`` stores ``batch_augments`` as given and
calls it as one callable after padding, in training only; a config's list
of dicts is never built (its "TODO: support batch augmentations"), so
``batch_augments=[dict(...)]`` fails at the first training step. This
subclass builds each entry from ``MODELS`` and chains them.
"""
from typing import List, Optional, Tuple

import torch.nn as nn
from torch import Tensor

from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.utils import SampleList


class BatchAugments(nn.Module):
    """Batch augmentations applied in order.

    Args:
        augments (list[dict]): Configs of ``MODELS`` modules called as
            ``inputs, data_samples = augment(inputs, data_samples)``.
    """

    def __init__(self, augments: List[dict]) -> None:
        super().__init__()
        if not isinstance(augments, (list, tuple)):
            raise TypeError('BatchAugSegDataPreProcessor: `batch_augments` '
                            f'must be a list of configs, got {augments!r}')
        self.augments = nn.ModuleList(MODELS.build(a) for a in augments)

    def forward(self, inputs: Tensor,
                data_samples: SampleList) -> Tuple[Tensor, SampleList]:
        """Apply every augmentation in turn.

        Args:
            inputs (Tensor): Normalised, padded images, (N, C, H, W).
            data_samples (list[:obj:`SegDataSample`]): The batch.

        Returns:
            tuple[Tensor, list[:obj:`SegDataSample`]]: The augmented batch.
        """
        for augment in self.augments:
            inputs, data_samples = augment(inputs, data_samples)
        return inputs, data_samples


@MODELS.register_module()
class BatchAugSegDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` whose ``batch_augments`` are configs.

    The augmentations run after normalisation and padding, in training only
    (``SegDataPreProcessor.forward`` with ``training=True``); validation,
    testing and pseudo-labeling never see them. They hold no parameters or
    buffers, so state dicts are those of ``SegDataPreProcessor``.

    Args:
        batch_augments (list[dict], optional): Configs of batch
            augmentations, e.g. ``[dict(type='PseudoCutMix', prob=0.5)]``.
            Defaults to None (none).
        **kwargs: Arguments of ``SegDataPreProcessor``.
    """

    def __init__(self,
                 batch_augments: Optional[List[dict]] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if batch_augments:
            self.batch_augments = BatchAugments(batch_augments)
