"""The benchmarks' shared helpers (``benchmarks/common.py``)."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from benchmarks import common


@pytest.mark.parametrize('kind', ['camvid', 'synthetic'])
def test_relative_out_is_resolved_against_the_current_directory(
        kind, fake_camvid, tmp_path, monkeypatch):
    # A dataset joins a relative ann_file to its data_root: the CamVid
    # folder (or the synthetic set's), not the current directory.
    monkeypatch.chdir(tmp_path)
    data_root = 'camvid' if kind == 'camvid' else 'no_camvid'
    data = common.prepare_data(data_root, 'bench', 16, 32)
    assert data.kind == kind
    out = str(tmp_path / 'bench')
    train = data.cfg.train_dataloader.dataset
    for half in (train.labeled, train.unlabeled):
        # as MMEngine's BaseDataset resolves it
        path = osp.join(half.data_root, half.ann_file)
        assert osp.commonpath([path, out]) == out
        assert osp.isfile(path)
    if kind == 'camvid':
        assert train.labeled.data_root == str(fake_camvid)


def test_interleave_alternates_the_order():
    calls = []
    seconds = common.interleave(
        dict(a=lambda: calls.append('a'), b=lambda: calls.append('b')), 3)
    assert calls == ['a', 'b', 'b', 'a', 'a', 'b']
    assert [len(s) for s in seconds.values()] == [3, 3]


def test_labeling_dataset_follows_the_named_hook():
    cfg = common.Config(
        dict(
            pseudo_label_hook=dict(
                type='PseudoLabelHook', batch_size=8, infer_scale=(24, 16)),
            train_dataloader=dict(
                dataset=dict(unlabeled=dict(type='X', pipeline=[])))))
    plain = common.labeling_dataset_cfg(cfg, 5)
    stored = common.labeling_dataset_cfg(cfg, store_at_infer_scale=True)
    assert plain['indices'] == 5 and 'indices' not in stored
    assert [t['type'] for t in stored['pipeline']] == [
        'LoadImageFromFile', 'Resize', 'ResetOriginalShape', 'PackSegInputs'
    ]
    assert 'ResetOriginalShape' not in [t['type'] for t in plain['pipeline']]


def test_machine_names_cpu_instruction_set_and_threads():
    info = common.machine(3)
    assert info['threads'] == 3 and info['cpu']
    assert isinstance(info['capability'], str) and info['capability']
    assert common.machine_line(info).startswith(f'{info["cpu"]} (')


def test_label_agreement_by_hand(tmp_path):

    def png(name, label):
        Image.fromarray(np.uint8(label)).save(tmp_path / name)
        return str(tmp_path / name)

    a = [png('a0.png', [[0, 1], [255, 2]]), png('a1.png', [[3, 3], [3, 3]])]
    b = [png('b0.png', [[0, 2], [1, 2]]), png('b1.png', [[3, 3], [3, 3]])]
    # image 0: (0, 0) and (1, 1) agree; (0, 1) kept by both, 1 -> 2;
    # (1, 0) ignored in a only. Image 1: identical.
    assert common.label_agreement(a, b) == dict(
        pixels=8,
        differing=2,
        kept_only_a=0,
        kept_only_b=1,
        class_changed=1,
        identical_files=1,
        files=2)
