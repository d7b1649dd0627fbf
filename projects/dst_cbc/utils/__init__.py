"""Small helpers shared across the extension."""
from .fingerprint import config_fingerprint, file_sha256
from .io import atomic_write_bytes, atomic_write_json

__all__ = [
    'atomic_write_bytes', 'atomic_write_json', 'config_fingerprint',
    'file_sha256'
]
