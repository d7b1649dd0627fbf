"""Tests of CamVidDataset (classes, palette and void -> ignore on load) and
of ``use_test_root`` (an extra test set in the CamVid layout)."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from dst_cbc.datasets.camvid import CamVidDataset, use_test_root
from mmseg.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# ../shared beside the repository (our machines and CI); skipped without it.
CAMVID_ROOT = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
    'shared', 'data', 'camvid')
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# Stored labels of two tiny fake images (11 = void).
FAKE_LABELS = {
    'f0': [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [11, 11, 3, 3, 0, 0]],
    'f1': [[11, 11, 11, 11, 11, 11], [10, 9, 8, 7, 6, 5], [4, 3, 2, 1, 0, 11]],
}


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Build transforms by their MMSeg names."""
    init_default_scope('mmseg')


@pytest.fixture
def fake_camvid(tmp_path):
    """A CamVid-layout folder with two 3x6 images."""
    os.makedirs(tmp_path / 'train')
    os.makedirs(tmp_path / 'trainannot')
    for i, (name, label) in enumerate(FAKE_LABELS.items()):
        img = np.full((3, 6, 3), 40 * i, np.uint8)
        img[..., 1] = np.arange(6) * 10
        Image.fromarray(img).save(tmp_path / 'train' / f'{name}.png')
        Image.fromarray(np.array(label, np.uint8)).save(
            tmp_path / 'trainannot' / f'{name}.png')
    (tmp_path / 'train.txt').write_text('f0\nf1\n')
    return tmp_path


def build(root, **kwargs):
    """Build the dataset on the train split of a CamVid folder."""
    return DATASETS.build(
        dict(
            type='CamVidDataset',
            data_root=str(root),
            data_prefix=dict(img_path='train', seg_map_path='trainannot'),
            ann_file='train.txt',
            pipeline=PIPELINE,
            **kwargs))


def test_classes_palette_and_label_map():
    classes = CamVidDataset.METAINFO['classes']
    assert classes == ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
                       'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist')
    palette = CamVidDataset.METAINFO['palette']
    assert len(palette) == 11
    assert palette[0] == [128, 128, 128] and palette[3] == [128, 64, 128]
    assert CamVidDataset.get_label_map() == {11: 255}
    assert CamVidDataset.get_label_map(classes) == {11: 255}


def test_void_becomes_ignore_on_load(fake_camvid):
    dataset = build(fake_camvid)
    assert len(dataset) == 2
    assert dataset.metainfo['label_map'] == {11: 255}
    assert dataset.metainfo['palette'] == CamVidDataset.METAINFO['palette']
    for i, (name, label) in enumerate(FAKE_LABELS.items()):
        expected = np.array(label)
        expected[expected == 11] = 255
        gt = dataset[i]['data_samples'].gt_sem_seg.data.numpy()[0]
        np.testing.assert_array_equal(gt, expected)
    # f1 has seven void pixels, now all 255.
    gt = dataset[1]['data_samples'].gt_sem_seg.data.numpy()[0]
    assert int((gt == 255).sum()) == 7


def test_class_subset_keeps_void_ignored(fake_camvid):
    dataset = build(fake_camvid, metainfo=dict(classes=('Sky', 'Road')))
    # Sky 0 -> 0, Road 3 -> 1, other classes and void -> 255.
    expected_map = {i: 255 for i in range(12)}
    expected_map.update({0: 0, 3: 1})
    assert dataset.label_map == expected_map
    assert dataset.metainfo['palette'] == [[128, 128, 128], [128, 64, 128]]
    gt = dataset[0]['data_samples'].gt_sem_seg.data.numpy()[0]
    np.testing.assert_array_equal(
        gt, [[0, 255, 255, 1, 255, 255], [255] * 6, [255, 255, 1, 1, 0, 0]])


def test_real_camvid_files():
    if not osp.isfile(osp.join(CAMVID_ROOT, 'train.txt')):
        pytest.skip(f'CamVid not found at {CAMVID_ROOT}')
    dataset = build(CAMVID_ROOT, indices=3)
    assert len(dataset) == 3
    void_seen = 0
    for i in range(3):
        sample = dataset[i]
        raw = np.asarray(Image.open(sample['data_samples'].seg_map_path))
        assert raw.shape == (360, 480)
        gt = sample['data_samples'].gt_sem_seg.data.numpy()[0]
        void = raw == 11
        np.testing.assert_array_equal(gt[void], 255)
        np.testing.assert_array_equal(gt[~void], raw[~void])
        assert gt[~void].max() < 11
        assert sample['inputs'].shape == (3, 360, 480)
        void_seen += int(void.sum())
    assert void_seen > 0, 'the first images should hold some void pixels'


def test_use_test_root_checks_the_layout_then_points_the_test_set(tmp_path):
    cfg = Config(
        dict(
            test_dataloader=dict(
                dataset=dict(
                    type='CamVidDataset',
                    data_root='data/camvid',
                    data_prefix=dict(img_path='val', seg_map_path='valannot'),
                    ann_file='val.txt',
                    pipeline=PIPELINE))))
    (tmp_path / 'test.txt').write_text('a\n')
    (tmp_path / 'test').mkdir()
    with pytest.raises(FileNotFoundError, match='testannot is missing'):
        use_test_root(cfg, str(tmp_path))
    assert cfg.test_dataloader.dataset.data_root == 'data/camvid'
    (tmp_path / 'testannot').mkdir()
    use_test_root(cfg, str(tmp_path))
    dataset = cfg.test_dataloader.dataset
    assert dataset.data_root == str(tmp_path)
    assert dataset.data_prefix == dict(
        img_path='test', seg_map_path='testannot')
    assert dataset.ann_file == 'test.txt'
    assert dataset.pipeline == PIPELINE


CAMVID_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'camvid', '*camvid-1-*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'unimatch', '*camvid-1-*.py')))


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    """A training list of 32 names split by tools/make_splits.py into
    ``<root>/splits``, as the CamVid configs' comments say."""
    root = tmp_path_factory.mktemp('camvid')
    names = [f'f{i:02d}' for i in range(32)]
    (root / 'train.txt').write_text('\n'.join(names) + '\n')
    subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'make_splits.py'), '--train-list',
        str(root / 'train.txt'), '--out-dir',
        str(root / 'splits'), '--ratios', '16', '8', '--batch-size', '1'
    ],
                   check=True,
                   capture_output=True)
    return root


@pytest.mark.parametrize(
    'path', CAMVID_CONFIGS, ids=[osp.basename(p) for p in CAMVID_CONFIGS])
def test_configs_read_the_split_lists_under_the_data_root(path, split_root):
    """A config trains on <data_root>/splits with only data_root set."""
    dataset = Config.fromfile(path).train_dataloader.dataset
    ratio = re.search(r'camvid-1-(\d+)_', path).group(1)
    for half in ('labeled', 'unlabeled'):
        assert dataset[half].data_root == 'data/camvid'
        dataset[half].data_root = str(split_root)
        dataset[half].pipeline = []
        dataset[half].data_prefix = dict(img_path='train')
    built = DATASETS.build(dataset)
    labeled = open(split_root / f'splits/split1/labeled_1-{ratio}.txt').read()
    assert len(built.labeled) == len(labeled.split()) == 32 // int(ratio)
    assert len(built.labeled) + len(built.unlabeled) == 32
