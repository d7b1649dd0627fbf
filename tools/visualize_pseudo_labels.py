"""Overlay one round's pseudo labels on their images, next to the ground truth.

Usage: python tools/visualize_pseudo_labels.py WORK_DIR --round R [--num N]
       [--out DIR] [--config CONFIG] [--opacity 0.5] [--scale 1]

Everything is found from the run itself: the config that ``tools/train.py``
saved in WORK_DIR (pass ``--config`` if there are several ``.py`` files there)
names the unlabeled images (``train_dataloader.dataset.unlabeled``, split
filled in) and the pseudo-label folder (``PseudoLabelHook.out_dir``, default
``pseudo_labels``); round R's labels are read from
``WORK_DIR/<out_dir>/round_R/``. Relative paths in the config (``data_root``)
are resolved from the current directory, as during training.

For each of the first N unlabeled images (list order) one PNG is written to
``DIR/<name>.png`` (default ``WORK_DIR/pseudo_label_vis/round_R/``): the
image, the pseudo labels over it and, when the image has a ground-truth map,
the ground truth over it, side by side. Classes take the dataset's palette;
ignored pixels (255, not confident enough this round) are hatched dark grey.
"""
import argparse
import copy
import glob
import os.path as osp
import sys
from typing import List, Optional

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import dst_cbc  # noqa: F401  (registers the extension's modules)
from dst_cbc.datasets import unlabeled_dataset_cfg
from dst_cbc.pseudo_labels import label_files, labeled_rounds, round_folder
from dst_cbc.utils import atomic_write_png, load_ground_truth
from dst_cbc.visualization import overlay, side_by_side, upscale
from mmseg.registry import DATASETS

IGNORE_INDEX = 255


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='work dir of a DST-CBC run')
    parser.add_argument(
        '--round',
        type=int,
        required=True,
        help='self-training round (1..R) whose labels to draw')
    parser.add_argument(
        '--num', type=int, default=8, help='number of images (default 8)')
    parser.add_argument(
        '--out',
        help='output folder (default '
        'WORK_DIR/pseudo_label_vis/round_R)')
    parser.add_argument(
        '--config',
        help='the run config (default: the one '
        '.py file tools/train.py saved in WORK_DIR)')
    parser.add_argument(
        '--opacity',
        type=float,
        default=0.5,
        help='weight of the class colours (default 0.5)')
    parser.add_argument(
        '--scale',
        type=int,
        default=1,
        help='integer enlargement of the output (default 1)')
    args = parser.parse_args(argv)
    if args.round < 1:
        parser.error(f'--round must be >= 1 (round 0 has no pseudo labels), '
                     f'got {args.round}')
    if args.num < 1:
        parser.error(f'--num must be >= 1, got {args.num}')
    if args.scale < 1:
        parser.error(f'--scale must be >= 1, got {args.scale}')
    if not 0 <= args.opacity <= 1:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    return args


def find_config(work_dir: str) -> str:
    """The config ``tools/train.py`` saved in a work dir.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str: Path of the only ``*.py`` file directly in ``work_dir``.

    Raises:
        FileNotFoundError: ``work_dir`` is missing or holds no config.
        ValueError: It holds several ``.py`` files.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir not found: {work_dir}')
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if not configs:
        raise FileNotFoundError(
            f'no config (*.py) in {work_dir}; pass --config')
    if len(configs) > 1:
        raise ValueError(f'several configs in {work_dir}: '
                         f'{[osp.basename(c) for c in configs]}; pass '
                         '--config')
    return configs[0]


def pseudo_label_dir(cfg: Config, work_dir: str, rnd: int) -> str:
    """Folder of round ``rnd``'s pseudo labels, checked complete.

    Args:
        cfg (Config): The run config.
        work_dir (str): The run's work dir.
        rnd (int): The round.

    Returns:
        str: ``work_dir/<PseudoLabelHook out_dir>/round_<rnd>``.

    Raises:
        FileNotFoundError: The folder or its ``stats.json`` (written last,
            once every label is on disk) is missing.
    """
    hooks = [
        h for h in cfg.get('custom_hooks', None) or []
        if h.get('type') == 'PseudoLabelHook'
    ]
    out_dir = hooks[0].get('out_dir', 'pseudo_labels') if hooks else \
        'pseudo_labels'
    done = labeled_rounds(work_dir, out_dir)
    if rnd not in done:
        raise FileNotFoundError(
            f'round {rnd} has no complete pseudo labels in '
            f'{round_folder(work_dir, out_dir, rnd)}; labeled rounds: '
            f'{[f"round_{r}" for r in done] or "none"}')
    return round_folder(work_dir, out_dir, rnd)


def unlabeled_dataset(cfg: Config):
    """The run's unlabeled images, reading their ground truth if any.

    Args:
        cfg (Config): The run config.

    Returns:
        tuple[BaseDataset, dict, list]: The unlabeled dataset (split
        resolved), its config and the palette of the classes.
    """
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    unlabeled_cfg = unlabeled_dataset_cfg(dataset_cfg)
    if unlabeled_cfg is None:
        raise ValueError('train_dataloader.dataset has no unlabeled images')
    semi = DATASETS.build(dict(dataset_cfg, pseudo_label_dir=None))
    return semi.unlabeled, unlabeled_cfg, semi.metainfo['palette']


def render(image: np.ndarray, pseudo: np.ndarray, gt: Optional[np.ndarray],
           palette: list, opacity: float, scale: int) -> np.ndarray:
    """Image | pseudo labels over it | ground truth over it (if any).

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        pseudo (np.ndarray): (H, W) pseudo labels.
        gt (np.ndarray, optional): (H, W) ground truth.
        palette (list): RGB colour per class.
        opacity (float): Weight of the class colours.
        scale (int): Integer enlargement.

    Returns:
        np.ndarray: The panels side by side, uint8 RGB.
    """
    panels = [image, overlay(image, pseudo, palette, opacity, IGNORE_INDEX)]
    if gt is not None:
        panels.append(overlay(image, gt, palette, opacity, IGNORE_INDEX))
    return side_by_side([upscale(p, scale) for p in panels])


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Write the overlays and print where they are.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        list[str]: The written files.
    """
    args = parse_args(argv)
    cfg = Config.fromfile(args.config or find_config(args.work_dir))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    label_dir = pseudo_label_dir(cfg, args.work_dir, args.round)
    dataset, unlabeled_cfg, palette = unlabeled_dataset(cfg)
    label_paths = label_files(unlabeled_cfg, label_dir)
    out_dir = args.out or osp.join(args.work_dir, 'pseudo_label_vis',
                                   f'round_{args.round}')
    written = []
    for idx in range(min(args.num, len(dataset))):
        info = dataset.get_data_info(idx)
        label_path = label_paths[idx]
        if not osp.isfile(label_path):
            raise FileNotFoundError(
                f'no pseudo label for {info["img_path"]}: {label_path}')
        image = mmcv.imread(info['img_path'], channel_order='rgb')
        with Image.open(label_path) as f:
            pseudo = np.asarray(f)
        if pseudo.shape != image.shape[:2]:
            raise ValueError(f'pseudo label {label_path} has shape '
                             f'{pseudo.shape}, its image {image.shape[:2]}')
        gt = load_ground_truth(info, dataset.reduce_zero_label)
        picture = render(image, pseudo, gt, palette, args.opacity, args.scale)
        name = osp.splitext(osp.relpath(label_path, label_dir))[0] + '.png'
        path = osp.join(out_dir, name)
        atomic_write_png(path, picture)
        written.append(path)
    classes = dataset.metainfo['classes']
    legend = ', '.join(f'{c} {tuple(p)}' for c, p in zip(classes, palette))
    print(f'wrote {len(written)} images to {out_dir} (image | pseudo labels '
          f'| ground truth if any); colours: {legend}; ignored: hatched dark '
          'grey')
    return written


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except (OSError, ValueError) as error:
        sys.exit(f'visualize_pseudo_labels.py: error: {error}')
