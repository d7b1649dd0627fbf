"""Generate the synthetic textured-shapes dataset and its splits.

Every image shows a cluttered, textured background with a few overlapping
convex objects. An object's class is given by its colour family AND its
texture, never by its shape (shapes are drawn independently of the class):

==  ===========  ==============  ====================================
id  class        colour family   texture
==  ===========  ==============  ====================================
0   background   any             flat clutter blobs under a
                                 low-frequency colour field and a
                                 faint oriented grain
1   smooth       warm            flat, shaded like a dome
2   striped      warm            bars of random period and angle
3   checkered    cool            checkerboard of random period
4   speckled     cool            coarse per-pixel grain
==  ===========  ==============  ====================================

The two colour families overlap (wide per-instance spread), and every image
gets its own gain, colour cast, contrast, illumination gradient and pixel
noise, so neither colour nor texture alone separates the classes. Objects are
rendered with anti-aliased edges; a pixel that an object's contour crosses
(partial coverage, a blend of two regions) is labelled IGNORE (255), which
gives a one-pixel ignore band along visible object contours, like PASCAL
VOC's boundary band. Edges between two background regions are not marked.

Difficulty, measured on the default data (seed 0, 64x64): a 6-layer CNN
trained 300 iterations (batch 8) reaches about 58 % val mIoU from 32 labeled
images and about 67 % from all 256; 'smooth' is the hardest class (it looks
like clutter) and also the rarest in pixels.

The command writes (nothing is rewritten when ``--out`` already holds the same
data)::

    <out>/img_dir/{train,val}/*.png, <out>/ann_dir/{train,val}/*.png,
    <out>/train.txt, <out>/val.txt, <out>/meta.json,
    <out>/splits/split{1,2,3}/{labeled,unlabeled}_1-{8,4}.txt,
    <out>/splits/valtiny.txt

The default ``--out`` is ``data/synthetic`` in the repository root, whatever
the working directory; an explicit relative ``--out`` is relative to the
working directory.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import tempfile
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

from dst_cbc.datasets.splits import (class_presence, nested_splits,
                                     pick_valtiny, read_list, write_list,
                                     write_splits)
from dst_cbc.datasets.synthetic import SYNTHETIC_CLASSES

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_OUT = osp.join(REPO_ROOT, 'data', 'synthetic')
RATIOS = (8, 4)
NUM_SPLITS = 3
BATCH_SIZE = 8

IGNORE_INDEX = 255
MANIFEST_NAME = 'meta.json'
#: The generator's name in ``meta.json``: the module it first lived in, kept
#: so that data generated before still matches its manifest.
GENERATOR = 'dst_cbc.datasets.synthetic'
GENERATOR_VERSION = 1
SPLITS = ('train', 'val')

# Mean RGB of each object class's colour family; the per-instance spread
# (_COLOUR_STD) makes the warm and cool families overlap.
_CLASS_MEAN_RGB = {
    1: (165., 100., 80.),
    2: (165., 100., 80.),
    3: (85., 115., 155.),
    4: (85., 115., 155.),
}
_COLOUR_STD = 38.


def _convex_polygon(rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw the vertices of a random convex shape, in order around it.

    The shape is an ellipse (32-gon), a rectangle, a triangle or an irregular
    5-7-gon: points on the unit circle mapped by an anisotropic scale, a
    rotation and a translation (an affine map keeps the polygon convex).

    Args:
        rng (np.random.Generator): Random source.
        size (int): Image side in pixels.

    Returns:
        np.ndarray: (M, 2) float vertices as (x, y) pixel coordinates.
    """
    kind = rng.integers(4)
    if kind == 0:
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    elif kind == 1:
        angles = np.pi / 4 + np.arange(4) * np.pi / 2
    else:
        num = 3 if kind == 2 else int(rng.integers(5, 8))
        # Random angles with a minimum gap, so no shape is a sliver.
        gaps = rng.uniform(0.5, 1.0, num)
        angles = rng.uniform(0, 2 * np.pi) + np.cumsum(
            gaps / gaps.sum() * 2 * np.pi)
    radius = rng.uniform(0.1, 0.3) * size
    scale = radius * np.array([1.0, rng.uniform(0.45, 1.0)])
    theta = rng.uniform(0, np.pi)
    rot = np.array([[np.cos(theta), -np.sin(theta)],
                    [np.sin(theta), np.cos(theta)]])
    centre = rng.uniform(0.1, 0.9, 2) * size
    unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return (unit * scale) @ rot.T + centre


def _coverage(vertices: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a convex polygon at pixel centres.

    The signed distance to a convex polygon is approximated by the largest
    signed distance to its edge lines (exact inside); coverage is that
    distance ramped over one pixel: ``clip(0.5 - d, 0, 1)``.

    Args:
        vertices (np.ndarray): (M, 2) vertices (x, y) in order around the
            polygon, in either direction.
        xy (np.ndarray): (H, W, 2) pixel-centre coordinates.

    Returns:
        np.ndarray: (H, W) coverage in [0, 1].
    """
    edges = np.roll(vertices, -1, axis=0) - vertices
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    # Outward normals point away from the centroid.
    outward = np.sign(np.sum(normals * (vertices - vertices.mean(0)), 1))
    normals *= outward[:, None]
    offsets = np.sum(normals * vertices, axis=1)
    dist = (xy @ normals.T - offsets).max(axis=-1)
    return np.clip(0.5 - dist, 0.0, 1.0)


def _local_frame(rng: np.random.Generator,
                 xy: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in a randomly rotated and shifted frame.

    Args:
        rng (np.random.Generator): Random source.
        xy (np.ndarray): (H, W, 2) pixel-centre coordinates.

    Returns:
        tuple[np.ndarray, np.ndarray]: The (H, W) coordinates u and v.
    """
    theta = rng.uniform(0, np.pi)
    shift = rng.uniform(0, 16, 2)
    u = xy[..., 0] * np.cos(theta) + xy[..., 1] * np.sin(theta) + shift[0]
    v = -xy[..., 0] * np.sin(theta) + xy[..., 1] * np.cos(theta) + shift[1]
    return u, v


def _texture(rng: np.random.Generator, label: int, xy: np.ndarray,
             vertices: np.ndarray) -> np.ndarray:
    """The luminance texture of one object of a class.

    Args:
        rng (np.random.Generator): Random source.
        label (int): Class id in 1..4.
        xy (np.ndarray): (H, W, 2) pixel-centre coordinates.
        vertices (np.ndarray): (M, 2) vertices of the object.

    Returns:
        np.ndarray: (H, W) additive luminance offsets.
    """
    u, v = _local_frame(rng, xy)
    height, width = u.shape
    if label == 1:
        # A dome: brightest at the centre, like a lit convex surface.
        centre = vertices.mean(axis=0)
        spread = np.linalg.norm(vertices - centre, axis=1).mean()
        dist2 = np.sum((xy - centre)**2, axis=-1) / spread**2
        return rng.uniform(35, 60) * (np.exp(-dist2) - 0.5)
    if label == 2:
        period = rng.uniform(3.5, 7.0)
        return rng.uniform(18, 40) * np.tanh(
            2 * np.sin(2 * np.pi * u / period))
    if label == 3:
        period = rng.uniform(3.0, 6.0)
        return rng.uniform(18, 40) * np.sign(
            np.sin(np.pi * u / period) * np.sin(np.pi * v / period))
    # Coarse grain: noise on a 2x2 grid, so it is not pixel noise.
    grain = rng.normal(0, 1, ((height + 1) // 2, (width + 1) // 2))
    grain = np.repeat(np.repeat(grain, 2, 0), 2, 1)[:height, :width]
    return rng.uniform(15, 32) * grain


def _background(rng: np.random.Generator, xy: np.ndarray) -> np.ndarray:
    """A cluttered background: blobs under a colour field and faint texture.

    Args:
        rng (np.random.Generator): Random source.
        xy (np.ndarray): (H, W, 2) pixel-centre coordinates.

    Returns:
        np.ndarray: (H, W, 3) float RGB.
    """
    height, width = xy.shape[:2]
    base = rng.uniform(50, 200, 3)
    img = np.broadcast_to(base, (height, width, 3)).copy()
    # Clutter blobs in the background's palette, under the texture below.
    for _ in range(rng.integers(3, 8)):
        alpha = _coverage(
            _convex_polygon(rng, width) * 0.6 + rng.uniform(0, 0.4 * width, 2),
            xy)[..., None]
        img = img * (1 - alpha) + (base + rng.normal(0, 40, 3)) * alpha
    # Low-frequency colour field: a few random plane waves per channel.
    freqs = rng.uniform(-0.08, 0.08, (4, 2))
    phases = rng.uniform(0, 2 * np.pi, 4)
    waves = np.sin(xy @ freqs.T * 2 * np.pi + phases)  # (H, W, 4)
    img += waves @ rng.normal(0, 18, (4, 3))
    # A faint oriented texture that can be mistaken for stripes.
    u, _ = _local_frame(rng, xy)
    img += rng.uniform(5, 14) * np.sin(2 * np.pi * u / rng.uniform(3, 9))[...,
                                                                          None]
    return img


def render_sample(rng: np.random.Generator,
                  size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Render one image and its label map.

    Args:
        rng (np.random.Generator): Random source (consumed).
        size (int): Image side in pixels.

    Returns:
        tuple[np.ndarray, np.ndarray]: The (size, size, 3) uint8 RGB image
        and the (size, size) uint8 label map (0..4, 255 = ignore).
    """
    grid = np.arange(size, dtype=np.float64) + 0.5
    xy = np.stack(np.meshgrid(grid, grid, indexing='xy'), axis=-1)
    img = _background(rng, xy)
    label = np.zeros((size, size), np.uint8)
    # Later objects occlude earlier ones.
    for _ in range(rng.integers(2, 6)):
        cls = int(rng.integers(1, 5))
        vertices = _convex_polygon(rng, size)
        alpha = _coverage(vertices, xy)
        colour = np.asarray(_CLASS_MEAN_RGB[cls]) + rng.normal(
            0, _COLOUR_STD, 3)
        obj = colour + _texture(rng, cls, xy, vertices)[..., None]
        img = img * (1 - alpha[..., None]) + obj * alpha[..., None]
        label[alpha >= 1.0] = cls
        label[(alpha > 0.0) & (alpha < 1.0)] = IGNORE_INDEX
    # Photometric changes of the whole image.
    mean = img.mean(axis=(0, 1))
    img = (img - mean) * rng.uniform(0.65, 1.25) + mean
    gradient = 1 + (xy / size - 0.5) @ rng.uniform(-0.35, 0.35, 2)
    img *= (
        rng.uniform(0.65, 1.3) * rng.uniform(0.85, 1.15, 3) *
        gradient[..., None])
    img += rng.normal(0, rng.uniform(3, 10), img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), label


def _manifest(num_train: int, num_val: int, size: int, seed: int) -> dict:
    """The parameters that identify a generated dataset.

    Args:
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        size (int): Image side in pixels.
        seed (int): Random seed.

    Returns:
        dict: The manifest stored as ``meta.json``.
    """
    return dict(
        generator=GENERATOR,
        version=GENERATOR_VERSION,
        num_train=num_train,
        num_val=num_val,
        size=size,
        seed=seed,
        classes=list(SYNTHETIC_CLASSES))


def _read_manifest(root: str) -> dict:
    """Read ``root/meta.json``, or return None when there is none.

    Args:
        root (str): Dataset folder.

    Returns:
        dict | None: The stored manifest.
    """
    path = osp.join(root, MANIFEST_NAME)
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except ValueError as err:
        raise ValueError(f'{path} is not valid JSON: {err}') from err


def _write_split(tmp_root: str, split: int, count: int, size: int,
                 seed: int) -> List[str]:
    """Write the images, labels and name list of one split.

    Args:
        tmp_root (str): Folder being filled.
        split (int): Index of the split in :data:`SPLITS`.
        count (int): Number of samples.
        size (int): Image side in pixels.
        seed (int): Dataset seed.

    Returns:
        list[str]: The sample names.
    """
    name = SPLITS[split]
    img_dir = osp.join(tmp_root, 'img_dir', name)
    ann_dir = osp.join(tmp_root, 'ann_dir', name)
    os.makedirs(img_dir)
    os.makedirs(ann_dir)
    names = []
    for index in range(count):
        # One independent stream per sample: sample i does not depend on
        # how many samples the split has.
        rng = np.random.default_rng([seed, split, index])
        img, label = render_sample(rng, size)
        sample = f'{name}_{index:05d}'
        Image.fromarray(img, 'RGB').save(osp.join(img_dir, sample + '.png'))
        Image.fromarray(label, 'L').save(osp.join(ann_dir, sample + '.png'))
        names.append(sample)
    with open(osp.join(tmp_root, f'{name}.txt'), 'w', encoding='utf-8') as f:
        f.write(''.join(n + '\n' for n in names))
    return names


def generate_synthetic_dataset(root: str,
                               num_train: int = 256,
                               num_val: int = 64,
                               size: int = 64,
                               seed: int = 0) -> dict:
    """Write the synthetic dataset to ``root`` unless it is already there.

    The folder is filled under a temporary sibling name and renamed to
    ``root`` at the end, so ``root`` is either absent or complete. The same
    parameters always give byte-identical files.

    Args:
        root (str): Destination folder.
        num_train (int): Number of training images. Defaults to 256.
        num_val (int): Number of validation images. Defaults to 64.
        size (int): Image side in pixels (at least 16). Defaults to 64.
        seed (int): Random seed (>= 0). Defaults to 0.

    Returns:
        dict: The manifest (``meta.json``): generator, version, num_train,
        num_val, size, seed and classes.

    Raises:
        ValueError: A parameter is out of range.
        FileExistsError: ``root`` exists and holds something other than a
            dataset generated with these parameters.
    """
    for option, value, low in (('num_train', num_train, 1), ('num_val',
                                                             num_val, 1),
                               ('size', size, 16), ('seed', seed, 0)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f'{option} must be an int >= {low}, '
                             f'got {value!r}')
    root = osp.abspath(root)
    manifest = _manifest(num_train, num_val, size, seed)
    if osp.exists(root) and (not osp.isdir(root) or os.listdir(root)):
        if _read_manifest(root) == manifest:
            return manifest
        raise FileExistsError(
            f'{root} already exists and does not hold the synthetic dataset '
            f'with {manifest}; remove it or choose another folder')
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    tmp_root = tempfile.mkdtemp(
        prefix=f'.{osp.basename(root)}.tmp-', dir=parent)
    try:
        for split, count in enumerate((num_train, num_val)):
            _write_split(tmp_root, split, count, size, seed)
        with open(
                osp.join(tmp_root, MANIFEST_NAME), 'w', encoding='utf-8') as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
        os.chmod(tmp_root, 0o755)
        os.replace(tmp_root, root)
    except OSError:
        # Another process may have finished the same dataset first.
        shutil.rmtree(tmp_root, ignore_errors=True)
        if _read_manifest(root) == manifest:
            return manifest
        raise
    except BaseException:
        shutil.rmtree(tmp_root, ignore_errors=True)
        raise
    return manifest


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--out',
        default=DEFAULT_OUT,
        help='dataset folder (default: <repo>/data/synthetic)')
    parser.add_argument('--num-train', type=int, default=256)
    parser.add_argument('--num-val', type=int, default=64)
    parser.add_argument(
        '--size', type=int, default=64, help='image side in pixels')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the images and of the splits')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Generate the dataset (if absent), write the splits, print the paths.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        list[str]: The dataset folder followed by the written split files.
    """
    args = parse_args(argv)
    root = osp.abspath(args.out)
    generate_synthetic_dataset(root, args.num_train, args.num_val, args.size,
                               args.seed)
    print(f'dataset {root}: {args.num_train} train + {args.num_val} val '
          f'images of {args.size}x{args.size}')
    split_dir = osp.join(root, 'splits')
    splits = nested_splits(
        read_list(osp.join(root, 'train.txt')), list(RATIOS), NUM_SPLITS,
        args.seed, BATCH_SIZE)
    written = write_splits(split_dir, splits)
    presence = class_presence(
        osp.join(root, 'ann_dir', 'val'), read_list(osp.join(root, 'val.txt')),
        '.png')
    valtiny = osp.join(split_dir, 'valtiny.txt')
    write_list(valtiny,
               pick_valtiny(presence, len(SYNTHETIC_CLASSES), args.seed))
    written.append(valtiny)
    for path in written:
        print(f'wrote {path}')
    return [root] + written


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except (OSError, ValueError) as error:
        sys.exit(f'make_synthetic_data.py: error: {error}')
