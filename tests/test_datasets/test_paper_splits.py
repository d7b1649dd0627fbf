"""The DST-CBC authors' split lists shipped in ``paper_splits/``.

Counts are the paper's (VOC 1/106 and Cityscapes 1/30: 100 labels), written
here by hand. Where the shared copy of the authors' folder is present
(``../shared/data/paper_splits`` next to the repository), the unlabeled
lists derived from the shipped ones are checked against the authors' own
unlabeled files, line by line.
"""
import os
from pathlib import Path

import pytest

from dst_cbc.datasets.splits import paper_splits, read_list

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / 'paper_splits'
SHARED = ROOT.parent / 'shared' / 'data' / 'paper_splits'
# Labeled images per ratio k of 1/k, and the training set size.
COUNTS = {
    'PASCAL_VOC_2012': ({
        106: 100,
        50: 211,
        20: 530,
        8: 1322,
        4: 2645,
        2: 5291
    }, 10582, 20),
    'Cityscapes': ({
        30: 100,
        8: 371,
        4: 743
    }, 2975, 19),
}


@pytest.fixture(scope='module', params=sorted(COUNTS))
def dataset(request):
    name = request.param
    return name, paper_splits(str(SHIPPED / name))


def test_counts_per_ratio_and_shuffle(dataset):
    name, splits = dataset
    counts, total, _ = COUNTS[name]
    assert sorted(splits) == [1, 2, 3]
    for by_ratio in splits.values():
        assert {k: len(lab) for k, (lab, _) in by_ratio.items()} == counts
        for labeled, unlabeled in by_ratio.values():
            assert len(labeled) + len(unlabeled) == total


def test_nested_disjoint_and_covering(dataset):
    name, splits = dataset
    counts, total, _ = COUNTS[name]
    for by_ratio in splits.values():
        ratios = sorted(counts, reverse=True)  # fewest labels first
        everything = set(by_ratio[ratios[0]][0]) | set(by_ratio[ratios[0]][1])
        assert len(everything) == total
        for smaller, larger in zip(ratios, ratios[1:]):
            assert set(by_ratio[smaller][0]) < set(by_ratio[larger][0])
        for labeled, unlabeled in by_ratio.values():
            assert not set(labeled) & set(unlabeled)
            assert set(labeled) | set(unlabeled) == everything
            assert len(set(unlabeled)) == len(unlabeled)
    # The three shuffles draw different labeled sets.
    smallest = min(counts.values())
    firsts = {
        frozenset(by_ratio[k][0])
        for by_ratio in splits.values() for k, n in counts.items()
        if n == smallest
    }
    assert len(firsts) == 3


def test_valtiny_sizes_and_val_names(dataset):
    name, _ = dataset
    valtiny = read_list(str(SHIPPED / name / 'valtiny.txt'))
    assert len(valtiny) == len(set(valtiny)) == COUNTS[name][2]
    if name == 'Cityscapes':  # val cities only
        assert all(
            n.split('/')[0] in ('frankfurt', 'lindau', 'munster')
            for n in valtiny)


def test_attribution_is_shipped():
    readme = (SHIPPED / 'README.md').read_text()
    assert 'voldemortX/DST-CBC' in readme and 'Apache License 2.0' in readme
    assert 'Apache License' in (SHIPPED / 'LICENSE').read_text()
    # Only labeled lists and valtiny are stored: the unlabeled ones are
    # derived.
    for name in COUNTS:
        assert not [f for f in os.listdir(SHIPPED / name) if 'unlabeled' in f]


@pytest.mark.skipif(not SHARED.is_dir(), reason='no ../shared copy')
def test_shipped_lists_are_the_authors_files_unchanged(dataset):
    name, splits = dataset
    for path in (SHIPPED / name).iterdir():
        assert path.read_bytes() == (SHARED / name / path.name).read_bytes()
    for split, by_ratio in splits.items():
        for k, (_, unlabeled) in by_ratio.items():
            theirs = SHARED / name / f'{k}_unlabeled_{split - 1}.txt'
            assert unlabeled == read_list(str(theirs)), theirs.name
