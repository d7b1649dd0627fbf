"""Tiny fake PASCAL VOC and Cityscapes trees in the layout of
docs/data_preparation.md, for tests that build the paper configs' datasets.

Import it as ``from tests.helpers import fake_trees``.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image

from dst_cbc.datasets import write_list


def write_image(path: str, size: Sequence[int], seed: int) -> None:
    """A uniformly coloured RGB image of ``size`` = (width, height)."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.zeros((h, w, 3), np.uint8) + rng.integers(0, 255, 3, np.uint8)
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(img).save(path)


def write_label(path: str,
                size: Sequence[int],
                num_classes: int,
                palette: bool = False) -> None:
    """Top half class 0, bottom-left quarter the last class, rest 255."""
    w, h = size
    label = np.full((h, w), 255, np.uint8)
    label[:h // 2] = 0
    label[h // 2:, :w // 2] = num_classes - 1
    img = Image.fromarray(label)
    if palette:  # VOC's own PNGs are palette images
        img = img.convert('P')
        img.putpalette([0, 0, 0] * 256)
    os.makedirs(osp.dirname(path), exist_ok=True)
    img.save(path)


def write_splits(root: str, names: List[str], labeled: Dict[int, int]) -> None:
    """``splits/split{s}/{labeled,unlabeled}_1-{k}.txt``, s = 1, 2, 3: split
    s starts 3 * (s - 1) names later in ``names``; ratio k labels
    ``labeled[k]``."""
    for s in (1, 2, 3):
        order = names[3 * (s - 1):] + names[:3 * (s - 1)]
        for k, n in labeled.items():
            write_list(
                osp.join(root, f'splits/split{s}/labeled_1-{k}.txt'),
                order[:n])
            write_list(
                osp.join(root, f'splits/split{s}/unlabeled_1-{k}.txt'),
                order[n:])


def fake_voc(root: str, num_train: int, num_val: int,
             labeled: Dict[int, int]) -> Dict[str, List[str]]:
    """``data/VOCdevkit/VOC2012`` after voc_aug.py, the label copies and
    make_splits.py: 500x375 and 375x500 images, train labels in
    SegmentationClassAug, val labels (palette PNGs) in SegmentationClass
    and SegmentationClassAug, the lists, valtiny (the first two val images).

    Returns:
        dict: The ``train`` and ``val`` names.
    """
    names = dict(
        train=[f'2008_{i:06d}' for i in range(num_train)],
        val=[f'2007_{i:06d}' for i in range(num_val)])
    for i, name in enumerate(names['train'] + names['val']):
        size = (500, 375) if i % 2 else (375, 500)
        write_image(osp.join(root, 'JPEGImages', name + '.jpg'), size, i)
        val = name in names['val']
        folders = ['SegmentationClassAug'
                   ] + (['SegmentationClass'] if val else [])
        for folder in folders:
            write_label(
                osp.join(root, folder, name + '.png'), size, 21, palette=val)
    write_list(
        osp.join(root, 'ImageSets/Segmentation/trainaug.txt'), names['train'])
    write_list(osp.join(root, 'ImageSets/Segmentation/val.txt'), names['val'])
    write_list(osp.join(root, 'splits/valtiny.txt'), names['val'][:2])
    write_splits(root, names['train'], labeled)
    return names


def fake_cityscapes(
    root: str,
    num_train: int,
    num_val: int,
    labeled: Dict[int, int],
    size: Sequence[int] = (1024, 512)
) -> Dict[str, List[str]]:
    """``data/cityscapes`` after cityscapes.py and make_splits.py, images of
    ``size`` (default half size, 1024x512, to keep tests fast: the
    pipelines resize to absolute or relative sizes alike); valtiny is the
    first val image.

    Returns:
        dict: The ``train`` and ``val`` names.
    """
    names = {
        'train': [f'aachen/aachen_{i:06d}_000019' for i in range(num_train)],
        'val': [f'lindau/lindau_{i:06d}_000019' for i in range(num_val)],
    }
    for split, items in names.items():
        for i, name in enumerate(items):
            write_image(
                osp.join(root, 'leftImg8bit', split,
                         name + '_leftImg8bit.png'), size, i)
            write_label(
                osp.join(root, 'gtFine', split,
                         name + '_gtFine_labelTrainIds.png'), size, 19)
        write_list(osp.join(root, f'{split}.txt'), items)
    write_list(osp.join(root, 'splits/valtiny.txt'), names['val'][:1])
    write_splits(root, names['train'], labeled)
    return names
