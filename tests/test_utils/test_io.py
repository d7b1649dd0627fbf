"""The atomic writer: whole files only, with the mode the umask gives."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from dst_cbc.utils import (atomic_write_bytes, atomic_write_json,
                           atomic_write_png, encode_png, read_json)


@pytest.mark.parametrize('umask,mode', [(0o022, 0o644), (0o077, 0o600),
                                        (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_bytes(str(tmp_path / 'a.bin'), b'abc')
        atomic_write_json(str(tmp_path / 'b.json'), dict(x=1))
        atomic_write_png(str(tmp_path / 'c.png'), np.full((2, 3), 7, np.uint8))
    finally:
        os.umask(old)
    for name in ('a.bin', 'b.json', 'c.png'):
        assert os.stat(str(tmp_path / name)).st_mode & 0o777 == mode, name
    assert sorted(os.listdir(str(tmp_path))) == ['a.bin', 'b.json', 'c.png']
    assert (tmp_path / 'a.bin').read_bytes() == b'abc'
    assert read_json(str(tmp_path / 'b.json')) == dict(x=1)
    assert np.array(Image.open(str(tmp_path / 'c.png'))).tolist() == \
        [[7, 7, 7], [7, 7, 7]]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = str(tmp_path / 'a.json')
    atomic_write_json(path, dict(x=1))
    with pytest.raises(TypeError):  # fails while writing the temporary
        atomic_write_bytes(path, 'text, not bytes')
    assert read_json(path) == dict(x=1)
    assert os.listdir(str(tmp_path)) == ['a.json']


def test_png_compress_level_changes_size_not_pixels(tmp_path):
    """Level 0 stores, 1 compresses a little, 9 most; all decode equal."""
    rng = np.random.default_rng(0)
    label = np.repeat(rng.integers(0, 4, (60, 8), dtype=np.uint8), 8, axis=1)
    sizes = {}
    for level in (0, 1, 9):
        path = str(tmp_path / f'{level}.png')
        atomic_write_png(path, label, compress_level=level)
        assert (np.asarray(Image.open(path)) == label).all()
        sizes[level] = osp.getsize(path)
    assert sizes[0] > sizes[1] > sizes[9]
    assert encode_png(label) == encode_png(label, compress_level=6)
