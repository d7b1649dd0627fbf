"""Online hard example mining as a decode head's loss.

MMSeg's ``OhemCrossEntropy`` averages the cross-entropy over the hardest
pixels, as the UniMatch authors' ``ProbOhemCrossEntropy2d`` (their labeled
loss on Cityscapes), but it is called ``loss(score, target)`` by PIDNet's
head only; a decode head calls ``loss_decode(seg_logits, seg_label,
weight=..., ignore_index=...)``. MMSeg's ``OHEMPixelSampler`` with
``CrossEntropyLoss`` keeps the same pixels but divides their loss by all
non-ignored pixels, not by the kept ones.
"""
from typing import Optional

from torch import Tensor

from mmseg.models.losses import OhemCrossEntropy
from mmseg.registry import MODELS


@MODELS.register_module()
class OhemCrossEntropyLoss(OhemCrossEntropy):
    """MMSeg's ``OhemCrossEntropy`` as a decode head's ``loss_decode``.

    Keeps the labeled pixels whose probability of their class is below
    ``max(thres, p_k)``, ``p_k`` the ``min_kept``-th smallest such
    probability of the batch, and averages their cross-entropy (float32).
    ``min_kept`` counts pixels of the whole batch on one device, as the
    authors' (200,000 for their 2 crops of 801x801 per GPU).

    Args:
        ignore_label (int): Label of ignored pixels; must be the head's
            ``ignore_index``. Defaults to 255.
        thres (float): Probability below which a pixel is hard. Defaults to
            0.7.
        min_kept (int): Pixels kept at least. Defaults to 100000.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to 'loss_ohem'.
    """

    def __init__(self,
                 ignore_label: int = 255,
                 thres: float = 0.7,
                 min_kept: int = 100000,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ohem') -> None:
        super().__init__(
            ignore_label=ignore_label,
            thres=thres,
            min_kept=min_kept,
            loss_weight=loss_weight,
            loss_name=loss_name)

    def forward(self,
                score: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        """The loss of a decode head's logits.

        Args:
            score (Tensor): Logits resized to the labels, (N, C, H, W).
            target (Tensor): Labels, (N, H, W).
            weight (Tensor, optional): Pixel weights of a sampler; must be
                None (the loss does its own sampling).
            ignore_index (int): The head's ignore index.

        Returns:
            Tensor: The loss.
        """
        if weight is not None or ignore_index != self.ignore_label:
            raise ValueError(
                'OhemCrossEntropyLoss samples its own pixels: use it without '
                "the head's `sampler`, with ignore_label = the head's "
                f'ignore_index ({ignore_index}, got {self.ignore_label})')
        return super().forward(score.float(), target)
