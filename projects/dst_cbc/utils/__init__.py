"""Small helpers shared across the extension."""
from .io import atomic_write_bytes, atomic_write_json

__all__ = ['atomic_write_bytes', 'atomic_write_json']
