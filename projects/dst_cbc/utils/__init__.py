"""Small helpers shared across the extension."""
from .fingerprint import config_fingerprint, file_sha256
from .ground_truth import load_ground_truth
from .io import (atomic_write_bytes, atomic_write_json, atomic_write_png,
                 encode_png, read_json)

__all__ = [
    'atomic_write_bytes', 'atomic_write_json', 'atomic_write_png',
    'config_fingerprint', 'encode_png', 'file_sha256', 'load_ground_truth',
    'read_json'
]
