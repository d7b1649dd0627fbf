"""Write the UniMatch authors' splits of PASCAL VOC or Cityscapes as MMSeg
name lists.

The authors' labeled lists ship in ``paper_splits/unimatch/`` (MIT, from
LiheYoung/UniMatch). For each split this writes, into ``--out-dir``::

    <split>/labeled.txt     the authors' labeled images, in their order
    <split>/unlabeled.txt   the rest of --train-list, in its order

as names of the data root's lists (``2007_000032``,
``jena/jena_000078_000019``). The authors' ``unlabeled.txt`` of every split
is exactly the rest of their training set, so it is not shipped. Example::

    VOC=data/VOCdevkit/VOC2012
    python tools/make_unimatch_splits.py voc --out-dir $VOC/splits/unimatch \\
        --train-list $VOC/ImageSets/Segmentation/trainaug.txt
    python tools/make_unimatch_splits.py cityscapes \\
        --train-list data/cityscapes/train.txt \\
        --out-dir data/cityscapes/splits/unimatch
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

from dst_cbc.datasets import read_list, write_list

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SPLITS_DIR = osp.join(ROOT, 'paper_splits', 'unimatch')
#: Per dataset: the authors' folder and the size of their training set.
DATASETS = {'voc': ('pascal', 10582), 'cityscapes': ('cityscapes', 2975)}
#: Suffix of a Cityscapes image path that MMSeg's names leave out.
CITYSCAPES_SUFFIX = '_leftImg8bit.png'


def mmseg_name(dataset: str, line: str) -> str:
    """The MMSeg name of a line of the authors' lists.

    Args:
        dataset (str): ``'voc'`` or ``'cityscapes'``.
        line (str): ``<image path> <label path>``, e.g.
            ``JPEGImages/2007_000032.jpg SegmentationClass/2007_000032.png``.

    Returns:
        str: ``2007_000032``, or ``jena/jena_000078_000019`` for
        ``leftImg8bit/train/jena/jena_000078_000019_leftImg8bit.png``.
    """
    image = line.split()[0]
    if dataset == 'voc':
        return osp.splitext(osp.basename(image))[0]
    if not image.endswith(CITYSCAPES_SUFFIX):
        raise ValueError(f'not a Cityscapes image path: {image!r}')
    city, name = image.split('/')[-2:]
    return f'{city}/{name[:-len(CITYSCAPES_SUFFIX)]}'


def authors_splits(dataset: str) -> Dict[str, List[str]]:
    """The authors' labeled lists of ``dataset``, as MMSeg names.

    Args:
        dataset (str): ``'voc'`` or ``'cityscapes'``.

    Returns:
        dict[str, list[str]]: Split name (``92``, ``1_16``) to its labeled
        names.
    """
    folder = osp.join(SPLITS_DIR, DATASETS[dataset][0])
    return {
        split: [
            mmseg_name(dataset, line)
            for line in read_list(osp.join(folder, split, 'labeled.txt'))
        ]
        for split in sorted(os.listdir(folder))
    }


def write_unimatch_splits(dataset: str, train_names: List[str],
                          out_dir: str) -> List[str]:
    """Write every split's labeled and unlabeled list.

    Args:
        dataset (str): ``'voc'`` or ``'cityscapes'``.
        train_names (list[str]): The data root's training names: the
            authors' training set (its size is checked).
        out_dir (str): Output folder.

    Returns:
        list[str]: The written paths.

    Raises:
        ValueError: The training list has another size or repeats a name,
            or a labeled name is not in it.
    """
    size = DATASETS[dataset][1]
    train = set(train_names)
    if len(train_names) != size or len(train) != size:
        raise ValueError(
            f'the {dataset} training list must name the authors\' {size} '
            f'images once each, got {len(train_names)} names '
            f'({len(train)} distinct)')
    written = []
    for split, labeled in authors_splits(dataset).items():
        missing = sorted(set(labeled) - train)
        if missing:
            raise ValueError(f'split {split}: {len(missing)} labeled images '
                             f'are not in the training list, e.g. '
                             f'{missing[0]}')
        chosen = set(labeled)
        lists = dict(
            labeled=labeled,
            unlabeled=[n for n in train_names if n not in chosen])
        for kind, names in lists.items():
            path = osp.join(out_dir, split, f'{kind}.txt')
            write_list(path, names)
            written.append(path)
    return written


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Write the lists and print their paths.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        list[str]: The written paths.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('dataset', choices=sorted(DATASETS))
    parser.add_argument(
        '--train-list',
        required=True,
        help='the data root\'s training names (VOC: trainaug.txt)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    args = parser.parse_args(argv)
    written = write_unimatch_splits(args.dataset, read_list(args.train_list),
                                    args.out_dir)
    for path in written:
        print(f'wrote {path}')
    return written


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except (OSError, ValueError) as error:
        sys.exit(f'make_unimatch_splits.py: error: {error}')
