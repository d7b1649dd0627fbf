"""Tests of tools/make_splits.py."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dst_cbc.datasets.splits import nested_splits, read_list
from tools import make_splits

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'make_splits.py'


@pytest.fixture(scope='module')
def tool():
    return make_splits


@pytest.fixture
def lists(tmp_path):
    """A 20-name train list and a 3-image val set with CamVid-like labels."""
    train = tmp_path / 'train.txt'
    train.write_text(''.join(f't{i:02d}\n' for i in range(20)))
    ann = tmp_path / 'valannot'
    ann.mkdir()
    labels = {
        'v0': [[0, 1], [11, 11]],
        'v1': [[2, 2], [2, 0]],
        'v2': [[1, 1], [1, 11]]
    }
    for name, label in labels.items():
        Image.fromarray(np.array(label, np.uint8)).save(ann / f'{name}.png')
    val = tmp_path / 'val.txt'
    val.write_text('v0\nv1\nv2\n')
    return train, val, ann


def test_writes_nested_split_files(tool, lists, tmp_path, capsys):
    train, _, _ = lists
    out = tmp_path / 'splits'
    written = tool.main([
        '--train-list',
        str(train), '--out-dir',
        str(out), '--ratios', '8', '4', '--seed', '2'
    ])
    assert len(written) == 3 * 2 * 2
    expected = nested_splits(read_list(str(train)), [8, 4], 3, 2, 8)
    for s in (1, 2, 3):
        for k, count in ((8, 2), (4, 5)):  # int(20/8) = 2, int(20/4) = 5
            labeled = read_list(str(out / f'split{s}/labeled_1-{k}.txt'))
            unlabeled = read_list(str(out / f'split{s}/unlabeled_1-{k}.txt'))
            assert len(labeled) == count and len(unlabeled) == 20 - count
            assert (labeled, unlabeled) == expected[s][k]
    assert not (out / 'valtiny.txt').exists()
    assert capsys.readouterr().out.count('wrote ') == 12


def test_writes_valtiny_with_label_map(tool, lists, tmp_path):
    train, val, ann = lists
    out = tmp_path / 'splits'
    tool.main([
        '--train-list',
        str(train), '--out-dir',
        str(out), '--ratios', '4', '--num-splits', '1', '--val-list',
        str(val), '--ann-dir',
        str(ann), '--num-classes', '3', '--label-map', '11:255'
    ])
    # Images per class: 0 -> v0, v1; 1 -> v0, v2; 2 -> v1 only. Class 2
    # picks v1; class 0 then has only v0 left, class 1 only v2.
    valtiny = read_list(str(out / 'valtiny.txt'))
    assert valtiny == ['v0', 'v1', 'v2']
    assert valtiny == sorted(valtiny)
    assert sorted(p.name for p in out.iterdir()) == ['split1', 'valtiny.txt']


def test_without_label_map_void_is_a_bad_class(tool, lists, tmp_path):
    train, val, ann = lists
    with pytest.raises(ValueError, match='image v0 holds class 11'):
        tool.main([
            '--train-list',
            str(train), '--out-dir',
            str(tmp_path / 'o'), '--ratios', '4', '--val-list',
            str(val), '--ann-dir',
            str(ann), '--num-classes', '3'
        ])


def test_missing_or_empty_lists_are_named(tool, lists, tmp_path):
    missing = tmp_path / 'nope.txt'
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        tool.main([
            '--train-list',
            str(missing), '--out-dir',
            str(tmp_path / 'o'), '--ratios', '8'
        ])
    empty = tmp_path / 'empty.txt'
    empty.write_text('\n')
    with pytest.raises(ValueError, match='empty.txt'):
        tool.main([
            '--train-list',
            str(empty), '--out-dir',
            str(tmp_path / 'o'), '--ratios', '8'
        ])
    train, _, ann = lists
    with pytest.raises(FileNotFoundError, match='noval.txt'):
        tool.main([
            '--train-list',
            str(train), '--out-dir',
            str(tmp_path / 'o'), '--ratios', '8', '--val-list',
            str(tmp_path / 'noval.txt'), '--ann-dir',
            str(ann), '--num-classes', '3'
        ])


@pytest.mark.parametrize('extra', [
    ['--val-list', 'v.txt'],
    ['--val-list', 'v.txt', '--ann-dir', 'a'],
    ['--label-map', '11-255'],
    ['--label-map', 'a:b'],
])
def test_bad_options_are_usage_errors(tool, lists, tmp_path, extra, capsys):
    train, _, _ = lists
    with pytest.raises(SystemExit) as exit_info:
        tool.main([
            '--train-list',
            str(train), '--out-dir',
            str(tmp_path / 'o'), '--ratios', '8'
        ] + extra)
    assert exit_info.value.code == 2
    assert '--' in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()


@pytest.mark.slow  # a fresh interpreter imports torch: 5-6 s
def test_command_line_error_names_the_file(tmp_path):
    command = [
        sys.executable,
        str(TOOL), '--train-list', 'absent.txt', '--out-dir', 'out',
        '--ratios', '8'
    ]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert 'absent.txt' in result.stderr
    assert 'Traceback' not in result.stderr


# -- --paper: the authors' lists ----------------------------------------------
PAPER = ROOT / 'paper_splits'


def test_paper_writes_the_authors_splits_and_valtiny(tool, tmp_path, capsys):
    # The data root's list in another order (MMSeg's converter sorts it).
    full = read_list(str(PAPER / 'Cityscapes' / '1_labeled_0.txt'))
    train = tmp_path / 'train.txt'
    train.write_text(''.join(f'{n}\n' for n in sorted(full)))
    out = tmp_path / 'splits'
    written = tool.main([
        '--paper', 'cityscapes', '--train-list',
        str(train), '--out-dir',
        str(out)
    ])
    assert len(written) == 3 * 3 * 2 + 1
    assert capsys.readouterr().out.count('wrote ') == len(written)
    for s in (1, 2, 3):  # split s is the authors' shuffle s - 1
        order = read_list(str(PAPER / 'Cityscapes' / f'1_labeled_{s - 1}.txt'))
        for k, count in ((30, 100), (8, 371), (4, 743)):
            labeled = read_list(str(out / f'split{s}/labeled_1-{k}.txt'))
            unlabeled = read_list(str(out / f'split{s}/unlabeled_1-{k}.txt'))
            assert labeled == read_list(
                str(PAPER / 'Cityscapes' / f'{k}_labeled_{s - 1}.txt'))
            assert len(labeled) == count
            assert unlabeled == [n for n in order if n not in set(labeled)]
    assert (out / 'valtiny.txt').read_bytes() == (PAPER / 'Cityscapes' /
                                                  'valtiny.txt').read_bytes()


def test_paper_refuses_another_training_set(tool, tmp_path):
    full = read_list(str(PAPER / 'PASCAL_VOC_2012' / '1_labeled_0.txt'))
    train = tmp_path / 'trainaug.txt'
    train.write_text(''.join(f'{n}\n' for n in full[1:] + ['2099_000001']))
    with pytest.raises(
            ValueError,
            match=(
                r'trainaug.txt and .*1_labeled_0.txt list different images: 1 '
                rf"of the latter missing \(e.g. \['{full[0]}'\]\), 1 not in it"
            )):
        tool.main([
            '--paper', 'voc', '--train-list',
            str(train), '--out-dir',
            str(tmp_path / 'o')
        ])
    assert not (tmp_path / 'o').exists()


@pytest.mark.parametrize('extra', [
    ['--paper', 'voc', '--ratios', '8'],
    [
        '--paper', 'voc', '--val-list', 'v.txt', '--ann-dir', 'a',
        '--num-classes', '21'
    ],
    ['--paper', 'camvid'],
    [],
])
def test_paper_usage_errors(tool, lists, tmp_path, extra, capsys):
    train, _, _ = lists
    with pytest.raises(SystemExit) as exit_info:
        tool.main(
            ['--train-list',
             str(train), '--out-dir',
             str(tmp_path / 'o')] + extra)
    assert exit_info.value.code == 2
    assert '--' in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()
