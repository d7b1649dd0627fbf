"""Online self-training (OST / OST-T) in DynamicCrossEntropyLoss, checked
against values worked out by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from dst_cbc.models import DynamicCrossEntropyLoss

IGNORE = 255
LN3 = math.log(3.0)
LN9 = math.log(9.0)


def tiny_batch():
    """Two images of 1x3 pixels, two classes.

    Image 0 (labeled): logits [0, ln 3] (p = [1/4, 3/4]) at pixels a, b;
    labels a: 0 (disagrees with the argmax), b: 1, c: IGNORE.
    Image 1 (pseudo-labeled): pixel c logits [0, ln 3] (p = [1/4, 3/4]),
    stored label 0; pixel d logits [ln 9, 0] (p = [9/10, 1/10]), stored
    label 1; pixel e stored IGNORE (e.g. crop padding).

    Returns:
        tuple[Tensor, Tensor, Tensor]: logits (2, 2, 1, 3), labels (2, 1, 3)
        and the pseudo mask [False, True].
    """
    logits = torch.tensor([
        [[[0.0, 0.0, 0.0]], [[LN3, LN3, LN3]]],
        [[[0.0, LN9, 0.0]], [[LN3, 0.0, LN3]]],
    ])
    labels = torch.tensor([[[0, 1, IGNORE]], [[0, 1, IGNORE]]])
    return logits, labels, torch.tensor([False, True])


def test_ost_relabels_pseudo_pixels_with_the_current_argmax():
    logits, labels, pseudo = tiny_batch()
    value = DynamicCrossEntropyLoss(online=True)(
        logits, labels, pseudo_mask=pseudo)
    # Labeled: a keeps label 0, CE = ln 4; b: CE = ln(4/3).
    # Pseudo: c becomes 1 (p = 3/4), CE = ln(4/3); d becomes 0 (p = 9/10),
    # CE = ln(10/9); e stays IGNORE. Four valid pixels.
    expected = (math.log(4) + 2 * math.log(4 / 3) + math.log(10 / 9)) / 4
    assert value.item() == pytest.approx(expected, rel=1e-6)
    # Without online labels the stored ones count: c: ln 4, d: ln 10.
    stored = DynamicCrossEntropyLoss()(logits, labels, pseudo_mask=pseudo)
    assert stored.item() == pytest.approx(
        (2 * math.log(4) + math.log(4 / 3) + math.log(10)) / 4, rel=1e-6)


def test_ost_t_ignores_pixels_not_above_the_threshold():
    logits, labels, pseudo = tiny_batch()
    # Threshold 0.8: c (3/4) is ignored, d (9/10) is kept.
    value = DynamicCrossEntropyLoss(
        online=True, online_threshold=0.8)(
            logits, labels, pseudo_mask=pseudo)
    expected = (math.log(4) + math.log(4 / 3) + math.log(10 / 9)) / 3
    assert value.item() == pytest.approx(expected, rel=1e-6)
    # Threshold 0.95: both are ignored; labeled pixels are never dropped.
    value = DynamicCrossEntropyLoss(
        online=True, online_threshold=0.95)(
            logits, labels, pseudo_mask=pseudo)
    assert value.item() == pytest.approx(
        (math.log(4) + math.log(4 / 3)) / 2, rel=1e-6)


def test_online_labels_combine_with_the_dynamic_weight():
    logits, labels, pseudo = tiny_batch()
    value = DynamicCrossEntropyLoss(
        gamma=2.0, online=True)(
            logits, labels, pseudo_mask=pseudo)
    # w = p_cur(argmax)^2: c: (3/4)^2 = 9/16, d: (9/10)^2 = 81/100.
    expected = (math.log(4) + math.log(4 / 3) + 9 / 16 * math.log(4 / 3) +
                81 / 100 * math.log(10 / 9)) / 4
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_per_pixel_map_and_gradient_use_the_online_labels():
    logits, labels, pseudo = tiny_batch()
    logits.requires_grad_(True)
    loss = DynamicCrossEntropyLoss(online=True, online_threshold=0.8)
    loss_map = loss(
        logits, labels, pseudo_mask=pseudo, reduction_override='none')
    expected_map = torch.tensor([[[math.log(4),
                                   math.log(4 / 3), 0.0]],
                                 [[0.0, math.log(10 / 9), 0.0]]])
    torch.testing.assert_close(loss_map.detach(), expected_map)

    loss(logits, labels, pseudo_mask=pseudo).backward()
    # The same as plain cross-entropy on the hand-made online labels
    # (no gradient flows through the choice of labels).
    manual = logits.detach().clone().requires_grad_(True)
    online = torch.tensor([[[0, 1, IGNORE]], [[IGNORE, 0, IGNORE]]])
    F.cross_entropy(manual, online, ignore_index=IGNORE).backward()
    torch.testing.assert_close(logits.grad, manual.grad)


def test_without_pseudo_samples_online_changes_nothing():
    logits, labels, _ = tiny_batch()
    reference = F.cross_entropy(logits, labels, ignore_index=IGNORE)
    loss = DynamicCrossEntropyLoss(online=True, online_threshold=0.9)
    torch.testing.assert_close(loss(logits, labels), reference)
    torch.testing.assert_close(
        loss(logits, labels, pseudo_mask=torch.tensor([False, False])),
        reference)


def test_bad_online_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match='online_threshold'):
        DynamicCrossEntropyLoss(online=True, online_threshold=1.0)
    with pytest.raises(ValueError, match='online_threshold'):
        DynamicCrossEntropyLoss(online=True, online_threshold=-0.1)
    with pytest.raises(ValueError, match='online=True'):
        DynamicCrossEntropyLoss(online_threshold=0.9)
    assert 'online_threshold=0.9' in repr(
        DynamicCrossEntropyLoss(online=True, online_threshold=0.9))
