"""Where a VOC or Cityscapes experiment's config is, per protocol."""
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROTOCOLS = ('corrected', 'paper')


def paper_twin(name: str) -> str:
    """The paper protocol's config of a corrected one.

    Args:
        name (str): Path under configs/ of a corrected-protocol config,
            e.g. ``'dst_cbc/dst-cbc_..._voc-aug-1-20_321x321.py'``.

    Returns:
        str: Its twin: the same name in the folder's ``paper/``, the data
        part suffixed ``-paper``
        (``'dst_cbc/paper/dst-cbc_..._voc-aug-paper-1-20_321x321.py'``).
    """
    folder, base = osp.split(name)
    twin, found = re.subn(r'_(voc-aug|cityscapes)-', r'_\1-paper-', base, 1)
    if not found:
        raise ValueError(f'{name} is not a VOC or Cityscapes config')
    return osp.join(folder, 'paper', twin)


def config_path(name: str, protocol: str = 'corrected') -> str:
    """The absolute path of ``name`` (under configs/) under ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f'protocol {protocol!r} is not one of {PROTOCOLS}')
    if protocol == 'paper':
        name = paper_twin(name)
    return osp.join(ROOT, 'configs', name)
