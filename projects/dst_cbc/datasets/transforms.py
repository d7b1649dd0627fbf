"""A transform wrapper that decodes each file once per process."""
import copy
import os
from typing import Dict, List, Tuple

from mmcv.transforms import BaseTransform, Compose

from mmseg.registry import TRANSFORMS

# (inner pipeline, input fields, file stamps) -> output of the inner pipeline.
_CACHE: Dict[Tuple, dict] = {}


def clear_load_cache() -> None:
    """Empty the process-wide cache of :class:`CachedLoad`."""
    _CACHE.clear()


def _file_stamp(path: str) -> Tuple[str, int, int]:
    """Path, modification time and size: a rewritten file gets a new key."""
    stat = os.stat(path)
    return path, stat.st_mtime_ns, stat.st_size


@TRANSFORMS.register_module()
class CachedLoad(BaseTransform):
    """Run deterministic loading transforms once per file, then copy.

    Decoding a PNG costs about as much as a Fast-SCNN training step spends on
    a small image on CPU; with ``num_workers=0`` (the fastest setting on 2
    cores) that time is not hidden. This wrapper runs its ``transforms`` (for
    example ``LoadImageFromFile`` and ``LoadAnnotations``, or
    ``LoadImageFromFile`` and a fixed ``Resize``) the first time it sees a
    sample and returns a deep copy of the stored result afterwards.

    The cache key is the inner pipeline, every input field and the
    modification time and size of every ``*_path`` file, so a pseudo-label
    file rewritten by the next round is decoded again. The cache lives in the
    process (shared by every dataset built in it); use it with
    ``num_workers=0`` or ``persistent_workers=True`` and for datasets that
    fit in memory (CamVid at full resolution: about 250 MB).

    Only wrap deterministic transforms: a random one would be frozen at its
    first draw.

    Args:
        transforms (list[dict]): The loading transforms to cache.
    """

    def __init__(self, transforms: List[dict]) -> None:
        if not transforms:
            raise ValueError('CachedLoad: `transforms` is empty')
        self.transforms = Compose([TRANSFORMS.build(t) for t in transforms])
        self._pipeline_key = repr(self.transforms)

    def transform(self, results: dict) -> dict:
        """Return the inner pipeline's output for ``results``, from cache."""
        stamps = tuple(
            _file_stamp(value) for key, value in sorted(results.items())
            if key.endswith('_path') and isinstance(value, str))
        key = (self._pipeline_key, repr(sorted(results.items())), stamps)
        cached = _CACHE.get(key)
        if cached is None:
            cached = self.transforms(copy.deepcopy(results))
            if cached is None:
                return None
            _CACHE[key] = cached
        return copy.deepcopy(cached)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(transforms={self.transforms})'
