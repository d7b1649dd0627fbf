"""Tests of DynamicLossHead: any BaseDecodeHead with the dynamic loss."""
import pickle

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.decode_heads import FCNHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from dst_cbc.models import (DLV2Head, DynamicCrossEntropyLoss,
                            DynamicLossMixin, dynamic_loss_head_class,
                            pseudo_mask_of)

IGNORE = 255
DYNAMIC = dict(type='DynamicCrossEntropyLoss', gamma=9.0)
PLAIN_CE = dict(type='CrossEntropyLoss', avg_non_ignore=True)

HEAD_KWARGS = {
    'DLV2Head':
    dict(in_channels=4, num_classes=3, in_index=3),
    'FCNHead':
    dict(
        in_channels=4,
        channels=5,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=3,
        in_index=3),
}


def build(head_type: str, dynamic: bool, loss_decode=DYNAMIC, **kwargs):
    """Build ``head_type`` plain or wrapped in DynamicLossHead."""
    cfg = dict(HEAD_KWARGS[head_type], loss_decode=loss_decode, **kwargs)
    if dynamic:
        cfg.update(type='DynamicLossHead', base_type=head_type)
    else:
        cfg.update(type=head_type)
    return MODELS.build(cfg)


def batch(flags):
    """Features (2 images, 4x4 at level 3) and samples with 8x8 labels.

    Args:
        flags (list): ``is_pseudo`` of each sample; None leaves it unset.
    """
    torch.manual_seed(0)
    inputs = tuple(torch.randn(2, 4, 4, 4) for _ in range(4))
    labels = torch.randint(0, 3, (2, 1, 8, 8))
    labels[0, 0, :2] = IGNORE
    samples = []
    for label, flag in zip(labels, flags):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label)
        if flag is not None:
            sample.set_metainfo(dict(is_pseudo=flag))
        samples.append(sample)
    return inputs, samples, labels[:, 0]


def resized_logits(head, inputs):
    """The head's logits bilinearly resized to the 8x8 labels."""
    return F.interpolate(
        head(inputs), size=(8, 8), mode='bilinear', align_corners=False)


def copy_weights(src, dst):
    dst.load_state_dict(src.state_dict(), strict=True)


@pytest.mark.parametrize('head_type', ['DLV2Head', 'FCNHead'])
def test_built_class_and_state_dict_keys_match_the_plain_head(head_type):
    dynamic = build(head_type, True)
    plain = build(head_type, False)
    base = MODELS.get(head_type)
    assert type(dynamic).__name__ == 'Dynamic' + head_type
    assert isinstance(dynamic, base) and isinstance(dynamic, DynamicLossMixin)
    assert type(build(head_type, True)) is type(dynamic)  # cached class
    assert dynamic_loss_head_class(base) is type(dynamic)
    assert list(dynamic.state_dict()) == list(plain.state_dict())
    # Checkpoints load both ways and give the same logits.
    inputs, _, _ = batch([None, None])
    copy_weights(plain, dynamic)
    torch.testing.assert_close(dynamic(inputs), plain(inputs))
    other = build(head_type, False)
    copy_weights(dynamic, other)
    torch.testing.assert_close(other(inputs), dynamic(inputs))


@pytest.mark.parametrize('head_type', ['DLV2Head', 'FCNHead'])
def test_flagged_samples_get_the_dynamic_loss(head_type):
    head = build(head_type, True)
    inputs, samples, labels = batch([False, True])
    losses = head.loss(inputs, samples, train_cfg=dict())
    expected = DynamicCrossEntropyLoss(gamma=9.0)(
        resized_logits(head, inputs),
        labels,
        pseudo_mask=torch.tensor([False, True]))
    torch.testing.assert_close(losses['loss_ce'], expected)
    # The flag matters: the unweighted loss is larger (0 < w <= 1).
    plain = F.cross_entropy(
        resized_logits(head, inputs), labels, ignore_index=IGNORE)
    assert losses['loss_ce'].item() < plain.item()
    assert set(losses) == {'loss_ce', 'acc_seg'}


@pytest.mark.parametrize('head_type', ['DLV2Head', 'FCNHead'])
@pytest.mark.parametrize('flags', [[None, None], [False, False]])
def test_unflagged_samples_give_the_plain_head_loss(head_type, flags):
    dynamic = build(head_type, True)
    plain = build(head_type, False, loss_decode=PLAIN_CE)
    copy_weights(dynamic, plain)
    inputs, samples, _ = batch(flags)
    got = dynamic.loss(inputs, samples, train_cfg=dict())
    want = plain.loss(inputs, samples, train_cfg=dict())
    torch.testing.assert_close(got, want)


def test_no_state_is_kept_between_calls():
    head = build('DLV2Head', True)
    inputs, flagged, _ = batch([True, True])
    _, unflagged, _ = batch([None, None])
    first = head.loss_by_feat(head(inputs), unflagged)['loss_ce']
    head.loss_by_feat(head(inputs), flagged)
    again = head.loss_by_feat(head(inputs), unflagged)['loss_ce']
    torch.testing.assert_close(again, first)


@pytest.mark.parametrize('head_type', ['DLV2Head', 'FCNHead'])
def test_plain_cross_entropy_inside_behaves_like_the_plain_head(head_type):
    dynamic = build(head_type, True, loss_decode=PLAIN_CE)
    plain = build(head_type, False, loss_decode=PLAIN_CE)
    copy_weights(dynamic, plain)
    inputs, samples, _ = batch([True, False])
    torch.testing.assert_close(
        dynamic.loss(inputs, samples, train_cfg=dict()),
        plain.loss(inputs, samples, train_cfg=dict()))


def test_losses_with_one_name_are_summed_and_only_dynamic_gets_flags():
    head = build(
        'DLV2Head',
        True,
        loss_decode=[
            dict(type='DynamicCrossEntropyLoss', gamma=2.0),
            dict(PLAIN_CE, loss_weight=0.5),
        ])
    inputs, samples, labels = batch([True, False])
    logits = resized_logits(head, inputs)
    # loss_ce = dynamic(gamma 2, image 1 pseudo) + 0.5 * plain CE.
    expected = DynamicCrossEntropyLoss(gamma=2.0)(
        logits, labels, pseudo_mask=torch.tensor(
            [True, False])) + 0.5 * F.cross_entropy(
                logits, labels, ignore_index=IGNORE)
    losses = head.loss(inputs, samples, train_cfg=dict())
    torch.testing.assert_close(losses['loss_ce'], expected)


def test_ohem_sampler_keeping_every_pixel_changes_nothing():
    # min_kept = 64 per image >= the 8x8 pixels: every valid pixel is kept,
    # the sampler weight is 1 on all of them and the loss is unchanged.
    sampled = build(
        'DLV2Head', True, sampler=dict(type='OHEMPixelSampler', min_kept=64))
    plain = build('DLV2Head', True)
    copy_weights(sampled, plain)
    inputs, samples, _ = batch([False, True])
    torch.testing.assert_close(
        sampled.loss(inputs, samples, train_cfg=dict())['loss_ce'],
        plain.loss(inputs, samples, train_cfg=dict())['loss_ce'])


def test_pseudo_mask_of_reads_flags_and_defaults_to_labeled():
    _, samples, _ = batch([True, None])
    mask = pseudo_mask_of(samples, torch.device('cpu'))
    assert mask.dtype == torch.bool
    assert mask.tolist() == [True, False]


def test_base_type_may_be_a_class():
    head = MODELS.build(
        dict(
            type='DynamicLossHead',
            base_type=FCNHead,
            loss_decode=DYNAMIC,
            **HEAD_KWARGS['FCNHead']))
    assert type(head) is dynamic_loss_head_class('FCNHead')


def test_bad_base_type_raises_clear_errors():
    with pytest.raises(KeyError, match='NoSuchHead'):
        dynamic_loss_head_class('NoSuchHead')
    with pytest.raises(TypeError, match='BaseDecodeHead'):
        dynamic_loss_head_class('CrossEntropyLoss')
    with pytest.raises(TypeError, match='loss_by_feat'):
        dynamic_loss_head_class('STDCHead')
    with pytest.raises(TypeError, match='already'):
        dynamic_loss_head_class(dynamic_loss_head_class(DLV2Head))


def test_pickle_round_trip_keeps_class_and_weights():
    head = build('DLV2Head', True)
    restored = pickle.loads(pickle.dumps(head))
    assert type(restored) is type(head)
    inputs, _, _ = batch([None, None])
    torch.testing.assert_close(restored(inputs), head(inputs))
