"""The pseudo-label folder of a round: the one owner of its file format.

A round's labels live in ``<work_dir>/<out_dir>/round_<r>/``:

- one 8-bit grayscale PNG per unlabeled image (class ids, ``255`` =
  ignored), named as the unlabeled dataset names its segmentation maps
  (``<name><seg_map_suffix>``, sub-folders of the list kept), so that the
  dataset config of :func:`label_dataset_cfg` reads them back;
- with stored confidences (the OW ablation), ``<name>.conf.png`` next to
  each label: a 16-bit PNG of ``q = round(65535 * p)``, read back as
  ``q / 65535``, within ``1 / 131070`` (about 7.6e-6) of the labeling
  model's max softmax ``p``;
- ``stats.json``, the labeler's statistics (:func:`write_stats`);
- ``manifest.json``, the folder's identity (round, alpha, checkpoint and
  its SHA-256, config fingerprint) and a ``complete`` flag set once every
  file is written (:func:`reusable_labels`);
- ``.scratch/`` while the labeler runs.

Every file is written to a temporary name and renamed.
"""
import copy
import glob
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
import torch
from torch import Tensor

from mmseg.registry import DATASETS
from ..utils import atomic_write_json, atomic_write_png, read_json

MANIFEST_FILE = 'manifest.json'
STATS_FILE = 'stats.json'
SCRATCH_DIR = '.scratch'
#: zlib level of the label and confidence PNGs: files written once a round
#: and read a few times, where level 1 encodes ~3x faster than PIL's 6.
LABEL_COMPRESS_LEVEL = 1
#: Replaces a pseudo label's extension to name its confidence map.
CONFIDENCE_SUFFIX = '.conf.png'
#: A stored confidence ``q`` (uint16) stands for ``q / CONFIDENCE_SCALE``.
CONFIDENCE_SCALE = 65535
ROUND_PREFIX = 'round_'


@dataclass(frozen=True)
class PseudoLabels:
    """One round's pseudo labels, handed from the labeler to the loop.

    Args:
        folder (str): The round's label folder.
        stats (dict): The labeler's statistics (``stats.json``).
    """

    folder: str
    stats: dict


def round_folder(work_dir: str, out_dir: str, rnd: int) -> str:
    """Folder of round ``rnd``'s pseudo labels.

    Args:
        work_dir (str): The run's work dir.
        out_dir (str): Folder of all rounds inside it (``PseudoLabelHook``'s
            ``out_dir``).
        rnd (int): The round, >= 1.

    Returns:
        str: ``work_dir/out_dir/round_<rnd>``.
    """
    return osp.join(work_dir, out_dir, f'{ROUND_PREFIX}{rnd}')


def labeled_rounds(work_dir: str, out_dir: str) -> List[int]:
    """Rounds whose label folders are complete (their stats are written).

    Args:
        work_dir (str): The run's work dir.
        out_dir (str): Folder of all rounds inside it.

    Returns:
        list[int]: The rounds, ascending.
    """
    pattern = osp.join(work_dir, out_dir, ROUND_PREFIX + '*', STATS_FILE)
    return sorted(
        int(osp.basename(osp.dirname(p))[len(ROUND_PREFIX):])
        for p in glob.glob(pattern))


def label_dataset_cfg(unlabeled_cfg: dict, folder: str) -> dict:
    """Turn the unlabeled set's config into one that reads a round's labels.

    The image paths stay as they are; the segmentation maps are read from
    ``folder`` with the dataset's own naming, so the label of the image
    listed as ``<name>`` is ``folder/<name><seg_map_suffix>``. Pseudo labels
    are class ids of the model already (255 = ignore), so
    ``reduce_zero_label`` is switched off.

    Args:
        unlabeled_cfg (dict): Dataset config of the unlabeled images, in the
            MMSeg layout (``data_root``, ``data_prefix``, ``ann_file``...).
        folder (str): The round's label folder. A relative local path is
            made absolute (relative to the working directory), so it is not
            joined to ``data_root``.

    Returns:
        dict: A deep copy of ``unlabeled_cfg`` with
        ``data_prefix['seg_map_path'] = folder`` and
        ``reduce_zero_label=False``.
    """
    if '://' not in folder:
        folder = osp.abspath(folder)
    cfg = copy.deepcopy(unlabeled_cfg)
    data_prefix = dict(cfg.get('data_prefix', None) or {})
    data_prefix['seg_map_path'] = folder
    cfg['data_prefix'] = data_prefix
    cfg['reduce_zero_label'] = False
    return cfg


def label_files(unlabeled_cfg: dict, folder: str) -> List[str]:
    """Where each unlabeled image's pseudo label is written and read.

    Args:
        unlabeled_cfg (dict): Dataset config of the unlabeled images.
        folder (str): The round's label folder.

    Returns:
        list[str]: The label path of every image, in the dataset's order
        (``indices`` honoured): the ``seg_map_path`` of the dataset
        :func:`label_dataset_cfg` builds.
    """
    cfg = label_dataset_cfg(unlabeled_cfg, folder)
    dataset = DATASETS.build(dict(cfg, pipeline=[], serialize_data=False))
    return [
        dataset.get_data_info(i)['seg_map_path'] for i in range(len(dataset))
    ]


def confidence_file(label_file: str) -> str:
    """Path of the confidence map stored with a pseudo label.

    Args:
        label_file (str): The pseudo label's path, e.g. ``round_1/a.png``.

    Returns:
        str: The label's path with its extension replaced by
        :data:`CONFIDENCE_SUFFIX`, e.g. ``round_1/a.conf.png``.
    """
    return osp.splitext(label_file)[0] + CONFIDENCE_SUFFIX


def encode_confidence(confidence: Tensor) -> np.ndarray:
    """Quantize confidences in [0, 1] to uint16 ``round(65535 * p)``.

    Args:
        confidence (Tensor): Probabilities, any shape and float dtype.

    Returns:
        np.ndarray: uint16 array of the same shape; :func:`decode_confidence`
        reads it back within ``0.5 / 65535`` of ``confidence``.
    """
    scaled = confidence.detach().cpu().double().clamp(0.0, 1.0)
    return torch.round(scaled * CONFIDENCE_SCALE).numpy().astype(np.uint16)


def decode_confidence(stored: np.ndarray) -> np.ndarray:
    """Confidences from their uint16 encoding (:func:`encode_confidence`).

    Args:
        stored (np.ndarray): uint16 array.

    Returns:
        np.ndarray: float32 ``stored / 65535``, in [0, 1].
    """
    if stored.dtype != np.uint16:
        raise TypeError(
            f'stored confidences must be uint16, got {stored.dtype}')
    return stored.astype(np.float32) / np.float32(CONFIDENCE_SCALE)


def write_label(label_file: str,
                label: np.ndarray,
                confidence: Optional[np.ndarray] = None) -> None:
    """Write one image's pseudo label (and its encoded confidence map).

    Args:
        label_file (str): Where the label goes (from :func:`label_files`).
        label (np.ndarray): (H, W) uint8 class ids, 255 ignored.
        confidence (np.ndarray, optional): (H, W) uint16 from
            :func:`encode_confidence`, written to :func:`confidence_file`.
    """
    if label.dtype != np.uint8:
        raise TypeError(f'pseudo labels must be uint8, got {label.dtype}')
    atomic_write_png(label_file, label, LABEL_COMPRESS_LEVEL)
    if confidence is not None:
        if confidence.dtype != np.uint16:
            raise TypeError(
                f'stored confidences must be uint16, got {confidence.dtype}')
        atomic_write_png(
            confidence_file(label_file), confidence, LABEL_COMPRESS_LEVEL)


def read_confidence(label_file: str,
                    backend_args: Optional[dict] = None) -> np.ndarray:
    """Read the confidence map stored with a pseudo label.

    Args:
        label_file (str): The pseudo label's path.
        backend_args (dict, optional): MMEngine file backend arguments.

    Returns:
        np.ndarray: (H, W) float32 confidences in [0, 1].

    Raises:
        FileNotFoundError: If the label has no confidence map.
        ValueError: If the map is not a 16-bit PNG.
    """
    path = confidence_file(label_file)
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f'{path} does not exist; the pseudo labels must be written with '
            'PseudoLabelHook(store_confidence=True)') from error
    stored = mmcv.imfrombytes(data, flag='unchanged', backend='cv2')
    if stored.dtype != np.uint16 or stored.ndim != 2:
        raise ValueError(f'{path} must be a 16-bit single-channel map, got '
                         f'{stored.dtype} {stored.shape}')
    return decode_confidence(stored)


def write_stats(folder: str, stats: dict) -> None:
    """Write the labeler's statistics to ``folder/stats.json``."""
    atomic_write_json(osp.join(folder, STATS_FILE), stats)


def read_stats(folder: str) -> dict:
    """The labeler's statistics of a label folder."""
    return read_json(osp.join(folder, STATS_FILE))


def read_manifest(folder: str) -> Optional[dict]:
    """The folder's manifest, or None when it has none."""
    path = osp.join(folder, MANIFEST_FILE)
    return read_json(path) if osp.isfile(path) else None


def write_manifest(folder: str, manifest: dict) -> None:
    """Write the folder's manifest."""
    atomic_write_json(osp.join(folder, MANIFEST_FILE), manifest)


def reusable_labels(folder: str, identity: dict) -> Optional[PseudoLabels]:
    """The folder's labels if it is complete and was made as ``identity``.

    Args:
        folder (str): A round's label folder.
        identity (dict): What the labels must have been made from
            (``config`` fingerprint, round, alpha, checkpoint...).

    Returns:
        PseudoLabels | None: The complete labels with their stats, or None
        when the folder is missing, incomplete or made from another
        checkpoint or alpha (it is then to be regenerated).

    Raises:
        ValueError: If the folder belongs to another config.
    """
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    if manifest.get('config') != identity['config']:
        raise ValueError(
            f'{folder} holds pseudo labels of another run or config (its '
            f'{MANIFEST_FILE} has another config fingerprint); use another '
            '--work-dir or delete that folder')
    if manifest.get('complete') and all(
            manifest.get(k) == v for k, v in identity.items()):
        return PseudoLabels(folder, read_stats(folder))
    return None
