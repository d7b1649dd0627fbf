"""UniMatch (Yang et al., CVPR 2023): weak-to-strong consistency with a
feature-perturbed stream and two strong image streams.

Each training batch holds labeled crops and ``2 * B`` unlabeled crops (see
:class:`UniMatch`). The loss, as the authors' ``unimatch.py``:

1. ``mix_targets``: the last ``B`` unlabeled crops' weak views are predicted
   with the model in eval mode, without gradients; they are the CutMix
   sources of the first ``B``.
2. ``forward_weak``: one train-mode forward of the labeled crops and the
   first ``B`` weak views; the decode head runs on the features and on a
   channel-dropped copy of them (``nn.Dropout2d``), in one batch. The weak
   views' detached predictions are the pseudo labels (argmax) and their
   confidence (max softmax); the dropped copy is the feature-perturbed
   stream.
3. ``forward_strong``: each weak view's two strong views get, inside their
   CutMix box, the source crop's strong view; one train-mode forward of
   both. Their targets take the source's pseudo label, confidence and
   ignore mask inside the box.
4. ``loss_x`` is the decode head's own loss on the labeled crops;
   ``loss_s1``, ``loss_s2`` and ``loss_fp`` are the per-pixel cross-entropy
   masked by ``confidence >= conf_thresh`` and by the ignore mask, summed
   and divided by the number of non-ignored pixels (the authors'
   normalisation). The total is ``(x + 0.25 s1 + 0.25 s2 + 0.5 fp) / 2``:
   each logged term is already weighted, so they sum to ``loss``.
"""
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.models import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from ..datasets.strong_views import NUM_VIEWS, VIEWS_KEY
from .unimatch_data_preprocessor import BOXES_KEY, IGNORE, IGNORE_KEY

#: The authors' weights, their ``(x + 0.25 s1 + 0.25 s2 + 0.5 fp) / 2``.
DEFAULT_WEIGHTS = dict(x=0.5, s1=0.125, s2=0.125, fp=0.25)


class Targets(NamedTuple):
    """Pseudo labels of a batch of unlabeled crops, each (N, H, W)."""
    label: Tensor
    confidence: Tensor
    ignore: Tensor


class UnlabeledBatch(NamedTuple):
    """The unlabeled crops of a batch, as the loss uses them.

    ``strong`` is (B, 2, 3, H, W), ``boxes`` (B, 2, H, W); ``mix_*`` belong
    to the CutMix sources, one per crop.
    """
    weak: Tensor
    strong: Tensor
    ignore: Tensor
    boxes: Tensor
    mix_weak: Tensor
    mix_strong: Tensor
    mix_ignore: Tensor


def masked_cross_entropy(logits: Tensor, targets: Targets,
                         threshold: float) -> Tensor:
    """The UniMatch loss of an unlabeled stream.

    Args:
        logits (Tensor): (N, C, H, W) at the targets' size.
        targets (Targets): Pseudo labels, confidence and ignore mask.
        threshold (float): Pixels less confident than this are left out.

    Returns:
        Tensor: The cross-entropy summed over confident, non-ignored
        pixels, divided by the number of non-ignored pixels (float32).
    """
    loss = F.cross_entropy(logits.float(), targets.label, reduction='none')
    valid = targets.ignore != IGNORE
    kept = (targets.confidence >= threshold) & valid
    return (loss * kept).sum() / valid.sum().clamp(min=1)


def confident_targets(logits: Tensor, ignore: Tensor) -> Targets:
    """Pseudo labels and confidence of detached logits, in float32.

    Args:
        logits (Tensor): (N, C, H, W).
        ignore (Tensor): (N, H, W), 255 where ignored.

    Returns:
        Targets: Argmax, max softmax and ``ignore``.
    """
    confidence, label = logits.detach().float().softmax(dim=1).max(dim=1)
    return Targets(label, confidence, ignore)


def cutmix_targets(targets: Targets, mix: Targets, boxes: Tensor) -> Targets:
    """Targets of a CutMixed strong view: the source's inside the box.

    Args:
        targets (Targets): The crops' own targets.
        mix (Targets): The CutMix sources' targets.
        boxes (Tensor): bool (N, H, W), True inside each box.

    Returns:
        Targets: The mixed targets.
    """
    return Targets(*(torch.where(boxes, m, t) for t, m in zip(targets, mix)))


@MODELS.register_module()
class UniMatch(EncoderDecoder):
    """An ``EncoderDecoder`` trained by UniMatch; tested as one.

    A training batch (``SemiSegDataset(online=True)`` with a
    ``MixedBatchSampler`` of ``batch_size=L + 2 * B, num_pseudo=2 * B``,
    through :class:`~dst_cbc.models.UniMatchDataPreProcessor`) holds ``L``
    labeled crops with ``gt_sem_seg`` and ``2 * B`` unlabeled crops
    (``metainfo['is_pseudo']``) with ``strong_views``, ``ignore_mask`` and
    ``cutmix_boxes``; the last ``B`` unlabeled crops are the CutMix sources
    of the first ``B``. ``loss`` returns ``loss_x``, ``loss_s1``,
    ``loss_s2``, ``loss_fp`` (weighted, see the module's description), the
    decode head's ``acc_seg`` on the labeled crops and ``confident_ratio``,
    the share of the weak views' non-ignored pixels at least
    ``conf_thresh`` confident (logged, not back-propagated). Prediction,
    ``encode_decode`` and testing are ``EncoderDecoder``'s.

    The feature perturbation drops channels of every tensor the decode head
    is given (the backbone's, or the neck's, outputs), so it reaches every
    level the head reads, whatever its ``in_index``. The decode head's own
    loss (``loss_decode``, its ``sampler``) trains the labeled crops; the
    unlabeled terms' logits are resized to the crop's size
    (``align_corners`` of the head) and computed in float32.

    Args:
        conf_thresh (float): Confidence a pseudo label needs to count.
            Defaults to 0.95 (the authors' VOC; 0 on Cityscapes).
        fp_dropout (float): Channel dropout rate of the feature-perturbed
            stream. Defaults to 0.5.
        loss_weights (dict, optional): Weights ``x``, ``s1``, ``s2``,
            ``fp`` of the four terms. Defaults to :data:`DEFAULT_WEIGHTS`.
        **kwargs: Arguments of ``EncoderDecoder``; no auxiliary head.
    """

    def __init__(self,
                 conf_thresh: float = 0.95,
                 fp_dropout: float = 0.5,
                 loss_weights: Optional[Dict[str, float]] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if self.with_auxiliary_head:
            raise ValueError('UniMatch trains the decode head only; drop '
                             '`auxiliary_head`')
        loss_weights = dict(
            DEFAULT_WEIGHTS if loss_weights is None else loss_weights)
        if set(loss_weights) != set(DEFAULT_WEIGHTS):
            raise ValueError('UniMatch: `loss_weights` must name '
                             f'{sorted(DEFAULT_WEIGHTS)}, got '
                             f'{sorted(loss_weights)}')
        self.conf_thresh = conf_thresh
        self.loss_weights = loss_weights
        self.feature_dropout = nn.Dropout2d(fp_dropout)

    # -- the batch ------------------------------------------------------------
    @staticmethod
    def split_batch(
            inputs: Tensor, data_samples: SampleList
    ) -> Tuple[Tensor, SampleList, UnlabeledBatch]:
        """Separate the labeled crops, the unlabeled ones and their sources.

        Args:
            inputs (Tensor): The batch, (N, 3, H, W).
            data_samples (list[:obj:`SegDataSample`]): Its samples.

        Returns:
            tuple: The labeled inputs, their samples and the
            :class:`UnlabeledBatch`.
        """
        labeled = [
            i for i, s in enumerate(data_samples)
            if not s.metainfo.get('is_pseudo', False)
        ]
        unlabeled = [
            i for i, s in enumerate(data_samples)
            if s.metainfo.get('is_pseudo', False)
        ]
        if not labeled or not unlabeled or len(unlabeled) % 2:
            raise ValueError(
                'UniMatch: a training batch needs labeled crops and an even '
                'number of unlabeled ones (SemiSegDataset(online=True), '
                'MixedBatchSampler(batch_size=L + 2B, num_pseudo=2B)); got '
                f'{len(labeled)} labeled and {len(unlabeled)} unlabeled')
        half = len(unlabeled) // 2
        main, mix = unlabeled[:half], unlabeled[half:]

        def stack(indices: List[int], key: str) -> Tensor:
            return torch.stack([data_samples[i].get(key) for i in indices])

        batch = UnlabeledBatch(
            weak=inputs[main],
            strong=stack(main, VIEWS_KEY),
            ignore=stack(main, IGNORE_KEY),
            boxes=stack(main, BOXES_KEY),
            mix_weak=inputs[mix],
            mix_strong=stack(mix, VIEWS_KEY),
            mix_ignore=stack(mix, IGNORE_KEY))
        if batch.strong.shape[1] != NUM_VIEWS:
            raise ValueError(f'UniMatch needs {NUM_VIEWS} strong views per '
                             f'crop, got {batch.strong.shape[1]}')
        return inputs[labeled], [data_samples[i] for i in labeled], batch

    # -- the forward passes ---------------------------------------------------
    def full_size_logits(self, logits: Tensor, size: Tuple[int,
                                                           int]) -> Tensor:
        """Decode head logits resized to the crop, in float32."""
        return resize(
            logits.float(),
            size=size,
            mode='bilinear',
            align_corners=self.align_corners)

    @torch.no_grad()
    def mix_targets(self, mix_weak: Tensor, mix_ignore: Tensor) -> Targets:
        """Pseudo labels of the CutMix sources, predicted in eval mode.

        Args:
            mix_weak (Tensor): The sources' weak views, (B, 3, H, W).
            mix_ignore (Tensor): Their ignore masks, (B, H, W).

        Returns:
            Targets: Their pseudo labels; the model's mode is restored.
        """
        training = self.training
        self.eval()
        try:
            logits = self.decode_head(self.extract_feat(mix_weak))
        finally:
            self.train(training)
        return confident_targets(
            self.full_size_logits(logits, mix_weak.shape[-2:]), mix_ignore)

    def forward_weak(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """The decode head on the features and on their channel-dropped copy,
        in one batch.

        Args:
            inputs (Tensor): Labeled crops, then weak views, (N, 3, H, W).

        Returns:
            tuple[Tensor, Tensor]: The head's logits of the features and of
            the perturbed features, each (N, C, h, w).
        """
        feats = self.extract_feat(inputs)
        both = [torch.cat([f, self.feature_dropout(f)]) for f in feats]
        return self.decode_head(both).chunk(2)

    def forward_strong(self, batch: UnlabeledBatch) -> List[Tensor]:
        """Logits of the CutMixed strong views, both in one forward.

        Args:
            batch (UnlabeledBatch): The unlabeled crops.

        Returns:
            list[Tensor]: Per strong view, (B, C, H, W) at the crop's size.
        """
        inside = batch.boxes.unsqueeze(2)
        mixed = torch.where(inside, batch.mix_strong, batch.strong)
        views = torch.cat(mixed.unbind(1))
        logits = self.decode_head(self.extract_feat(views))
        logits = self.full_size_logits(logits, views.shape[-2:])
        return list(logits.chunk(NUM_VIEWS))

    # -- the loss -------------------------------------------------------------
    def labeled_loss(self, logits: Tensor, data_samples: SampleList) -> dict:
        """The decode head's loss of the labeled crops as ``loss_x``.

        Args:
            logits (Tensor): The head's logits of the labeled crops.
            data_samples (list[:obj:`SegDataSample`]): Their samples.

        Returns:
            dict: ``loss_x`` (the sum of the head's loss terms) and the
            head's other items (``acc_seg``).
        """
        head_losses = self.decode_head.loss_by_feat(logits.float(),
                                                    data_samples)
        out = {k: v for k, v in head_losses.items() if 'loss' not in k}
        out['loss_x'] = sum(v for k, v in head_losses.items() if 'loss' in k)
        return out

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """The four UniMatch terms of a batch.

        Args:
            inputs (Tensor): The batch, (N, 3, H, W): labeled crops and the
                unlabeled crops' weak views.
            data_samples (list[:obj:`SegDataSample`]): Its samples.

        Returns:
            dict[str, Tensor]: ``loss_x``, ``loss_s1``, ``loss_s2``,
            ``loss_fp`` (weighted), ``acc_seg`` and ``confident_ratio``.
        """
        inputs_x, samples_x, batch = self.split_batch(inputs, data_samples)
        mix = self.mix_targets(batch.mix_weak, batch.mix_ignore)
        logits, logits_fp = self.forward_weak(
            torch.cat([inputs_x, batch.weak]))
        num_x, size = len(inputs_x), batch.weak.shape[-2:]
        targets = confident_targets(
            self.full_size_logits(logits[num_x:], size), batch.ignore)
        losses = self.labeled_loss(logits[:num_x], samples_x)
        for v, logits_s in enumerate(self.forward_strong(batch)):
            losses[f'loss_s{v + 1}'] = masked_cross_entropy(
                logits_s, cutmix_targets(targets, mix, batch.boxes[:, v]),
                self.conf_thresh)
        losses['loss_fp'] = masked_cross_entropy(
            self.full_size_logits(logits_fp[num_x:], size), targets,
            self.conf_thresh)
        for term, weight in self.loss_weights.items():
            losses[f'loss_{term}'] = weight * losses[f'loss_{term}']
        valid = targets.ignore != IGNORE
        losses['confident_ratio'] = (
            (targets.confidence >= self.conf_thresh) & valid).sum() / (
                valid.sum().clamp(min=1))
        return losses
