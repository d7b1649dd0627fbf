"""Let any MMSeg decode head use the dynamic self-training loss.

A config swaps ``type='ASPPHead'`` for
``type='DynamicLossHead', base_type='ASPPHead'``: the head built is a
subclass of ``ASPPHead`` whose ``loss_by_feat`` tells every
:class:`DynamicCrossEntropyLoss` which samples are pseudo-labeled (from
``data_sample.metainfo['is_pseudo']``) and, for a loss with
``weight_source='stored'`` (the OW ablation), the stored confidence maps
(``data_sample.pseudo_confidence``). The subclass adds no parameters, so
its state dict has the plain head's keys and checkpoints load either way.
"""
import inspect
from typing import Dict, Sequence, Type, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor

from .dynamic_loss import DynamicCrossEntropyLoss


def pseudo_mask_of(batch_data_samples: SampleList,
                   device: torch.device) -> Tensor:
    """Read the per-sample pseudo-label flags of a batch.

    Args:
        batch_data_samples (list[:obj:`SegDataSample`]): The batch; a sample
            without ``metainfo['is_pseudo']`` counts as labeled.
        device (torch.device): Device of the returned mask.

    Returns:
        Tensor: Bool tensor of shape (N,), True for pseudo-labeled samples.
    """
    return torch.tensor(
        [bool(s.metainfo.get('is_pseudo', False)) for s in batch_data_samples],
        dtype=torch.bool,
        device=device)


def pseudo_confidence_of(batch_data_samples: SampleList, size: Sequence[int],
                         device: torch.device) -> Tensor:
    """Stack the stored confidence maps of a batch to the labels' size.

    The data preprocessor pads each label at the right and bottom to the
    batch size with IGNORE; the confidence maps are padded there with 0 (those
    pixels contribute nothing). Labeled samples get ones, which the loss
    never reads.

    Args:
        batch_data_samples (list[:obj:`SegDataSample`]): The batch;
            pseudo-labeled samples must carry ``pseudo_confidence``
            (:class:`~dst_cbc.datasets.PackSegInputsWithConfidence`).
        size (Sequence[int]): ``(H, W)`` of the stacked labels.
        device (torch.device): Device of the returned tensor.

    Returns:
        Tensor: float32 tensor of shape (N, H, W).
    """
    height, width = size
    maps = []
    for sample in batch_data_samples:
        if not sample.metainfo.get('is_pseudo', False):
            maps.append(torch.ones(height, width, device=device))
            continue
        if 'pseudo_confidence' not in sample:
            raise ValueError(
                'pseudo-labeled sample '
                f'{sample.metainfo.get("img_path")} has no pseudo_confidence: '
                'the unlabeled pipeline needs LoadPseudoConfidence and '
                'PackSegInputsWithConfidence, the labels '
                'PseudoLabelHook(store_confidence=True)')
        confidence = sample.pseudo_confidence.data[0].to(
            device=device, dtype=torch.float32)
        h, w = confidence.shape
        if h > height or w > width:
            raise ValueError(
                f'pseudo_confidence of shape {(h, w)} is larger than the '
                f'labels {(height, width)}')
        maps.append(F.pad(confidence, (0, width - w, 0, height - h)))
    return torch.stack(maps)


class DynamicLossMixin:
    """Mixin for a :class:`BaseDecodeHead` subclass: its ``loss_by_feat``
    passes ``pseudo_mask`` to every :class:`DynamicCrossEntropyLoss`, and
    ``pseudo_confidence`` to those with ``weight_source='stored'``.

    Everything else is :meth:`BaseDecodeHead.loss_by_feat`: logits resized
    to the labels, optional pixel sampler, losses summed by name, and
    ``acc_seg``. Other losses are called exactly as MMSeg calls them. The
    flags are read from the data samples on every call; nothing is stored.
    """

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Compute the segmentation losses of a batch.

        Args:
            seg_logits (Tensor): The output of the head's forward.
            batch_data_samples (list[:obj:`SegDataSample`]): The batch, with
                ``gt_sem_seg``, optionally ``metainfo['is_pseudo']`` and,
                for stored weights, ``pseudo_confidence``.

        Returns:
            dict[str, Tensor]: Loss items and ``acc_seg``.
        """
        seg_label = self._stack_batch_gt(batch_data_samples)
        seg_logits = resize(
            input=seg_logits,
            size=seg_label.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        if self.sampler is not None:
            seg_weight = self.sampler.sample(seg_logits, seg_label)
        else:
            seg_weight = None
        seg_label = seg_label.squeeze(1)
        pseudo_mask = pseudo_mask_of(batch_data_samples, seg_logits.device)

        if isinstance(self.loss_decode, nn.ModuleList):
            losses_decode = self.loss_decode
        else:
            losses_decode = [self.loss_decode]
        loss = dict()
        confidence = None
        for loss_decode in losses_decode:
            extra = dict()
            if isinstance(loss_decode, DynamicCrossEntropyLoss):
                extra['pseudo_mask'] = pseudo_mask
                if loss_decode.weight_source == 'stored':
                    if confidence is None:
                        confidence = pseudo_confidence_of(
                            batch_data_samples, seg_label.shape[1:],
                            seg_logits.device)
                    extra['pseudo_confidence'] = confidence
            value = loss_decode(
                seg_logits,
                seg_label,
                weight=seg_weight,
                ignore_index=self.ignore_index,
                **extra)
            if loss_decode.loss_name in loss:
                loss[loss_decode.loss_name] += value
            else:
                loss[loss_decode.loss_name] = value

        loss['acc_seg'] = accuracy(
            seg_logits, seg_label, ignore_index=self.ignore_index)
        return loss


_DYNAMIC_CLASSES: Dict[type, type] = {}


def dynamic_loss_head_class(base_type: Union[str, type]) -> type:
    """Return the (cached) subclass ``Dynamic<Base>`` of a decode head.

    Args:
        base_type (str | type): A decode head class, or its name in MODELS.
            It must subclass :class:`BaseDecodeHead` and keep its
            ``loss_by_feat`` (a head with its own loss would be silently
            replaced).

    Returns:
        type: ``type('Dynamic' + Base.__name__, (DynamicLossMixin, Base),
        ...)``, created once per base.
    """
    if isinstance(base_type, str):
        base = MODELS.get(base_type)
        if base is None:
            raise KeyError(f'DynamicLossHead: base_type {base_type!r} is not '
                           'registered in MODELS')
    else:
        base = base_type
    if not (inspect.isclass(base) and issubclass(base, BaseDecodeHead)):
        raise TypeError('DynamicLossHead: base_type must be a BaseDecodeHead '
                        f'subclass, got {base_type!r}')
    if issubclass(base, DynamicLossMixin):
        raise TypeError(f'DynamicLossHead: base_type {base.__name__} already '
                        'uses the dynamic loss')
    if base.loss_by_feat is not BaseDecodeHead.loss_by_feat:
        raise TypeError(f'DynamicLossHead: base_type {base.__name__} '
                        'overrides loss_by_feat, which the dynamic loss would '
                        'replace')
    if base not in _DYNAMIC_CLASSES:
        _DYNAMIC_CLASSES[base] = type('Dynamic' + base.__name__,
                                      (DynamicLossMixin, base),
                                      {'__module__': __name__})
    return _DYNAMIC_CLASSES[base]


def __getattr__(name: str) -> type:
    """Resolve ``Dynamic<Base>`` names on this module, so that pickle finds
    the generated classes (also in a fresh process).

    Args:
        name (str): Attribute name, e.g. ``'DynamicDLV2Head'``.

    Returns:
        type: The cached subclass for the registered head ``<Base>``.
    """
    if name.startswith('Dynamic') and name != 'Dynamic':
        try:
            return dynamic_loss_head_class(name[len('Dynamic'):])
        except (KeyError, TypeError):
            pass
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


@MODELS.register_module(name='DynamicLossHead')
def build_dynamic_loss_head(base_type: Union[str, type],
                            **kwargs) -> BaseDecodeHead:
    """Build a decode head whose loss knows which samples are pseudo-labeled.

    Registered as ``DynamicLossHead``, e.g.
    ``dict(type='DynamicLossHead', base_type='DLV2Head', in_channels=2048,
    num_classes=21, loss_decode=dict(type='DynamicCrossEntropyLoss',
    gamma=9.0))``.

    Args:
        base_type (str | type): The plain decode head (class or MODELS name).
        **kwargs: Arguments of the plain head.

    Returns:
        BaseDecodeHead: An instance of ``Dynamic<Base>``.
    """
    return dynamic_loss_head_class(base_type)(**kwargs)
