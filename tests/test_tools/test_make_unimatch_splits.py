"""Tests of tools/make_unimatch_splits.py on the shipped UniMatch lists."""
import pytest

from dst_cbc.datasets.splits import read_list
from tools import make_unimatch_splits as tool

#: Labeled images per split in the authors' lists.
VOC = {
    '92': 92,
    '183': 183,
    '366': 366,
    '732': 732,
    '1464': 1464,
    '1_16': 662,
    '1_8': 1323,
    '1_4': 2646
}
CITYSCAPES = {'1_16': 186, '1_8': 372, '1_4': 744, '1_2': 1488}


def test_authors_lines_become_mmseg_names():
    assert tool.mmseg_name(
        'voc', 'JPEGImages/2007_000032.jpg SegmentationClass/2007_000032.png'
    ) == '2007_000032'
    assert tool.mmseg_name(
        'cityscapes', 'leftImg8bit/train/jena/jena_000078_000019_'
        'leftImg8bit.png gtFine/train/jena/jena_000078_000019_gtFine_'
        'labelTrainIds.png') == 'jena/jena_000078_000019'
    with pytest.raises(ValueError, match='Cityscapes'):
        tool.mmseg_name('cityscapes', 'JPEGImages/2007_000032.jpg x')


@pytest.mark.parametrize('dataset,sizes', [('voc', VOC),
                                           ('cityscapes', CITYSCAPES)])
def test_shipped_lists(dataset, sizes):
    splits = tool.authors_splits(dataset)
    assert {k: len(v) for k, v in splits.items()} == sizes
    for names in splits.values():
        assert len(set(names)) == len(names)
    # The classic splits lie in VOC's 1,464 finely labeled train images.
    if dataset == 'voc':
        for split in ('92', '183', '366', '732'):
            assert set(splits[split]) <= set(splits['1464'])


def test_unlabeled_is_the_rest_of_the_training_list(tmp_path):
    splits = tool.authors_splits('cityscapes')
    everything = sorted(set().union(*splits.values()))
    fillers = [f'fake/fake_{i:06d}_000019' for i in range(2975)]
    train = everything + fillers[:2975 - len(everything)]
    (tmp_path / 'train.txt').write_text(''.join(f'{n}\n' for n in train))
    written = tool.main([
        'cityscapes', '--train-list',
        str(tmp_path / 'train.txt'), '--out-dir',
        str(tmp_path / 'out')
    ])
    assert len(written) == 2 * len(CITYSCAPES)
    for split, labeled in splits.items():
        assert read_list(str(tmp_path / 'out' / split /
                             'labeled.txt')) == labeled
        unlabeled = read_list(str(tmp_path / 'out' / split / 'unlabeled.txt'))
        assert unlabeled == [n for n in train if n not in set(labeled)]
    with pytest.raises(ValueError, match='2975'):
        tool.write_unimatch_splits('cityscapes', train[:-1], str(tmp_path))
    with pytest.raises(ValueError, match='not in the training list'):
        tool.write_unimatch_splits('cityscapes', fillers, str(tmp_path))
