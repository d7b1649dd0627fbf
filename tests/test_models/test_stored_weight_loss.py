"""The OW ablation's weight ``p_label(y) ** gamma`` from stored confidences,
in DynamicCrossEntropyLoss and DynamicDLV2Head, against values worked out
by hand."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from dst_cbc.models import DynamicCrossEntropyLoss
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

IGNORE = 255
LN3 = math.log(3.0)


def tiny_batch():
    """Two images of 1x2 pixels, two classes, every pixel with logits
    [0, ln 3] (current softmax p = [1/4, 3/4]).

    Image 0 labels [1, 0], image 1 labels [1, IGNORE]. Stored confidences:
    image 0 [0.9, 0.2], image 1 [0.5, 0.7] (the IGNORE pixel's is unused).
    """
    logits = torch.tensor([0.0, LN3]).view(1, 2, 1, 1).repeat(2, 1, 1, 2)
    labels = torch.tensor([[[1, 0]], [[1, IGNORE]]])
    stored = torch.tensor([[[0.9, 0.2]], [[0.5, 0.7]]])
    return logits, labels, stored


def test_hand_computed_value():
    logits, labels, stored = tiny_batch()
    loss = DynamicCrossEntropyLoss(gamma=2.0, weight_source='stored')
    # Image 1 pseudo: its label-1 pixel has CE = ln(4/3) and stored
    # w = 0.5^2 = 1/4 (the current model would give (3/4)^2 = 9/16).
    # Image 0 labeled: ln(4/3) + ln 4. Three valid pixels.
    value = loss(
        logits,
        labels,
        pseudo_mask=torch.tensor([False, True]),
        pseudo_confidence=stored)
    expected = (math.log(4 / 3) + math.log(4) + 0.25 * math.log(4 / 3)) / 3
    assert value.item() == pytest.approx(expected, rel=1e-6)

    # Image 0 pseudo: w = 0.9^2 = 0.81 on ln(4/3), 0.2^2 = 0.04 on ln 4;
    # image 1 labeled: ln(4/3).
    value = loss(
        logits,
        labels,
        pseudo_mask=torch.tensor([True, False]),
        pseudo_confidence=stored)
    expected = (1.81 * math.log(4 / 3) + 0.04 * math.log(4)) / 3
    assert value.item() == pytest.approx(expected, rel=1e-6)

    loss_map = loss(
        logits,
        labels,
        pseudo_mask=torch.tensor([True, False]),
        pseudo_confidence=stored,
        reduction_override='none')
    torch.testing.assert_close(
        loss_map,
        torch.tensor([[[0.81 * math.log(4 / 3), 0.04 * math.log(4)]],
                      [[math.log(4 / 3), 0.0]]]))


def test_equals_the_current_model_weight_when_stored_is_p_cur():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 5, 6)
    labels = torch.randint(0, 4, (3, 5, 6))
    labels[1, :2] = IGNORE
    pseudo = torch.tensor([True, True, False])
    # p_cur(y) at every pixel (IGNORE pixels: any value, here class 0).
    p_cur = logits.softmax(dim=1).gather(
        1,
        labels.clamp(max=3).unsqueeze(1)).squeeze(1)
    for gamma in (0.0, 1.0, 9.0):
        stored = DynamicCrossEntropyLoss(gamma=gamma, weight_source='stored')
        current = DynamicCrossEntropyLoss(gamma=gamma)
        torch.testing.assert_close(
            stored(
                logits, labels, pseudo_mask=pseudo, pseudo_confidence=p_cur),
            current(logits, labels, pseudo_mask=pseudo))
    # With other confidences they differ.
    assert not torch.allclose(
        stored(
            logits,
            labels,
            pseudo_mask=pseudo,
            pseudo_confidence=torch.full_like(p_cur, 0.5)),
        current(logits, labels, pseudo_mask=pseudo))


def test_gradient_is_cross_entropy_scaled_by_the_fixed_weight():
    logits, labels, stored = tiny_batch()
    logits.requires_grad_(True)
    confidence = stored.clone().requires_grad_(True)
    DynamicCrossEntropyLoss(
        gamma=2.0, weight_source='stored')(
            logits,
            labels,
            pseudo_mask=torch.tensor([True, False]),
            pseudo_confidence=confidence).backward()
    assert confidence.grad is None  # the weight is detached
    manual = logits.detach().clone().requires_grad_(True)
    weight = torch.tensor([[[0.81, 0.04]], [[1.0, 0.0]]])
    ce = F.cross_entropy(manual, labels, reduction='none', ignore_index=IGNORE)
    ((weight * ce).sum() / 3).backward()
    torch.testing.assert_close(logits.grad, manual.grad)


def test_labeled_batches_need_no_confidence_and_pseudo_ones_do():
    logits, labels, stored = tiny_batch()
    loss = DynamicCrossEntropyLoss(gamma=2.0, weight_source='stored')
    plain = F.cross_entropy(logits, labels, ignore_index=IGNORE)
    torch.testing.assert_close(
        loss(logits, labels, pseudo_mask=torch.tensor([False, False])), plain)
    torch.testing.assert_close(loss(logits, labels), plain)
    with pytest.raises(ValueError, match='needs pseudo_confidence'):
        loss(logits, labels, pseudo_mask=torch.tensor([False, True]))
    with pytest.raises(ValueError, match='pseudo_confidence must have'):
        loss(
            logits,
            labels,
            pseudo_mask=torch.tensor([False, True]),
            pseudo_confidence=stored[:, 0])


def test_bad_arguments_and_repr():
    with pytest.raises(ValueError, match='weight_source'):
        DynamicCrossEntropyLoss(weight_source='labeler')
    with pytest.raises(ValueError, match='online=True'):
        DynamicCrossEntropyLoss(online=True, weight_source='stored')
    assert "weight_source='stored'" in repr(
        DynamicCrossEntropyLoss(gamma=9.0, weight_source='stored'))
    assert 'weight_source' not in repr(DynamicCrossEntropyLoss(gamma=9.0))


def test_head_passes_padded_stored_confidences_to_the_loss():
    """DynamicDLV2Head on 2x2 labels: sample 0 labeled, sample 1
    pseudo-labeled with a 1x2 confidence map (a crop padded by the data
    preprocessor: its second label row is IGNORE)."""
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type='DynamicDLV2Head',
            in_channels=4,
            num_classes=3,
            in_index=3,
            loss_decode=dict(
                type='DynamicCrossEntropyLoss',
                gamma=2.0,
                weight_source='stored')))
    inputs = tuple(torch.randn(2, 4, 2, 2) for _ in range(4))
    labels = torch.tensor([[[0, 1], [2, 0]], [[2, 1], [IGNORE, IGNORE]]])
    samples = []
    for i, label in enumerate(labels):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        sample.set_metainfo(dict(is_pseudo=bool(i)))
        samples.append(sample)
    samples[1].pseudo_confidence = PixelData(data=torch.tensor([[[0.5, 0.8]]]))
    losses = head.loss(inputs, samples, train_cfg=dict())
    ce = F.cross_entropy(
        head(inputs), labels, reduction='none', ignore_index=IGNORE)
    # Weights: labeled 1; pseudo 0.5^2 and 0.8^2; six valid pixels.
    weight = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[0.25, 0.64], [0.0,
                                                                     0.0]]])
    torch.testing.assert_close(losses['loss_ce'], (weight * ce).sum() / 6)
