"""CutMix between the pseudo-labeled crops of a training batch.

A strong perturbation for the pseudo-labeled half of a self-training batch
(as in UniMatch): each pseudo-labeled crop, with probability ``prob``, gets
one random box pasted from another pseudo-labeled crop of the same batch.
The box moves the image, the label (ignore pixels, 255, included) and, when
the samples carry one, the stored confidence map ``pseudo_confidence`` of
the OW ablation. Labeled samples and every ``metainfo`` (``is_pseudo``
included) are left as they are.

It runs as a batch augmentation of
:class:`~dst_cbc.models.BatchAugSegDataPreProcessor`, after normalisation
and padding, in training only. The box lies anywhere on the padded batch
canvas: a source's padding (image ``pad_val``, label IGNORE, confidence 0)
pasted into a target stays padding there.
"""
import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import SampleList
from ..datasets.pseudo_confidence import CONFIDENCE_KEY


class Box(NamedTuple):
    """A box of pixels ``[top, top + height) x [left, left + width)``."""
    top: int
    left: int
    height: int
    width: int


#: One paste: (target index, source index, box) in the batch.
Paste = Tuple[int, int, Box]


def box_of(canvas: Sequence[int], area_ratio: float, aspect: float,
           top_frac: float, left_frac: float) -> Box:
    """Turn a box's drawn area, aspect and position into pixels.

    The aspect ratio is clamped to the range where a box of that area fits
    the canvas, so the area is kept (up to rounding to whole pixels).

    Args:
        canvas (Sequence[int]): ``(H, W)`` of the batch.
        area_ratio (float): Box area over ``H * W``, in (0, 1].
        aspect (float): Box height over width, > 0.
        top_frac (float): In [0, 1): the top row among the ``H - h + 1``
            rows where the box fits.
        left_frac (float): In [0, 1): the left column likewise.

    Returns:
        Box: At least one pixel, inside the canvas.
    """
    canvas_h, canvas_w = canvas
    area = area_ratio * canvas_h * canvas_w
    aspect = min(
        max(aspect, area_ratio * canvas_h / canvas_w),
        canvas_h / (area_ratio * canvas_w))
    height = min(max(round(math.sqrt(area * aspect)), 1), canvas_h)
    width = min(max(round(math.sqrt(area / aspect)), 1), canvas_w)
    top = min(int(top_frac * (canvas_h - height + 1)), canvas_h - height)
    left = min(int(left_frac * (canvas_w - width + 1)), canvas_w - width)
    return Box(top, left, height, width)


def _name(data_samples: SampleList, index: int) -> str:
    """A sample's image path, or its place in the batch, for errors."""
    path = data_samples[index].metainfo.get('img_path')
    return path if path is not None else f'#{index} of the batch'


def _padded_confidence(data_samples: SampleList, index: int,
                       canvas: Sequence[int]) -> Tensor:
    """A sample's confidence map, (1, H, W), zero-padded right and bottom."""
    confidence = data_samples[index].get(CONFIDENCE_KEY).data
    height, width = confidence.shape[-2:]
    if height > canvas[0] or width > canvas[1]:
        raise ValueError(
            f'PseudoCutMix: {CONFIDENCE_KEY} of shape {(height, width)} of '
            f'{_name(data_samples, index)} is larger than the batch '
            f'{tuple(canvas)}')
    return F.pad(confidence, (0, canvas[1] - width, 0, canvas[0] - height))


def _confidences(data_samples: SampleList, pastes: Sequence[Paste],
                 canvas: Sequence[int]) -> Dict[int, Tensor]:
    """The padded confidence maps of the samples ``pastes`` read or write.

    Args:
        data_samples (list[:obj:`SegDataSample`]): The batch.
        pastes (Sequence[Paste]): ``(target, source, box)`` triples.
        canvas (Sequence[int]): ``(H, W)`` of the batch.

    Returns:
        dict[int, Tensor]: Batch index to its (1, H, W) map; empty when the
        samples carry none. A paste between a sample with a map and one
        without is refused.
    """
    confidences = {}
    for target, source, _ in pastes:
        for index in (target, source):
            if (index not in confidences
                    and CONFIDENCE_KEY in data_samples[index]):
                confidences[index] = _padded_confidence(
                    data_samples, index, canvas)
        if (target in confidences) != (source in confidences):
            missing = target if source in confidences else source
            raise ValueError('PseudoCutMix: pseudo-labeled sample '
                             f'{_name(data_samples, missing)} has no '
                             f'{CONFIDENCE_KEY} while others have one')
    return confidences


def paste_boxes(inputs: Tensor, data_samples: SampleList,
                pastes: Sequence[Paste]) -> Tuple[Tensor, SampleList]:
    """Paste boxes between samples of a batch, image, label and confidence.

    Every box is read from the batch as it was before any paste, so the
    order of ``pastes`` does not matter. A target's label and confidence are
    replaced by new tensors; its confidence becomes the padded canvas size.

    Args:
        inputs (Tensor): Normalised, padded images, (N, C, H, W).
        data_samples (list[:obj:`SegDataSample`]): The batch, with
            ``gt_sem_seg`` padded to (1, H, W) and optionally
            ``pseudo_confidence`` (smaller maps are zero-padded).
        pastes (Sequence[Paste]): ``(target, source, box)`` triples, each
            target at most once.

    Returns:
        tuple[Tensor, list[:obj:`SegDataSample`]]: A new image tensor and
        ``data_samples`` with the targets' fields replaced.
    """
    targets = [target for target, _, _ in pastes]
    if len(set(targets)) != len(targets):
        raise ValueError(f'PseudoCutMix: targets {targets} repeat')
    labels = [s.gt_sem_seg.data for s in data_samples]
    confidences = _confidences(data_samples, pastes, inputs.shape[-2:])
    mixed = inputs.clone()
    for target, source, box in pastes:
        rows = slice(box.top, box.top + box.height)
        cols = slice(box.left, box.left + box.width)
        mixed[target, :, rows, cols] = inputs[source, :, rows, cols]
        label = labels[target].clone()
        label[:, rows, cols] = labels[source][:, rows, cols]
        data_samples[target].gt_sem_seg.data = label
        if target in confidences:
            confidence = confidences[target].clone()
            confidence[:, rows, cols] = confidences[source][:, rows, cols]
            # A new field: PixelData keeps the shape it was made with.
            old = data_samples[target].get(CONFIDENCE_KEY)
            data_samples[target].set_data({
                CONFIDENCE_KEY:
                PixelData(metainfo=old.metainfo, data=confidence)
            })
    return mixed, data_samples


def _pair(name: str, value: Optional[Sequence[float]]) -> Tuple[float, float]:
    """Read an option that must be two numbers."""
    try:
        first, second = value
        return float(first), float(second)
    except (TypeError, ValueError):
        raise ValueError(f'PseudoCutMix: `{name}` must be two numbers, got '
                         f'{value!r}') from None


@MODELS.register_module()
class PseudoCutMix(nn.Module):
    """CutMix between the pseudo-labeled samples of a batch.

    Each pseudo-labeled sample (``metainfo['is_pseudo']``) is, with
    probability ``prob``, a target: it gets one box from its partner, the
    next sample in a random cyclic order of the batch's pseudo-labeled
    samples, so a partner is never the target itself. A batch with fewer
    than two pseudo-labeled samples is returned unchanged. The box's area
    ratio is ``low + (high - low) * Beta(a, b)`` (the defaults: uniform in
    [0.02, 0.4], as UniMatch; ``area_range=(0, 1), area_beta=(alpha,
    alpha)`` is the original CutMix law), its aspect ratio (height / width)
    log-uniform in ``aspect_range`` clamped to where that area fits, its
    position uniform. Random numbers come from torch's global CPU generator.

    Args:
        prob (float): Probability that a pseudo-labeled sample gets a box.
            Defaults to 0.5.
        area_range (Sequence[float]): ``(low, high)`` of the area ratio,
            ``0 < low <= high <= 1``. Defaults to (0.02, 0.4).
        area_beta (Sequence[float]): ``(a, b)`` of the Beta law scaled to
            ``area_range``, both > 0. Defaults to (1.0, 1.0) (uniform).
        aspect_range (Sequence[float]): ``(low, high)`` of the aspect ratio,
            ``0 < low <= high``. Defaults to (0.3, 1 / 0.3).
    """

    def __init__(
        self,
        prob: float = 0.5,
        area_range: Sequence[float] = (0.02, 0.4),
        area_beta: Sequence[float] = (1.0, 1.0),
        aspect_range: Sequence[float] = (0.3, 1 / 0.3)
    ) -> None:
        super().__init__()
        if not 0 <= prob <= 1:
            raise ValueError(f'PseudoCutMix: `prob` must be in [0, 1], got '
                             f'{prob}')
        low, high = _pair('area_range', area_range)
        if not 0 < low <= high <= 1:
            raise ValueError('PseudoCutMix: `area_range` must satisfy '
                             f'0 < low <= high <= 1, got {area_range}')
        beta_a, beta_b = _pair('area_beta', area_beta)
        if not (beta_a > 0 and beta_b > 0):
            raise ValueError('PseudoCutMix: `area_beta` must be positive, '
                             f'got {area_beta}')
        aspect_low, aspect_high = _pair('aspect_range', aspect_range)
        if not 0 < aspect_low <= aspect_high:
            raise ValueError('PseudoCutMix: `aspect_range` must satisfy '
                             f'0 < low <= high, got {aspect_range}')
        self.prob = prob
        self.area_range = (low, high)
        self.area_beta = (beta_a, beta_b)
        self.aspect_range = (aspect_low, aspect_high)

    def sample_area_ratio(self) -> float:
        """Draw a box's area ratio from the configured law.

        Returns:
            float: In ``area_range``.
        """
        low, high = self.area_range
        beta = torch.distributions.Beta(*map(torch.tensor, self.area_beta))
        return low + (high - low) * beta.sample().item()

    def sample_box(self, canvas: Sequence[int]) -> Box:
        """Draw one box on a canvas.

        Args:
            canvas (Sequence[int]): ``(H, W)`` of the batch.

        Returns:
            Box: The box, inside the canvas.
        """
        area_ratio = self.sample_area_ratio()
        log_low, log_high = map(math.log, self.aspect_range)
        aspect_u, top_frac, left_frac = torch.rand(3).tolist()
        aspect = math.exp(log_low + (log_high - log_low) * aspect_u)
        return box_of(canvas, area_ratio, aspect, top_frac, left_frac)

    def sample_pastes(self, pseudo: List[int],
                      canvas: Sequence[int]) -> List[Paste]:
        """Draw the targets, their partners and boxes.

        Args:
            pseudo (list[int]): Batch indices of the pseudo-labeled samples,
                at least two.
            canvas (Sequence[int]): ``(H, W)`` of the batch.

        Returns:
            list[Paste]: ``(target, source, box)`` of every target.
        """
        order = [pseudo[i] for i in torch.randperm(len(pseudo)).tolist()]
        partner = {
            target: order[(k + 1) % len(order)]
            for k, target in enumerate(order)
        }
        chosen = (torch.rand(len(pseudo)) < self.prob).tolist()
        return [(target, partner[target], self.sample_box(canvas))
                for target, hit in zip(pseudo, chosen) if hit]

    def forward(self, inputs: Tensor,
                data_samples: SampleList) -> Tuple[Tensor, SampleList]:
        """Mix the pseudo-labeled samples of a training batch.

        Args:
            inputs (Tensor): Normalised, padded images, (N, C, H, W).
            data_samples (list[:obj:`SegDataSample`]): The batch, labels
                padded to (1, H, W).

        Returns:
            tuple[Tensor, list[:obj:`SegDataSample`]]: The mixed batch; the
            inputs themselves when nothing is mixed.
        """
        pseudo = [
            i for i, sample in enumerate(data_samples)
            if sample.metainfo.get('is_pseudo', False)
        ]
        if len(pseudo) < 2 or self.prob == 0:
            return inputs, data_samples
        pastes = self.sample_pastes(pseudo, inputs.shape[-2:])
        if not pastes:
            return inputs, data_samples
        return paste_boxes(inputs, data_samples, pastes)

    def extra_repr(self) -> str:
        return (f'prob={self.prob}, area_range={self.area_range}, '
                f'area_beta={self.area_beta}, '
                f'aspect_range={self.aspect_range}')
