"""Tests of PseudoCutMix and BatchAugSegDataPreProcessor.

Fixed boxes are checked against label, image-source and confidence maps
written out by hand; random draws against invariants (one box per target,
the same box in every field, a partner other than the target, each
pseudo-labeled sample a source once) and against the configured laws.
"""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from scipy import stats

from dst_cbc.models import pseudo_confidence_of
from dst_cbc.models.batch_aug_data_preprocessor import \
    BatchAugSegDataPreProcessor
from dst_cbc.models.pseudo_cutmix import Box, PseudoCutMix, box_of, paste_boxes
from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

IGNORE = 255
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def sample(label, is_pseudo, confidence=None):
    """A data sample with ``label`` (H, W) and optional confidence."""
    data_sample = SegDataSample()
    data_sample.gt_sem_seg = PixelData(data=torch.as_tensor(label)[None])
    data_sample.set_metainfo(dict(is_pseudo=is_pseudo))
    if confidence is not None:
        data_sample.pseudo_confidence = PixelData(
            data=torch.as_tensor(confidence, dtype=torch.float32)[None])
    return data_sample


def coded_images(num, channels, height, width, device='cpu'):
    """``img[n, c, y, x] = 1000 n + 100 c + 10 y + x``: each pixel names its
    sample."""
    n, c, y, x = torch.meshgrid(
        *(torch.arange(s, dtype=torch.float32)
          for s in (num, channels, height, width)),
        indexing='ij')
    return (1000 * n + 100 * c + 10 * y + x).to(device)


def expected_images(sources, channels):
    """Coded images of one target whose pixel (y, x) came from sample
    ``sources[y][x]``."""
    src = torch.tensor(sources, dtype=torch.float32)
    height, width = src.shape
    _, c, y, x = torch.meshgrid(
        torch.zeros(1),
        *(torch.arange(s, dtype=torch.float32)
          for s in (channels, height, width)),
        indexing='ij')
    return (1000 * src + 100 * c + 10 * y + x)[0]


# A 4x5 batch: sample 0 labeled, samples 1 and 2 pseudo-labeled.
LABEL_0 = [[0, 1, 2, 3, 4]] * 4
LABEL_1 = [[0, 0, 1, 1, 1],
           [0, 0, 1, 1, IGNORE],
           [2, 2, 2, IGNORE, IGNORE],
           [2, 2, 2, IGNORE, IGNORE]]  # yapf: disable
LABEL_2 = [[3, 3, 3, 3, 3],
           [IGNORE, IGNORE, 4, 4, 4],
           [4, 4, 4, 4, 4],
           [4, 4, 0, 0, 0]]  # yapf: disable
# Sample 1 gets rows 1-2, columns 2-4 of sample 2: its own ignore pixels
# there are replaced.
BOX_INTO_1 = Box(top=1, left=2, height=2, width=3)
MIXED_1 = [[0, 0, 1, 1, 1],
           [0, 0, 4, 4, 4],
           [2, 2, 4, 4, 4],
           [2, 2, 2, IGNORE, IGNORE]]  # yapf: disable
SOURCES_1 = [[1, 1, 1, 1, 1],
             [1, 1, 2, 2, 2],
             [1, 1, 2, 2, 2],
             [1, 1, 1, 1, 1]]  # yapf: disable
# Sample 2 gets rows 1-2, columns 3-4 of sample 1 as it was before any
# paste: ignore pixels pasted in stay ignore.
BOX_INTO_2 = Box(top=1, left=3, height=2, width=2)
MIXED_2 = [[3, 3, 3, 3, 3],
           [IGNORE, IGNORE, 4, 1, IGNORE],
           [4, 4, 4, IGNORE, IGNORE],
           [4, 4, 0, 0, 0]]  # yapf: disable
SOURCES_2 = [[2, 2, 2, 2, 2],
             [2, 2, 2, 1, 1],
             [2, 2, 2, 1, 1],
             [2, 2, 2, 2, 2]]  # yapf: disable


def hand_batch(device='cpu', confidence=True):
    inputs = coded_images(3, 2, 4, 5, device)
    samples = [
        sample(LABEL_0, False),
        sample(LABEL_1, True, [[0.1] * 5] * 4 if confidence else None),
        sample(LABEL_2, True, [[0.2] * 5] * 4 if confidence else None)
    ]
    return inputs, [s.to(device) for s in samples]


def label_of(data_sample):
    return data_sample.gt_sem_seg.data[0].cpu().tolist()


# -- box geometry ------------------------------------------------------------


@pytest.mark.parametrize(
    'area_ratio,aspect,top_frac,left_frac,box',
    [
        # 40 px at h/w 0.4: 4 x 10; top int(0.5 * 7) = 3; left
        # int(0.99 * 11) = 10.
        (0.2, 0.4, 0.5, 0.99, Box(3, 10, 4, 10)),
        # 160 px at h/w 3 cannot fit a height of 10: h/w is clamped to
        # 10 / (0.8 * 20) = 0.625, 10 x 16; left int(0.5 * 5) = 2.
        (0.8, 3.0, 0.7, 0.5, Box(0, 2, 10, 16)),
        # 0.2 px rounds to no pixel: at least one.
        (0.001, 1.0, 0.0, 0.0, Box(0, 0, 1, 1)),
        # The whole canvas.
        (1.0, 7.0, 0.3, 0.3, Box(0, 0, 10, 20)),
    ])
def test_box_of_by_hand(area_ratio, aspect, top_frac, left_frac, box):
    assert box_of((10, 20), area_ratio, aspect, top_frac, left_frac) == box


# -- fixed boxes, pixel by pixel ---------------------------------------------


@pytest.mark.parametrize('device', DEVICES)
def test_fixed_boxes_mix_image_label_ignore_and_confidence(device):
    inputs, samples = hand_batch(device)
    labeled_before = samples[0].gt_sem_seg.data.clone()
    metainfo_before = [s.metainfo for s in samples]
    mixed, out = paste_boxes(inputs, samples, [(1, 2, BOX_INTO_1),
                                               (2, 1, BOX_INTO_2)])
    assert mixed.device == inputs.device
    assert label_of(out[1]) == MIXED_1
    assert label_of(out[2]) == MIXED_2
    torch.testing.assert_close(
        mixed[1].cpu(), expected_images(SOURCES_1, 2), rtol=0, atol=0)
    torch.testing.assert_close(
        mixed[2].cpu(), expected_images(SOURCES_2, 2), rtol=0, atol=0)
    # The stored confidence (0.1 for sample 1, 0.2 for sample 2) follows.
    for index, sources in ((1, SOURCES_1), (2, SOURCES_2)):
        confidence = out[index].pseudo_confidence.data
        assert confidence.device == inputs.device
        torch.testing.assert_close(
            confidence.cpu(),
            torch.tensor(sources, dtype=torch.float32)[None] / 10)
    # Labeled sample and every flag untouched; the input tensor untouched.
    assert torch.equal(mixed[0], inputs[0])
    assert torch.equal(out[0].gt_sem_seg.data, labeled_before)
    assert 'pseudo_confidence' not in out[0]
    assert [s.metainfo for s in out] == metainfo_before
    assert torch.equal(inputs, coded_images(3, 2, 4, 5, device))


def test_paste_order_does_not_matter():
    a = paste_boxes(*hand_batch(), [(1, 2, BOX_INTO_1), (2, 1, BOX_INTO_2)])
    b = paste_boxes(*hand_batch(), [(2, 1, BOX_INTO_2), (1, 2, BOX_INTO_1)])
    assert torch.equal(a[0], b[0])
    assert [label_of(s) for s in a[1]] == [label_of(s) for s in b[1]]


def test_without_confidence_only_image_and_label_mix():
    mixed, out = paste_boxes(*hand_batch(confidence=False),
                             [(1, 2, BOX_INTO_1)])
    assert label_of(out[1]) == MIXED_1
    assert label_of(out[2]) == LABEL_2
    assert not any('pseudo_confidence' in s for s in out)


def test_confidence_on_some_pseudo_samples_only_is_refused():
    inputs, samples = hand_batch()
    del samples[2].pseudo_confidence
    samples[2].set_metainfo(dict(img_path='unlabeled/b.png'))
    with pytest.raises(ValueError, match='unlabeled/b.png has no pseudo_'):
        paste_boxes(inputs, samples, [(1, 2, BOX_INTO_1)])


def test_a_target_twice_is_refused():
    with pytest.raises(ValueError, match='repeat'):
        paste_boxes(*hand_batch(), [(1, 2, BOX_INTO_1), (1, 2, BOX_INTO_2)])


# -- padding, through the data preprocessor ----------------------------------

MEAN, STD = 10.0, 2.0
# Labeled A and pseudo B are 4x6; pseudo C is 3x4 and is padded to 4x6
# (label IGNORE, normalised image 0, confidence 0). One box, rows 1-3 and
# columns 2-5, is pasted both ways.
PAD_BOX = Box(top=1, left=2, height=3, width=4)
LABEL_B = [[1] * 6] * 4
LABEL_C = [[2] * 4] * 3
MIXED_B = [[1, 1, 1, 1, 1, 1],
           [1, 1, 2, 2, IGNORE, IGNORE],
           [1, 1, 2, 2, IGNORE, IGNORE],
           [1, 1, IGNORE, IGNORE, IGNORE, IGNORE]]  # yapf: disable
MIXED_C = [[2, 2, 2, 2, IGNORE, IGNORE],
           [2, 2, 1, 1, 1, 1],
           [2, 2, 1, 1, 1, 1],
           [IGNORE, IGNORE, 1, 1, 1, 1]]  # yapf: disable
CONFIDENCE_B = [[0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
                [0.5, 0.5, 0.25, 0.25, 0.0, 0.0],
                [0.5, 0.5, 0.25, 0.25, 0.0, 0.0],
                [0.5, 0.5, 0.0, 0.0, 0.0, 0.0]]  # yapf: disable
CONFIDENCE_C = [[0.25, 0.25, 0.25, 0.25, 0.0, 0.0],
                [0.25, 0.25, 0.5, 0.5, 0.5, 0.5],
                [0.25, 0.25, 0.5, 0.5, 0.5, 0.5],
                [0.0, 0.0, 0.5, 0.5, 0.5, 0.5]]  # yapf: disable
# Normalised images: A = (14 - 10) / 2 = 2, B = 4, C = 6, padding 0.
IMAGE_B = [[4, 4, 4, 4, 4, 4],
           [4, 4, 6, 6, 0, 0],
           [4, 4, 6, 6, 0, 0],
           [4, 4, 0, 0, 0, 0]]  # yapf: disable
IMAGE_C = [[6, 6, 6, 6, 0, 0],
           [6, 6, 4, 4, 4, 4],
           [6, 6, 4, 4, 4, 4],
           [0, 0, 4, 4, 4, 4]]  # yapf: disable


def padded_data():
    """Raw 1-channel uint8 images and samples of A, B and C."""
    inputs = [
        torch.full((1, 4, 6), 14, dtype=torch.uint8),
        torch.full((1, 4, 6), 18, dtype=torch.uint8),
        torch.full((1, 3, 4), 22, dtype=torch.uint8)
    ]
    samples = [
        sample([[0] * 6] * 4, False),
        sample(LABEL_B, True, [[0.5] * 6] * 4),
        sample(LABEL_C, True, [[0.25] * 4] * 3)
    ]
    return dict(inputs=inputs, data_samples=samples)


def preprocessor(**cutmix):
    return BatchAugSegDataPreProcessor(
        mean=[MEAN],
        std=[STD],
        size=(4, 6),
        batch_augments=[dict(type='PseudoCutMix', **cutmix)])


def test_padding_pasted_in_stays_ignore(monkeypatch):
    monkeypatch.setattr(PseudoCutMix, 'sample_box',
                        lambda self, canvas: PAD_BOX)
    out = preprocessor(prob=1.0)(padded_data(), training=True)
    inputs, samples = out['inputs'], out['data_samples']
    assert label_of(samples[1]) == MIXED_B
    assert label_of(samples[2]) == MIXED_C
    assert inputs[1, 0].tolist() == IMAGE_B
    assert inputs[2, 0].tolist() == IMAGE_C
    assert inputs[0, 0].tolist() == [[2.0] * 6] * 4
    # The head reads the mixed maps, padded to the canvas.
    confidence = pseudo_confidence_of(samples, (4, 6), torch.device('cpu'))
    torch.testing.assert_close(confidence[1], torch.tensor(CONFIDENCE_B))
    torch.testing.assert_close(confidence[2], torch.tensor(CONFIDENCE_C))
    # Each sample still describes its own padding.
    assert samples[2].metainfo['padding_size'] == (0, 2, 0, 1)
    assert [s.metainfo['is_pseudo'] for s in samples] == [False, True, True]


def test_no_mixing_outside_training(monkeypatch):
    monkeypatch.setattr(PseudoCutMix, 'sample_box',
                        lambda self, canvas: PAD_BOX)
    data = padded_data()  # eval batches are not padded: C is made 4x6
    data['inputs'][2] = torch.full((1, 4, 6), 22, dtype=torch.uint8)
    data['data_samples'][2] = sample([[2] * 6] * 4, True, [[0.25] * 6] * 4)
    plain = SegDataPreProcessor(mean=[MEAN], std=[STD], size=(4, 6))
    for training, mixed in ((False, False), (True, True)):
        got = preprocessor(prob=1.0)(copy.deepcopy(data), training)
        want = plain(copy.deepcopy(data), training)
        assert torch.equal(got['inputs'], want['inputs']) != mixed


def test_batch_augments_is_a_list_of_configs():
    with pytest.raises(TypeError, match='batch_augments'):
        BatchAugSegDataPreProcessor(
            size=(4, 6), batch_augments=dict(type='PseudoCutMix'))
    without = BatchAugSegDataPreProcessor(size=(4, 6))
    assert without.batch_augments is None


# -- random draws -------------------------------------------------------------


def constant_batch(flags, height=12, width=16, device='cpu'):
    """Sample i: image i, label i, confidence i / 10 everywhere."""
    num = len(flags)
    inputs = torch.arange(
        num, dtype=torch.float32).view(num, 1, 1,
                                       1).expand(num, 3, height,
                                                 width).contiguous().to(device)
    samples = [
        sample(
            torch.full((height, width), i), flag,
            torch.full((height, width), i / 10) if flag else None).to(device)
        for i, flag in enumerate(flags)
    ]
    return inputs, samples


def pasted_region(mixed, data_sample, index):
    """The source and bounding box where sample ``index`` changed, checked
    to be one filled rectangle in image, label and confidence alike."""
    changed = (mixed[index] != index).any(0)
    rows = changed.any(1).nonzero()[:, 0]
    cols = changed.any(0).nonzero()[:, 0]
    top, left = rows.min().item(), cols.min().item()
    box = Box(top, left,
              rows.max().item() - top + 1,
              cols.max().item() - left + 1)
    region = (slice(box.top,
                    box.top + box.height), slice(box.left,
                                                 box.left + box.width))
    assert changed[region].all(), 'the pasted pixels are not a rectangle'
    assert changed.sum().item() == box.height * box.width
    source = mixed[index, 0][region].unique()
    assert source.numel() == 1
    source = int(source.item())
    label = data_sample.gt_sem_seg.data[0]
    assert torch.equal(label != index, changed)
    assert (label[region] == source).all()
    confidence = data_sample.pseudo_confidence.data[0]
    torch.testing.assert_close(
        confidence[region], torch.full_like(confidence[region], source / 10))
    return source, box


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('seed', range(5))
def test_every_pseudo_sample_gets_one_box_from_another(seed, device):
    flags = [False, True, False, True, True, False, True]
    inputs, samples = constant_batch(flags, device=device)
    torch.manual_seed(seed)
    mixed, out = PseudoCutMix(prob=1.0)(inputs, samples)
    sources = {}
    for index, flag in enumerate(flags):
        if not flag:
            assert torch.equal(mixed[index], inputs[index])
            assert (out[index].gt_sem_seg.data == index).all()
            continue
        source, _ = pasted_region(mixed, out[index], index)
        assert source != index and flags[source]
        sources[index] = source
    # A cyclic order: every pseudo-labeled sample is a source exactly once.
    assert sorted(sources.values()) == [1, 3, 4, 6]
    assert [s.metainfo['is_pseudo'] for s in out] == flags


def test_same_seed_same_mix_other_seed_other_mix():

    def mix(seed):
        torch.manual_seed(seed)
        return PseudoCutMix(prob=1.0)(*constant_batch([True] * 4))[0]

    assert torch.equal(mix(3), mix(3))
    assert not torch.equal(mix(3), mix(4))


def test_prob_zero_is_identity():
    inputs, samples = constant_batch([True] * 4)
    labels = [s.gt_sem_seg.data for s in samples]
    state = torch.get_rng_state()
    mixed, out = PseudoCutMix(prob=0.0)(inputs, samples)
    assert mixed is inputs
    assert all(s.gt_sem_seg.data is label for s, label in zip(out, labels))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize('flags',
                         [[False, True, False], [False, False], [True]])
def test_fewer_than_two_pseudo_samples_are_left_alone(flags):
    inputs, samples = constant_batch(flags)
    expected = [s.gt_sem_seg.data.clone() for s in samples]
    state = torch.get_rng_state()
    mixed, out = PseudoCutMix(prob=1.0)(inputs, samples)
    assert torch.equal(mixed, constant_batch(flags)[0])
    for data_sample, label in zip(out, expected):
        assert torch.equal(data_sample.gt_sem_seg.data, label)
    assert torch.equal(torch.get_rng_state(), state)


def test_each_pseudo_sample_is_mixed_with_probability_prob():
    torch.manual_seed(0)
    cutmix = PseudoCutMix(prob=0.3)
    mixed_count = 0
    trials = 400
    for _ in range(trials):
        mixed, _ = cutmix(*constant_batch([True] * 4, height=4, width=4))
        mixed_count += sum(not (mixed[i] == i).all().item() for i in range(4))
    # 1,600 Bernoulli(0.3) draws: standard deviation of the rate 0.0115.
    assert abs(mixed_count / (4 * trials) - 0.3) < 0.04


@pytest.mark.parametrize('area_range,area_beta,law',
                         [((0.02, 0.4), (1.0, 1.0), stats.uniform(0.02, 0.38)),
                          ((0.0001, 1.0), (2.0, 5.0), stats.beta(2.0, 5.0))])
def test_box_area_ratio_follows_the_configured_law(area_range, area_beta, law):
    torch.manual_seed(0)
    cutmix = PseudoCutMix(area_range=area_range, area_beta=area_beta)
    canvas = (480, 640)
    ratios, aspects = [], []
    for _ in range(3000):
        box = cutmix.sample_box(canvas)
        assert 0 <= box.top and box.top + box.height <= canvas[0]
        assert 0 <= box.left and box.left + box.width <= canvas[1]
        ratios.append(box.height * box.width / (canvas[0] * canvas[1]))
        aspects.append(box.height / box.width)
    ratios = torch.tensor(ratios, dtype=torch.float64)
    # Uniform on [0.02, 0.4]: mean 0.21, variance 0.38^2 / 12 = 0.012033;
    # Beta(2, 5): mean 2 / 7, variance 10 / (49 * 8) = 0.025510.
    assert abs(ratios.mean().item() - law.mean()) < 0.01
    assert abs(ratios.var().item() - law.var()) < 0.1 * law.var()
    assert stats.kstest(ratios.numpy(), law.cdf).pvalue > 1e-3
    # Aspect ratios stay in (0.3, 1 / 0.3), up to whole-pixel rounding.
    aspects = torch.tensor(aspects)
    assert aspects.min() > 0.29 and aspects.max() < 1 / 0.29


def test_aspect_ratio_is_log_uniform_when_it_fits():
    torch.manual_seed(0)
    cutmix = PseudoCutMix(area_range=(0.01, 0.01), aspect_range=(0.5, 2.0))
    logs = torch.tensor([
        math.log(box.height / box.width)
        for box in (cutmix.sample_box((1000, 1000)) for _ in range(2000))
    ])
    # log-uniform on [-ln 2, ln 2]: mean 0, variance (2 ln 2)^2 / 12 = 0.16.
    assert abs(logs.mean().item()) < 0.03
    assert abs(logs.var().item() - (2 * math.log(2))**2 / 12) < 0.02


@pytest.mark.parametrize('kwargs,option', [
    (dict(prob=1.5), 'prob'),
    (dict(area_range=(0.0, 0.4)), 'area_range'),
    (dict(area_range=(0.5, 0.4)), 'area_range'),
    (dict(area_range=0.4), 'area_range'),
    (dict(area_beta=(0.0, 1.0)), 'area_beta'),
    (dict(aspect_range=(2.0, 1.0)), 'aspect_range'),
])
def test_bad_options_name_the_option(kwargs, option):
    with pytest.raises(ValueError, match=f'`{option}`'):
        PseudoCutMix(**kwargs)


# -- configs and a training step ---------------------------------------------


def test_strong_aug_fragment_switches_both_on(tmp_path):
    base = osp.join(ROOT, 'configs', 'dst_cbc',
                    'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')
    fragment = osp.join(ROOT, 'configs', '_base_', 'strong_aug.py')
    child = tmp_path / 'strong.py'
    child.write_text(
        f'_base_ = [{base!r}, {fragment!r}]\n'
        'model = dict(data_preprocessor=_base_.strong_aug_preprocessor)\n'
        'train_dataloader = dict(dataset=dict(unlabeled=dict(\n'
        '    pipeline=_base_.train_pipeline[:-1] +\n'
        '    [_base_.pseudo_colour_jitter, _base_.train_pipeline[-1]])))\n')
    cfg = Config.fromfile(str(child))
    plain = Config.fromfile(base)
    preprocessor_cfg = cfg.model.data_preprocessor
    assert preprocessor_cfg.type == 'BatchAugSegDataPreProcessor'
    assert preprocessor_cfg.size == plain.model.data_preprocessor.size
    assert preprocessor_cfg.batch_augments == [
        dict(
            type='PseudoCutMix',
            prob=0.5,
            area_range=(0.02, 0.4),
            area_beta=(1.0, 1.0),
            aspect_range=(0.3, 1 / 0.3))
    ]
    dataset = cfg.train_dataloader.dataset
    assert dataset.labeled.pipeline == plain.train_pipeline
    assert [t['type'] for t in dataset.unlabeled.pipeline
            ] == [t['type'] for t in plain.train_pipeline[:-1]
                  ] + ['PhotoMetricDistortion', 'PackSegInputs']
    # The fragment alone changes nothing.
    alone = tmp_path / 'alone.py'
    alone.write_text(f'_base_ = [{base!r}, {fragment!r}]\n')
    assert Config.fromfile(str(alone)).model == plain.model
    # Same state dict keys: checkpoints load either way.
    model = MODELS.build(ConfigDict(cfg.model, _scope_='mmseg'))
    assert isinstance(model.data_preprocessor, BatchAugSegDataPreProcessor)
    plain_model = MODELS.build(ConfigDict(plain.model, _scope_='mmseg'))
    assert list(model.state_dict()) == list(plain_model.state_dict())


def tiny_segmentor(batch_augments):
    """EncoderDecoder, tiny ResNet, FCN head (no dropout: deterministic)
    with the dynamic loss."""
    torch.manual_seed(0)
    return MODELS.build(
        ConfigDict(
            type='EncoderDecoder',
            _scope_='mmseg',
            data_preprocessor=dict(
                type='BatchAugSegDataPreProcessor',
                mean=[123.0, 116.0, 103.0],
                std=[58.0, 57.0, 57.0],
                bgr_to_rgb=True,
                size=(16, 16),
                batch_augments=batch_augments),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                stem_channels=8,
                base_channels=4,
                strides=(1, 2, 1, 1),
                dilations=(1, 1, 2, 4),
                out_indices=(3, )),
            decode_head=dict(
                type='DynamicFCNHead',
                in_channels=32,
                channels=8,
                num_convs=1,
                concat_input=False,
                dropout_ratio=0.0,
                num_classes=3,
                loss_decode=dict(type='DynamicCrossEntropyLoss', gamma=2.0)),
            test_cfg=dict(mode='whole')))


def random_data():
    """2 labeled and 2 pseudo-labeled random 16x16 crops."""
    generator = torch.Generator().manual_seed(1)
    inputs = [
        torch.randint(
            0, 256, (3, 16, 16), generator=generator, dtype=torch.uint8)
        for _ in range(4)
    ]
    samples = [
        sample(torch.randint(0, 3, (16, 16), generator=generator), flag)
        for flag in (False, True, False, True)
    ]
    return dict(inputs=inputs, data_samples=samples)


def test_one_training_step_sees_the_mixed_batch(monkeypatch):
    box = Box(top=2, left=3, height=8, width=10)
    monkeypatch.setattr(PseudoCutMix, 'sample_box', lambda self, canvas: box)
    model = tiny_segmentor([dict(type='PseudoCutMix', prob=1.0)])
    reference = copy.deepcopy(model)
    # The batch mixed by hand: samples 1 and 3 swap the box.
    plain = SegDataPreProcessor(
        mean=[123.0, 116.0, 103.0],
        std=[58.0, 57.0, 57.0],
        bgr_to_rgb=True,
        size=(16, 16))
    batch = plain(random_data(), training=True)
    inputs, samples = batch['inputs'], batch['data_samples']
    unmixed = reference.loss(inputs.clone(), copy.deepcopy(samples))
    rows, cols = slice(2, 10), slice(3, 13)
    hand = inputs.clone()
    hand[1, :, rows, cols] = inputs[3, :, rows, cols]
    hand[3, :, rows, cols] = inputs[1, :, rows, cols]
    label_1 = samples[1].gt_sem_seg.data.clone()
    label_3 = samples[3].gt_sem_seg.data.clone()
    samples[1].gt_sem_seg.data[:, rows, cols] = label_3[:, rows, cols]
    samples[3].gt_sem_seg.data[:, rows, cols] = label_1[:, rows, cols]
    expected = reference.loss(hand, samples)

    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = [p.detach().clone() for p in model.parameters()]
    log_vars = model.train_step(random_data(), optim_wrapper)
    torch.testing.assert_close(log_vars['decode.loss_ce'],
                               expected['decode.loss_ce'])
    assert not torch.isclose(log_vars['decode.loss_ce'],
                             unmixed['decode.loss_ce'])
    assert math.isfinite(log_vars['loss'].item())
    changed = [
        not torch.equal(p, q) for p, q in zip(before, model.parameters())
    ]
    assert any(changed)
