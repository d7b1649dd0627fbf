"""Tests of DynamicCrossEntropyLoss against values worked out by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from dst_cbc.models import DynamicCrossEntropyLoss
from mmseg.models.losses import CrossEntropyLoss

IGNORE = 255
LN3 = math.log(3.0)


def tiny_batch():
    """Two images of 1x2 pixels, two classes.

    Every pixel has logits [0, ln 3], so softmax p = [1/4, 3/4] everywhere.
    Image 0 labels: [1, 0]; image 1 labels: [1, IGNORE].

    Returns:
        tuple[Tensor, Tensor]: logits (2, 2, 1, 2) and labels (2, 1, 2).
    """
    logits = torch.tensor([0.0, LN3]).view(1, 2, 1, 1).repeat(2, 1, 1, 2)
    labels = torch.tensor([[[1, 0]], [[1, IGNORE]]])
    return logits, labels


def test_hand_computed_value():
    logits, labels = tiny_batch()
    loss = DynamicCrossEntropyLoss(gamma=2.0)
    # Image 0 labeled (w = 1): CE = -ln(3/4) = ln(4/3) and -ln(1/4) = ln 4.
    # Image 1 pseudo: its label-1 pixel has p(y) = 3/4, w = (3/4)^2 = 9/16,
    # CE = ln(4/3); its IGNORE pixel contributes nothing.
    # Valid pixels: 3. loss = (ln(4/3) + ln 4 + 9/16 ln(4/3)) / 3
    #                       = (25/16 ln(4/3) + ln 4) / 3
    expected = (25 / 16 * math.log(4 / 3) + math.log(4)) / 3
    value = loss(logits, labels, pseudo_mask=torch.tensor([False, True]))
    assert value.item() == pytest.approx(expected, rel=1e-6)

    # Flags swapped: image 0 pseudo, w = 9/16 on ln(4/3) and
    # w = (1/4)^2 = 1/16 on ln 4; image 1 labeled, w = 1 on ln(4/3).
    # loss = (25/16 ln(4/3) + 1/16 ln 4) / 3
    swapped = (25 / 16 * math.log(4 / 3) + 1 / 16 * math.log(4)) / 3
    value = loss(logits, labels, pseudo_mask=torch.tensor([True, False]))
    assert value.item() == pytest.approx(swapped, rel=1e-6)

    # loss_weight scales linearly.
    doubled = DynamicCrossEntropyLoss(gamma=2.0, loss_weight=2.0)
    value = doubled(logits, labels, pseudo_mask=torch.tensor([True, False]))
    assert value.item() == pytest.approx(2 * swapped, rel=1e-6)


def test_pixel_weight_is_multiplied_in_and_mean_keeps_valid_count():
    logits, labels = tiny_batch()
    # The sampler weight drops the labeled ln 4 pixel, but the mean still
    # divides by the 3 valid pixels: (ln(4/3) + 9/16 ln(4/3)) / 3.
    weight = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])
    value = DynamicCrossEntropyLoss(gamma=2.0)(
        logits, labels, weight=weight, pseudo_mask=torch.tensor([False, True]))
    assert value.item() == pytest.approx(
        25 / 16 * math.log(4 / 3) / 3, rel=1e-6)


def test_reduction_none_gives_the_weighted_pixel_map():
    logits, labels = tiny_batch()
    loss_map = DynamicCrossEntropyLoss(gamma=2.0)(
        logits,
        labels,
        pseudo_mask=torch.tensor([False, True]),
        reduction_override='none')
    # Per pixel, from test_hand_computed_value; IGNORE gives 0.
    expected = torch.tensor([[[math.log(4 / 3), math.log(4)]],
                             [[9 / 16 * math.log(4 / 3), 0.0]]])
    torch.testing.assert_close(loss_map, expected)


def test_gradient_is_hand_formula_without_gradient_through_weight():
    logits, labels = tiny_batch()
    logits.requires_grad_(True)
    DynamicCrossEntropyLoss(gamma=2.0)(
        logits, labels, pseudo_mask=torch.tensor([False, True])).backward()
    # With w detached, dL/dz = w (p - onehot(y)) / n, p = [1/4, 3/4], n = 3.
    # Image 0, label 1: (p - [0, 1]) / 3 = [1/4, -1/4] / 3 = [1/12, -1/12].
    # Image 0, label 0: (p - [1, 0]) / 3 = [-3/4, 3/4] / 3 = [-1/4, 1/4].
    # Image 1, label 1, w = 9/16: 9/16 * [1/4, -1/4] / 3 = [3/64, -3/64].
    # Image 1, IGNORE: 0.
    # (A gradient through w would give d/dz of -p^2 ln p instead, e.g.
    # 9/16 * (1 - 2 ln(4/3)) * [1/4, -1/4] / 3 ~ [0.0199, -0.0199].)
    expected = torch.tensor([
        [[[1 / 12, -1 / 4]], [[-1 / 12, 1 / 4]]],
        [[[3 / 64, 0.0]], [[-3 / 64, 0.0]]],
    ])
    torch.testing.assert_close(logits.grad, expected)


def test_gradient_equals_detached_weight_formula_on_random_input():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 5, 6, requires_grad=True)
    labels = torch.randint(0, 4, (3, 5, 6))
    labels[0, :2] = IGNORE
    pseudo = torch.tensor([True, False, True])
    gamma = 3.0
    DynamicCrossEntropyLoss(gamma=gamma)(
        logits, labels, pseudo_mask=pseudo).backward()

    manual_logits = logits.detach().clone().requires_grad_(True)
    ce = F.cross_entropy(
        manual_logits, labels, reduction='none', ignore_index=IGNORE)
    prob = manual_logits.softmax(1).gather(
        1,
        labels.clamp(max=3).unsqueeze(1)).squeeze(1)
    w = torch.where(pseudo.view(-1, 1, 1), prob**gamma, torch.ones_like(prob))
    valid = labels != IGNORE
    (w.detach() * ce).sum().div(valid.sum()).backward()
    torch.testing.assert_close(logits.grad, manual_logits.grad)


def test_gamma_zero_is_plain_cross_entropy():
    torch.manual_seed(1)
    logits = torch.randn(2, 5, 4, 7)
    labels = torch.randint(0, 5, (2, 4, 7))
    labels[1, 0] = IGNORE
    pseudo = torch.tensor([True, True])
    reference = F.cross_entropy(logits, labels, ignore_index=IGNORE)
    mmseg_ce = CrossEntropyLoss(avg_non_ignore=True)(
        logits, labels, ignore_index=IGNORE)
    dynamic = DynamicCrossEntropyLoss(gamma=0.0)
    torch.testing.assert_close(
        dynamic(logits, labels, pseudo_mask=pseudo), reference)
    torch.testing.assert_close(dynamic(logits, labels), reference)
    torch.testing.assert_close(
        dynamic(logits, labels, pseudo_mask=pseudo), mmseg_ce)
    # Without flags any gamma is plain cross-entropy too.
    torch.testing.assert_close(
        DynamicCrossEntropyLoss(gamma=9.0)(logits, labels), reference)


def test_labeled_samples_are_unweighted_for_any_gamma():
    torch.manual_seed(2)
    logits = torch.randn(2, 3, 4, 4)
    labels = torch.randint(0, 3, (2, 4, 4))
    reference = F.cross_entropy(logits, labels, ignore_index=IGNORE)
    for gamma in (1.0, 4.0, 9.0):
        value = DynamicCrossEntropyLoss(gamma=gamma)(
            logits, labels, pseudo_mask=torch.tensor([False, False]))
        torch.testing.assert_close(value, reference)
    # Flagging samples as pseudo lowers the loss (0 < w <= 1).
    flagged = DynamicCrossEntropyLoss(gamma=4.0)(
        logits, labels, pseudo_mask=torch.tensor([True, True]))
    assert 0 < flagged.item() < reference.item()


def test_all_ignore_gives_zero_and_backward_works():
    logits = torch.randn(2, 3, 2, 2, requires_grad=True)
    labels = torch.full((2, 2, 2), IGNORE)
    value = DynamicCrossEntropyLoss(gamma=2.0)(
        logits, labels, pseudo_mask=torch.tensor([True, False]))
    assert value.item() == 0.0
    value.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_half_precision_logits_are_computed_in_float32():
    logits, labels = tiny_batch()
    pseudo = torch.tensor([False, True])
    loss = DynamicCrossEntropyLoss(gamma=2.0)
    value = loss(logits.half(), labels, pseudo_mask=pseudo)
    assert value.dtype == torch.float32
    torch.testing.assert_close(
        value, loss(logits.half().float(), labels, pseudo_mask=pseudo))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match='gamma'):
        DynamicCrossEntropyLoss(gamma=-1.0)
    with pytest.raises(ValueError, match='loss_name'):
        DynamicCrossEntropyLoss(loss_name='ce')
    assert DynamicCrossEntropyLoss(loss_name='loss_dst').loss_name == \
        'loss_dst'
    logits, labels = tiny_batch()
    loss = DynamicCrossEntropyLoss(gamma=1.0)
    with pytest.raises(ValueError, match='pseudo_mask'):
        loss(logits, labels, pseudo_mask=torch.tensor([True]))
    with pytest.raises(ValueError, match='weight'):
        loss(logits, labels, weight=torch.ones(2, 2))
    with pytest.raises(ValueError, match='label'):
        loss(logits, labels[:, 0])
    with pytest.raises(ValueError, match='reduction_override'):
        loss(logits, labels, reduction_override='sum')


def test_flags_are_explicit_and_nothing_is_kept_between_calls():
    logits, labels = tiny_batch()
    loss = DynamicCrossEntropyLoss(gamma=2.0)
    assert not hasattr(loss, 'pseudo_batch')
    # The hand values of test_hand_computed_value.
    flagged = (25 / 16 * math.log(4 / 3) + math.log(4)) / 3
    swapped = (25 / 16 * math.log(4 / 3) + 1 / 16 * math.log(4)) / 3
    plain = (2 * math.log(4 / 3) + math.log(4)) / 3
    value = loss(logits, labels, pseudo_mask=torch.tensor([False, True]))
    assert value.item() == pytest.approx(flagged)
    value = loss(logits, labels, pseudo_mask=torch.tensor([True, False]))
    assert value.item() == pytest.approx(swapped)
    # Without pseudo_mask every sample is labeled, whatever came before.
    assert loss(logits, labels).item() == pytest.approx(plain)


def test_a_failed_call_leaves_nothing_behind():
    logits, labels = tiny_batch()
    loss = DynamicCrossEntropyLoss(gamma=2.0)
    with pytest.raises(ValueError, match='pseudo_mask'):
        loss(logits, labels, pseudo_mask=torch.tensor([True]))
    plain = (2 * math.log(4 / 3) + math.log(4)) / 3
    assert loss(logits, labels).item() == pytest.approx(plain)


def test_stored_confidences_are_passed_explicitly():
    logits, labels = tiny_batch()
    loss = DynamicCrossEntropyLoss(gamma=2.0, weight_source='stored')
    # Image 1 pseudo, stored confidence 1/2 at its label-1 pixel:
    # w = 1/4 on ln(4/3); image 0 labeled.
    confidence = torch.full((2, 1, 2), 0.5)
    value = loss(
        logits,
        labels,
        pseudo_mask=torch.tensor([False, True]),
        pseudo_confidence=confidence)
    expected = (math.log(4 / 3) + math.log(4) + math.log(4 / 3) / 4) / 3
    assert value.item() == pytest.approx(expected, rel=1e-6)
