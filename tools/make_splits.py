"""Write nested labeled/unlabeled splits of a training list, and valtiny.

Example (CamVid, void label 11 ignored when picking valtiny)::

    python tools/make_splits.py --train-list data/camvid/train.txt \\
        --out-dir data/camvid/splits --ratios 8 4 \\
        --val-list data/camvid/val.txt --ann-dir data/camvid/valannot \\
        --num-classes 11 --label-map 11:255

writes ``<out-dir>/split{s}/labeled_1-{k}.txt``,
``<out-dir>/split{s}/unlabeled_1-{k}.txt`` and ``<out-dir>/valtiny.txt``.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

from dst_cbc.datasets.splits import (class_presence, nested_splits,
                                     pick_valtiny, read_list, write_list,
                                     write_splits)


def parse_label_map(items: List[str]) -> Dict[int, int]:
    """Parse ``OLD:NEW`` pairs, e.g. ``['11:255']`` -> ``{11: 255}``.

    Args:
        items (list[str]): The pairs.

    Returns:
        dict[int, int]: The label map.

    Raises:
        ValueError: A pair is not two integers separated by ':'.
    """
    label_map = {}
    for item in items:
        old, sep, new = item.partition(':')
        if not sep or not old.strip().isdigit() or not new.strip().isdigit():
            raise ValueError(f'--label-map expects OLD:NEW integers, got '
                             f'{item!r}')
        label_map[int(old)] = int(new)
    return label_map


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train-list', required=True,
                        help='training names, one per line')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--ratios', type=int, nargs='+', required=True,
                        help='k of each labeled ratio 1/k, e.g. 8 4')
    parser.add_argument('--num-splits', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=8,
                        help='labeled batch size (no batch of one)')
    parser.add_argument('--val-list', help='validation names: writes '
                        'valtiny.txt (needs --ann-dir and --num-classes)')
    parser.add_argument('--ann-dir', help='folder of the validation labels')
    parser.add_argument('--num-classes', type=int)
    parser.add_argument('--seg-map-suffix', default='.png')
    parser.add_argument('--label-map', nargs='+', default=[],
                        metavar='OLD:NEW',
                        help='label remapping before valtiny, e.g. 11:255')
    args = parser.parse_args(argv)
    if args.val_list and (args.ann_dir is None or args.num_classes is None):
        parser.error('--val-list needs --ann-dir and --num-classes')
    try:
        args.label_map = parse_label_map(args.label_map)
    except ValueError as err:
        parser.error(str(err))
    return args


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Write the split files (and valtiny) and print their paths.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        list[str]: The written paths.
    """
    args = parse_args(argv)
    names = read_list(args.train_list)
    splits = nested_splits(names, args.ratios, args.num_splits, args.seed,
                           args.batch_size)
    written = write_splits(args.out_dir, splits)
    if args.val_list:
        if not osp.isdir(args.ann_dir):
            raise FileNotFoundError(
                f'--ann-dir is not a folder: {args.ann_dir}')
        presence = class_presence(
            args.ann_dir,
            read_list(args.val_list),
            args.seg_map_suffix,
            label_map=args.label_map)
        path = osp.join(args.out_dir, 'valtiny.txt')
        write_list(path, pick_valtiny(presence, args.num_classes, args.seed))
        written.append(path)
    for path in written:
        print(f'wrote {path}')
    return written


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except (OSError, ValueError) as error:
        sys.exit(f'make_splits.py: error: {error}')
