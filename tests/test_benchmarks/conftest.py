"""Fixtures of the benchmark tests: one torch thread, a stand-in CamVid."""
from pathlib import Path

import pytest

from tests.helpers.threads import torch_threads


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One torch thread: on a busy 2-core machine two threads stall."""
    with torch_threads(1):
        yield


@pytest.fixture
def fake_camvid(tmp_path: Path) -> Path:
    """``tmp_path/camvid``, which passes for CamVid: a ``train.txt`` of 16
    names (the split lists need nothing else)."""
    root = tmp_path / 'camvid'
    root.mkdir()
    (root / 'train.txt').write_text(''.join(f'img{i:02d}\n'
                                            for i in range(16)))
    return root
