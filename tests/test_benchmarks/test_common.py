"""The benchmarks' shared data preparation (``benchmarks/common.py``)."""
import os.path as osp

import pytest

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
