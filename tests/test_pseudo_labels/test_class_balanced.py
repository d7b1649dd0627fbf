import math

import pytest
import torch

from dst_cbc.pseudo_labels.class_balanced import (
    MAX_BIN, NUM_BINS, apply_thresholds, bin_to_confidence,
    thresholds_from_histogram, uncertainty_bins, uncertainty_from_logits,
    update_histogram)

IGNORE = 255


def logits_for(label: torch.Tensor, u: torch.Tensor,
               num_classes: int) -> torch.Tensor:
    """(C, ...) logits whose argmax is ``label`` and max softmax ``1 - u``.

    The other classes share ``u`` equally (``u < 1 - 1/C`` keeps the argmax).
    """
    u = u.double()
    other = torch.log(u / (num_classes - 1))
    logits = other.unsqueeze(0).repeat(num_classes, *([1] * u.dim()))
    logits.scatter_(0, label.long().unsqueeze(0), torch.log1p(-u).unsqueeze(0))
    return logits.float()


def pseudo_labels(label, u, alpha, num_classes, class_balanced=True):
    """The whole pipeline on one batch of pixels."""
    bins = uncertainty_bins(u)
    hist = torch.zeros(num_classes, NUM_BINS, dtype=torch.int64)
    update_histogram(hist, label, bins)
    thr = thresholds_from_histogram(hist, alpha, class_balanced)
    return apply_thresholds(label, bins, thr, IGNORE), thr


def test_bins_are_monotone_float16_bit_patterns():
    u = torch.tensor([0.0, 2.0**-24, 2.0**-14, 1e-3, 0.5, 1.0]).half()
    bins = uncertainty_bins(u)
    assert bins.tolist() == [0, 1, 0x0400, 0x1419, 0x3800, 0x3C00]
    assert MAX_BIN == 0x3C00 and NUM_BINS == 15361
    # all float16 values of [0, 1] in order give strictly increasing bins
    grid = torch.arange(0, MAX_BIN + 1, dtype=torch.int16).view(torch.float16)
    assert torch.equal(uncertainty_bins(grid), torch.arange(NUM_BINS))
    assert (grid[1:].float() > grid[:-1].float()).all()
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        uncertainty_bins(torch.tensor([1.5]).half())
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        uncertainty_bins(torch.tensor([float('nan')]).half())
    with pytest.raises(TypeError, match='float16'):
        uncertainty_bins(torch.tensor([0.5]))


def test_uncertainty_from_logits_shapes_and_values():
    # C=2 at one pixel: softmax of (0, log 3) = (1/4, 3/4) -> label 1, u 1/4
    # second pixel: a tie (0, 0) -> u = 1/2
    logits = torch.tensor([[[0.0, 0.0]], [[math.log(3.0), 0.0]]])  # (2,1,2)
    label, u = uncertainty_from_logits(logits)
    assert label.dtype == torch.uint8 and u.dtype == torch.float16
    assert label.shape == (1, 2) and u.shape == (1, 2)
    assert label[0, 0] == 1
    assert u.tolist() == [[0.25, 0.5]]
    # (N, C, H, W): same result per sample
    label4, u4 = uncertainty_from_logits(torch.stack([logits, logits]))
    assert label4.shape == (2, 1, 2)
    assert torch.equal(label4[1], label) and torch.equal(u4[1], u)
    # more than 256 classes need int64 labels
    big = torch.zeros(300, 1, 1)
    big[299] = 5.0
    label_big, _ = uncertainty_from_logits(big)
    assert label_big.dtype == torch.int64 and label_big.item() == 299
    with pytest.raises(ValueError, match='finite'):
        uncertainty_from_logits(torch.tensor([[[float('nan')]], [[0.0]]]))
    with pytest.raises(ValueError, match='shape'):
        uncertainty_from_logits(torch.zeros(2, 3))


def test_uncertainty_is_accurate_for_tiny_u():
    """Logits (20, 20 - d, 20 - 2d): float64 reference
    u = (e^-d + e^-2d) / (1 + e^-d + e^-2d), e.g. 6.1e-6 (d = 12) and
    3.06e-7 (d = 15). Ours matches it up to the float16 rounding.
    """
    for d in (8.0, 12.0, 15.0, 18.0):
        ref_logits = torch.tensor([20.0, 20.0 - d, 20.0 - 2 * d],
                                  dtype=torch.float64).view(3, 1, 1)
        ref = float(1.0 - torch.softmax(ref_logits, 0).max())
        _, u = uncertainty_from_logits(ref_logits.float())
        # float16 keeps 11 significant bits in its normal range (u >= 2**-14)
        # and an absolute step of 2**-24 below it
        tol = max(ref * 2.0**-11, 2.0**-25)
        assert abs(float(u) - ref) <= tol, (d, float(u), ref)
    # both float32 shortcuts are far off at d = 15 (u ~ 3e-7): 1 - softmax
    # by 17 %, -expm1(l_max - logsumexp) gives 0 (the float32 spacing of 20
    # is 1.9e-6)
    logits = torch.tensor([20.0, 5.0, -10.0]).view(3, 1, 1)
    ref = float(1.0 - torch.softmax(logits.double(), 0).max())
    naive = float(1.0 - torch.softmax(logits, 0).max())
    via_lse = float(-torch.expm1(logits.max() - torch.logsumexp(logits, 0)))
    assert abs(naive - ref) > 0.1 * ref
    assert via_lse == 0.0


def test_update_histogram_counts_and_ignores():
    hist = torch.zeros(2, NUM_BINS, dtype=torch.int64)
    label = torch.tensor([[0, 1, 1], [IGNORE, 0, 1]], dtype=torch.uint8)
    bins = torch.tensor([[3, 3, 7], [9, 3, 7]])
    out = update_histogram(hist, label, bins, ignore_index=IGNORE)
    assert out is hist
    assert hist[0, 3] == 2 and hist[1, 3] == 1 and hist[1, 7] == 2
    assert hist.sum() == 5  # the IGNORE pixel is not counted
    update_histogram(hist, label[:1], bins[:1])  # accumulates
    assert hist[0, 3] == 3 and hist.sum() == 8
    with pytest.raises(ValueError, match='labels must be in'):
        update_histogram(hist, label, bins)  # 255 is not a class of 2
    with pytest.raises(ValueError, match='shape'):
        update_histogram(torch.zeros(2, 10, dtype=torch.int64), label, bins)


@pytest.mark.parametrize('alpha,keep0,keep1', [(0.2, 2, 1), (0.4, 4, 2),
                                               (0.6, 6, 3), (0.7, 7, 4),
                                               (1.0, 10, 5)])
def test_exactly_ceil_alpha_n_most_confident_survive(alpha, keep0, keep1):
    """Class 0: 10 pixels u = 1/64 .. 10/64; class 1: 5 pixels u = 1/32 ..
    5/32 (distinct, exact in float16). keep = ceil(alpha * n): 0.2*10 = 2
    (not 3), 0.7*10 = 7 (not 8), 0.2*5 = 1, 0.4*5 = 2, 0.6*5 = 3, 0.7*5 ->
    ceil(3.5) = 4.
    """
    perm = torch.tensor([3, 14, 0, 9, 5, 12, 1, 7, 10, 2, 13, 4, 8, 11, 6])
    label = torch.tensor([0] * 10 + [1] * 5)[perm]
    u = torch.cat([torch.arange(1, 11) / 64, torch.arange(1, 6) / 32])[perm]
    pseudo, thr = pseudo_labels(label, u.half(), alpha, 2)
    kept = pseudo != IGNORE
    assert int((kept & (label == 0)).sum()) == keep0
    assert int((kept & (label == 1)).sum()) == keep1
    # the kept ones are the most confident ones, with their own label
    assert set(u[kept & (label == 0)].tolist()) == {
        i / 64
        for i in range(1, keep0 + 1)
    }
    assert set(u[kept & (label == 1)].tolist()) == {
        i / 32
        for i in range(1, keep1 + 1)
    }
    assert torch.equal(pseudo[kept], label[kept])
    conf = bin_to_confidence(thr)
    assert conf == [1 - keep0 / 64, 1 - keep1 / 32]


def test_boundary_ties_are_kept():
    # class 0: u = 1/8, 1/4, 1/4, 1/4, 1/2; alpha 0.4 -> k = 2, the 2nd
    # pixel ties with two more at 1/4: keep 4 (excess only the tied ones)
    u = torch.tensor([0.125, 0.25, 0.25, 0.25, 0.5]).half()
    label = torch.zeros(5, dtype=torch.uint8)
    pseudo, _ = pseudo_labels(label, u, 0.4, 1)
    assert pseudo.tolist() == [0, 0, 0, 0, IGNORE]


def test_matches_exact_per_class_sort_on_random_data():
    g = torch.Generator().manual_seed(0)
    num_classes = 4
    logits = torch.randn(num_classes, 40, 50, generator=g) * 3
    logits[2] -= 4  # a rare class
    label, u = uncertainty_from_logits(logits)
    ref_u = 1 - torch.softmax(logits.double(), 0).max(0).values
    for alpha in (0.05, 0.3, 0.5, 0.9):
        pseudo, thr = pseudo_labels(label, u, alpha, num_classes)
        for c in range(num_classes):
            in_c = label == c
            n = int(in_c.sum())
            k = math.ceil(alpha * n - 1e-9)
            order = torch.argsort(ref_u[in_c])
            exact_top = torch.zeros(n, dtype=torch.bool)
            exact_top[order[:k]] = True
            kept = (pseudo[in_c] != IGNORE)
            assert int(kept.sum()) >= k
            # every exact top-k pixel is kept; the others kept are tied with
            # the threshold in one float16 bin
            assert kept[exact_top].all()
            extra = kept & ~exact_top
            bins_c = uncertainty_bins(u[in_c])
            assert (bins_c[extra] == thr[c]).all()
            assert (bins_c[order[k - 1]] == thr[c])


def test_argmax_first_never_switches_class():
    """Pixel with p = (0.5, 0.45, 0.05): argmax 0. With thresholds t_0 = 0.9
    (class 0 is confident elsewhere) and t_1 = 0.4, argmax(p / t) = 1
    (0.556 < 1.125): the original method would relabel it 1. Ours keeps the
    argmax and only decides keep / ignore for class 0.
    """
    p = torch.tensor([[0.5, 0.9, 0.95, 0.45], [0.45, 0.05, 0.03, 0.5],
                      [0.05, 0.05, 0.02, 0.05]])  # (C=3, 4 pixels)
    logits = torch.log(p).view(3, 1, 4)
    label, u = uncertainty_from_logits(logits)
    assert label.flatten().tolist() == [0, 0, 0, 1]
    t = torch.tensor([0.9, 0.4, 1.0])
    assert int((p[:, 0] / t).argmax()) == 1  # the original would switch
    for alpha in (0.3, 0.7, 1.0):
        pseudo, _ = pseudo_labels(label, u, alpha, 3)
        flat = pseudo.flatten()
        assert flat[0] in (0, IGNORE)  # never 1
        assert ((flat == label.flatten()) | (flat == IGNORE)).all()
    # class 0 has u = 0.5, 0.1, 0.05: alpha 0.7 keeps ceil(2.1) = 3 -> all
    # three; alpha 0.3 keeps 1 -> only the 0.95 pixel
    pseudo, _ = pseudo_labels(label, u, 0.3, 3)
    assert pseudo.flatten().tolist() == [IGNORE, IGNORE, 0, 1]


def test_alpha_one_keeps_everything_and_empty_class():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 8, 8, generator=g)
    logits[1] = -100.0  # class 1 gets no pixel
    label, u = uncertainty_from_logits(logits)
    assert not (label == 1).any()
    pseudo, thr = pseudo_labels(label, u, 1.0, 3)
    assert torch.equal(pseudo, label)
    assert thr[1] == -1
    conf = bin_to_confidence(thr)
    assert conf[1] is None and conf[0] is not None
    pseudo, thr = pseudo_labels(label, u, 0.5, 3)
    assert thr[1] == -1 and (pseudo != IGNORE).any()
    # an all-empty histogram gives -1 everywhere
    empty = thresholds_from_histogram(
        torch.zeros(3, NUM_BINS, dtype=torch.int64), 0.5)
    assert empty.tolist() == [-1, -1, -1]
    assert bin_to_confidence(empty) == [None, None, None]


def test_global_threshold_when_not_class_balanced():
    """Class 0: u = 1/64 .. 6/64, class 1: u = 10/64 .. 13/64 (10 pixels).
    DST-C with alpha 0.5 keeps the 5 most confident pixels overall: class 0
    u <= 5/64 and nothing of class 1. CBC keeps 3 + 2.
    """
    u = (torch.tensor([1, 2, 3, 4, 5, 6, 10, 11, 12, 13]) / 64).half()
    label = torch.tensor([0] * 6 + [1] * 4, dtype=torch.uint8)
    pseudo, thr = pseudo_labels(label, u, 0.5, 3, class_balanced=False)
    assert pseudo.tolist() == [0] * 5 + [IGNORE] * 5
    assert thr[0] == thr[1] and thr[2] == -1
    assert bin_to_confidence(thr)[:2] == [1 - 5 / 64] * 2
    pseudo, _ = pseudo_labels(label, u, 0.5, 3, class_balanced=True)
    assert pseudo.tolist() == [0, 0, 0] + [IGNORE] * 3 + [1, 1] + [IGNORE] * 2


@pytest.mark.parametrize('alpha', [0, -0.1, 1.01, float('nan')])
def test_invalid_alpha_raises(alpha):
    hist = torch.zeros(2, NUM_BINS, dtype=torch.int64)
    with pytest.raises(ValueError, match='alpha'):
        thresholds_from_histogram(hist, alpha)


def test_non_number_alpha_raises():
    hist = torch.zeros(2, NUM_BINS, dtype=torch.int64)
    with pytest.raises(TypeError, match='alpha'):
        thresholds_from_histogram(hist, '0.5')
