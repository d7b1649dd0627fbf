"""Compatibility fixes for the pinned OpenMMLab stack on recent PyTorch.

mmengine 0.10.x loads local checkpoints with ``torch.load(filename,
map_location)``. Since torch 2.6 that call defaults to ``weights_only=True``,
which refuses mmengine's own checkpoints (they hold a message hub, numpy
scalars and config objects), so resume, ``load_from`` and ``tools/test.py``
fail. The fix below re-registers mmengine's scheme for local paths once, when
the extension is imported, with a loader that trusts local checkpoint files
the way mmengine did on older torch.
"""
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.runner import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(filename: str,
                          map_location: Optional[Union[str,
                                                       torch.device]] = None
                          ) -> dict:
    """Load a local checkpoint file, including mmengine's runtime state.

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
    return torch.load(filename, map_location=map_location, weights_only=False)
