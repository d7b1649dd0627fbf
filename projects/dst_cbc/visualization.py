"""Label maps as pictures: palette colours, overlays and side-by-side panels.

Pure numpy on ``uint8`` RGB arrays of shape (H, W, 3); used by
``tools/visualize_pseudo_labels.py`` and ``tools/infer.py``. Ignored pixels
(``ignore_index``) are hatched: dark grey on every other diagonal pair of
pixels, the picture darkened in between, so they read as "no label" whatever
the palette.
"""
from typing import Sequence

import numpy as np

IGNORE_COLOR = (64, 64, 64)
HATCH_PERIOD = 4


def _check_label(label: np.ndarray, palette: Sequence[Sequence[int]],
                 ignore_index: int) -> np.ndarray:
    """Check a label map against a palette; return it as an int array."""
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f'a label map must be 2-D, got shape {label.shape}')
    label = label.astype(np.int64)
    bad = (label != ignore_index) & ((label < 0) | (label >= len(palette)))
    if bad.any():
        raise ValueError(
            f'label {int(label[bad][0])} has no palette colour (palette of '
            f'{len(palette)} classes, ignore_index {ignore_index})')
    return label


def hatch_mask(height: int, width: int) -> np.ndarray:
    """The hatching pattern drawn on ignored pixels.

    Args:
        height (int): Rows.
        width (int): Columns.

    Returns:
        np.ndarray: (H, W) bool, True where ``(x + y) % 4 < 2``.
    """
    y, x = np.mgrid[:height, :width]
    return (x + y) % HATCH_PERIOD < HATCH_PERIOD // 2


def colorize(label: np.ndarray,
             palette: Sequence[Sequence[int]],
             ignore_index: int = 255) -> np.ndarray:
    """Paint a label map with the palette; ignored pixels hatched on black.

    Args:
        label (np.ndarray): (H, W) class ids.
        palette (Sequence[Sequence[int]]): One RGB colour per class.
        ignore_index (int): Label of unlabeled pixels. Defaults to 255.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.

    Raises:
        ValueError: ``label`` is not 2-D or holds a class without colour.
    """
    label = _check_label(label, palette, ignore_index)
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    ignored = label == ignore_index
    out = colours[np.where(ignored, 0, label)]
    out[ignored] = 0
    out[ignored & hatch_mask(*label.shape)] = IGNORE_COLOR
    return out


def overlay(image: np.ndarray,
            label: np.ndarray,
            palette: Sequence[Sequence[int]],
            opacity: float = 0.5,
            ignore_index: int = 255) -> np.ndarray:
    """Blend class colours over an image; hatch the ignored pixels.

    A pixel of class c becomes ``round((1 - opacity) * image + opacity *
    palette[c])``; an ignored pixel becomes ``IGNORE_COLOR`` on the hatch
    pattern and ``image // 2`` elsewhere.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        label (np.ndarray): (H, W) class ids.
        palette (Sequence[Sequence[int]]): One RGB colour per class.
        opacity (float): Weight of the class colour, in [0, 1].
            Defaults to 0.5.
        ignore_index (int): Label of unlabeled pixels. Defaults to 255.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.

    Raises:
        ValueError: Shapes differ, ``opacity`` is out of range or a label
            has no colour.
    """
    if not 0 <= opacity <= 1:
        raise ValueError(f'opacity must be in [0, 1], got {opacity}')
    image = np.asarray(image)
    label = _check_label(label, palette, ignore_index)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != \
            label.shape:
        raise ValueError(f'image of shape {image.shape} does not match the '
                         f'label map of shape {label.shape}')
    colours = np.asarray(palette, dtype=np.float64).reshape(-1, 3)
    ignored = label == ignore_index
    blend = ((1 - opacity) * image.astype(np.float64) +
             opacity * colours[np.where(ignored, 0, label)])
    out = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    out[ignored] = image[ignored] // 2
    out[ignored & hatch_mask(*label.shape)] = IGNORE_COLOR
    return out


def side_by_side(panels: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Place RGB panels of equal height left to right, white gaps between.

    Args:
        panels (Sequence[np.ndarray]): (H, W_i, 3) uint8 images.
        gap (int): Width of the white gap in pixels. Defaults to 4.

    Returns:
        np.ndarray: (H, sum(W_i) + gap * (len - 1), 3) uint8 RGB.

    Raises:
        ValueError: No panel, or panels of different heights.
    """
    if not panels:
        raise ValueError('side_by_side needs at least one panel')
    height = panels[0].shape[0]
    if any(p.shape[0] != height for p in panels):
        raise ValueError('panels differ in height: '
                         f'{[p.shape[0] for p in panels]}')
    spacer = np.full((height, gap, 3), 255, dtype=np.uint8)
    parts = []
    for i, panel in enumerate(panels):
        if i:
            parts.append(spacer)
        parts.append(panel)
    return np.concatenate(parts, axis=1)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge an image by an integer factor, nearest neighbour.

    Args:
        image (np.ndarray): (H, W, ...) array.
        factor (int): Scale, >= 1.

    Returns:
        np.ndarray: (H * factor, W * factor, ...) array.
    """
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f'scale factor must be an int >= 1, got {factor!r}')
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
