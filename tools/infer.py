"""Segment your own images with a trained checkpoint.

Usage: python tools/infer.py CONFIG CHECKPOINT INPUT --out DIR
       [--device cpu|cuda|cuda:0] [--opacity 0.5]

INPUT is an image file or a folder (searched recursively for .jpg, .jpeg,
.png, .bmp, .tif, .tiff, .webp). The model runs through MMSegmentation's
``MMSegInferencer`` with the config's test pipeline, as ``tools/test.py``
would. For an input ``<name>.<ext>`` (sub-folders kept) it writes

- ``DIR/pred/<name>.png``: the predicted class ids (8-bit, one per pixel),
- ``DIR/mask/<name>.png``: the classes in the checkpoint's palette,
- ``DIR/overlay/<name>.png``: the palette colours over the image.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

import mmcv
import numpy as np
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import dst_cbc  # noqa: F401  (registers DynamicDLV2Head & co. for the model)
from dst_cbc.utils import atomic_write_png
from dst_cbc.visualization import colorize, overlay
from mmseg.apis import MMSegInferencer

IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class Inferencer(MMSegInferencer):
    """MMSeg's inferencer, collating with ``pseudo_collate`` unless the
    config names a ``test_dataloader.collate_fn``.

    MMEngine looks the function up in the registry tree of the ``mmseg``
    scope, which has no function registry: the lookup logs a warning on
    every run although the default is what it falls back to.
    """

    def _init_collate(self, cfg: ConfigDict):
        if 'collate_fn' not in cfg.get('test_dataloader', {}):
            return pseudo_collate
        return super()._init_collate(cfg)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config',
        help='the model config (e.g. the one '
        'tools/train.py saved in the work dir)')
    parser.add_argument(
        'checkpoint',
        help='checkpoint, e.g. '
        'work_dirs/NAME/round_3_best.pth')
    parser.add_argument('input', help='an image file or a folder of images')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--device',
        default=None,
        help='cpu, cuda or cuda:N (default: cuda if '
        'available, else cpu)')
    parser.add_argument(
        '--opacity',
        type=float,
        default=0.5,
        help='weight of the class colours in the overlay')
    args = parser.parse_args(argv)
    if not 0 <= args.opacity <= 1:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    return args


def list_images(path: str) -> List[Tuple[str, str]]:
    """The images to segment and their output names.

    Args:
        path (str): An image file or a folder.

    Returns:
        list[tuple[str, str]]: ``(image path, name)`` pairs, sorted by path;
        the name is the path relative to the folder (the file name for a
        single file) without its suffix.

    Raises:
        FileNotFoundError: ``path`` does not exist or the folder holds no
            image.
        ValueError: Two images would share an output name.
    """
    if osp.isfile(path):
        return [(path, osp.splitext(osp.basename(path))[0])]
    if not osp.isdir(path):
        raise FileNotFoundError(f'input not found: {path}')
    images = []
    for root, _, files in os.walk(path):
        for file in files:
            if file.lower().endswith(IMG_SUFFIXES):
                full = osp.join(root, file)
                images.append((full, osp.splitext(osp.relpath(full, path))[0]))
    if not images:
        raise FileNotFoundError(
            f'no image ({", ".join(IMG_SUFFIXES)}) under {path}')
    images.sort()
    seen = {}
    for full, name in images:
        if name in seen:
            raise ValueError(f'{seen[name]} and {full} would both be written '
                             f'as {name}.png')
        seen[name] = full
    return images


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Segment the inputs and write labels, colour masks and overlays.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        list[str]: The written label files (``DIR/pred/<name>.png``).
    """
    args = parse_args(argv)
    for option, path in (('CONFIG', args.config), ('CHECKPOINT',
                                                   args.checkpoint)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{option} not found: {path}')
    images = list_images(args.input)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    # The inferencer's own visualizer is not used: no backend, no warning.
    cfg.visualizer.vis_backends = None
    inferencer = Inferencer(
        model=cfg, weights=args.checkpoint, device=args.device)
    inferencer.show_progress = False  # one bar over all images instead
    meta = inferencer.model.dataset_meta
    palette, num_classes = meta['palette'], len(meta['classes'])
    if num_classes > 255 or len(palette) < num_classes:
        raise ValueError(
            f'{args.checkpoint}: {num_classes} classes need 8-bit labels (at '
            f'most 255) and a colour each, got {len(palette)} colours')

    written = []
    progress = ProgressBar(len(images))
    for path, name in images:
        sample = inferencer(path, return_datasamples=True)
        pred = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
        # Decoded as the test pipeline's LoadImageFromFile does (cv2).
        image = mmcv.imread(path, channel_order='rgb')
        label_path = osp.join(args.out, 'pred', name + '.png')
        atomic_write_png(label_path, pred)
        atomic_write_png(
            osp.join(args.out, 'mask', name + '.png'), colorize(pred, palette))
        atomic_write_png(
            osp.join(args.out, 'overlay', name + '.png'),
            overlay(image, pred, palette, args.opacity))
        written.append(label_path)
        progress.update()
    print(f'\nwrote {len(written)} predictions to {args.out}/'
          '{pred,mask,overlay}')
    return written


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except (OSError, ValueError) as error:
        sys.exit(f'infer.py: error: {error}')
