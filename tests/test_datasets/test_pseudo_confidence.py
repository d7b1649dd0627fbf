"""The stored confidence map travels with the pseudo label through loading,
resize, crop, flip, packing and the head's padding, checked on hand-made
maps."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope
from PIL import Image

import dst_cbc  # noqa: F401
from dst_cbc.models import pseudo_confidence_of
from mmseg.registry import MODELS, TRANSFORMS

I = 255  # noqa: E741
# A 2x3 pseudo label and its stored confidence q (p = q / 65535).
LABEL = [[0, 1, 2], [3, 4, I]]
STORED = [[65535, 32768, 0], [6553, 100, 50000]]


def write_sample(folder, label, stored, img=None):
    """Write ``a.png`` (image), ``a_seg.png`` (label) and its confidence
    ``a_seg.conf.png`` (16-bit); return the pipeline's input dict."""
    label = np.asarray(label, np.uint8)
    if img is None:
        img = np.zeros((*label.shape, 3), np.uint8)
    img_path = osp.join(folder, 'a.png')
    seg_path = osp.join(folder, 'a_seg.png')
    mmcv.imwrite(img, img_path)
    Image.fromarray(label).save(seg_path)
    Image.fromarray(np.asarray(stored, np.uint16)).save(
        osp.join(folder, 'a_seg.conf.png'))
    return dict(
        img_path=img_path,
        seg_map_path=seg_path,
        seg_fields=[],
        reduce_zero_label=False)


def pipeline(*middle):
    """Load image, label and confidence, ``middle``, pack with it."""
    init_default_scope('mmseg')
    return Compose([
        TRANSFORMS.build(t) for t in [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='LoadPseudoConfidence'), *middle,
            dict(type='PackSegInputsWithConfidence')
        ]
    ])


def unpack(packed):
    """Label (H, W) int64 and confidence (H, W) float32 of a packed
    sample."""
    sample = packed['data_samples']
    assert sample.pseudo_confidence.data.shape == \
        sample.gt_sem_seg.data.shape
    assert sample.pseudo_confidence.data.dtype == torch.float32
    return (sample.gt_sem_seg.data[0].numpy(),
            sample.pseudo_confidence.data[0].numpy())


def test_loaded_and_packed_as_stored(tmp_path):
    packed = pipeline()(write_sample(str(tmp_path), LABEL, STORED))
    label, confidence = unpack(packed)
    assert label.tolist() == LABEL
    np.testing.assert_array_equal(
        confidence,
        np.array([[1.0, 32768 / 65535, 0.0],
                  [6553 / 65535, 100 / 65535, 50000 / 65535]], np.float32))


def test_flip_moves_the_confidence_with_the_label(tmp_path):
    packed = pipeline(dict(type='RandomFlip', prob=1.0))(
        write_sample(str(tmp_path), LABEL, STORED))
    label, confidence = unpack(packed)
    assert packed['data_samples'].metainfo['flip']
    assert label.tolist() == [[2, 1, 0], [I, 4, 3]]
    np.testing.assert_array_equal(confidence * 65535,
                                  [[0, 32768, 65535], [50000, 100, 6553]])


def test_crop_resize_and_flip_keep_every_pixel_with_its_confidence(tmp_path):
    """Label ``r * 6 + c`` and confidence ``1000 * (label + 1)`` on a 4x6
    map; the image holds the label too (resized nearest like the label), so
    every output pixel says where it came from. Over 100 random draws (with
    and without flip, resized 1x to 2x, cropped to 3x4), image, label and
    confidence agree everywhere, and every pixel of the original map is
    seen at least once."""
    label = np.arange(24).reshape(4, 6)
    img = np.repeat(label[..., None], 3, axis=2).astype(np.uint8)
    info = write_sample(str(tmp_path), label, 1000 * (label + 1), img)
    transforms = pipeline(
        dict(
            type='RandomResize',
            scale=(6, 4),
            ratio_range=(1.0, 2.0),
            keep_ratio=True,
            interpolation='nearest'),
        dict(type='RandomCrop', crop_size=(3, 4)),
        dict(type='RandomFlip', prob=0.5))
    flips, scales, seen = set(), set(), set()
    np.random.seed(0)
    for _ in range(100):
        packed = transforms(dict(info, seg_fields=[]))
        out_label, confidence = unpack(packed)
        assert out_label.shape == (3, 4)
        np.testing.assert_array_equal(packed['inputs'][0].numpy(), out_label)
        np.testing.assert_array_equal(confidence * 65535,
                                      1000 * (out_label + 1))
        flips.add(packed['data_samples'].metainfo['flip'])
        scales.add(packed['data_samples'].metainfo['scale_factor'])
        seen |= set(out_label.flatten().tolist())
    assert flips == {True, False} and len(scales) > 1
    assert seen == set(range(24))


def test_missing_or_misshapen_confidence_is_refused(tmp_path):
    info = write_sample(str(tmp_path), LABEL, STORED)
    Image.fromarray(np.zeros(
        (3, 3), np.uint16)).save(str(tmp_path / 'a_seg.conf.png'))
    with pytest.raises(ValueError, match='16-bit map shaped like the label'):
        pipeline()(dict(info, seg_fields=[]))
    (tmp_path / 'a_seg.conf.png').unlink()
    with pytest.raises(FileNotFoundError, match='store_confidence=True'):
        pipeline()(dict(info, seg_fields=[]))
    pack = Compose([
        TRANSFORMS.build(dict(type='LoadAnnotations')),
        TRANSFORMS.build(dict(type='PackSegInputsWithConfidence'))
    ])
    with pytest.raises(KeyError, match='LoadPseudoConfidence'):
        pack(dict(info, seg_fields=[]))


def test_a_transform_that_skips_seg_fields_is_caught(tmp_path):
    info = write_sample(str(tmp_path), LABEL, STORED)

    def label_only_resize(results):
        results['gt_seg_map'] = mmcv.imresize(
            results['gt_seg_map'], (6, 4), interpolation='nearest')
        return results

    transforms = pipeline()
    transforms.transforms.insert(3, label_only_resize)
    with pytest.raises(ValueError, match='not the other seg_fields'):
        transforms(dict(info, seg_fields=[]))


def test_data_preprocessor_padding_and_head_stack_agree(tmp_path):
    """A 2x3 crop padded to 3x4 by SegDataPreProcessor: the label gets
    IGNORE at the right and bottom, the head's stacked confidence zeros
    there and the stored values elsewhere; a labeled sample gets ones."""
    info = write_sample(str(tmp_path), LABEL, STORED)
    pseudo = pipeline()(dict(info, seg_fields=[]))
    pseudo['data_samples'].set_metainfo(dict(is_pseudo=True))
    labeled = pipeline()(dict(info, seg_fields=[]))
    labeled['data_samples'].set_metainfo(dict(is_pseudo=False))
    preprocessor = MODELS.build(
        dict(type='SegDataPreProcessor', size=(3, 4), seg_pad_val=I))
    batch = preprocessor(
        dict(
            inputs=[labeled['inputs'], pseudo['inputs']],
            data_samples=[labeled['data_samples'], pseudo['data_samples']]),
        training=True)
    samples = batch['data_samples']
    assert samples[1].gt_sem_seg.data[0].tolist() == [[0, 1, 2,
                                                       I], [3, 4, I, I],
                                                      [I, I, I, I]]
    stacked = pseudo_confidence_of(samples, (3, 4), torch.device('cpu'))
    assert stacked.dtype == torch.float32 and stacked.shape == (2, 3, 4)
    assert (stacked[0] == 1).all()
    np.testing.assert_array_equal(
        stacked[1].numpy() * 65535,
        [[65535, 32768, 0, 0], [6553, 100, 50000, 0], [0, 0, 0, 0]])


def test_head_stack_refuses_missing_or_oversized_maps(tmp_path):
    packed = pipeline()(write_sample(str(tmp_path), LABEL, STORED))
    sample = packed['data_samples']
    sample.set_metainfo(dict(is_pseudo=True))
    with pytest.raises(ValueError, match='larger than the labels'):
        pseudo_confidence_of([sample], (2, 2), torch.device('cpu'))
    del sample.pseudo_confidence
    with pytest.raises(ValueError, match='a.png has no pseudo_confidence'):
        pseudo_confidence_of([sample], (2, 3), torch.device('cpu'))
