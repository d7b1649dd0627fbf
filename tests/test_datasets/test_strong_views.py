"""UniMatch's unlabeled views: StrongViews' rates, the packing, and the data
preprocessor's padding, ignore masks and CutMix boxes.

Rates are checked over many draws against the authors' probabilities, within
4.5 binomial standard deviations (a seeded draw: deterministic, and a wrong
rate such as 0.5 for 0.8 lies far outside)."""
import math

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from PIL import ImageFilter

import dst_cbc  # noqa: F401
from dst_cbc.datasets import PackSegInputsWithViews, StrongViews
from dst_cbc.models import UniMatchDataPreProcessor
from mmseg.datasets.transforms import PackSegInputs

DRAWS = 1000  # transforms, so 2000 views


def tolerance(p, n):
    """4.5 standard deviations of a rate of ``n`` draws of probability
    ``p``."""
    return 4.5 * math.sqrt(p * (1 - p) / n)


def weak(h=6, w=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)


def counting(transform):
    """Wrap the three augmentations of ``transform``; return their
    per-view record (one dict per view drawn)."""
    record = []
    for name in ('jitter', 'grayscale', 'blur'):
        inner = getattr(transform, name)

        def wrapped(image, inner=inner, name=name):
            record[-1][name] = True
            return inner(image)

        setattr(transform, name, wrapped)
    draw = transform.strong_view

    def strong_view(img):
        record.append(dict(jitter=False, grayscale=False, blur=False))
        return draw(img)

    transform.strong_view = strong_view
    return record


def test_each_augmentation_at_its_rate_each_view_on_its_own():
    np.random.seed(0)
    torch.manual_seed(0)
    transform = StrongViews()
    record = counting(transform)
    for _ in range(DRAWS):
        transform(dict(img=weak()))
    assert len(record) == 2 * DRAWS
    n = len(record)
    for name, p in (('jitter', 0.8), ('grayscale', 0.2), ('blur', 0.5)):
        rate = sum(r[name] for r in record) / n
        assert abs(rate - p) < tolerance(p, n), (name, rate)
    # The two views of a crop draw independently: P(both jittered) = 0.64.
    both = sum(a['jitter'] and b['jitter']
               for a, b in zip(record[::2], record[1::2])) / DRAWS
    assert abs(both - 0.64) < tolerance(0.64, DRAWS)
    # ... and the augmentations of a view too: P(grayscale and blur) = 0.1.
    gray_blur = sum(r['grayscale'] and r['blur'] for r in record) / n
    assert abs(gray_blur - 0.1) < tolerance(0.1, n)


def test_blur_sigma_is_uniform_in_the_authors_range(monkeypatch):
    sigmas = []
    real = ImageFilter.GaussianBlur

    def recording(radius):
        sigmas.append(radius)
        return real(radius)

    monkeypatch.setattr(ImageFilter, 'GaussianBlur', recording)
    np.random.seed(1)
    transform = StrongViews(jitter_prob=0, grayscale_prob=0, blur_prob=1)
    for _ in range(DRAWS // 2):
        transform(dict(img=weak()))
    assert len(sigmas) == DRAWS
    assert 0.1 <= min(sigmas) and max(sigmas) <= 2.0
    # Uniform on [0.1, 2.0]: mean 1.05, s.d. 1.9 / sqrt(12).
    assert abs(np.mean(sigmas) - 1.05) < 4.5 * 1.9 / math.sqrt(12 * DRAWS)


def test_views_keep_the_crop_and_grayscale_is_gray():
    img = weak(5, 7)
    same = StrongViews(jitter_prob=0, grayscale_prob=0, blur_prob=0)
    views = same(dict(img=img.copy()))['strong_views']
    assert len(views) == 2
    for view in views:
        assert view.dtype == np.uint8 and np.array_equal(view, img)
    gray = StrongViews(jitter_prob=0, grayscale_prob=1, blur_prob=0)
    for view in gray(dict(img=img))['strong_views']:
        assert view.shape == img.shape
        assert (view[..., 0] == view[..., 1]).all()
        assert (view[..., 1] == view[..., 2]).all()
    jittered = StrongViews(jitter_prob=1, grayscale_prob=0, blur_prob=0)
    torch.manual_seed(0)
    a, b = jittered(dict(img=img))['strong_views']
    assert not np.array_equal(a, img) and not np.array_equal(a, b)


def test_options_are_checked():
    with pytest.raises(ValueError, match='jitter_prob'):
        StrongViews(jitter_prob=1.5)
    with pytest.raises(ValueError, match='blur_sigma'):
        StrongViews(blur_sigma=(2.0, 0.1))
    with pytest.raises(ValueError, match='uint8'):
        StrongViews()(dict(img=np.zeros((4, 4), np.uint8)))


def packed_unlabeled(img, views):
    results = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
    return PackSegInputsWithViews()(views(results))


def test_pack_keeps_the_weak_view_as_inputs_and_reads_no_label():
    img = weak(5, 7)
    packed = packed_unlabeled(
        img, StrongViews(jitter_prob=0, grayscale_prob=1, blur_prob=0))
    sample = packed['data_samples']
    assert torch.equal(packed['inputs'],
                       torch.from_numpy(img).permute(2, 0, 1))
    assert 'gt_sem_seg' not in sample
    views = sample.strong_views
    assert views.dtype == torch.uint8 and views.shape == (2, 3, 5, 7)
    assert (views[:, 0] == views[:, 1]).all()
    with pytest.raises(KeyError, match='StrongViews'):
        PackSegInputsWithViews()(dict(img=img, img_shape=(5, 7)))


# -- UniMatchDataPreProcessor -------------------------------------------------
def preprocessor(**kwargs):
    init_default_scope('mmseg')
    return UniMatchDataPreProcessor(
        mean=[10.0, 20.0, 30.0],
        std=[2.0, 4.0, 8.0],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(8, 10),
        **kwargs)


def labeled(h, w):
    results = dict(
        img=weak(h, w, seed=h),
        gt_seg_map=np.zeros((h, w), np.uint8),
        img_shape=(h, w),
        ori_shape=(h, w),
        seg_fields=['gt_seg_map'])
    return PackSegInputs()(results)


def test_strong_views_are_normalised_and_padded_as_their_weak_view():
    same = StrongViews(jitter_prob=0, grayscale_prob=0, blur_prob=0)
    batch = [labeled(8, 10)] + [
        packed_unlabeled(weak(h, w, seed=h), same)
        for h, w in ((6, 10), (8, 7))
    ]
    data = preprocessor()(pseudo_collate(batch), training=True)
    inputs, samples = data['inputs'], data['data_samples']
    assert inputs.shape == (3, 3, 8, 10)
    assert 'strong_views' not in samples[0] and 'ignore_mask' not in samples[0]
    for i, (h, w) in ((1, (6, 10)), (2, (8, 7))):
        views = samples[i].strong_views
        assert views.shape == (2, 3, 8, 10) and views.dtype == torch.float32
        for view in views:  # identical views: exactly the normalised input
            assert torch.equal(view, inputs[i])
        ignore = samples[i].ignore_mask
        assert ignore.shape == (8, 10) and ignore.dtype == torch.uint8
        assert (ignore[:h, :w] == 0).all()
        assert int((ignore == 255).sum()) == 80 - h * w
        boxes = samples[i].cutmix_boxes
        assert boxes.shape == (2, 8, 10) and boxes.dtype == torch.bool
    # RGB order and the mean / std of the config: channel 0 is the red one.
    img = weak(6, 10, seed=6)
    red = (torch.from_numpy(img[..., 2]).float() - 10.0) / 2.0
    assert torch.equal(inputs[1, 0, :6], red)


def test_boxes_drawn_at_the_rate_inside_the_canvas():
    torch.manual_seed(0)
    pre = preprocessor()
    canvas = (40, 60)
    boxes = [pre.sample_box(canvas) for _ in range(2 * DRAWS)]
    drawn = [b for b in boxes if b is not None]
    rate = len(drawn) / len(boxes)
    assert abs(rate - 0.5) < tolerance(0.5, len(boxes))
    for box in drawn:
        assert 0 <= box.top and box.top + box.height <= 40
        assert 0 <= box.left and box.left + box.width <= 60
        # The authors' law: area uniform in [0.02, 0.4] of the canvas,
        # sides truncated to whole pixels.
        assert box.height * box.width <= 0.4 * 40 * 60
        assert (box.height + 1) * (box.width + 1) >= 0.02 * 40 * 60
        # Height / width in [0.3, 1 / 0.3] before truncation.
        assert box.height <= (box.width + 1) / 0.3
        assert box.width <= (box.height + 1) / 0.3
    masks = pre.box_masks(canvas, 2, torch.device('cpu'))
    assert masks.shape == (2, 40, 60)
    never = preprocessor(cutmix_prob=0.0)
    assert not never.box_masks(canvas, 2, torch.device('cpu')).any()


def test_mismatched_views_and_bad_options_are_refused():
    same = StrongViews(jitter_prob=0, grayscale_prob=0, blur_prob=0)
    sample = packed_unlabeled(weak(6, 10), same)
    sample['data_samples'].strong_views = sample['data_samples'].strong_views[
        ..., :5]
    with pytest.raises(ValueError, match='strong views'):
        preprocessor()(pseudo_collate([labeled(8, 10), sample]), True)
    with pytest.raises(ValueError, match='cutmix_prob'):
        preprocessor(cutmix_prob=2)
    with pytest.raises(ValueError, match='cutmix_area'):
        preprocessor(cutmix_area=(0.5, 0.1))
