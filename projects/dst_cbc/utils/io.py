"""Write-then-rename file output, so nothing half-written is left on disk."""
import json
import os
import os.path as osp
import tempfile
from typing import Any


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

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
