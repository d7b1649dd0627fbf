"""Tests of the synthetic dataset: generator, dataset class and its tool."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from dst_cbc.datasets.splits import read_list
from dst_cbc.datasets.synthetic import SYNTHETIC_CLASSES
from mmseg.registry import DATASETS
from tools import make_synthetic_data
from tools.make_synthetic_data import generate_synthetic_dataset

ROOT = Path(__file__).resolve().parents[2]
PARAMS = dict(num_train=6, num_val=3, size=32, seed=0)
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]


@pytest.fixture(scope='module')
def dataset_root(tmp_path_factory):
    """A small generated dataset shared by the read-only tests."""
    root = tmp_path_factory.mktemp('synthetic') / 'data'
    generate_synthetic_dataset(str(root), **PARAMS)
    return root


def tree_bytes(root):
    """Map every file under root (relative path) to its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def test_same_parameters_give_byte_identical_files(dataset_root, tmp_path):
    again = tmp_path / 'again'
    generate_synthetic_dataset(str(again), **PARAMS)
    first, second = tree_bytes(dataset_root), tree_bytes(again)
    # 9 images + 9 labels + 2 lists + manifest.
    assert len(first) == 21
    assert first == second


def test_other_seed_changes_every_image(dataset_root, tmp_path):
    other = tmp_path / 'other'
    generate_synthetic_dataset(str(other), **dict(PARAMS, seed=1))
    for name in read_list(str(dataset_root / 'train.txt')):
        rel = f'img_dir/train/{name}.png'
        assert (other / rel).read_bytes() != (dataset_root / rel).read_bytes()


def test_a_sample_does_not_depend_on_the_split_size(dataset_root, tmp_path):
    small = tmp_path / 'small'
    generate_synthetic_dataset(str(small), **dict(PARAMS, num_train=2))
    assert read_list(str(small /
                         'train.txt')) == ['train_00000', 'train_00001']
    for rel in ('img_dir/train/train_00001.png',
                'ann_dir/train/train_00001.png', 'img_dir/val/val_00002.png'):
        assert (small / rel).read_bytes() == (dataset_root / rel).read_bytes()


def test_layout_shapes_and_label_values(dataset_root):
    assert read_list(str(dataset_root /
                         'train.txt')) == [f'train_{i:05d}' for i in range(6)]
    assert read_list(str(dataset_root /
                         'val.txt')) == [f'val_{i:05d}' for i in range(3)]
    manifest = json.loads((dataset_root / 'meta.json').read_text())
    assert manifest == dict(
        generator='dst_cbc.datasets.synthetic',
        version=1,
        classes=list(SYNTHETIC_CLASSES),
        **PARAMS)
    seen = set()
    for split, count in (('train', 6), ('val', 3)):
        for i in range(count):
            name = f'{split}_{i:05d}.png'
            with Image.open(dataset_root / 'img_dir' / split / name) as img:
                assert img.mode == 'RGB' and img.size == (32, 32)
            with Image.open(dataset_root / 'ann_dir' / split / name) as ann:
                assert ann.mode == 'L' and ann.size == (32, 32)
                label = np.asarray(ann)
            values = set(np.unique(label).tolist())
            assert values <= {0, 1, 2, 3, 4, 255}
            assert values & {1, 2, 3, 4}, f'{name} shows no object'
            # The ignore band is one pixel along contours: a small share.
            assert 0 < np.mean(label == 255) < 0.2
            seen |= values
    assert seen == {0, 1, 2, 3, 4, 255}


def test_coverage_is_the_covered_fraction_of_each_pixel():
    grid = np.arange(6) + 0.5
    xy = np.stack(np.meshgrid(grid, grid, indexing='xy'), axis=-1)
    # Square [1, 4.25] x [1, 4]: columns 1-3 full, column 4 a quarter.
    square = np.array([[1, 1], [4.25, 1], [4.25, 4], [1, 4]], float)
    expected = np.zeros((6, 6))
    expected[1:4, 1:4] = 1
    expected[1:4, 4] = 0.25
    np.testing.assert_allclose(
        make_synthetic_data._coverage(square, xy), expected)
    # Vertex order does not matter (clockwise gives the same coverage).
    np.testing.assert_allclose(
        make_synthetic_data._coverage(square[::-1].copy(), xy), expected)


def test_partially_covered_pixels_are_ignored():
    rng = np.random.default_rng(5)
    img, label = make_synthetic_data.render_sample(rng, 48)
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8
    assert label.shape == (48, 48) and label.dtype == np.uint8
    # An ignore pixel lies on a contour: a 4-neighbour has another label.
    padded = np.pad(label, 1, mode='edge')
    neighbours = [
        padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1,
                                                                       2:]
    ]
    on_contour = np.any([n != label for n in neighbours], axis=0)
    assert np.all(on_contour[label == 255])


def test_existing_identical_dataset_is_kept(dataset_root):
    marker = dataset_root / 'img_dir' / 'train' / 'train_00000.png'
    mtime = marker.stat().st_mtime_ns
    manifest = generate_synthetic_dataset(str(dataset_root), **PARAMS)
    assert manifest['num_train'] == 6
    assert marker.stat().st_mtime_ns == mtime


def test_existing_other_content_is_refused(dataset_root, tmp_path):
    with pytest.raises(FileExistsError, match=str(dataset_root)):
        generate_synthetic_dataset(str(dataset_root), **dict(PARAMS, seed=3))
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'notes.txt').write_text('mine')
    with pytest.raises(FileExistsError, match=str(foreign)):
        generate_synthetic_dataset(str(foreign), **PARAMS)
    assert os.listdir(foreign) == ['notes.txt']


def test_empty_folder_is_filled(tmp_path):
    root = tmp_path / 'empty'
    root.mkdir()
    generate_synthetic_dataset(str(root), num_train=1, num_val=1, size=16)
    assert (root / 'meta.json').is_file()
    assert os.listdir(tmp_path) == ['empty']


def test_failure_leaves_nothing_on_disk(tmp_path, monkeypatch):
    calls = []

    def failing_render(rng, size):
        calls.append(size)
        if len(calls) == 3:
            raise RuntimeError('disk on fire')
        return np.zeros((size, size, 3), np.uint8), np.zeros((size, size),
                                                             np.uint8)

    monkeypatch.setattr(make_synthetic_data, 'render_sample', failing_render)
    with pytest.raises(RuntimeError, match='disk on fire'):
        generate_synthetic_dataset(str(tmp_path / 'data'), **PARAMS)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('option, value', [('num_train', 0), ('num_val', -1),
                                           ('size', 8), ('size', 32.0),
                                           ('seed', -1)])
def test_bad_parameters_name_the_option(tmp_path, option, value):
    with pytest.raises(ValueError, match=option):
        generate_synthetic_dataset(
            str(tmp_path / 'd'), **dict(PARAMS, **{option: value}))
    assert not (tmp_path / 'd').exists()


def test_dataset_class_loads_images_and_labels(dataset_root):
    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(
            type='SyntheticShapesDataset',
            data_root=str(dataset_root),
            data_prefix=dict(
                img_path='img_dir/val', seg_map_path='ann_dir/val'),
            ann_file='val.txt',
            pipeline=PIPELINE))
    assert len(dataset) == 3
    assert dataset.metainfo['classes'] == SYNTHETIC_CLASSES
    assert len(dataset.metainfo['palette']) == 5
    assert dataset.metainfo['label_map'] is None
    for i in range(3):
        sample = dataset[i]
        name = f'val_{i:05d}.png'
        rgb = np.asarray(Image.open(dataset_root / 'img_dir/val' / name))
        label = np.asarray(Image.open(dataset_root / 'ann_dir/val' / name))
        # LoadImageFromFile decodes to BGR; PackSegInputs gives CHW.
        bgr_chw = rgb[..., ::-1].transpose(2, 0, 1)
        np.testing.assert_array_equal(sample['inputs'].numpy(), bgr_chw)
        gt = sample['data_samples'].gt_sem_seg.data.numpy()
        np.testing.assert_array_equal(gt, label[None])


def test_tool_writes_dataset_splits_and_valtiny(tmp_path, capsys):
    out = tmp_path / 'syn'
    argv = [
        '--out',
        str(out), '--num-train', '16', '--num-val', '4', '--size', '24'
    ]
    written = make_synthetic_data.main(argv)
    assert written[0] == str(out)
    splits = out / 'splits'
    # 3 splits x ratios (8, 4) x {labeled, unlabeled} + valtiny.
    assert len(written) == 1 + 12 + 1
    train = set(read_list(str(out / 'train.txt')))
    for s in (1, 2, 3):
        # 16 / 8 = 2 and 16 / 4 = 4 labeled names; no batch of one.
        lab8 = read_list(str(splits / f'split{s}/labeled_1-8.txt'))
        lab4 = read_list(str(splits / f'split{s}/labeled_1-4.txt'))
        unl4 = read_list(str(splits / f'split{s}/unlabeled_1-4.txt'))
        assert len(lab8) == 2 and len(lab4) == 4 and lab4[:2] == lab8
        assert set(lab4) | set(unl4) == train and not set(lab4) & set(unl4)
    valtiny = read_list(str(splits / 'valtiny.txt'))
    present, covered = set(), set()
    for name in read_list(str(out / 'val.txt')):
        values = set(
            np.unique(
                np.asarray(Image.open(
                    out / 'ann_dir/val' / f'{name}.png'))).tolist()) - {255}
        present |= values
        if name in valtiny:
            covered |= values
    assert covered == present and len(valtiny) <= len(present)
    assert f'wrote {splits}/valtiny.txt' in capsys.readouterr().out
    # A second run keeps the dataset and rewrites identical splits.
    before = tree_bytes(out)
    make_synthetic_data.main(argv)
    assert tree_bytes(out) == before


@pytest.mark.slow  # a fresh interpreter imports torch: 5-8 s
def test_tool_runs_from_another_working_directory(tmp_path):
    result = subprocess.run([
        sys.executable,
        str(ROOT / 'tools' / 'make_synthetic_data.py'), '--out', 'rel',
        '--num-train', '8', '--num-val', '2', '--size', '16'
    ],
                            cwd=tmp_path,
                            capture_output=True,
                            text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'rel' / 'splits' / 'split3' /
            'unlabeled_1-4.txt').is_file()
    # 8 / 8 = 1 labeled name, bumped to 2 (no batch of one).
    assert len(read_list(str(tmp_path /
                             'rel/splits/split1/labeled_1-8.txt'))) == 2
