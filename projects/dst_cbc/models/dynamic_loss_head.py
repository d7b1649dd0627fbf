"""Let any MMSeg decode head use the dynamic self-training loss.

A config swaps ``type='ASPPHead'`` for
``type='DynamicLossHead', base_type='ASPPHead'``: the head built is a
subclass of ``ASPPHead`` whose ``loss_by_feat`` tells every
:class:`DynamicCrossEntropyLoss` which samples are pseudo-labeled (from
``data_sample.metainfo['is_pseudo']``) and, for a loss with
``weight_source='stored'`` (the OW ablation), the stored confidence maps
(``data_sample.pseudo_confidence``). The subclass adds no parameters, so
its state dict has the plain head's keys and checkpoints load either way.
Under autocast the subclass classifies in float32 (:meth:`cls_seg`).
"""
import inspect
from contextlib import ExitStack
from typing import Dict, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import SampleList
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
    """Mixin for a :class:`BaseDecodeHead` subclass: every
    :class:`DynamicCrossEntropyLoss` of the head learns which samples of a
    batch are pseudo-labeled (and, with ``weight_source='stored'``, their
    stored confidences).

    The loss itself is :meth:`BaseDecodeHead.loss_by_feat`, called as is:
    the flags reach the dynamic losses through
    :meth:`DynamicCrossEntropyLoss.pseudo_batch` for the duration of the
    call, so the pixel sampler (e.g. ``OHEMPixelSampler``) ranks pixels by
    the loss the head minimises. Other losses are called exactly as MMSeg
    calls them. The flags are read from the data samples on every call;
    nothing is kept after it.
    """

    #: Read by :class:`DynamicCrossEntropyLoss` when it is built in a head.
    passes_pseudo_masks = True

    def cls_seg(self, feat: Tensor) -> Tensor:
        """Classify each pixel, in float32 also under autocast.

        Logits rounded to bfloat16 (8 bits of mantissa) feed the loss, the
        dynamic weight ``p ** gamma`` and the confidence ranking of
        pseudo-labeling; under ``--amp`` on a CPU they cost the default run
        2.0 mIoU (mean of 3 seeds, ``benchmarks/amp``). The classifier is a
        small share of a segmentor's compute, so it runs in float32 on
        float32 features (the rest of the network stays in the autocast
        dtype).

        Args:
            feat (Tensor): The head's last features.

        Returns:
            Tensor: Float32 logits under autocast, else the parent's.
        """
        device = feat.device.type
        if not torch.is_autocast_enabled(device):
            return super().cls_seg(feat)
        with torch.autocast(device_type=device, enabled=False):
            return super().cls_seg(feat.float())

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
        if isinstance(self.loss_decode, nn.ModuleList):
            losses_decode = list(self.loss_decode)
        else:
            losses_decode = [self.loss_decode]
        dynamic = [
            loss for loss in losses_decode
            if isinstance(loss, DynamicCrossEntropyLoss)
        ]
        pseudo_mask = pseudo_mask_of(batch_data_samples, seg_logits.device)
        confidence = None
        if any(loss.weight_source == 'stored' for loss in dynamic):
            confidence = pseudo_confidence_of(
                batch_data_samples, batch_data_samples[0].gt_sem_seg.shape,
                seg_logits.device)
        with ExitStack() as stack:
            for loss in dynamic:
                stack.enter_context(loss.pseudo_batch(pseudo_mask, confidence))
            return super().loss_by_feat(seg_logits, batch_data_samples)


_DYNAMIC_CLASSES: Dict[type, type] = {}


def dynamic_loss_head_class(base_type: Union[str, type]) -> type:
    """Return the (cached) subclass ``Dynamic<Base>`` of a decode head.

    Args:
        base_type (str | type): A decode head class, or its name in MODELS.
            It must subclass :class:`BaseDecodeHead` and keep its
            ``loss_by_feat`` (a head with its own, e.g. ``STDCHead``, may call
            its losses with other targets, where pseudo flags mean nothing).

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
                        'overrides loss_by_feat; only heads computing their '
                        "loss with BaseDecodeHead's are supported")
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
