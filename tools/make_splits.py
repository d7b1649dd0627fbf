"""Write nested labeled/unlabeled splits of a training list, and valtiny.

Example (CamVid, void label 11 ignored when picking valtiny)::

    python tools/make_splits.py --train-list data/camvid/train.txt \\
        --out-dir data/camvid/splits --ratios 8 4 \\
        --val-list data/camvid/val.txt --ann-dir data/camvid/valannot \\
        --num-classes 11 --label-map 11:255

writes ``<out-dir>/split{s}/labeled_1-{k}.txt``,
``<out-dir>/split{s}/unlabeled_1-{k}.txt`` and ``<out-dir>/valtiny.txt``.

PASCAL VOC and Cityscapes use the DST-CBC authors' lists shipped in
``paper_splits/`` instead (their shuffles 0, 1, 2 become split1..3, their
valtiny the valtiny), checked against the data root's training list::

    VOC=data/VOCdevkit/VOC2012
    python tools/make_splits.py --paper voc --out-dir $VOC/splits \\
        --train-list $VOC/ImageSets/Segmentation/trainaug.txt
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

from dst_cbc.datasets.splits import (check_same_names, class_presence,
                                     nested_splits, paper_splits, pick_valtiny,
                                     read_list, write_list, write_splits)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Folder of the authors' lists of each dataset.
PAPER_SPLITS = {
    'voc': osp.join(ROOT, 'paper_splits', 'PASCAL_VOC_2012'),
    'cityscapes': osp.join(ROOT, 'paper_splits', 'Cityscapes'),
}


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
    parser.add_argument(
        '--train-list', required=True, help='training names, one per line')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--paper',
        choices=sorted(PAPER_SPLITS),
        help="write the DST-CBC authors' lists and valtiny "
        'of this dataset (instead of --ratios and --val-list)')
    parser.add_argument(
        '--ratios',
        type=int,
        nargs='+',
        help='k of each labeled ratio 1/k, e.g. 8 4')
    parser.add_argument('--num-splits', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--batch-size',
        type=int,
        default=8,
        help='labeled batch size (no batch of one)')
    parser.add_argument(
        '--val-list',
        help='validation names: writes '
        'valtiny.txt (needs --ann-dir and --num-classes)')
    parser.add_argument('--ann-dir', help='folder of the validation labels')
    parser.add_argument('--num-classes', type=int)
    parser.add_argument('--seg-map-suffix', default='.png')
    parser.add_argument(
        '--label-map',
        nargs='+',
        default=[],
        metavar='OLD:NEW',
        help='label remapping before valtiny, e.g. 11:255')
    args = parser.parse_args(argv)
    if args.paper and (args.ratios or args.val_list):
        parser.error("--paper writes the authors' lists and valtiny: drop "
                     '--ratios and --val-list')
    if not args.paper and args.ratios is None:
        parser.error('--ratios is required (or --paper voc|cityscapes)')
    if args.val_list and (args.ann_dir is None or args.num_classes is None):
        parser.error('--val-list needs --ann-dir and --num-classes')
    try:
        args.label_map = parse_label_map(args.label_map)
    except ValueError as err:
        parser.error(str(err))
    return args


def write_paper_splits(dataset: str, names: List[str], train_list: str,
                       out_dir: str) -> List[str]:
    """Write the authors' splits and valtiny of ``dataset`` to ``out_dir``.

    Args:
        dataset (str): ``'voc'`` or ``'cityscapes'``.
        names (list[str]): The data root's training names; they must be the
            authors' training set.
        train_list (str): File of ``names``, for errors.
        out_dir (str): Output folder.

    Returns:
        list[str]: The written paths.
    """
    folder = PAPER_SPLITS[dataset]
    everything = osp.join(folder, '1_labeled_0.txt')
    check_same_names(names, train_list, read_list(everything), everything)
    written = write_splits(out_dir, paper_splits(folder))
    path = osp.join(out_dir, 'valtiny.txt')
    write_list(path, read_list(osp.join(folder, 'valtiny.txt')))
    return written + [path]


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Write the split files (and valtiny) and print their paths.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        list[str]: The written paths.
    """
    args = parse_args(argv)
    names = read_list(args.train_list)
    if args.paper:
        written = write_paper_splits(args.paper, names, args.train_list,
                                     args.out_dir)
    else:
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
