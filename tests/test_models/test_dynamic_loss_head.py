"""Tests of DynamicLossHead and its registered heads: MMSeg decode heads
with the dynamic loss."""
import math
import pickle
import re
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData

import dst_cbc.models
from dst_cbc.models import (DynamicCrossEntropyLoss, DynamicLossHead,
                            check_dynamic_heads, pseudo_mask_of)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

IGNORE = 255
DYNAMIC = dict(type='DynamicCrossEntropyLoss', gamma=9.0)
PLAIN_CE = dict(type='CrossEntropyLoss', avg_non_ignore=True)

LN3 = math.log(3.0)

# One tiny config per head family with a registered Dynamic<Base>; all take
# the four 4-channel feature levels of batch().
ASPP = dict(in_channels=4, channels=4, dilations=(1, 2), in_index=3)
HEAD_KWARGS = {
    'DLV2Head':
    dict(in_channels=4, num_classes=3, in_index=3),
    'ASPPHead':
    dict(ASPP, dropout_ratio=0.0, num_classes=3),
    'DepthwiseSeparableASPPHead':
    dict(
        ASPP,
        c1_in_channels=4,
        c1_channels=2,
        dropout_ratio=0.0,
        num_classes=3),
    'UPerHead':
    dict(
        in_channels=[4, 4, 4, 4],
        in_index=[0, 1, 2, 3],
        channels=4,
        pool_scales=(1, 2),
        dropout_ratio=0.0,
        num_classes=3),
    'FCNHead':
    dict(
        in_channels=4,
        channels=5,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=3,
        in_index=3),
    'DepthwiseSeparableFCNHead':
    dict(
        in_channels=4,
        channels=5,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=3,
        in_index=3),
}
FAMILIES = sorted(HEAD_KWARGS)


def build(head_type: str, dynamic: bool, loss_decode=None, **kwargs):
    """Build ``Dynamic<head_type>`` or the plain ``head_type``; the loss
    defaults to the dynamic one, or plain cross-entropy for a plain head.
    ``kwargs`` override the head's tiny config."""
    if loss_decode is None:
        loss_decode = DYNAMIC if dynamic else PLAIN_CE
    cfg = dict(HEAD_KWARGS[head_type], loss_decode=loss_decode)
    cfg.update(kwargs)
    cfg.update(type=('Dynamic' + head_type) if dynamic else head_type)
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


def test_models_package_has_no_metaprogramming():
    """No frame walking, no classes made at run time, no module
    ``__getattr__`` for pickle, no side channel to the loss."""
    package = Path(dst_cbc.models.__file__).parent
    sources = {path: path.read_text() for path in package.rglob('*.py')}
    assert len(sources) > 5
    for path, text in sources.items():
        for banned in ('_getframe', "type('Dynamic", 'passes_pseudo_masks',
                       'pseudo_batch'):
            assert banned not in text, f'{banned} in {path}'
        assert not re.search(r'^def __getattr__', text, re.M), path


@pytest.mark.parametrize('head_type', FAMILIES)
def test_dynamic_heads_are_static_registered_subclasses(head_type):
    cls = MODELS.get('Dynamic' + head_type)
    base = MODELS.get(head_type)
    assert cls.__bases__ == (DynamicLossHead, base)
    assert cls.__module__ == 'dst_cbc.models.dynamic_loss_head'
    assert getattr(sys.modules[cls.__module__], cls.__qualname__) is cls
    # The MRO keeps the plain head's __init__ and forward.
    assert '__init__' not in vars(DynamicLossHead)
    assert cls.__init__ is base.__init__
    assert cls.forward is base.forward
    assert cls.loss_by_feat is DynamicLossHead.loss_by_feat
    assert cls.cls_seg is DynamicLossHead.cls_seg


def test_dynamic_loss_head_itself_is_no_config_type():
    # Configs name the concrete head; the old wrapper form fails clearly.
    assert MODELS.get('DynamicLossHead') is None
    with pytest.raises(KeyError, match='DynamicLossHead'):
        MODELS.build(
            dict(
                type='DynamicLossHead',
                base_type='DLV2Head',
                loss_decode=DYNAMIC,
                **HEAD_KWARGS['DLV2Head']))
    with pytest.raises(TypeError, match='abstract'):
        DynamicLossHead(in_channels=4, channels=4, num_classes=3)


@pytest.mark.parametrize('head_type', FAMILIES)
def test_built_class_and_state_dict_keys_match_the_plain_head(head_type):
    dynamic = build(head_type, True)
    plain = build(head_type, False)
    base = MODELS.get(head_type)
    assert type(dynamic).__name__ == 'Dynamic' + head_type
    assert isinstance(dynamic, base) and isinstance(dynamic, DynamicLossHead)
    assert type(dynamic) is MODELS.get('Dynamic' + head_type)
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


@pytest.mark.parametrize('head_type', FAMILIES)
def test_pickle_round_trip_keeps_class_and_weights(head_type):
    head = build(head_type, True)
    restored = pickle.loads(pickle.dumps(head))
    assert type(restored) is type(head)
    inputs, _, _ = batch([None, None])
    torch.testing.assert_close(restored(inputs), head(inputs))
    # The class pickles by reference to its module attribute.
    assert pickle.loads(pickle.dumps(type(head))) is type(head)


@pytest.mark.parametrize('head_type', FAMILIES)
def test_loss_by_feat_weights_pseudo_samples_by_hand(head_type):
    """Logits [0, ln 3, 0] at 1x1, resized to the 1x2 labels: p = [1/5, 3/5,
    1/5] at every pixel. Image 0 labels [1, 0], image 1 labels
    [1, IGNORE]."""
    head = build(head_type, True, loss_decode=dict(DYNAMIC, gamma=2.0))
    logits = torch.tensor([0.0, LN3, 0.0]).view(1, 3, 1, 1).repeat(2, 1, 1, 1)
    labels = torch.tensor([[[1, 0]], [[1, IGNORE]]])

    def samples(flags):
        out = []
        for label, flag in zip(labels, flags):
            sample = SegDataSample(metainfo=dict(is_pseudo=flag))
            sample.gt_sem_seg = PixelData(data=label[None])
            out.append(sample)
        return out

    # Image 1 pseudo: its label-1 pixel has w = (3/5)^2 = 9/25 on
    # CE = ln(5/3); image 0 labeled: ln(5/3) + ln 5. Three valid pixels.
    losses = head.loss_by_feat(logits, samples([False, True]))
    weighted = (34 / 25 * math.log(5 / 3) + math.log(5)) / 3
    assert losses['loss_ce'].item() == pytest.approx(weighted, rel=1e-6)
    # Class 1 everywhere: 2 of the 3 valid pixels right.
    assert losses['acc_seg'].item() == pytest.approx(200 / 3, rel=1e-5)
    # Both labeled: plain cross-entropy.
    losses = head.loss_by_feat(logits, samples([False, False]))
    plain = (2 * math.log(5 / 3) + math.log(5)) / 3
    assert losses['loss_ce'].item() == pytest.approx(plain, rel=1e-6)


# -- a plain head cannot pass pseudo masks: refused by check_dynamic_heads --
@pytest.mark.parametrize('head_type', FAMILIES)
@pytest.mark.parametrize('loss_decode', [DYNAMIC, [PLAIN_CE, DYNAMIC]])
def test_plain_head_with_the_dynamic_loss_is_refused(head_type, loss_decode):
    fix = re.escape(f"type='Dynamic{head_type}'")
    head = build(head_type, False, loss_decode=loss_decode)
    with pytest.raises(TypeError, match=f'\\({head_type}\\).*{fix}'):
        check_dynamic_heads(head)
    check_dynamic_heads(build(head_type, True, loss_decode=loss_decode))
    check_dynamic_heads(build(head_type, False, loss_decode=PLAIN_CE))


class TwoLevels(nn.Module):
    """A backbone of two feature levels: 4 channels at 1/2, 1/4 size."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.second = nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x):
        first = self.first(x)
        return first, self.second(first)


def segmentor(dynamic: bool, gamma: float = 0.0) -> nn.Module:
    """An EncoderDecoder with a decode head and two auxiliary heads, all
    with the dynamic loss (``Dynamic<Base>`` heads) or MMSeg's
    cross-entropy with ``avg_non_ignore=True`` (plain heads)."""

    def head(head_type, in_index, loss_weight, **kwargs):
        loss = (
            dict(DYNAMIC, gamma=gamma, loss_weight=loss_weight)
            if dynamic else dict(PLAIN_CE, loss_weight=loss_weight))
        cfg = dict(
            in_channels=4,
            num_classes=3,
            in_index=in_index,
            loss_decode=loss,
            **kwargs)
        if dynamic:
            return dict(cfg, type='Dynamic' + head_type)
        return dict(cfg, type=head_type)

    fcn = dict(channels=5, num_convs=1, concat_input=False, dropout_ratio=0.0)
    return MODELS.build(
        dict(
            type='EncoderDecoder',
            backbone=dict(type=TwoLevels),
            decode_head=head('DLV2Head', 1, 1.0),
            auxiliary_head=[
                head('FCNHead', 0, 0.4, **fcn),
                head('FCNHead', 1, 0.4, **fcn)
            ]))


def segmentor_batch(flags):
    """Images of 16x16 and labels with IGNORE pixels, ``is_pseudo`` set."""
    torch.manual_seed(3)
    images = torch.randn(len(flags), 3, 16, 16)
    samples = []
    for flag in flags:
        label = torch.randint(0, 3, (1, 16, 16))
        label[0, :3] = IGNORE
        sample = SegDataSample(metainfo=dict(is_pseudo=flag))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return images, samples


def test_gamma_zero_matches_mmseg_heads_with_their_cross_entropy():
    # Pins the dynamic heads to MMSeg's own loss_by_feat: at gamma 0 the
    # losses of every head (decode and auxiliary) and every gradient are
    # those of the plain heads with CrossEntropyLoss(avg_non_ignore=True),
    # pseudo-labeled samples included.
    dynamic, plain = segmentor(True), segmentor(False)
    copy_weights(dynamic, plain)
    images, samples = segmentor_batch([True, False, True])
    got = dynamic.loss(images, samples)
    want = plain.loss(images, samples)
    assert set(got) == set(want) == {
        f'{head}.{item}'
        for head in ('decode', 'aux_0', 'aux_1')
        for item in ('loss_ce', 'acc_seg')
    }
    torch.testing.assert_close(got, want)
    dynamic.parse_losses(got)[0].backward()
    plain.parse_losses(want)[0].backward()
    grads = dict(plain.named_parameters())
    for name, param in dynamic.named_parameters():
        torch.testing.assert_close(param.grad, grads[name].grad, msg=name)


def test_every_head_of_a_segmentor_weights_its_pseudo_samples():
    dynamic, plain = segmentor(True, gamma=4.0), segmentor(False)
    copy_weights(dynamic, plain)
    images, samples = segmentor_batch([True, False, True])
    got = dynamic.loss(images, samples)
    want = plain.loss(images, samples)
    for head in ('decode', 'aux_0', 'aux_1'):
        # 0 < w <= 1 on pseudo-labeled pixels.
        assert 0 < got[f'{head}.loss_ce'] < want[f'{head}.loss_ce']


def test_plain_auxiliary_head_with_the_dynamic_loss_is_refused():
    cfg = dict(
        type='EncoderDecoder',
        backbone=dict(type=TwoLevels),
        decode_head=dict(
            type='DynamicDLV2Head',
            in_channels=4,
            num_classes=3,
            in_index=1,
            loss_decode=DYNAMIC),
        auxiliary_head=dict(
            type='FCNHead',
            in_channels=4,
            channels=5,
            num_convs=1,
            num_classes=3,
            in_index=0,
            loss_decode=DYNAMIC))
    model = MODELS.build(cfg)
    with pytest.raises(
            TypeError,
            match=re.escape("model.auxiliary_head (FCNHead)") +
            ".*type='DynamicFCNHead'"):
        check_dynamic_heads(model)
    # Also through a wrapper (e.g. DDP's ``module``).
    wrapper = nn.Module()
    wrapper.module = model
    with pytest.raises(TypeError, match='model.module.auxiliary_head'):
        check_dynamic_heads(wrapper)
    check_dynamic_heads(segmentor(True))
    check_dynamic_heads(segmentor(False))


def test_ohem_sampler_ranks_pixels_by_the_dynamic_loss():
    # The sampler keeps the min_kept * N = 16 pixels of largest loss; within
    # the head's call the loss it ranks by is the dynamic one. Seeded: the
    # margin below depends on the head's random weights.
    torch.manual_seed(0)
    head = build(
        'DLV2Head', True, sampler=dict(type='OHEMPixelSampler', min_kept=8))
    inputs, samples, labels = batch([False, True])
    pseudo = torch.tensor([False, True])
    loss = DynamicCrossEntropyLoss(gamma=9.0)
    logits = resized_logits(head, inputs)
    valid = labels != IGNORE

    def loss_keeping_top_16_by(ranking_mask):
        ranking = loss(
            logits,
            labels,
            pseudo_mask=ranking_mask,
            reduction_override='none').detach()
        keep = torch.zeros(int(valid.sum()))
        keep[ranking[valid].argsort(descending=True)[:16]] = 1.0
        seg_weight = torch.zeros_like(ranking)
        seg_weight[valid] = keep
        return loss(logits, labels, weight=seg_weight, pseudo_mask=pseudo)

    got = head.loss(inputs, samples, train_cfg=dict())['loss_ce']
    torch.testing.assert_close(got, loss_keeping_top_16_by(pseudo))
    # Ranking by plain cross-entropy would keep other pixels.
    assert abs(got - loss_keeping_top_16_by(None)) > 0.05


def test_ohem_sampler_with_plain_losses_keeps_mmsegs_pixels():
    # Without a dynamic loss, the head's own ranking is MMSeg's sampler's.
    ohem = dict(type='OHEMPixelSampler', min_kept=8)
    losses = [PLAIN_CE, dict(PLAIN_CE, loss_weight=0.5)]
    dynamic = build('DLV2Head', True, loss_decode=losses, sampler=ohem)
    plain = build('DLV2Head', False, loss_decode=losses, sampler=ohem)
    copy_weights(dynamic, plain)
    inputs, samples, _ = batch([True, False])
    torch.testing.assert_close(
        dynamic.loss(inputs, samples, train_cfg=dict()),
        plain.loss(inputs, samples, train_cfg=dict()))


def test_ohem_sampler_with_a_threshold_is_called_as_is():
    # With thresh the sampler ranks by probability and calls no loss.
    head = build(
        'DLV2Head',
        True,
        sampler=dict(type='OHEMPixelSampler', thresh=0.4, min_kept=8))
    inputs, samples, labels = batch([False, True])
    logits = resized_logits(head, inputs)
    seg_weight = head.sampler.sample(logits, labels[:, None])
    assert 0 < seg_weight.sum() < (labels != IGNORE).sum()
    expected = DynamicCrossEntropyLoss(gamma=9.0)(
        logits,
        labels,
        weight=seg_weight,
        pseudo_mask=torch.tensor([False, True]))
    got = head.loss(inputs, samples, train_cfg=dict())['loss_ce']
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize('head_type', ['DLV2Head', 'FCNHead'])
def test_logits_are_float32_under_bf16_autocast(head_type):
    """The dynamic head classifies in float32 under autocast (the plain head
    returns bf16 logits), from the same bf16-computed features."""
    torch.manual_seed(0)
    dynamic = build(head_type, dynamic=True)
    plain = build(head_type, dynamic=False)
    copy_weights(dynamic, plain)
    dynamic.eval()
    plain.eval()
    inputs, _, _ = batch([True, False])
    # The classifier's input: DLV2Head classifies the backbone features,
    # FCNHead its own convolution's output.
    channels = 4 if head_type == 'DLV2Head' else 5
    feat = torch.randn(2, channels, 4, 4).bfloat16()
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        assert plain.cls_seg(feat).dtype == torch.bfloat16
        logits = dynamic.cls_seg(feat)
        assert dynamic(inputs).dtype == torch.float32
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, plain.cls_seg(feat.float()))
    # Outside autocast nothing changes.
    torch.testing.assert_close(
        dynamic.cls_seg(feat.float()), plain.cls_seg(feat.float()))
