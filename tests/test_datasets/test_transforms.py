"""CachedLoad: each file decoded once, copies handed out, rewrites seen."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest

import dst_cbc  # noqa: F401
from dst_cbc.datasets import clear_load_cache
from mmseg.registry import TRANSFORMS

LOADS = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]


@pytest.fixture(autouse=True)
def empty_cache():
    clear_load_cache()
    yield
    clear_load_cache()


def write_pair(folder, name, value):
    img = np.full((4, 6, 3), value, np.uint8)
    seg = np.full((4, 6), value % 5, np.uint8)
    img_path = osp.join(folder, name + '.png')
    seg_path = osp.join(folder, name + '_seg.png')
    mmcv.imwrite(img, img_path)
    mmcv.imwrite(seg, seg_path)
    return dict(
        img_path=img_path,
        seg_map_path=seg_path,
        seg_fields=[],
        reduce_zero_label=False)


def count_decodes(monkeypatch):
    calls = []
    original = mmcv.imfrombytes

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(mmcv, 'imfrombytes', counting)
    return calls


def test_same_output_as_the_plain_transforms_decoded_once(
        tmp_path, monkeypatch):
    info = write_pair(str(tmp_path), 'a', 7)
    cached = TRANSFORMS.build(dict(type='CachedLoad', transforms=LOADS))
    plain = [TRANSFORMS.build(t) for t in LOADS]
    expected = dict(info, seg_fields=[])
    for t in plain:
        expected = t(expected)
    calls = count_decodes(monkeypatch)
    first = cached(dict(info, seg_fields=[]))
    second = cached(dict(info, seg_fields=[]))
    assert len(calls) == 2  # one image + one label, on the first call only
    for out in (first, second):
        np.testing.assert_array_equal(out['img'], expected['img'])
        np.testing.assert_array_equal(out['gt_seg_map'],
                                      expected['gt_seg_map'])
        assert out['seg_fields'] == ['gt_seg_map']
        assert out['img_shape'] == (4, 6)


def test_outputs_are_copies(tmp_path):
    info = write_pair(str(tmp_path), 'a', 7)
    cached = TRANSFORMS.build(dict(type='CachedLoad', transforms=LOADS))
    first = cached(dict(info, seg_fields=[]))
    first['img'][:] = 0
    first['seg_fields'].append('x')
    second = cached(dict(info, seg_fields=[]))
    assert (second['img'] == 7).all()
    assert second['seg_fields'] == ['gt_seg_map']


def test_a_rewritten_file_is_decoded_again(tmp_path):
    info = write_pair(str(tmp_path), 'a', 7)
    cached = TRANSFORMS.build(dict(type='CachedLoad', transforms=LOADS))
    assert (cached(dict(info, seg_fields=[]))['gt_seg_map'] == 2).all()
    seg = np.full((4, 6), 4, np.uint8)
    mmcv.imwrite(seg, info['seg_map_path'])
    stat = os.stat(info['seg_map_path'])
    os.utime(
        info['seg_map_path'], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert (cached(dict(info, seg_fields=[]))['gt_seg_map'] == 4).all()


def test_other_inputs_and_other_pipelines_do_not_share_entries(tmp_path):
    info = write_pair(str(tmp_path), 'a', 7)
    loads = TRANSFORMS.build(dict(type='CachedLoad', transforms=LOADS))
    resized = TRANSFORMS.build(
        dict(
            type='CachedLoad',
            transforms=LOADS[:1] + [dict(type='Resize', scale=(3, 2))]))
    assert loads(dict(info, seg_fields=[]))['img'].shape == (4, 6, 3)
    assert resized(dict(info, seg_fields=[]))['img'].shape == (2, 3, 3)
    mapped = loads(dict(info, seg_fields=[], label_map={2: 255}))
    assert (mapped['gt_seg_map'] == 255).all()


def test_empty_transforms_refused():
    with pytest.raises(ValueError, match='transforms'):
        TRANSFORMS.build(dict(type='CachedLoad', transforms=[]))
