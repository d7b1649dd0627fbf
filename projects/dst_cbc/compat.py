"""Load local checkpoints safely on recent PyTorch.

mmengine 0.10.x loads a local checkpoint with ``torch.load(filename,
map_location)``. Since torch 2.6 that call unpickles with ``weights_only=True``
and refuses mmengine's own checkpoints (their message hub holds
``HistoryBuffer`` objects, numpy scalars and arrays), so ``--resume``,
``load_from`` and ``tools/test.py`` fail; ``weights_only=False`` would load
them, and would also run whatever code a file someone else made carries.

Importing the extension registers, for local paths, a loader that keeps
``weights_only=True`` and allows, besides tensors and plain containers, only
the types MMEngine checkpoints hold (:data:`CHECKPOINT_GLOBALS`). A file
holding anything else is refused with an error naming the file and the
objects.
"""
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader


def history_buffer_statistic(owner: type, name: str) -> Callable:
    """The ``getattr`` of a pickled :class:`HistoryBuffer`, and nothing more.

    A buffer's state holds its statistics methods (``HistoryBuffer.mean``,
    ...), which pickle stores as ``getattr(HistoryBuffer, 'mean')``.

    Args:
        owner (type): The class the pickle reads the attribute of.
        name (str): The attribute.

    Returns:
        Callable: The registered statistics method ``owner.<name>``.
    """
    # The defaults enter _statistics_methods when a first buffer is made.
    statistics = {'min', 'max', 'current', 'mean'}
    statistics.update(HistoryBuffer._statistics_methods)
    if owner is not HistoryBuffer or name not in statistics:
        raise pickle.UnpicklingError(
            f'getattr({owner!r}, {name!r}) is not a HistoryBuffer statistic')
    return getattr(owner, name)


def _numpy_globals() -> List[Any]:
    """The numpy callables and classes that rebuild scalars and arrays.

    Returns:
        list: Allow-list entries: ``ndarray``, ``dtype`` and the dtype class
        of every bool, integer and float type, and the scalar / array
        constructors under the names numpy 1 (``numpy.core``) and numpy 2
        (``numpy._core``) pickle them with.
    """
    constructors = [np.float64(0).__reduce__()[0], np.zeros(1).__reduce__()[0]]
    renamed = [(function, f'{package}.multiarray.{function.__name__}')
               for function in constructors
               for package in ('numpy.core', 'numpy._core')]
    codes = '?' + np.typecodes['AllInteger'] + np.typecodes['Float']
    dtypes = sorted({type(np.dtype(code)) for code in codes}, key=str)
    return [np.ndarray, np.dtype, *dtypes, *renamed]


#: What a checkpoint may hold besides tensors and containers, as entries of
#: :func:`torch.serialization.safe_globals`.
CHECKPOINT_GLOBALS: List[Any] = [
    HistoryBuffer, (history_buffer_statistic, 'builtins.getattr'),
    *_numpy_globals()
]


def _allowed_names() -> set:
    """set[str]: The pickle names :data:`CHECKPOINT_GLOBALS` allows."""
    return {
        entry[1] if isinstance(entry, tuple) else
        f'{entry.__module__}.{entry.__qualname__}'
        for entry in CHECKPOINT_GLOBALS
    }


def _refusal(filename: str) -> str:
    """The error message for a checkpoint holding objects not allowed.

    Args:
        filename (str): The checkpoint.

    Returns:
        str: The message, naming the file and, for a checkpoint in torch's
        zip format, the objects not allowed.
    """
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except ValueError:  # not torch's zip format
        found = []
    # Otherwise torch's error above says what it refused.
    objects = ', '.join(sorted(set(found) - _allowed_names()))
    objects = objects or 'see the error above'
    return (f'{filename} holds objects other than tensors, containers and '
            f'the types of an MMEngine checkpoint ({objects}); unpickling '
            'them could run code from the file, so it is not loaded. Only if '
            'you trust the file, load it with torch.load(..., '
            'weights_only=False) and save what you need (e.g. its '
            'state_dict).')


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(
        filename: str,
        map_location: Optional[Union[str, torch.device]] = None) -> dict:
    """Load a local checkpoint file with ``weights_only=True``.

    Args:
        filename (str): Local checkpoint path (``~`` is expanded).
        map_location (str | torch.device, optional): Same as
            :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with torch.serialization.safe_globals(CHECKPOINT_GLOBALS):
        try:
            return torch.load(
                filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as error:
            raise pickle.UnpicklingError(_refusal(filename)) from error
