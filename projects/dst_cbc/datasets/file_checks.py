"""The files a dataset lists, checked before anything trains.

For every image of the list: it exists, its header reads as an image and,
for PNG and JPEG, the file ends as a complete one does (a truncated file is
caught without decoding it). For every ground-truth file: it exists when
the dataset needs labels (labeled and val sets; an unlabeled set's ground
truth is optional and only used for statistics), it has its image's size,
and its values (``label_map`` and ``reduce_zero_label`` applied, as
evaluation loads them) are class ids or the ignore index.

Deferred to read time, where the loading transform names the file: the full
decoding of images (it costs as much as an epoch of loading); files behind
a URL (``s3://`` and the like).
"""
import os.path as osp
import time
from typing import List, Optional, Tuple

import numpy as np
from mmengine.logging import print_log
from PIL import Image

from ..utils import load_ground_truth

#: Bad files listed in a refusal per dataset, at most.
MAX_LISTED = 5
#: Bytes at the end of a PNG: the IEND chunk and its CRC.
PNG_END = b'IEND\xaeB`\x82'
#: JPEG's end-of-image marker.
JPEG_END = b'\xff\xd9'
#: Bytes read at a file's end to find its end marker.
TAIL_BYTES = 4096


def _is_remote(path: str) -> bool:
    """Whether ``path`` is a URL, whose checks are deferred."""
    return '://' in path


def _tail(path: str) -> bytes:
    """The last :data:`TAIL_BYTES` bytes of a file."""
    with open(path, 'rb') as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - TAIL_BYTES))
        return f.read()


def image_size(path: str) -> Tuple[Optional[Tuple[int, int]], str]:
    """An image file's ``(height, width)`` from its header, or a problem.

    Args:
        path (str): The image file.

    Returns:
        tuple: ``((height, width), '')``, or ``(None, problem)`` when the
        file is missing, unreadable or truncated.
    """
    if not osp.isfile(path):
        return None, 'is missing'
    try:
        with Image.open(path) as img:
            width, height = img.size
            fmt = img.format
    except (OSError, SyntaxError, ValueError) as e:
        return None, f'cannot be read as an image ({e})'
    end = {'PNG': PNG_END, 'JPEG': JPEG_END}.get(fmt)
    if end is not None and end not in _tail(path):
        return None, (f'is truncated (a {fmt} file ends with '
                      f'{end!r}; re-copy or re-extract it)')
    return (height, width), ''


def label_problem(data_info: dict, shape: Tuple[int, int], num_classes: int,
                  ignore_index: int, reduce_zero_label: bool) -> str:
    """What is wrong with an image's ground truth ('' if nothing).

    Args:
        data_info (dict): The image's data info (``seg_map_path``).
        shape (tuple): The image's ``(height, width)``.
        num_classes (int): Classes of the dataset.
        ignore_index (int): The label of ignored pixels.
        reduce_zero_label (bool): The dataset's ``reduce_zero_label``.

    Returns:
        str: The problem, naming the values or sizes at fault, or ''.
    """
    try:
        label = load_ground_truth(data_info, reduce_zero_label)
    except Exception as e:  # any decoding failure, reported with the file
        return f'cannot be decoded ({e})'
    if label.shape[:2] != shape:
        return (f'is {label.shape[1]}x{label.shape[0]} (width x height) '
                f'but its image {data_info["img_path"]} is '
                f'{shape[1]}x{shape[0]}')
    bad = (label >= num_classes) & (label != ignore_index)
    if bad.any():
        return (f'holds values {np.unique(label[bad]).tolist()}: labels '
                f'must be class ids below num_classes={num_classes} or '
                f'the ignore index {ignore_index}')
    return ''


def dataset_file_problems(dataset, needs_labels: bool) -> List[str]:
    """Every problem with the files a dataset lists, one line per file.

    Args:
        dataset (BaseSegDataset): A built dataset (its data list).
        needs_labels (bool): Whether every image must have ground truth.

    Returns:
        list[str]: ``<path> <problem>`` lines, in the list's order.
    """
    num_classes = len(dataset.metainfo['classes'])
    ignore_index = getattr(dataset, 'ignore_index', 255)
    reduce_zero_label = getattr(dataset, 'reduce_zero_label', False)
    problems = []
    seen = set()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        img_path = info['img_path']
        if img_path in seen:
            problems.append(f'image {img_path} is listed more than once')
            continue
        seen.add(img_path)
        if _is_remote(img_path):
            continue
        shape, problem = image_size(img_path)
        if problem:
            problems.append(f'image {img_path} {problem}')
        seg_path = info.get('seg_map_path')
        if not seg_path or _is_remote(seg_path):
            continue
        if not osp.isfile(seg_path):
            if needs_labels:
                problems.append(f'label {seg_path} is missing')
            continue
        problem = '' if shape is None else label_problem(
            info, shape, num_classes, ignore_index, reduce_zero_label)
        if problem:
            problems.append(f'label {seg_path} {problem}')
    return problems


def describe_problems(name: str, dataset, problems: List[str]) -> str:
    """One paragraph listing a dataset's bad files and the fix.

    Args:
        name (str): The config option of the dataset, e.g.
            ``train_dataloader.dataset.labeled``.
        dataset (BaseSegDataset): The dataset.
        problems (list[str]): Its :func:`dataset_file_problems`.

    Returns:
        str: The paragraph.
    """
    listed = '\n'.join(f'  - {p}' for p in problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    if more > 0:
        listed += f'\n  - and {more} more'
    ann_file = getattr(dataset, 'ann_file', None)
    return (f'{name} (ann_file={ann_file!r}): {len(problems)} bad '
            f'file(s):\n{listed}\nFix or replace these files, or remove '
            f'their names from {ann_file or "the list"}.')


def check_dataset_files(datasets: List[Tuple[str, object, bool]]) -> None:
    """Check the files of every dataset a run reads, before it trains.

    Args:
        datasets (list[tuple]): ``(config option, dataset, needs labels)``
            of each dataset.

    Raises:
        FileNotFoundError: If listed files are missing (and nothing else
            is wrong), naming them.
        ValueError: If files are unreadable, truncated, of another size
            than their image or hold labels out of range, naming them.
    """
    start = time.perf_counter()
    paragraphs, only_missing, num_files = [], True, 0
    for name, dataset, needs_labels in datasets:
        problems = dataset_file_problems(dataset, needs_labels)
        num_files += len(dataset)
        if problems:
            paragraphs.append(describe_problems(name, dataset, problems))
            only_missing &= all(p.endswith('is missing') for p in problems)
    if paragraphs:
        error = FileNotFoundError if only_missing else ValueError
        raise error('bad input found before training:\n' +
                    '\n'.join(paragraphs))
    print_log(
        f'checked the files of the {num_files} images of '
        f'{", ".join(name for name, _, _ in datasets)} in '
        f'{time.perf_counter() - start:.1f} s (images: exist, header, '
        'complete end; labels: exist, size, values); images are fully '
        'decoded only when loaded, which names a file it cannot decode',
        logger='current')
