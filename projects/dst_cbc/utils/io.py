"""Write-then-rename file output, so nothing half-written is left on disk."""
import io
import json
import os
import os.path as osp
import tempfile
from typing import Any

import numpy as np
from PIL import Image


def _umask() -> int:
    """The process's file-mode creation mask."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    The file gets the mode ``open()`` would give it (0o666 less the umask).

    Args:
        path (str): Destination file; missing parent folders are created.
        data (bytes): The file's content.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix='.' + osp.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    Args:
        path (str): Destination file.
        obj (Any): A JSON-serialisable object.
    """
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + '\n').encode())


def read_json(path: str) -> Any:
    """Read a JSON file written by :func:`atomic_write_json`.

    Args:
        path (str): The file.

    Returns:
        Any: The decoded object.
    """
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def encode_png(array: np.ndarray, compress_level: int = 6) -> bytes:
    """Encode a uint8 or uint16 map (or a uint8 RGB image) as PNG bytes.

    Args:
        array (np.ndarray): (H, W) uint8 / uint16, or (H, W, 3) uint8.
        compress_level (int): zlib level, 0 (none, fastest) .. 9; PIL's
            default 6.

    Returns:
        bytes: The PNG file's content (8- or 16-bit grayscale, or RGB).
    """
    if array.dtype not in (np.uint8, np.uint16):
        raise TypeError(f'PNG maps must be uint8 or uint16, got {array.dtype}')
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(
        buffer, format='PNG', compress_level=compress_level)
    return buffer.getvalue()


def atomic_write_png(path: str,
                     array: np.ndarray,
                     compress_level: int = 6) -> None:
    """Write ``array`` as a PNG file atomically (see :func:`encode_png`).

    Args:
        path (str): Destination file.
        array (np.ndarray): The map or image.
        compress_level (int): zlib level (see :func:`encode_png`).
    """
    atomic_write_bytes(path, encode_png(array, compress_level))
