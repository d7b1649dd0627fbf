"""Fingerprints that tell whether files on disk belong to this run."""
import hashlib
import json
from typing import Any

from mmengine.config import Config

#: The config entries that decide what a curriculum run computes, its
#: validation (which picks the best rounds) and test settings included.
RUN_KEYS = ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper',
            'param_scheduler', 'custom_hooks', 'val_dataloader', 'val_cfg',
            'val_evaluator', 'test_dataloader', 'test_cfg', 'test_evaluator')


def config_fingerprint(cfg: Config) -> str:
    """SHA-256 of the parts of a config that decide a run's results.

    Logging, work dir, launcher and resume options are left out, so a resumed
    or relaunched run keeps its fingerprint.

    Args:
        cfg (Config): The run's config.

    Returns:
        str: Hex digest.
    """
    parts: Any = {key: cfg.get(key) for key in RUN_KEYS}
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks.

    Args:
        path (str): The file.
        chunk (int): Bytes read at a time.

    Returns:
        str: Hex digest.
    """
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()
