"""The dynamic self-training loss of DST-CBC (paper eq. 1-2).

A pseudo-labeled pixel with pseudo label ``y`` has its cross-entropy weighted
by ``w = p_cur(y) ** gamma``, where ``p_cur`` is the softmax of the model
being trained on this very batch, detached so that no gradient flows through
``w``. Labeled pixels have ``w = 1`` and IGNORE pixels contribute nothing. The
weighted sum is divided by the number of valid pixels of the whole batch, so
``gamma = 0`` is plain cross-entropy averaged over non-ignored pixels.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


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
    """

    def __init__(self,
                 gamma: float = 0.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(
                f'DynamicCrossEntropyLoss: gamma must be >= 0, got {gamma}')
        if not loss_name.startswith('loss_'):
            raise ValueError('DynamicCrossEntropyLoss: loss_name must start '
                             f"with 'loss_', got {loss_name!r}")
        self.gamma = float(gamma)
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                pseudo_mask: Optional[Tensor] = None,
                reduction_override: Optional[str] = None) -> Tensor:
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
                per-pixel weighted loss of shape (N, H, W) (used by
                ``OHEMPixelSampler``); None or ``'mean'`` returns the sum
                over valid pixels divided by their number. Defaults to None.

        Returns:
            Tensor: The scalar loss (float32), or the per-pixel loss map when
            ``reduction_override='none'``.
        """
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
        # Float32 log-softmax keeps the loss and the weight exact under AMP.
        # F.cross_entropy already gives 0 at IGNORE pixels.
        ce = F.cross_entropy(
            cls_score.float(),
            label,
            reduction='none',
            ignore_index=ignore_index)
        loss = ce
        if pseudo_mask is not None and self.gamma > 0:
            # p_cur(y) ** gamma = exp(-gamma * CE), detached: no gradient
            # flows through the weight.
            dynamic_weight = torch.exp(-self.gamma * ce.detach())
            is_pseudo = pseudo_mask.to(
                device=ce.device, dtype=torch.bool).view(-1, 1, 1)
            loss = torch.where(is_pseudo, dynamic_weight * ce, ce)
        if weight is not None:
            loss = loss * weight.float()
        if reduction_override == 'none':
            return self.loss_weight * loss
        num_valid = (label != ignore_index).sum().clamp(min=1)
        return self.loss_weight * loss.sum() / num_valid

    def extra_repr(self) -> str:
        """str: The loss settings, shown in the model's repr."""
        return f'gamma={self.gamma}, loss_weight={self.loss_weight}'

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item, as MMSeg decode heads expect."""
        return self._loss_name
