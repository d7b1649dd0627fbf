"""tools/visualize_pseudo_labels.py, tools/infer.py and the drawing helpers.

A tiny run (conftest's ``finished_run``: baseline + rounds at alpha 0.5 and
1.0 on 32x32 images) gives a work dir with pseudo labels and checkpoints.
The inference tool is checked against ``tools/test.py --out`` (IoUMetric's
``output_dir``: one ``<name>.png`` of predicted class ids per validation
image), run in-process on the same checkpoint, whose head is randomised so
that the predictions hold several classes.
"""
import os
import os.path as osp
import runpy
import shutil
import sys

import mmengine.logging
import numpy as np
import pytest
import torch
from PIL import Image

import dst_cbc  # noqa: F401
from dst_cbc.datasets.synthetic import SYNTHETIC_PALETTE
from dst_cbc.visualization import (IGNORE_COLOR, colorize, hatch_mask, overlay,
                                   side_by_side, upscale)
from tests.helpers.threads import torch_threads
from tools import infer, visualize_pseudo_labels

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GAP = 4  # white columns between panels (side_by_side's default)


@pytest.fixture(scope='module')
def run(finished_run):
    """A finished tiny run (conftest's): work dir, data root, unlabeled
    names and the saved config."""
    return finished_run


# -- drawing helpers, by hand ------------------------------------------------
PALETTE = [[0, 0, 0], [200, 100, 50]]
I = 255  # noqa: E741


def test_overlay_blends_colours_and_hatches_ignored_pixels():
    image = np.full((2, 4, 3), 100, np.uint8)
    label = np.array([[I, 0, 1, I], [1, 0, 1, I]])
    out = overlay(image, label, PALETTE, opacity=0.5)
    # class 0: 0.5 * 100 + 0.5 * 0 = 50; class 1: (150, 100, 75)
    assert out[0, 1].tolist() == [50, 50, 50]
    assert out[0, 2].tolist() == [150, 100, 75]
    assert out[1, 0].tolist() == [150, 100, 75]
    # ignored: hatched where (x + y) % 4 < 2, image // 2 elsewhere
    assert out[0, 0].tolist() == list(IGNORE_COLOR)  # x + y = 0
    assert out[0, 3].tolist() == [50, 50, 50]  # x + y = 3
    assert out[1, 3].tolist() == list(IGNORE_COLOR)  # x + y = 4
    assert overlay(image, label, PALETTE, opacity=0.0)[0, 2].tolist() == \
        [100, 100, 100]


def test_colorize_and_errors():
    label = np.array([[0, 1], [I, I]])
    out = colorize(label, PALETTE)
    assert out[0].tolist() == [[0, 0, 0], [200, 100, 50]]
    # (x + y) = 1 -> hatched, 2 -> black
    assert out[1].tolist() == [list(IGNORE_COLOR), [0, 0, 0]]
    assert hatch_mask(1, 4).tolist() == [[True, True, False, False]]
    with pytest.raises(ValueError, match='label 2 has no palette colour'):
        colorize(np.array([[2]]), PALETTE)
    with pytest.raises(ValueError, match='does not match'):
        overlay(np.zeros((3, 3, 3), np.uint8), label, PALETTE)


def test_side_by_side_and_upscale():
    a = np.zeros((2, 3, 3), np.uint8)
    b = np.full((2, 1, 3), 7, np.uint8)
    out = side_by_side([a, b], gap=2)
    assert out.shape == (2, 3 + 2 + 1, 3)
    assert (out[:, 3:5] == 255).all() and (out[:, 5] == 7).all()
    with pytest.raises(ValueError, match='height'):
        side_by_side([a, np.zeros((3, 1, 3), np.uint8)])
    up = upscale(np.array([[1, 2]]), 2)
    assert up.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2]]


# -- tools/visualize_pseudo_labels.py ----------------------------------------
def test_visualize_writes_side_by_side_overlays(run, tmp_path):
    out = str(tmp_path / 'vis')
    written = visualize_pseudo_labels.main(
        [run.work, '--round', '1', '--num', '2', '--out', out, '--scale', '2'])
    assert [osp.basename(p)
            for p in written] == [f'{n}.png' for n in run.unlabeled[:2]]
    label_dir = osp.join(run.work, 'pseudo_labels', 'round_1')
    for path, name in zip(written, run.unlabeled):
        pic = np.asarray(Image.open(path))
        # image | pseudo labels | ground truth, each 32x32 scaled by 2
        assert pic.shape == (64, 3 * 64 + 2 * GAP, 3)
        image = np.asarray(
            Image.open(
                osp.join(run.data_root, 'img_dir', 'train', name + '.png')))
        pseudo = np.asarray(Image.open(osp.join(label_dir, name + '.png')))
        gt = np.asarray(
            Image.open(
                osp.join(run.data_root, 'ann_dir', 'train', name + '.png')))
        assert (pic[::2, :64:2] == image).all()
        for panel, label in ((1, pseudo), (2, gt)):
            x0 = panel * (64 + GAP)
            drawn = pic[::2, x0:x0 + 64:2].astype(int)
            kept = label != I
            colours = np.array(SYNTHETIC_PALETTE)[label[kept]]
            expected = np.rint(0.5 * image[kept] + 0.5 * colours)
            assert (drawn[kept] == expected).all()
            hatched = ~kept & hatch_mask(32, 32)
            assert (drawn[hatched] == IGNORE_COLOR).all()
        assert (pseudo == I).any()  # alpha 0.5 leaves pixels out


def test_visualize_names_what_is_missing(run, tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match=r"round 3 has no complete .*\['round_1', 'round_2'\]"):
        visualize_pseudo_labels.main(
            [run.work, '--round', '3', '--out',
             str(tmp_path)])
    (tmp_path / 'a.py').write_text('')
    (tmp_path / 'b.py').write_text('')
    with pytest.raises(ValueError, match='several configs'):
        visualize_pseudo_labels.find_config(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='work dir not found'):
        visualize_pseudo_labels.find_config(str(tmp_path / 'nope'))


# -- tools/infer.py ----------------------------------------------------------
@pytest.fixture(scope='module')
def busy_checkpoint(run, tmp_path_factory):
    """The round-1 checkpoint with a random head: predicts several classes."""
    ckpt = torch.load(
        osp.join(run.work, 'round_1_best.pth'),
        map_location='cpu',
        weights_only=False)
    gen = torch.Generator().manual_seed(0)
    for key, value in ckpt['state_dict'].items():
        if key.startswith('decode_head.') and key.endswith('weight'):
            ckpt['state_dict'][key] = torch.randn(
                value.shape, generator=gen) * 0.3
    path = str(tmp_path_factory.mktemp('ckpt') / 'busy.pth')
    torch.save(ckpt, path)
    return path


def test_infer_matches_tools_test_predictions(run, busy_checkpoint, tmp_path,
                                              monkeypatch):
    out = str(tmp_path / 'infer')
    val_dir = osp.join(run.data_root, 'img_dir', 'val')
    logged = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, *args, **kwargs: logged.append(msg))
    with torch_threads(1):
        written = infer.main([
            run.config, busy_checkpoint, val_dir, '--out', out, '--device',
            'cpu'
        ])
        # MMEngine's registry imports print_log when it warns.
        assert not [m for m in logged if 'Failed to search registry' in m]
        monkeypatch.setattr(sys, 'argv', [
            'test.py', run.config, busy_checkpoint, '--out',
            str(tmp_path / 'test_out'), '--work-dir',
            str(tmp_path / 'test_work'), '--cfg-options',
            'visualizer.name=test_tools_test_py'
        ])
        runpy.run_path(osp.join(ROOT, 'tools', 'test.py'), run_name='__main__')
    names = [f'val_{i:05d}' for i in range(8)]
    assert [osp.basename(p) for p in written] == [n + '.png' for n in names]
    classes = set()
    for name in names:
        pred = np.asarray(Image.open(osp.join(out, 'pred', name + '.png')))
        ref = np.asarray(
            Image.open(osp.join(tmp_path, 'test_out', name + '.png')))
        assert pred.shape == ref.shape == (32, 32)
        assert (pred == ref).all(), name
        classes |= set(np.unique(pred).tolist())
        mask = np.asarray(Image.open(osp.join(out, 'mask', name + '.png')))
        assert (mask == np.array(SYNTHETIC_PALETTE)[pred]).all()
        image = np.asarray(Image.open(osp.join(val_dir, name + '.png')))
        over = np.asarray(Image.open(osp.join(out, 'overlay', name + '.png')))
        expected = np.rint(0.5 * image +
                           0.5 * np.array(SYNTHETIC_PALETTE)[pred])
        assert (over == expected).all()
    assert len(classes) >= 2, 'the comparison needs varied predictions'


def test_tools_test_scores_a_test_root(run, busy_checkpoint, tmp_path,
                                       monkeypatch):
    """``tools/test.py --test-root`` tests on a CamVid-layout folder: two
    val images renamed there give exactly the val run's predictions, under
    the new names and for those two images only."""
    root = tmp_path / 'elsewhere'
    renamed = {'street_a': 'val_00002', 'street_b': 'val_00000'}
    for part in ('test', 'testannot'):
        (root / part).mkdir(parents=True)
    for new, old in renamed.items():
        for part, folder in (('test', 'img_dir'), ('testannot', 'ann_dir')):
            src = osp.join(run.data_root, folder, 'val', old + '.png')
            (root / part / (new + '.png')).write_bytes(open(src, 'rb').read())
    (root / 'test.txt').write_text('street_a\nstreet_b\n')

    def tools_test(out, *extra):
        monkeypatch.setattr(sys, 'argv', [
            'test.py', run.config, busy_checkpoint, '--out', out, '--work-dir',
            str(tmp_path / 'work'), *extra, '--cfg-options',
            f'visualizer.name=test_root_{osp.basename(out)}'
        ])
        runpy.run_path(osp.join(ROOT, 'tools', 'test.py'), run_name='__main__')

    with torch_threads(1):
        tools_test(str(tmp_path / 'val'))
        tools_test(str(tmp_path / 'test'), '--test-root', str(root))
    written = sorted(os.listdir(tmp_path / 'test'))
    assert written == ['street_a.png', 'street_b.png']
    for new, old in renamed.items():
        pred = np.asarray(Image.open(tmp_path / 'test' / (new + '.png')))
        ref = np.asarray(Image.open(tmp_path / 'val' / (old + '.png')))
        assert (pred == ref).all(), new
    (root / 'test.txt').unlink()
    with pytest.raises(FileNotFoundError, match='test.txt is missing'):
        tools_test(str(tmp_path / 'none'), '--test-root', str(root))


def test_tools_test_logs_beside_the_training_and_changes_none_of_it(
        run, busy_checkpoint, tmp_path, monkeypatch):
    """Without --work-dir, tools/test.py tests in ``test/`` inside the work
    dir MMSeg picks (the training's, ./work_dirs/<config name>), through the
    config's CurriculumRunner: other test settings than the training's are
    taken there, and the training's files (its saved config, run.json,
    checkpoints) stay as they were."""
    work = tmp_path / 'work_dirs' / 'tiny'
    shutil.copytree(run.work, work)
    (tmp_path /
     'tiny.py').write_text(f'_base_ = [{run.config!r}]\nwork_dir = None\n')

    def files():
        return {
            str(path.relative_to(work)): path.read_bytes()
            for path in work.rglob('*') if path.is_file()
        }

    before = files()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', [
        'test.py', 'tiny.py', busy_checkpoint, '--cfg-options',
        'test_dataloader.batch_size=3', 'visualizer.name=test_beside',
        'experiment_name=test_beside'
    ])
    with torch_threads(1):
        runpy.run_path(osp.join(ROOT, 'tools', 'test.py'), run_name='__main__')
    after = files()
    added = sorted(set(after) - set(before))
    assert added and all(name.startswith('test/') for name in added)
    assert {k: v for k, v in after.items() if k in before} == before
    # its log folder only (MMEngine's vis_data/config.py in it): no config
    # saved into the work dir, the lock released
    [log] = [name for name in added if name.endswith('.log')]
    assert 'Iter(test)' in after[log].decode()
    assert all(name.count('/') >= 2 for name in added), added
    assert not any(name.endswith('run.lock') for name in added)


def test_infer_single_file_and_listing(run, busy_checkpoint, tmp_path):
    image = osp.join(run.data_root, 'img_dir', 'val', 'val_00001.png')
    assert infer.list_images(image) == [(image, 'val_00001')]
    (tmp_path / 'in' / 'sub').mkdir(parents=True)
    for rel in ('b.jpg', 'sub/a.png', 'notes.txt'):
        (tmp_path / 'in' / rel).write_bytes(b'')
    folder = str(tmp_path / 'in')
    assert infer.list_images(folder) == [
        (osp.join(folder, 'b.jpg'), 'b'),
        (osp.join(folder, 'sub', 'a.png'), osp.join('sub', 'a')),
    ]
    (tmp_path / 'in' / 'b.png').write_bytes(b'')
    with pytest.raises(ValueError, match=r'both be written as b\.png'):
        infer.list_images(folder)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no image'):
        infer.list_images(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='CHECKPOINT not found'):
        infer.main([
            run.config,
            str(tmp_path / 'x.pth'), image, '--out',
            str(tmp_path / 'o')
        ])
