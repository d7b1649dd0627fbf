"""Tests of the nested splits, valtiny and the list helpers."""
import os

import numpy as np
import pytest
from PIL import Image

from dst_cbc.datasets.splits import (check_same_names, class_presence,
                                     labeled_count, nested_splits,
                                     paper_splits, pick_valtiny, read_list,
                                     write_list, write_splits)

NAMES = [f'img{i:03d}' for i in range(100)]


@pytest.mark.parametrize(
    'num, ratio, batch, expected',
    [
        (100, 8, 8, 12),  # int(12.5) = 12
        (73, 8, 8, 10),  # int(9.125) = 9, 9 % 8 == 1 -> 10
        (100, 4, 8, 26),  # 25 % 8 == 1 -> 26
        (100, 2, 8, 50),
        (18, 2, 8, 10),  # 9 -> 10
        (17, 2, 8, 8),  # int(8.5) = 8
        (20, 4, 4, 6),  # 5 % 4 == 1 -> 6
        (9, 1, 8, 9),  # 9 % 8 == 1 but no name is left to add
        (30, 3, 1, 10),  # n % 1 is never 1
    ])
def test_labeled_count_rule(num, ratio, batch, expected):
    assert labeled_count(num, ratio, batch) == expected


def test_splits_are_nested_disjoint_and_cover_the_list():
    splits = nested_splits(NAMES, [8, 4, 2], num_splits=3, seed=0)
    assert sorted(splits) == [1, 2, 3]
    for by_ratio in splits.values():
        assert sorted(by_ratio) == [2, 4, 8]
        sizes = {k: len(by_ratio[k][0]) for k in by_ratio}
        assert sizes == {8: 12, 4: 26, 2: 50}
        shuffle = by_ratio[2][0] + by_ratio[2][1]
        assert sorted(shuffle) == NAMES
        for k, (labeled, unlabeled) in by_ratio.items():
            # The two lists split one shuffle: disjoint and covering.
            assert labeled + unlabeled == shuffle
            assert len(set(labeled)) == len(labeled)
        assert set(by_ratio[8][0]) < set(by_ratio[4][0]) < set(by_ratio[2][0])
    # The three shuffles differ.
    firsts = {tuple(splits[s][2][0]) for s in splits}
    assert len(firsts) == 3


def test_splits_are_deterministic_and_ignore_input_order():
    a = nested_splits(NAMES, [8, 4], seed=0)
    assert nested_splits(list(reversed(NAMES)), [8, 4], seed=0) == a
    assert nested_splits(NAMES, [8, 4], seed=1) != a
    # A split does not depend on how many splits are made, nor on the
    # other ratios asked for.
    assert nested_splits(NAMES, [4], num_splits=1)[1][4] == a[1][4]


def test_splits_count_with_bump():
    names = [f'n{i}' for i in range(73)]
    labeled, unlabeled = nested_splits(names, [8], num_splits=1)[1][8]
    assert len(labeled) == 10 and len(unlabeled) == 63


@pytest.mark.parametrize('names, ratios, kwargs, match', [
    ([], [8], {}, 'empty'),
    (['a', 'b', 'a', 'c', 'c'], [1], {}, r"\['a', 'c'\]"),
    (NAMES, [0], {}, 'ratio'),
    (NAMES, [-4], {}, 'ratio'),
    (NAMES[:5], [8], {}, '1/8 of 5 names'),
    (NAMES, [], {}, 'no ratio'),
    (NAMES, [8], dict(num_splits=0), 'num_splits'),
    (NAMES, [8], dict(batch_size=0), 'batch_size'),
])
def test_split_errors(names, ratios, kwargs, match):
    with pytest.raises(ValueError, match=match):
        nested_splits(names, ratios, **kwargs)


def test_valtiny_one_image_per_class_by_hand():
    presence = {
        'a': {0, 1},
        'b': {0},
        'c': {0, 2},
        'd': {1, 3},
        'e': set(),
    }
    # Images per class: 0 -> a, b, c; 1 -> a, d; 2 -> c; 3 -> d. Rarest
    # first: class 2 takes c, class 3 takes d, class 1 takes the one image
    # left of {a, d}: a; class 0 the one left of {a, b, c}: b.
    for seed in range(5):
        assert pick_valtiny(presence, num_classes=5, seed=seed) == \
            ['a', 'b', 'c', 'd']


def test_valtiny_skips_a_class_whose_images_are_taken():
    # Images per class: 0 -> x, y (2); 1 -> x, y, z (3). Class 0 goes first
    # and takes x or y; class 1 takes one of the two images left.
    presence = {'x': {0, 1}, 'y': {0, 1}, 'z': {1}}
    for seed in range(5):
        picked = pick_valtiny(presence, num_classes=2, seed=seed)
        assert len(picked) == 2 and len(set(picked)) == 2
    # a class whose only image is already picked adds nothing
    assert pick_valtiny({'x': {0, 1}}, num_classes=2) == ['x']


def test_valtiny_covers_every_present_class():
    rng = np.random.default_rng(0)
    presence = {
        f'v{i}': set(rng.choice(12, rng.integers(1, 4), replace=False))
        for i in range(40)
    }
    present = set().union(*presence.values())
    picked = pick_valtiny(presence, num_classes=12, seed=3)
    assert picked == sorted(picked) and set(picked) <= set(presence)
    assert set().union(*(presence[n] for n in picked)) == present
    assert len(picked) <= len(present)
    assert pick_valtiny(presence, num_classes=12, seed=3) == picked


def test_valtiny_errors():
    with pytest.raises(ValueError, match='empty'):
        pick_valtiny({}, 3)
    with pytest.raises(ValueError, match='image x holds class 7'):
        pick_valtiny({'x': {7}}, 5)
    with pytest.raises(ValueError, match='num_classes'):
        pick_valtiny({'x': {0}}, 0)


def test_class_presence_applies_label_map_and_drops_ignore(tmp_path):
    Image.fromarray(np.array([[0, 3], [255, 3]],
                             np.uint8)).save(tmp_path / 'x.png')
    Image.fromarray(np.array([[1, 11], [11, 11]],
                             np.uint8)).save(tmp_path / 'y.png')
    assert class_presence(str(tmp_path), ['x', 'y'], '.png') == {
        'x': {0, 3},
        'y': {1, 11}
    }
    mapped = class_presence(
        str(tmp_path), ['x', 'y'], '.png', label_map={11: 255})
    assert mapped == {'x': {0, 3}, 'y': {1}}
    with pytest.raises(FileNotFoundError, match='z.png'):
        class_presence(str(tmp_path), ['x', 'z'], '.png')


def test_write_then_read_list(tmp_path):
    path = tmp_path / 'sub' / 'names.txt'
    write_list(str(path), ['a', 'b'])
    assert path.read_text() == 'a\nb\n'
    write_list(str(path), ['c'])
    assert path.read_text() == 'c\n'
    assert os.listdir(tmp_path / 'sub') == ['names.txt']
    path.write_text('a\n\n  b \n')
    assert read_list(str(path)) == ['a', 'b']


def test_read_list_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        read_list(str(tmp_path / 'missing.txt'))
    (tmp_path / 'blank.txt').write_text('\n\n')
    with pytest.raises(ValueError, match='blank.txt'):
        read_list(str(tmp_path / 'blank.txt'))


def test_write_splits_round_trip(tmp_path):
    splits = nested_splits(NAMES[:40], [8, 4], num_splits=2)
    written = write_splits(str(tmp_path), splits)
    assert len(written) == 2 * 2 * 2
    for s in (1, 2):
        for k in (8, 4):
            labeled, unlabeled = splits[s][k]
            assert read_list(
                str(tmp_path / f'split{s}' / f'labeled_1-{k}.txt')) == labeled
            assert read_list(
                str(tmp_path / f'split{s}' /
                    f'unlabeled_1-{k}.txt')) == unlabeled


# -- the authors' lists: paper_splits / check_same_names ----------------------
def _authors_folder(folder, shuffles):
    """``{k}_labeled_{s}.txt`` for k = 1, 4, 2 of 8 names per shuffle."""
    for s, order in enumerate(shuffles):
        write_list(str(folder / f'1_labeled_{s}.txt'), order)
        for k in (4, 2):
            write_list(
                str(folder / f'{k}_labeled_{s}.txt'), order[:len(order) // k])
    write_list(str(folder / 'valtiny.txt'), ['v'])


def test_paper_splits_complement_in_shuffle_order(tmp_path):
    names = [f'n{i}' for i in range(8)]
    shuffles = [names, names[::-1]]
    _authors_folder(tmp_path, shuffles)
    splits = paper_splits(str(tmp_path))
    assert sorted(splits) == [1, 2]  # shuffle s is split s + 1
    assert sorted(splits[1]) == [2, 4]  # 1/1 is no split
    assert splits[1][4] == (['n0', 'n1'], ['n2', 'n3', 'n4', 'n5', 'n6', 'n7'])
    assert splits[2][2] == (['n7', 'n6', 'n5', 'n4'], ['n3', 'n2', 'n1', 'n0'])


def test_paper_splits_errors_name_the_list(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        paper_splits(str(tmp_path / 'nowhere'))
    with pytest.raises(ValueError, match='no .*labeled'):
        paper_splits(str(tmp_path))
    names = [f'n{i}' for i in range(8)]
    _authors_folder(tmp_path, [names])
    write_list(str(tmp_path / '4_labeled_0.txt'), ['n0', 'x9'])
    with pytest.raises(ValueError, match=r"4_labeled_0.txt.*\['x9'\]"):
        paper_splits(str(tmp_path))
    write_list(str(tmp_path / '4_labeled_0.txt'), ['n0', 'n0'])
    with pytest.raises(ValueError, match='4_labeled_0.txt repeats'):
        paper_splits(str(tmp_path))
    os.remove(tmp_path / '1_labeled_0.txt')
    with pytest.raises(FileNotFoundError, match='1_labeled_0.txt'):
        paper_splits(str(tmp_path))


def test_check_same_names():
    check_same_names(['b', 'a'], 'mine.txt', ['a', 'b'], 'theirs.txt')
    with pytest.raises(
            ValueError,
            match=r"mine.txt and theirs.txt.*1 of "
            r"the latter missing \(e.g. \['b'\]\), 1 not in it "
            r"\(e.g. \['c'\]\)"):
        check_same_names(['a', 'c'], 'mine.txt', ['a', 'b'], 'theirs.txt')
