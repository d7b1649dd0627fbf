"""Decode heads that tell the dynamic self-training loss which samples are
pseudo-labeled.

:class:`DynamicLossHead` computes a head's losses as MMSeg's
``BaseDecodeHead.loss_by_feat`` does and passes every
:class:`DynamicCrossEntropyLoss` of the head the batch's pseudo flags (from
``data_sample.metainfo['is_pseudo']``) and, for a loss with
``weight_source='stored'`` (the OW ablation), the stored confidence maps
(``data_sample.pseudo_confidence``). Under autocast it classifies in float32
(:meth:`DynamicLossHead.cls_seg`).

The heads configs use are its registered subclasses ``Dynamic<Base>``, e.g.
``type='DynamicASPPHead'`` in place of ``type='ASPPHead'``. They add no
parameters: their state dicts have the plain heads' keys, so checkpoints
load either way. Any other head that computes its loss with
``BaseDecodeHead.loss_by_feat`` gets the dynamic loss from a subclass of two
lines (plus its docstring), ``DynamicLossHead`` first::

    @MODELS.register_module()
    class DynamicPSPHead(DynamicLossHead, PSPHead):
        \"\"\"PSPNet's head with the dynamic loss.\"\"\"

A head with its own ``loss_by_feat`` (e.g. ``STDCHead``) is not supported:
``DynamicLossHead``'s would replace it.

A plain head configured with :class:`DynamicCrossEntropyLoss` would train
pseudo-labeled samples without their weight; :func:`check_dynamic_heads`
refuses such a model.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.models.decode_heads import (ASPPHead, DepthwiseSeparableASPPHead,
                                       DepthwiseSeparableFCNHead, FCNHead,
                                       UPerHead)
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import OHEMPixelSampler
from mmseg.utils import SampleList
from .dlv2_head import DLV2Head
from .dynamic_loss import DynamicCrossEntropyLoss

#: A loss of a head and the keyword arguments it is called with.
LossCall = Tuple[nn.Module, dict]


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


def ohem_weight(pixel_losses: Tensor, valid: Tensor, min_kept: int) -> Tensor:
    """Keep the pixels of largest loss, as MMSeg's ``OHEMPixelSampler``
    without ``thresh`` does.

    Args:
        pixel_losses (Tensor): Per-pixel losses of shape (N, H, W).
        valid (Tensor): Bool tensor of shape (N, H, W), False at IGNORE.
        min_kept (int): Pixels kept per image; ``min_kept * N`` are kept in
            all (every valid pixel if there are fewer).

    Returns:
        Tensor: Weights of shape (N, H, W): 1 on the kept pixels, else 0.
    """
    weight = pixel_losses.new_zeros(pixel_losses.shape)
    valid_weight = weight[valid]
    _, order = pixel_losses[valid].sort(descending=True)
    valid_weight[order[:min_kept * pixel_losses.size(0)]] = 1.
    weight[valid] = valid_weight
    return weight


def losses_of(head: BaseDecodeHead) -> List[nn.Module]:
    """The losses of a decode head's ``loss_decode``, as a list.

    Args:
        head (BaseDecodeHead): The head.

    Returns:
        list[nn.Module]: Its losses, in config order.
    """
    if isinstance(head.loss_decode, nn.ModuleList):
        return list(head.loss_decode)
    return [head.loss_decode]


def check_dynamic_heads(model: nn.Module) -> None:
    """Refuse a model with a plain decode head using the dynamic loss.

    A head passes :class:`DynamicCrossEntropyLoss` the pseudo flags only if
    it is a :class:`DynamicLossHead`; in any other head the loss counts every
    sample as labeled, so pseudo-labeled samples would train unweighted.

    Args:
        model (nn.Module): The segmentor (possibly wrapped, e.g. in DDP).

    Raises:
        TypeError: Naming the first such head and the fix.
    """
    for name, head in model.named_modules():
        if not isinstance(head, BaseDecodeHead) or isinstance(
                head, DynamicLossHead):
            continue
        if any(
                isinstance(loss, DynamicCrossEntropyLoss)
                for loss in losses_of(head)):
            base = type(head).__name__
            raise TypeError(
                f'model.{name} ({base}) is configured with '
                'DynamicCrossEntropyLoss but cannot tell it which samples '
                'are pseudo-labeled, so they would get plain cross-entropy; '
                f"use a DynamicLossHead: type='Dynamic{base}' (see "
                'dst_cbc.models.dynamic_loss_head to add one)')


class DynamicLossHead(BaseDecodeHead):
    """Base of the decode heads whose dynamic losses learn which samples are
    pseudo-labeled.

    Combined with a plain head, ``DynamicLossHead`` first (see the module's
    docstring), it keeps that head's ``__init__`` and ``forward`` and
    replaces :meth:`loss_by_feat` and wraps :meth:`cls_seg`. Every
    :class:`DynamicCrossEntropyLoss` of the head is called with the batch's
    ``pseudo_mask`` and ``pseudo_confidence``; other losses are called
    exactly as MMSeg calls them. Nothing is kept between calls.
    """

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

        The steps of ``BaseDecodeHead.loss_by_feat``, with the pseudo flags
        passed to the dynamic losses (and to their pixel ranking for OHEM).

        Args:
            seg_logits (Tensor): The output of the head's forward.
            batch_data_samples (list[:obj:`SegDataSample`]): The batch, with
                ``gt_sem_seg``, optionally ``metainfo['is_pseudo']`` and,
                for stored weights, ``pseudo_confidence``.

        Returns:
            dict[str, Tensor]: The losses, summed by ``loss_name``, and
            ``acc_seg``.
        """
        seg_label = self._stack_batch_gt(batch_data_samples)
        seg_logits = resize(
            input=seg_logits,
            size=seg_label.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        calls = self._loss_calls(batch_data_samples, seg_label.shape[2:],
                                 seg_logits.device)
        seg_weight = self._pixel_weight(seg_logits, seg_label, calls)
        seg_label = seg_label.squeeze(1)
        losses = dict()
        for loss_decode, kwargs in calls:
            value = loss_decode(
                seg_logits,
                seg_label,
                weight=seg_weight,
                ignore_index=self.ignore_index,
                **kwargs)
            name = loss_decode.loss_name
            losses[name] = losses[name] + value if name in losses else value
        losses['acc_seg'] = accuracy(
            seg_logits, seg_label, ignore_index=self.ignore_index)
        return losses

    def _loss_calls(self, batch_data_samples: SampleList, size: Sequence[int],
                    device: torch.device) -> List[LossCall]:
        """Pair each loss of the head with its extra keyword arguments.

        Args:
            batch_data_samples (list[:obj:`SegDataSample`]): The batch.
            size (Sequence[int]): ``(H, W)`` of the stacked labels.
            device (torch.device): Device of the flags.

        Returns:
            list[tuple[nn.Module, dict]]: Every loss with
            ``pseudo_mask`` and ``pseudo_confidence`` if it is a
            :class:`DynamicCrossEntropyLoss`, with no extra argument
            otherwise.
        """
        losses = losses_of(self)
        flags = dict(
            pseudo_mask=pseudo_mask_of(batch_data_samples, device),
            pseudo_confidence=None)
        if any(
                isinstance(loss, DynamicCrossEntropyLoss)
                and loss.weight_source == 'stored' for loss in losses):
            flags['pseudo_confidence'] = pseudo_confidence_of(
                batch_data_samples, size, device)
        return [(loss,
                 flags if isinstance(loss, DynamicCrossEntropyLoss) else {})
                for loss in losses]

    def _pixel_weight(self, seg_logits: Tensor, seg_label: Tensor,
                      calls: List[LossCall]) -> Optional[Tensor]:
        """The pixel sampler's weights, OHEM ranking by the head's losses.

        MMSeg's ``OHEMPixelSampler`` without ``thresh`` ranks pixels by
        calling the losses itself, without pseudo flags; here they are
        ranked by the losses the head minimises, flags included. Any other
        sampler is called as is.

        Args:
            seg_logits (Tensor): Logits of shape (N, C, H, W), resized to
                the labels.
            seg_label (Tensor): Labels of shape (N, 1, H, W).
            calls (list[tuple[nn.Module, dict]]): From :meth:`_loss_calls`.

        Returns:
            Tensor, optional: Weights of shape (N, H, W), or None without a
            sampler.
        """
        sampler = self.sampler
        if sampler is None:
            return None
        if type(sampler) is not OHEMPixelSampler or sampler.thresh is not None:
            return sampler.sample(seg_logits, seg_label)
        label = seg_label.squeeze(1)
        with torch.no_grad():
            pixel_losses = sum(
                loss(
                    seg_logits,
                    label,
                    weight=None,
                    ignore_index=self.ignore_index,
                    reduction_override='none',
                    **kwargs) for loss, kwargs in calls)
            return ohem_weight(pixel_losses, label != self.ignore_index,
                               sampler.min_kept)


@MODELS.register_module()
class DynamicDLV2Head(DynamicLossHead, DLV2Head):
    """DeepLabV2's classifier (:class:`DLV2Head`) with the dynamic loss."""


@MODELS.register_module()
class DynamicASPPHead(DynamicLossHead, ASPPHead):
    """DeepLabV3's ``ASPPHead`` with the dynamic loss."""


@MODELS.register_module()
class DynamicDepthwiseSeparableASPPHead(DynamicLossHead,
                                        DepthwiseSeparableASPPHead):
    """DeepLabV3+'s ``DepthwiseSeparableASPPHead`` with the dynamic loss."""


@MODELS.register_module()
class DynamicUPerHead(DynamicLossHead, UPerHead):
    """UPerNet's ``UPerHead`` with the dynamic loss."""


@MODELS.register_module()
class DynamicFCNHead(DynamicLossHead, FCNHead):
    """FCN's ``FCNHead`` with the dynamic loss."""


@MODELS.register_module()
class DynamicDepthwiseSeparableFCNHead(DynamicLossHead,
                                       DepthwiseSeparableFCNHead):
    """Fast-SCNN's ``DepthwiseSeparableFCNHead`` with the dynamic loss."""
