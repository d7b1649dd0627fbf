"""Labeled/unlabeled splits and the small validation set ``valtiny``.

The project's own nested splits (:func:`nested_splits`, any dataset) and the
DST-CBC authors' lists of PASCAL VOC and Cityscapes (:func:`paper_splits`).
Pure Python apart from reading label PNGs (numpy + Pillow); no torch.
"""
import os
import os.path as osp
import random
import re
import tempfile
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
from PIL import Image

Splits = Dict[int, Dict[int, Tuple[List[str], List[str]]]]


def labeled_count(num_names: int, ratio: int, batch_size: int = 8) -> int:
    """Number of labeled names for ratio ``1/ratio``.

    ``n = int(num_names / ratio)``, plus one when ``n % batch_size == 1``
    (a last batch of one sample breaks BatchNorm) and a name is left.

    Args:
        num_names (int): Size of the training list.
        ratio (int): k of the ratio 1/k (>= 1).
        batch_size (int): Labeled batch size. Defaults to 8.

    Returns:
        int: The labeled count.

    Raises:
        ValueError: ``ratio`` < 1 or ``batch_size`` < 1, or the count is 0.
    """
    if not isinstance(ratio, int) or ratio < 1:
        raise ValueError(f'ratio must be an int >= 1, got {ratio!r}')
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'batch_size must be an int >= 1, got '
                         f'{batch_size!r}')
    count = int(num_names / ratio)
    if count == 0:
        raise ValueError(f'ratio 1/{ratio} of {num_names} names leaves no '
                         'labeled name')
    if count % batch_size == 1 and count < num_names:
        count += 1
    return count


def nested_splits(names: List[str],
                  ratios: List[int],
                  num_splits: int = 3,
                  seed: int = 0,
                  batch_size: int = 8) -> Splits:
    """Nested labeled/unlabeled splits of a training list.

    The names are sorted first, so the result depends on the set of names
    only. Split ``s`` (1..num_splits) shuffles them with a random generator
    seeded by ``(seed, s)``; the labeled set of ratio 1/k is the first
    :func:`labeled_count` names of that shuffle, hence a larger ratio's
    labeled set contains every smaller one. Both lists keep the shuffle
    order (labeled + unlabeled == the shuffle).

    Args:
        names (list[str]): Training names (unique, non-empty list).
        ratios (list[int]): The k of each ratio 1/k.
        num_splits (int): Number of shuffles. Defaults to 3.
        seed (int): Base seed. Defaults to 0.
        batch_size (int): Labeled batch size. Defaults to 8.

    Returns:
        dict[int, dict[int, tuple[list[str], list[str]]]]:
        ``splits[s][k] = (labeled, unlabeled)``.

    Raises:
        ValueError: Empty or duplicated names, no ratio, a bad ratio or
            ``num_splits`` < 1, or a ratio that leaves no labeled name.
    """
    if not names:
        raise ValueError('the list of names is empty')
    duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
    if duplicates:
        raise ValueError(f'duplicate names: {duplicates[:5]}')
    if not ratios:
        raise ValueError('no ratio given')
    if not isinstance(num_splits, int) or num_splits < 1:
        raise ValueError(f'num_splits must be an int >= 1, got '
                         f'{num_splits!r}')
    counts = {k: labeled_count(len(names), k, batch_size) for k in ratios}
    splits: Splits = {}
    for split in range(1, num_splits + 1):
        order = sorted(names)
        # A str seed is hashed with SHA-512: stable across runs and
        # platforms, and distinct for every (seed, split).
        random.Random(f'nested_splits:{seed}:{split}').shuffle(order)
        splits[split] = {k: (order[:n], order[n:]) for k, n in counts.items()}
    return splits


def paper_splits(folder: str) -> Splits:
    """The authors' nested splits, from their labeled lists.

    ``folder`` holds the authors' ``{k}_labeled_{s}.txt`` (ratio 1/k,
    shuffle s = 0, 1, 2). ``1_labeled_{s}.txt`` is the whole training set in
    the order of shuffle s; the unlabeled set of ratio 1/k is the rest of
    that order, which is the authors' ``{k}_unlabeled_{s}.txt``. Shuffle s
    becomes split s + 1.

    Args:
        folder (str): Folder of the lists, e.g. ``paper_splits/Cityscapes``.

    Returns:
        dict[int, dict[int, tuple[list[str], list[str]]]]:
        ``splits[s + 1][k] = (labeled, unlabeled)`` for every k > 1.

    Raises:
        FileNotFoundError: ``folder`` or a shuffle's ``1_labeled_{s}.txt``
            is missing.
        ValueError: A list repeats a name or names one that is not in its
            shuffle's ``1_labeled_{s}.txt``, or the folder has no ratio.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'split folder not found: {folder}')
    pattern = re.compile(r'^(\d+)_labeled_(\d+)\.txt$')
    found = [pattern.match(name) for name in sorted(os.listdir(folder))]
    lists = sorted((int(m[2]), int(m[1])) for m in found if m)
    ratios = sorted({k for _, k in lists if k != 1}, reverse=True)
    if not ratios:
        raise ValueError(
            f'{folder} holds no {{k}}_labeled_{{s}}.txt list with k > 1')
    splits: Splits = {}
    for shuffle in sorted({s for s, _ in lists}):
        order = _unique_names(osp.join(folder, f'1_labeled_{shuffle}.txt'))
        splits[shuffle + 1] = {}
        for k in ratios:
            path = osp.join(folder, f'{k}_labeled_{shuffle}.txt')
            labeled = _unique_names(path)
            outside = sorted(set(labeled) - set(order))
            if outside:
                raise ValueError(f'{path} names {len(outside)} image(s) not '
                                 f'in 1_labeled_{shuffle}.txt, e.g. '
                                 f'{outside[:3]}')
            chosen = set(labeled)
            splits[shuffle + 1][k] = (labeled, [
                name for name in order if name not in chosen
            ])
    return splits


def check_same_names(names: Sequence[str], source: str,
                     reference: Sequence[str], reference_source: str) -> None:
    """Check that two lists name the same images (in any order).

    Args:
        names (Sequence[str]): The names to check.
        source (str): Where ``names`` come from, for the error.
        reference (Sequence[str]): The expected names.
        reference_source (str): Where ``reference`` comes from.

    Raises:
        ValueError: Names are missing from ``names`` or foreign to
            ``reference``; the message counts both and shows a few.
    """
    missing = sorted(set(reference) - set(names))
    extra = sorted(set(names) - set(reference))
    if missing or extra:
        raise ValueError(
            f'{source} and {reference_source} list different images: '
            f'{len(missing)} of the latter missing (e.g. {missing[:3]}), '
            f'{len(extra)} not in it (e.g. {extra[:3]})')


def _unique_names(path: str) -> List[str]:
    """:func:`read_list`, refusing a list that repeats a name."""
    names = read_list(path)
    duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
    if duplicates:
        raise ValueError(f'{path} repeats names: {duplicates[:3]}')
    return names


def pick_valtiny(presence: Dict[str, Set[int]],
                 num_classes: int,
                 seed: int = 0) -> List[str]:
    """Pick one validation image per class, as the paper's ``valtiny``.

    Classes are visited from the rarest (fewest images) to the most common,
    ties by class id; for each, one image containing it that is not picked
    yet is drawn with a generator seeded by ``seed`` (a class whose images
    are all picked already is skipped). The result shows every class present
    in some image, with one image per present class where the images allow
    it: about 20 images on VOC, 19 on Cityscapes, 11 on CamVid.

    Args:
        presence (dict[str, set[int]]): Classes present in each image.
        num_classes (int): Number of classes; ids must be below it.
        seed (int): Seed of the draws. Defaults to 0.

    Returns:
        list[str]: The picked names, sorted.

    Raises:
        ValueError: ``presence`` is empty, ``num_classes`` < 1, or an image
            holds a class id outside ``[0, num_classes)``.
    """
    if not presence:
        raise ValueError('presence is empty: no validation image')
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f'num_classes must be an int >= 1, got '
                         f'{num_classes!r}')
    holders: Dict[int, List[str]] = {}
    for name in sorted(presence):
        for cls in presence[name]:
            if not 0 <= cls < num_classes:
                raise ValueError(f'image {name} holds class {cls}, outside '
                                 f'[0, {num_classes})')
            holders.setdefault(cls, []).append(name)
    rng = random.Random(f'pick_valtiny:{seed}')
    picked: List[str] = []
    for cls in sorted(holders, key=lambda c: (len(holders[c]), c)):
        free = [name for name in holders[cls] if name not in picked]
        if free:
            picked.append(rng.choice(free))
    return sorted(picked)


def class_presence(
        ann_dir: str,
        names: Iterable[str],
        seg_map_suffix: str,
        ignore_index: int = 255,
        label_map: Optional[Dict[int, int]] = None) -> Dict[str, Set[int]]:
    """Read label maps and list the classes present in each.

    Args:
        ann_dir (str): Folder of the label maps.
        names (Iterable[str]): Names without suffix.
        seg_map_suffix (str): Label file suffix, e.g. '.png'.
        ignore_index (int): Label left out of the result. Defaults to 255.
        label_map (dict[int, int], optional): Old -> new label ids, applied
            before ``ignore_index`` is dropped (e.g. ``{11: 255}``).
            Defaults to None.

    Returns:
        dict[str, set[int]]: Class ids present in each image.

    Raises:
        FileNotFoundError: A label file is missing (named in the message).
    """
    presence = {}
    for name in names:
        path = osp.join(ann_dir, name + seg_map_suffix)
        if not osp.isfile(path):
            raise FileNotFoundError(f'label map not found: {path}')
        with Image.open(path) as img:
            values = np.unique(np.asarray(img)).tolist()
        mapped = {(label_map or {}).get(v, v) for v in values}
        presence[name] = mapped - {ignore_index}
    return presence


def read_list(path: str) -> List[str]:
    """Read a name list (one per line; blank lines skipped).

    Args:
        path (str): List file.

    Returns:
        list[str]: The names.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file lists no name.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'name list not found: {path}')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f'name list is empty: {path}')
    return names


def write_list(path: str, names: Iterable[str]) -> None:
    """Write names one per line, through a temporary file renamed at the end.

    Args:
        path (str): Destination file (parent folders are created).
        names (Iterable[str]): Names to write.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(''.join(f'{name}\n' for name in names))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_splits(out_dir: str, splits: Splits) -> List[str]:
    """Write ``split{s}/labeled_1-{k}.txt`` and ``unlabeled_1-{k}.txt``.

    Args:
        out_dir (str): Output folder.
        splits (dict): Result of :func:`nested_splits`.

    Returns:
        list[str]: The written paths.
    """
    written = []
    for split, by_ratio in splits.items():
        for ratio, (labeled, unlabeled) in by_ratio.items():
            for kind, names in (('labeled', labeled), ('unlabeled',
                                                       unlabeled)):
                path = osp.join(out_dir, f'split{split}',
                                f'{kind}_1-{ratio}.txt')
                write_list(path, names)
                written.append(path)
    return written
