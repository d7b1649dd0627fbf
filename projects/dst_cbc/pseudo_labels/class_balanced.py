"""Class-balanced pseudo-label thresholds (DST-CBC, paper Algorithm 1).

Pure tensor maths, no I/O. A labeling pass turns each image's logits into an
argmax label and an *uncertainty* ``u = 1 - max_c softmax(logits)``, adds them
to a per-class histogram, and once every image has been seen picks, for each
class, the uncertainty below which the most confident ``alpha`` fraction of
that class's pixels lie. Pixels above their class's threshold become IGNORE.
The argmax is taken first and never changed (the original code's
``argmax(p / t)`` could move a pixel to a class that was not its argmax).

Uncertainty and bins:
    ``u`` is computed in float32 as ``s / (1 + s)`` with
    ``s = sum_{c != argmax} exp(l_c - l_max)``, which keeps full relative
    precision however small ``u`` is (``1 - max softmax`` or
    ``-expm1(l_max - logsumexp)`` lose it once ``u`` is below the float32
    spacing of ``1`` or of ``l_max``). It is stored as float16. The histogram
    bin of a pixel is the bit pattern of its float16 ``u``: for ``u`` in
    ``[0, 1]`` these are the integers ``0 .. 0x3C00`` (``NUM_BINS = 15361``
    bins), monotone in ``u``.

Threshold resolution:
    Thresholds are exact on the float16-rounded uncertainties: two pixels are
    told apart iff their float16 ``u`` differ. The relative resolution is
    ``2 ** -11`` of the remaining uncertainty ``u`` for ``u >= 2 ** -14``
    (about 6.1e-5), e.g. confidences 0.99 and 0.99001 fall in different bins;
    below that float16 is subnormal with an absolute resolution of
    ``2 ** -24`` (about 6e-8), and ``u < 2 ** -25`` rounds to bin 0. The
    resolution is therefore finest near confidence 1, where a trained model
    puts most pixels. The only approximation is at the boundary bin: every
    pixel tied with the last kept pixel in that bin is kept too, so a class
    keeps at least ``ceil(alpha * n_c)`` pixels and the excess is only pixels
    whose float16 uncertainty equals the threshold.

Histograms are plain ``int64`` counts, so histograms of shards (images,
GPUs) merge by summation.
"""
import math
import numbers
from fractions import Fraction
from typing import List, Optional, Tuple

import torch
from torch import Tensor

#: Bit pattern of float16 ``1.0``; the largest bin of ``u`` in ``[0, 1]``.
MAX_BIN = 0x3C00
#: Number of histogram bins (float16 bit patterns ``0 .. 0x3C00``).
NUM_BINS = MAX_BIN + 1


def check_alpha(alpha: float) -> float:
    """Check the kept ratio ``alpha`` and return it as a float.

    Args:
        alpha (float): Fraction of each class's pixels to keep, in (0, 1].

    Returns:
        float: ``alpha``.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f'alpha must be a number in (0, 1], got {alpha!r}')
    alpha = float(alpha)
    if not 0.0 < alpha <= 1.0:  # also rejects NaN
        raise ValueError(f'alpha must be in (0, 1], got {alpha!r}')
    return alpha


def uncertainty_from_logits(logits: Tensor) -> Tuple[Tensor, Tensor]:
    """Argmax label and uncertainty ``1 - max softmax`` of logits.

    Args:
        logits (Tensor): Logits of shape (C, H, W) or (N, C, H, W); the class
            dimension is dim 0 or dim 1 respectively.

    Returns:
        tuple[Tensor, Tensor]: ``label`` of shape (H, W) or (N, H, W), uint8
        when ``C <= 256`` else int64, the argmax class; and ``u`` of the same
        shape, float16, ``1 - max_c softmax(logits)`` computed accurately for
        tiny values.
    """
    if logits.dim() not in (3, 4):
        raise ValueError('logits must have shape (C, H, W) or (N, C, H, W), '
                         f'got {tuple(logits.shape)}')
    class_dim = logits.dim() - 3
    num_classes = logits.shape[class_dim]
    logits = logits.float()
    max_logit, label = logits.max(dim=class_dim, keepdim=True)
    ratios = torch.exp(logits - max_logit)
    ratios.scatter_(class_dim, label, 0.0)
    others = ratios.sum(dim=class_dim)  # s = (1 - p_max) / p_max
    u = others / (1.0 + others)
    if not torch.isfinite(u).all():
        raise ValueError('logits must be finite to compute confidences')
    label = label.squeeze(class_dim)
    label = label.to(torch.uint8 if num_classes <= 256 else torch.int64)
    return label, u.clamp_(0.0, 1.0).half()


def uncertainty_bins(u: Tensor) -> Tensor:
    """Histogram bins of float16 uncertainties: their bit patterns.

    Args:
        u (Tensor): float16 uncertainties in [0, 1], any shape.

    Returns:
        Tensor: int64 bins in ``[0, MAX_BIN]``, same shape, monotone in ``u``.
    """
    if u.dtype != torch.float16:
        raise TypeError(f'u must be float16, got {u.dtype}')
    bins = u.contiguous().view(torch.int16).long()
    if bins.numel() and (bins.min() < 0 or bins.max() > MAX_BIN):
        raise ValueError('u must lie in [0, 1] (and not be NaN or -0.0)')
    return bins


def update_histogram(hist: Tensor,
                     label: Tensor,
                     bins: Tensor,
                     ignore_index: Optional[int] = None) -> Tensor:
    """Add pixels to the per-class uncertainty histogram, in place.

    Args:
        hist (Tensor): int64 counts of shape (C, NUM_BINS); updated in place.
        label (Tensor): Class of each pixel (any integer dtype).
        bins (Tensor): Bin of each pixel (see :func:`uncertainty_bins`), same
            shape as ``label``.
        ignore_index (int, optional): Pixels with this label are skipped.
            Defaults to None (every pixel counts).

    Returns:
        Tensor: ``hist``.
    """
    if hist.dim() != 2 or hist.shape[1] != NUM_BINS:
        raise ValueError(f'hist must have shape (C, {NUM_BINS}), '
                         f'got {tuple(hist.shape)}')
    if label.shape != bins.shape:
        raise ValueError(f'label shape {tuple(label.shape)} differs from '
                         f'bins shape {tuple(bins.shape)}')
    label = label.reshape(-1).long()
    bins = bins.reshape(-1).long()
    if ignore_index is not None:
        keep = label != ignore_index
        label, bins = label[keep], bins[keep]
    num_classes = hist.shape[0]
    if label.numel() and (label.min() < 0 or label.max() >= num_classes):
        raise ValueError(f'labels must be in [0, {num_classes}), got values '
                         f'in [{int(label.min())}, {int(label.max())}]')
    if bins.numel() and (bins.min() < 0 or bins.max() > MAX_BIN):
        raise ValueError(f'bins must be in [0, {MAX_BIN}]')
    flat = (label * NUM_BINS + bins).to(hist.device)
    hist += torch.bincount(
        flat, minlength=hist.numel()).view_as(hist).to(hist.dtype)
    return hist


def _num_to_keep(alpha: float, count: int) -> int:
    """``ceil(alpha * count)`` with ``alpha`` read as its shortest decimal.

    ``alpha`` is taken as the fraction its ``repr`` spells (0.2 -> 1/5), so
    ``alpha * count`` is exact: 0.2 * 10 keeps 2 and 0.7 * 10 keeps 7,
    whatever the binary rounding of ``alpha`` is.
    """
    return math.ceil(Fraction(repr(alpha)) * count)


def _first_bin_reaching(counts: Tensor, k: int) -> int:
    """Smallest bin whose cumulative count is >= ``k`` (``k >= 1``)."""
    cumulative = counts.cumsum(0)
    return int(torch.searchsorted(cumulative, torch.tensor([k]))[0])


def thresholds_from_histogram(hist: Tensor,
                              alpha: float,
                              class_balanced: bool = True) -> Tensor:
    """Per-class bin thresholds keeping the top ``alpha`` of each class.

    For a class with ``n_c`` pixels, ``k_c = ceil(alpha * n_c)`` and the
    threshold ``b_c`` is the smallest bin whose cumulative count reaches
    ``k_c``; a pixel is kept iff its bin ``<= b_c``. So exactly the ``k_c``
    most confident pixels are kept, plus any pixel tied with the last of them
    in bin ``b_c``.

    Args:
        hist (Tensor): int64 counts of shape (C, NUM_BINS).
        alpha (float): Fraction of pixels to keep, in (0, 1]; 1 keeps all.
        class_balanced (bool): If False (the paper's DST-C ablation), one
            threshold is computed from the histogram summed over classes and
            applied to every class. Defaults to True.

    Returns:
        Tensor: int64 bin threshold per class, shape (C,); -1 for classes
        with no pixels.
    """
    alpha = check_alpha(alpha)
    if hist.dim() != 2 or hist.shape[1] != NUM_BINS:
        raise ValueError(f'hist must have shape (C, {NUM_BINS}), '
                         f'got {tuple(hist.shape)}')
    hist = hist.detach().cpu().long()
    counts = hist.sum(dim=1)
    thresholds = torch.full((hist.shape[0], ), -1, dtype=torch.long)
    if class_balanced:
        for c in torch.nonzero(counts).flatten().tolist():
            k = _num_to_keep(alpha, int(counts[c]))
            thresholds[c] = _first_bin_reaching(hist[c], k)
    elif counts.sum() > 0:
        k = _num_to_keep(alpha, int(counts.sum()))
        thresholds[counts > 0] = _first_bin_reaching(hist.sum(dim=0), k)
    return thresholds


def apply_thresholds(label: Tensor,
                     bins: Tensor,
                     bin_thr: Tensor,
                     ignore_index: int = 255) -> Tensor:
    """Set pixels less confident than their class's threshold to IGNORE.

    The argmax label of a kept pixel is never changed.

    Args:
        label (Tensor): Argmax class per pixel (integer dtype).
        bins (Tensor): Uncertainty bin per pixel, same shape as ``label``.
        bin_thr (Tensor): int64 bin threshold per class, shape (C,), as
            returned by :func:`thresholds_from_histogram`.
        ignore_index (int): Value of discarded pixels. Defaults to 255.

    Returns:
        Tensor: Pseudo label, same shape and dtype as ``label``: ``label``
        where ``bins <= bin_thr[label]``, else ``ignore_index``.
    """
    if label.shape != bins.shape:
        raise ValueError(f'label shape {tuple(label.shape)} differs from '
                         f'bins shape {tuple(bins.shape)}')
    index = label.long()
    if index.numel() and (index.min() < 0 or index.max() >= len(bin_thr)):
        raise ValueError(f'labels must be in [0, {len(bin_thr)})')
    rejected = bins > bin_thr.to(label.device)[index]
    return label.masked_fill(rejected, ignore_index)


def bin_to_confidence(bin_thr: Tensor) -> List[Optional[float]]:
    """Confidence thresholds ``1 - u`` of bin thresholds.

    A pixel is kept iff its float16-rounded confidence ``1 - u`` is >= the
    returned value of its class.

    Args:
        bin_thr (Tensor): int64 bin threshold per class, -1 for empty classes.

    Returns:
        list[float | None]: Confidence threshold per class, None for classes
        with no pixels.
    """
    bin_thr = bin_thr.detach().cpu().long()
    u = bin_thr.clamp(min=0).to(torch.int16).view(torch.float16).double()
    return [
        None if b < 0 else 1.0 - float(v)
        for b, v in zip(bin_thr.tolist(), u.tolist())
    ]
