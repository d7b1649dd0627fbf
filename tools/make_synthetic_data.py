"""Generate the synthetic textured-shapes dataset and its splits.

Writes (nothing is rewritten when ``--out`` already holds the same data)::

    <out>/img_dir/{train,val}/*.png, <out>/ann_dir/{train,val}/*.png,
    <out>/train.txt, <out>/val.txt, <out>/meta.json,
    <out>/splits/split{1,2,3}/{labeled,unlabeled}_1-{8,4}.txt,
    <out>/splits/valtiny.txt

The default ``--out`` is ``data/synthetic`` in the repository root, whatever
the working directory; an explicit relative ``--out`` is relative to the
working directory.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from dst_cbc.datasets.splits import (class_presence, nested_splits,
                                     pick_valtiny, read_list, write_list,
                                     write_splits)
from dst_cbc.datasets.synthetic import (SYNTHETIC_CLASSES,
                                        generate_synthetic_dataset)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_OUT = osp.join(REPO_ROOT, 'data', 'synthetic')
RATIOS = (8, 4)
NUM_SPLITS = 3
BATCH_SIZE = 8


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
