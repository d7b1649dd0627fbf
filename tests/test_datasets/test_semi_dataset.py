"""Tests of SemiSegDataset on a tiny MMSeg-layout dataset in tmp_path."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from dst_cbc.datasets import SemiSegDataset, unlabeled_dataset_cfg
from dst_cbc.pseudo_labels import label_dataset_cfg
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

METAINFO = dict(
    classes=('bg', 'a', 'b', 'c'),
    palette=[[0, 0, 0], [10, 10, 10], [20, 20, 20], [30, 30, 30]])
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
LABELED = ['l0', 'l1', 'l2']
UNLABELED = ['u0', 'u1']


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Build transforms by their MMSeg names."""
    init_default_scope('mmseg')


def write_png(path, array):
    """Write an uint8 array as PNG, creating the folder."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def write_list(path, names):
    """Write an MMSeg list file (one name per line)."""
    with open(path, 'w') as f:
        f.write(''.join(f'{n}\n' for n in names))


def make_data(root, gt_value=1):
    """8x8 images of every name; ground truth ``gt_value`` everywhere."""
    for i, name in enumerate(LABELED + UNLABELED):
        write_png(
            osp.join(root, 'img_dir', f'{name}.png'),
            np.full((8, 8, 3), i, dtype=np.uint8))
        write_png(
            osp.join(root, 'ann_dir', f'{name}.png'), np.full((8, 8),
                                                              gt_value))
    write_list(osp.join(root, 'labeled.txt'), LABELED)
    write_list(osp.join(root, 'unlabeled.txt'), UNLABELED)


def seg_cfg(root, ann_file, **kwargs):
    """A BaseSegDataset config over the tiny layout."""
    cfg = dict(
        type='BaseSegDataset',
        data_root=str(root),
        data_prefix=dict(img_path='img_dir', seg_map_path='ann_dir'),
        ann_file=ann_file,
        img_suffix='.png',
        seg_map_suffix='.png',
        metainfo=METAINFO,
        pipeline=PIPELINE)
    cfg.update(kwargs)
    return cfg


def write_pseudo_labels(label_dir, names=UNLABELED, value=3):
    """One pseudo label PNG per name, filled with ``value``."""
    for name in names:
        write_png(osp.join(label_dir, f'{name}.png'), np.full((8, 8), value))


@pytest.fixture
def root(tmp_path):
    data_root = tmp_path / 'data'
    make_data(str(data_root))
    return data_root


def img_name(sample):
    """Base name of a packed sample's image."""
    return osp.basename(sample['data_samples'].img_path)


def test_indices_flags_and_lengths(root, tmp_path):
    label_dir = str(tmp_path / 'pl')
    write_pseudo_labels(label_dir)
    ds = SemiSegDataset(
        seg_cfg(root, 'labeled.txt'),
        seg_cfg(root, 'unlabeled.txt'),
        pseudo_label_dir=label_dir)
    assert (ds.num_labeled, ds.num_unlabeled, len(ds)) == (3, 2, 5)
    assert ds.has_pseudo_labels
    names = [img_name(ds[i]) for i in range(5)]
    assert names == ['l0.png', 'l1.png', 'l2.png', 'u0.png', 'u1.png']
    flags = [ds[i]['data_samples'].metainfo['is_pseudo'] for i in range(5)]
    assert flags == [False, False, False, True, True]
    assert img_name(ds[-1]) == 'u1.png'
    with pytest.raises(IndexError):
        ds[5]
    # image i was written with every pixel equal to i
    assert int(ds[4]['inputs'].max()) == 4


def test_reads_pseudo_labels_unreduced(root, tmp_path, monkeypatch):
    # A relative pseudo_label_dir is relative to the working directory, not
    # to data_root; reduce_zero_label of the unlabeled config is switched
    # off (with it, 0 would become 255 and 2 would become 1).
    monkeypatch.chdir(tmp_path)
    pseudo = np.zeros((8, 8), dtype=np.uint8)
    pseudo[:, 4:] = 2
    pseudo[0, :] = 255
    write_png(str(tmp_path / 'work' / 'round_1' / 'u0.png'), pseudo)
    write_pseudo_labels(str(tmp_path / 'work' / 'round_1'), ['u1'])
    ds = SemiSegDataset(
        seg_cfg(root, 'labeled.txt'),
        seg_cfg(root, 'unlabeled.txt', reduce_zero_label=True),
        pseudo_label_dir='work/round_1')
    sample = ds[3]
    assert img_name(sample) == 'u0.png'
    assert sample['data_samples'].seg_map_path == str(tmp_path / 'work' /
                                                      'round_1' / 'u0.png')
    np.testing.assert_array_equal(
        sample['data_samples'].gt_sem_seg.data[0].numpy(), pseudo)
    np.testing.assert_array_equal(
        ds[4]['data_samples'].gt_sem_seg.data[0].numpy(), np.full((8, 8), 3))
    # labeled images still read their ground truth (1 everywhere)
    np.testing.assert_array_equal(
        ds[0]['data_samples'].gt_sem_seg.data[0].numpy(), np.ones((8, 8)))


def test_round_zero_rejects_unlabeled_index(root):
    ds = SemiSegDataset(
        seg_cfg(root, 'labeled.txt'), seg_cfg(root, 'unlabeled.txt'))
    assert not ds.has_pseudo_labels
    assert ds[2]['data_samples'].metainfo['is_pseudo'] is False
    with pytest.raises(RuntimeError, match=r'u0\.png.*pseudo_label_dir'):
        ds[3]


def test_unlabeled_cfg_is_a_deep_copy_as_given(root, tmp_path):
    label_dir = str(tmp_path / 'pl')
    write_pseudo_labels(label_dir)
    unlabeled = seg_cfg(root, 'unlabeled.txt')
    semi_cfg = dict(
        type='SemiSegDataset',
        labeled=seg_cfg(root, 'labeled.txt'),
        unlabeled=unlabeled)
    ds = DATASETS.build(dict(semi_cfg, pseudo_label_dir=label_dir))
    cfg = unlabeled_dataset_cfg(semi_cfg)
    unlabeled['data_prefix']['seg_map_path'] = 'changed'
    assert cfg['data_prefix'] == dict(
        img_path='img_dir', seg_map_path='ann_dir')
    cfg['data_prefix']['img_path'] = 'changed'
    assert unlabeled_dataset_cfg(semi_cfg)['data_prefix']['img_path'] == \
        'img_dir'
    # the built half reads the pseudo labels
    info = ds.unlabeled.get_data_info(1)
    assert info['seg_map_path'] == osp.join(label_dir, 'u1.png')
    assert info['img_path'] == osp.join(str(root), 'img_dir', 'u1.png')


def test_unlabeled_cfg_fills_the_split(root):
    semi_cfg = dict(
        type='SemiSegDataset',
        split=2,
        labeled=seg_cfg(root, 'labeled.txt'),
        unlabeled=dict(
            seg_cfg(root, 'unlabeled.txt'), ann_file='s{split}/unlabeled.txt'))
    assert unlabeled_dataset_cfg(semi_cfg)['ann_file'] == 's2/unlabeled.txt'
    assert unlabeled_dataset_cfg(dict(semi_cfg, unlabeled=None)) is None
    with pytest.raises(ValueError, match='must be a SemiSegDataset'):
        unlabeled_dataset_cfg(dict(semi_cfg, type='BaseSegDataset'))


def test_no_unlabeled_set_is_a_supervised_dataset(root, tmp_path):
    ds = SemiSegDataset(seg_cfg(root, 'labeled.txt'), None)
    assert (ds.num_labeled, ds.num_unlabeled, len(ds)) == (3, 0, 3)
    assert ds.unlabeled is None and not ds.has_pseudo_labels
    assert ds[2]['data_samples'].metainfo['is_pseudo'] is False
    with pytest.raises(ValueError, match='no `unlabeled` dataset'):
        SemiSegDataset(
            seg_cfg(root, 'labeled.txt'), None, pseudo_label_dir=str(tmp_path))


def test_pseudo_label_dataset_cfg_keeps_images():
    cfg = dict(
        type='BaseSegDataset',
        data_root='/data',
        data_prefix=dict(img_path='img', seg_map_path='gt'),
        reduce_zero_label=True)
    out = label_dataset_cfg(cfg, '/data/pl')
    assert out['data_prefix'] == dict(img_path='img', seg_map_path='/data/pl')
    assert out['reduce_zero_label'] is False
    assert cfg['data_prefix']['seg_map_path'] == 'gt'  # input untouched


def test_metainfo_is_labeled_and_shared_with_unlabeled(root, tmp_path):
    label_dir = str(tmp_path / 'pl')
    write_pseudo_labels(label_dir)
    unlabeled = seg_cfg(root, 'unlabeled.txt')
    del unlabeled['metainfo']
    labeled = DATASETS.build(seg_cfg(root, 'labeled.txt'))
    ds = DATASETS.build(
        dict(
            type='SemiSegDataset',
            labeled=labeled,
            unlabeled=unlabeled,
            pseudo_label_dir=label_dir))
    assert ds.labeled is labeled
    assert ds.metainfo['classes'] == METAINFO['classes']
    assert ds.unlabeled.metainfo['classes'] == METAINFO['classes']
    assert ds.unlabeled.metainfo['palette'] == METAINFO['palette']


def test_empty_halves_name_the_list(root):
    write_list(osp.join(str(root), 'empty.txt'), [])
    with pytest.raises(ValueError, match=r'labeled dataset is empty.*empty'):
        SemiSegDataset(
            seg_cfg(root, 'empty.txt'), seg_cfg(root, 'unlabeled.txt'))
    with pytest.raises(ValueError, match=r'unlabeled dataset is empty.*empty'):
        SemiSegDataset(
            seg_cfg(root, 'labeled.txt'), seg_cfg(root, 'empty.txt'))


def test_overlap_names_the_image(root):
    write_list(osp.join(str(root), 'overlap.txt'), ['l0', 'u1'])
    with pytest.raises(ValueError, match=r'u1\.png.*both'):
        SemiSegDataset(
            seg_cfg(root, 'overlap.txt'), seg_cfg(root, 'unlabeled.txt'))


def test_class_mismatch(root):
    other = dict(classes=('bg', 'x', 'y', 'z'), palette=METAINFO['palette'])
    with pytest.raises(ValueError, match='different classes'):
        SemiSegDataset(
            seg_cfg(root, 'labeled.txt'),
            seg_cfg(root, 'unlabeled.txt', metainfo=other))


def test_missing_pseudo_labels_name_the_culprit(root, tmp_path):
    label_dir = str(tmp_path / 'pl')
    write_pseudo_labels(label_dir, ['u0'])
    with pytest.raises(FileNotFoundError, match=r'1 unlabeled.*u1\.png'):
        SemiSegDataset(
            seg_cfg(root, 'labeled.txt'),
            seg_cfg(root, 'unlabeled.txt'),
            pseudo_label_dir=label_dir)
    missing_dir = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        SemiSegDataset(
            seg_cfg(root, 'labeled.txt'),
            seg_cfg(root, 'unlabeled.txt'),
            pseudo_label_dir=missing_dir)


def test_built_unlabeled_cannot_read_pseudo_labels(root, tmp_path):
    label_dir = str(tmp_path / 'pl')
    write_pseudo_labels(label_dir)
    with pytest.raises(ValueError, match='pseudo_label_dir'):
        SemiSegDataset(
            seg_cfg(root, 'labeled.txt'),
            DATASETS.build(seg_cfg(root, 'unlabeled.txt')),
            pseudo_label_dir=label_dir)


def test_remapping_pseudo_labels_is_refused(root, tmp_path):

    class FiveClassDataset(BaseSegDataset):
        METAINFO = dict(classes=('d', ) + METAINFO['classes'])

    label_dir = str(tmp_path / 'pl')
    write_pseudo_labels(label_dir)
    # metainfo selects 4 of the type's 5 classes: old id 1 becomes 0, 2
    # becomes 1 ..., so the pseudo labels' class ids would be remapped
    with pytest.raises(ValueError, match=r'remap class ids \[0, 1, 2'):
        SemiSegDataset(
            seg_cfg(root, 'labeled.txt', type=FiveClassDataset),
            seg_cfg(root, 'unlabeled.txt', type=FiveClassDataset),
            pseudo_label_dir=label_dir)


def test_label_map_of_non_class_values_is_accepted(root, tmp_path):
    # CamVid maps its void label 11 to 255: pseudo labels hold no 11, so
    # the map changes nothing and must not be refused.

    class VoidDataset(BaseSegDataset):
        METAINFO = METAINFO

        @classmethod
        def get_label_map(cls, new_classes=None):
            return {11: 255}

    label_dir = str(tmp_path / 'pl')
    write_pseudo_labels(label_dir)
    ds = SemiSegDataset(
        seg_cfg(root, 'labeled.txt', type=VoidDataset),
        seg_cfg(root, 'unlabeled.txt', type=VoidDataset),
        pseudo_label_dir=label_dir)
    assert ds.unlabeled.label_map == {11: 255}
    assert ds.has_pseudo_labels


def test_split_placeholder_selects_the_lists(tmp_path):
    from dst_cbc.datasets.semi_dataset import _with_split
    cfg = dict(type='X', ann_file='splits/split{split}/labeled_1-8.txt')
    assert _with_split(cfg, 2, 'labeled')['ann_file'] == \
        'splits/split2/labeled_1-8.txt'
    assert cfg['ann_file'] == 'splits/split{split}/labeled_1-8.txt'
    plain = dict(type='X', ann_file='a.txt')
    assert _with_split(plain, 3, 'labeled') is plain
    with pytest.raises(ValueError, match='labeled ann_file.*split'):
        _with_split(cfg, None, 'labeled')
