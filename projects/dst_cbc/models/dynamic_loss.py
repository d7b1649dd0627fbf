"""The dynamic self-training loss of DST-CBC (paper eq. 1-2).

A pseudo-labeled pixel with pseudo label ``y`` has its cross-entropy weighted
by ``w = p_cur(y) ** gamma``, where ``p_cur`` is the softmax of the model
being trained on this very batch, detached so that no gradient flows through
``w``. Labeled pixels have ``w = 1`` and IGNORE pixels contribute nothing. The
weighted sum is divided by the number of valid pixels of the whole batch, so
``gamma = 0`` is plain cross-entropy averaged over non-ignored pixels.

With ``online=True`` the loss also covers the paper's online self-training
ablations (OST, OST-T): the stored label of a pseudo-labeled pixel is
replaced by the argmax of the current (detached) softmax, and pixels whose
confidence is not above ``online_threshold`` are ignored.

With ``weight_source='stored'`` it covers the OW ablation: the weight is
``p_label(y) ** gamma``, the confidence the *labeling* model had in the
pseudo label (its max softmax probability, stored with the label), with the
same ``gamma``. It is fixed for the round instead of following the model
being trained.

The loss learns which samples are pseudo-labeled only from the
``pseudo_mask`` argument of :meth:`~DynamicCrossEntropyLoss.forward`; without
it every sample counts as labeled. In a segmentor, a
:class:`~dst_cbc.models.DynamicLossHead` passes it (a plain MMSeg head
cannot, and :func:`~dst_cbc.models.check_dynamic_heads` refuses such a
model).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class DynamicCrossEntropyLoss(nn.Module):
    """Cross-entropy whose pseudo-labeled pixels are weighted by
    ``p_cur(y) ** gamma``.

    Args:
        gamma (float): Exponent of the dynamic weight. ``0`` gives plain
            cross-entropy. Must be >= 0. Defaults to 0.0.
        loss_weight (float): Factor applied to the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item in the log; must start with
            ``'loss_'`` so that MMSeg back-propagates it.
            Defaults to ``'loss_ce'``.
        online (bool): Online self-training (the paper's OST ablation): on
            pseudo-labeled samples, every non-IGNORE label is replaced by the
            argmax of the current detached softmax. IGNORE pixels (e.g. crop
            padding) stay ignored. Defaults to False.
        online_threshold (float): With ``online``, a pseudo-labeled pixel is
            kept only if its current top probability is above this value,
            otherwise it is ignored (0.9 gives OST-T). In [0, 1).
            Defaults to 0.0 (every pixel kept).
        weight_source (str): Where ``p(y)`` of the weight comes from:
            ``'current'``, the model being trained (DST-CBC), or
            ``'stored'``, the labeling model's confidence passed as
            ``pseudo_confidence`` (the OW ablation; not with ``online``).
            Defaults to ``'current'``.
    """

    def __init__(self,
                 gamma: float = 0.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce',
                 online: bool = False,
                 online_threshold: float = 0.0,
                 weight_source: str = 'current') -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(
                f'DynamicCrossEntropyLoss: gamma must be >= 0, got {gamma}')
        if not loss_name.startswith('loss_'):
            raise ValueError('DynamicCrossEntropyLoss: loss_name must start '
                             f"with 'loss_', got {loss_name!r}")
        if not 0 <= online_threshold < 1:
            raise ValueError('DynamicCrossEntropyLoss: online_threshold must '
                             f'be in [0, 1), got {online_threshold}')
        if online_threshold > 0 and not online:
            raise ValueError('DynamicCrossEntropyLoss: online_threshold '
                             'needs online=True')
        if weight_source not in ('current', 'stored'):
            raise ValueError('DynamicCrossEntropyLoss: weight_source must be '
                             f"'current' or 'stored', got {weight_source!r}")
        if weight_source == 'stored' and online:
            raise ValueError('DynamicCrossEntropyLoss: stored confidences '
                             'belong to the stored labels, which online=True '
                             'replaces; use one or the other')
        self.gamma = float(gamma)
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.online = bool(online)
        self.online_threshold = float(online_threshold)
        self.weight_source = weight_source

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                pseudo_mask: Optional[Tensor] = None,
                reduction_override: Optional[str] = None,
                pseudo_confidence: Optional[Tensor] = None) -> Tensor:
        """Compute the dynamic cross-entropy.

        Args:
            cls_score (Tensor): Logits of shape (N, C, H, W).
            label (Tensor): Long labels of shape (N, H, W).
            weight (Tensor, optional): Per-pixel weight of shape (N, H, W),
                e.g. from an MMSeg pixel sampler; multiplied in.
                Defaults to None.
            ignore_index (int): Label value that contributes nothing.
                Defaults to 255.
            pseudo_mask (Tensor, optional): Bool tensor of shape (N,), True
                for pseudo-labeled samples. None means every sample is
                labeled. Defaults to None.
            reduction_override (str, optional): ``'none'`` returns the
                per-pixel weighted loss of shape (N, H, W) (by which
                :class:`~dst_cbc.models.DynamicLossHead` ranks pixels for
                OHEM); None or ``'mean'`` returns the sum
                over valid pixels divided by their number. Defaults to None.
            pseudo_confidence (Tensor, optional): The labeling model's
                confidence in each pixel's stored label, shape (N, H, W);
                read on pseudo-labeled samples only and needed with
                ``weight_source='stored'`` when there are any.
                Defaults to None.

        Returns:
            Tensor: The scalar loss (float32), or the per-pixel loss map when
            ``reduction_override='none'``.
        """
        self._check_inputs(cls_score, label, weight, pseudo_mask,
                           reduction_override)
        if self.online and pseudo_mask is not None:
            label = self._online_label(cls_score, label, pseudo_mask,
                                       ignore_index)
        # Float32 log-softmax keeps the loss and the weight exact under AMP.
        # F.cross_entropy already gives 0 at IGNORE pixels.
        ce = F.cross_entropy(
            cls_score.float(),
            label,
            reduction='none',
            ignore_index=ignore_index)
        loss = ce
        if pseudo_mask is not None and self.gamma > 0:
            if self.weight_source == 'current':
                # p_cur(y) ** gamma = exp(-gamma * CE), detached: no gradient
                # flows through the weight.
                dynamic_weight = torch.exp(-self.gamma * ce.detach())
            else:
                dynamic_weight = self._stored_weight(ce, pseudo_mask,
                                                     pseudo_confidence)
            is_pseudo = pseudo_mask.to(
                device=ce.device, dtype=torch.bool).view(-1, 1, 1)
            loss = torch.where(is_pseudo, dynamic_weight * ce, ce)
        if weight is not None:
            loss = loss * weight.float()
        if reduction_override == 'none':
            return self.loss_weight * loss
        num_valid = (label != ignore_index).sum().clamp(min=1)
        return self.loss_weight * loss.sum() / num_valid

    @staticmethod
    def _check_inputs(cls_score: Tensor, label: Tensor,
                      weight: Optional[Tensor], pseudo_mask: Optional[Tensor],
                      reduction_override: Optional[str]) -> None:
        """Raise a ValueError naming the first argument that does not fit."""
        if reduction_override not in (None, 'mean', 'none'):
            raise ValueError('DynamicCrossEntropyLoss: reduction_override '
                             "must be None, 'mean' or 'none', got "
                             f'{reduction_override!r}')
        if cls_score.dim() != 4 or label.shape != (cls_score.shape[0],
                                                   *cls_score.shape[2:]):
            raise ValueError(
                'DynamicCrossEntropyLoss: expected cls_score (N, C, H, W) and '
                f'label (N, H, W), got {tuple(cls_score.shape)} and '
                f'{tuple(label.shape)}')
        if weight is not None and weight.shape != label.shape:
            raise ValueError(
                'DynamicCrossEntropyLoss: weight must have the shape of label '
                f'{tuple(label.shape)}, got {tuple(weight.shape)}')
        if pseudo_mask is not None and pseudo_mask.shape != label.shape[:1]:
            raise ValueError(
                'DynamicCrossEntropyLoss: pseudo_mask must have shape '
                f'({label.shape[0]},), got {tuple(pseudo_mask.shape)}')

    def _stored_weight(self, ce: Tensor, pseudo_mask: Tensor,
                       pseudo_confidence: Optional[Tensor]) -> Tensor:
        """The OW weight ``p_label(y) ** gamma`` of every pixel.

        Args:
            ce (Tensor): Per-pixel cross-entropy of shape (N, H, W).
            pseudo_mask (Tensor): Bool tensor of shape (N,).
            pseudo_confidence (Tensor, optional): Stored confidences of shape
                (N, H, W); may be None only if no sample is pseudo-labeled.

        Returns:
            Tensor: float32 weights of shape (N, H, W) (ones when
            ``pseudo_confidence`` is None).
        """
        if pseudo_confidence is None:
            if pseudo_mask.any():
                raise ValueError(
                    "DynamicCrossEntropyLoss: weight_source='stored' needs "
                    'pseudo_confidence for pseudo-labeled samples')
            return torch.ones_like(ce)
        if pseudo_confidence.shape != ce.shape:
            raise ValueError(
                'DynamicCrossEntropyLoss: pseudo_confidence must have the '
                f'shape of label {tuple(ce.shape)}, got '
                f'{tuple(pseudo_confidence.shape)}')
        return pseudo_confidence.detach().to(
            device=ce.device, dtype=torch.float32).pow(self.gamma)

    def _online_label(self, cls_score: Tensor, label: Tensor,
                      pseudo_mask: Tensor, ignore_index: int) -> Tensor:
        """Relabel pseudo-labeled samples from the current prediction.

        Args:
            cls_score (Tensor): Logits of shape (N, C, H, W).
            label (Tensor): Long labels of shape (N, H, W).
            pseudo_mask (Tensor): Bool tensor of shape (N,).
            ignore_index (int): The IGNORE label.

        Returns:
            Tensor: ``label`` with every non-IGNORE pixel of a pseudo-labeled
            sample set to the current argmax, or to ``ignore_index`` where
            the current top probability is not above ``online_threshold``.
        """
        with torch.no_grad():
            confidence, prediction = cls_score.detach().float().softmax(
                dim=1).max(dim=1)
            online = torch.where(confidence > self.online_threshold,
                                 prediction,
                                 torch.full_like(prediction, ignore_index))
            is_pseudo = pseudo_mask.to(
                device=label.device, dtype=torch.bool).view(-1, 1, 1)
            replace = is_pseudo & (label != ignore_index)
            return torch.where(replace, online, label)

    def extra_repr(self) -> str:
        """str: The loss settings, shown in the model's repr."""
        text = f'gamma={self.gamma}, loss_weight={self.loss_weight}'
        if self.online:
            text += f', online=True, online_threshold={self.online_threshold}'
        if self.weight_source != 'current':
            text += f", weight_source='{self.weight_source}'"
        return text

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item, as MMSeg decode heads expect."""
        return self._loss_name
