"""Bad input gets one clear error naming the file or option at fault.

Covered elsewhere: empty labeled/unlabeled list and an image in both lists
(tests/test_datasets/test_semi_dataset.py), gamma < 0
(tests/test_models/test_dynamic_loss.py), invalid alpha in the labeler
(tests/test_pseudo_labels/test_class_balanced.py).
"""
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image

import dst_cbc  # noqa: F401
from mmseg.registry import DATASETS


@pytest.fixture
def data_root(tmp_path, tiny_synthetic):
    return tiny_synthetic(str(tmp_path / 'synthetic'), num_train=16, num_val=2)


@pytest.fixture
def make_cfg(tiny_cfg):

    def make(data_root, work_dir):
        return tiny_cfg(
            data_root,
            work_dir,
            baseline_iters=1,
            round_iters=1,
            val_interval=1,
            alphas=[1.0])

    return make


def _first_labeled(data_root):
    name = open(osp.join(data_root, 'splits/split1/labeled_1-8.txt')).read()
    return name.split()[0]


def _semi(cfg):
    init_default_scope('mmseg')
    return DATASETS.build(cfg.train_dataloader.dataset)


def test_corrupt_image_is_named(data_root, tmp_path, make_cfg):
    cfg = make_cfg(data_root, tmp_path / 'w')
    path = osp.join(data_root, 'img_dir/train',
                    _first_labeled(data_root) + '.png')
    with open(path, 'wb') as f:
        f.write(b'not a png')
    semi = _semi(cfg)
    index = [
        semi.labeled.get_data_info(i)['img_path']
        for i in range(semi.num_labeled)
    ].index(path)
    with pytest.raises(Exception, match=f'failed to load image: {path}'):
        semi[index]


def test_missing_image_is_named(data_root, tmp_path, make_cfg):
    cfg = make_cfg(data_root, tmp_path / 'w')
    name = _first_labeled(data_root)
    shutil.move(
        osp.join(data_root, 'img_dir/train', name + '.png'),
        str(tmp_path / 'moved.png'))
    semi = _semi(cfg)
    paths = [
        semi.labeled.get_data_info(i)['img_path']
        for i in range(semi.num_labeled)
    ]
    index = [i for i, p in enumerate(paths) if name in p][0]
    with pytest.raises(FileNotFoundError, match=name):
        semi[index]


def test_label_values_beyond_the_classes_are_named(data_root, tmp_path,
                                                   make_cfg):
    cfg = make_cfg(data_root, tmp_path / 'w')
    name = _first_labeled(data_root)
    ann = osp.join(data_root, 'ann_dir/train', name + '.png')
    label = np.array(Image.open(ann))
    label[0, :3] = 7  # 5 classes: 7 is neither a class nor 255
    Image.fromarray(label).save(ann)
    cfg.train_dataloader.dataset.labeled.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]
    semi = _semi(cfg)
    index = [
        i for i in range(semi.num_labeled)
        if name in semi.labeled.get_data_info(i)['img_path']
    ][0]
    with pytest.raises(
            ValueError, match=rf'label file .*{name}\.png holds values \[7\]'):
        semi[index]


def test_num_classes_disagreeing_with_the_dataset(data_root, tmp_path,
                                                  make_cfg):
    cfg = make_cfg(data_root, tmp_path / 'w')
    cfg.model.decode_head.num_classes = 4
    runner = Runner.from_cfg(cfg)
    with pytest.raises(
            ValueError,
            match=r'model.decode_head.num_classes=4 but the '
            r'training dataset has 5 classes'):
        runner.train()


@pytest.mark.parametrize('alphas', [[0.0], [1.5], [0.2, -0.1]])
def test_alpha_outside_unit_interval(data_root, tmp_path, make_cfg, alphas):
    cfg = make_cfg(data_root, tmp_path / 'w')
    cfg.train_cfg.alphas = alphas
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'train_cfg.alphas must lie in'):
        runner.train()


def test_work_dir_of_another_run_is_refused(data_root, tmp_path, make_cfg):
    first = make_cfg(data_root, tmp_path / 'w')
    first.train_cfg.alphas = []
    Runner.from_cfg(first).train()
    assert osp.isfile(str(tmp_path / 'w' / 'run.json'))
    other = make_cfg(data_root, tmp_path / 'w')
    other.train_cfg.alphas = []
    other.model.decode_head.loss_decode.gamma = 5.0
    with pytest.raises(
            ValueError,
            match=f'work_dir {tmp_path / "w"} holds '
            'a different run'):
        Runner.from_cfg(other).train()
    # the same config again is a relaunch of the same run: accepted
    same = make_cfg(data_root, tmp_path / 'w')
    same.train_cfg.alphas = []
    Runner.from_cfg(same).train()


# -- checked before round 0 trains (dst_cbc.datasets.file_checks) ----------
def _first(data_root, list_file):
    return open(osp.join(data_root, list_file)).read().split()[0]


def _refused_before_training(cfg, error, match):
    runner = Runner.from_cfg(cfg)
    with pytest.raises(error, match=match) as e:
        runner.train()
    assert str(e.value).startswith('bad input found before training:')
    assert runner.train_loop.iter == 0
    assert not osp.exists(osp.join(cfg.work_dir, 'round_0_best.pth'))
    return str(e.value)


def _unlabeled(data_root, folder):
    name = _first(data_root, 'splits/split1/unlabeled_1-8.txt')
    return osp.join(data_root, folder, 'train', name + '.png')


def test_missing_unlabeled_image_before_round_0(data_root, tmp_path, make_cfg):
    path = _unlabeled(data_root, 'img_dir')
    os.remove(path)
    message = _refused_before_training(
        make_cfg(data_root, tmp_path / 'w'), FileNotFoundError,
        rf'train_dataloader.dataset.unlabeled \(ann_file=.*unlabeled_1-8'
        rf'.txt\'\): 1 bad file\(s\):\n  - image {path} is missing\n')
    assert message.endswith('or remove their names from '
                            f'{data_root}/splits/split1/unlabeled_1-8.txt.')


def test_truncated_unlabeled_image_before_round_0(data_root, tmp_path,
                                                  make_cfg):
    path = _unlabeled(data_root, 'img_dir')
    os.truncate(path, os.path.getsize(path) // 2)
    _refused_before_training(
        make_cfg(data_root, tmp_path / 'w'), ValueError,
        rf'  - image {path} is truncated \(a PNG file ends with')


@pytest.mark.parametrize('damage,said', [
    ('values', r'holds values \[7, 9\]: labels must be class ids below '
     r'num_classes=5 or the ignore index 255'),
    ('size', r'is 40x32 \(width x height\) but its image .* is 32x32'),
])
def test_bad_unlabeled_ground_truth_before_round_0(data_root, tmp_path,
                                                   make_cfg, damage, said):
    path = _unlabeled(data_root, 'ann_dir')
    label = np.array(Image.open(path))
    if damage == 'values':
        label[0, :2] = [7, 9]
    else:
        label = np.zeros((32, 40), np.uint8)
    Image.fromarray(label).save(path)
    _refused_before_training(
        make_cfg(data_root, tmp_path / 'w'), ValueError,
        rf'  - label {path} {said}')


def test_val_labels_out_of_range_before_round_0(data_root, tmp_path, make_cfg):
    path = osp.join(data_root, 'ann_dir/val',
                    _first(data_root, 'val.txt') + '.png')
    label = np.array(Image.open(path))
    label[-1, -1] = 5  # 5 classes: ids 0..4, and 255
    Image.fromarray(label).save(path)
    _refused_before_training(
        make_cfg(data_root, tmp_path / 'w'), ValueError,
        rf'val_dataloader.dataset \(ann_file=.*val.txt\'\): 1 bad '
        rf'file\(s\):\n  - label {path} holds values \[5\]')


def test_labeled_label_of_another_size_before_round_0(data_root, tmp_path,
                                                      make_cfg):
    name = _first_labeled(data_root)
    path = osp.join(data_root, 'ann_dir/train', name + '.png')
    Image.fromarray(np.zeros((30, 32), np.uint8)).save(path)
    _refused_before_training(
        make_cfg(data_root, tmp_path / 'w'), ValueError,
        rf'train_dataloader.dataset.labeled .*\n  - label {path} is 32x30 '
        r'\(width x height\) but its image')


def test_missing_labels_and_several_datasets_in_one_message(
        data_root, tmp_path, make_cfg):
    val = osp.join(data_root, 'ann_dir/val',
                   _first(data_root, 'val.txt') + '.png')
    labeled = osp.join(data_root, 'ann_dir/train',
                       _first_labeled(data_root) + '.png')
    unlabeled = _unlabeled(data_root, 'ann_dir')
    for path in (val, labeled, unlabeled):
        os.remove(path)
    # an unlabeled image needs no ground truth: only two files are at fault
    message = _refused_before_training(
        make_cfg(data_root, tmp_path / 'w'), FileNotFoundError,
        f'  - label {labeled} is missing')
    assert f'  - label {val} is missing' in message
    assert unlabeled not in message


def test_a_file_listed_twice_is_named(data_root, tmp_path, make_cfg):
    lst = osp.join(data_root, 'splits/split1/unlabeled_1-8.txt')
    name = _first(data_root, 'splits/split1/unlabeled_1-8.txt')
    with open(lst, 'a') as f:
        f.write(name + '\n')
    path = osp.join(data_root, 'img_dir', 'train', name + '.png')
    _refused_before_training(
        make_cfg(data_root, tmp_path / 'w'), ValueError,
        rf'unlabeled_1-8.txt\'\): 1 bad file\(s\):\n  - image {path} is '
        'listed more than once\n')


@pytest.mark.parametrize('option,value,said', [
    ('baseline_iters', -5, 'train_cfg.baseline_iters must be > 0, got -5'),
    ('round_iters', -3, 'train_cfg.round_iters must be > 0, got -3'),
    ('val_interval', 0, 'train_cfg.val_interval must be > 0, got 0'),
    ('epochs_per_round', 0.0,
     'train_cfg.epochs_per_round must be > 0, got 0.0'),
    ('round_iters', 2.5, 'train_cfg.round_iters counts iterations and must '
     'be a whole number, got 2.5'),
])
def test_lengths_are_refused_before_the_runner_writes(data_root, tmp_path,
                                                      make_cfg, option, value,
                                                      said):
    from mmseg.registry import RUNNERS
    cfg = make_cfg(data_root, tmp_path / 'w')
    cfg.train_cfg[option] = value
    with pytest.raises(ValueError, match=re.escape(said)):
        RUNNERS.build(cfg)
    assert not osp.exists(tmp_path / 'w')


def test_a_refused_run_leaves_the_work_dir_unclaimed(data_root, tmp_path,
                                                     make_cfg):
    """Bad data is refused before run.json is written: the same work dir
    then trains on corrected data (another data_root) as a new run."""
    from mmseg.registry import RUNNERS
    good = shutil.copytree(data_root, str(tmp_path / 'good'))
    os.remove(_unlabeled(data_root, 'img_dir'))
    cfg = make_cfg(data_root, tmp_path / 'w')
    cfg.train_cfg.alphas = []
    with pytest.raises(FileNotFoundError, match='is missing'):
        RUNNERS.build(cfg).train()
    assert not osp.exists(tmp_path / 'w' / 'run.json')
    assert not osp.exists(tmp_path / 'w' / 'run.lock')  # released
    fixed = make_cfg(good, tmp_path / 'w')
    fixed.train_cfg.alphas = []
    RUNNERS.build(fixed).train()
    assert osp.isfile(tmp_path / 'w' / 'round_0_best.pth')
