"""Tests of MixedBatchSampler: batch composition, epochs, seeds and ranks."""
import os
import os.path as osp
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image
from torch.utils.data import DataLoader

from dst_cbc.datasets import MixedBatchSampler, SemiSegDataset
from mmseg.registry import DATA_SAMPLERS


def fake(num_labeled, num_unlabeled, pseudo=True):
    """The three attributes the sampler reads from a SemiSegDataset."""
    return SimpleNamespace(
        num_labeled=num_labeled,
        num_unlabeled=num_unlabeled,
        unlabeled_readable=pseudo)


def batches(sampler):
    """The sampler's flat stream cut into batches."""
    indices = list(sampler)
    assert len(indices) == len(sampler)
    bs = sampler.batch_size
    return [indices[i:i + bs] for i in range(0, len(indices), bs)]


def test_every_batch_is_labeled_then_pseudo():
    # 12 unlabeled, 2 per batch, one rank -> 6 batches of 2 + 2
    sampler = MixedBatchSampler(fake(5, 12), batch_size=4, seed=0)
    assert sampler.num_pseudo == 2
    assert sampler.num_batches == 6 and len(sampler) == 24
    for batch in batches(sampler):
        assert all(0 <= i < 5 for i in batch[:2])
        assert all(5 <= i < 17 for i in batch[2:])


def test_epoch_covers_unlabeled_once_when_divisible():
    sampler = MixedBatchSampler(fake(5, 12), batch_size=4, seed=0)
    unlabeled = [i for b in batches(sampler) for i in b[2:]]
    assert sorted(unlabeled) == list(range(5, 17))


def test_wraparound_padding_counted_by_hand():
    # 10 unlabeled, 3 per batch: ceil(10 / 3) = 4 batches, 12 slots, so the
    # first 2 images of the permutation are drawn twice.
    sampler = MixedBatchSampler(
        fake(4, 10), batch_size=4, num_pseudo=3, seed=1)
    assert sampler.num_batches == 4
    counts = Counter(i for b in batches(sampler) for i in b[1:])
    assert set(counts) == set(range(4, 14))
    assert sorted(counts.values()) == [1] * 8 + [2] * 2
    ordered = MixedBatchSampler(
        fake(4, 10), batch_size=4, num_pseudo=3, shuffle=False)
    assert [i for b in batches(ordered)
            for i in b[1:]] == list(range(4, 14)) + [4, 5]


def test_labeled_set_is_cycled_evenly():
    # 10 unlabeled, 2 per batch -> 5 batches -> 10 labeled draws over 3
    # images: three full permutations and one more image.
    sampler = MixedBatchSampler(fake(3, 10), batch_size=4, seed=2)
    labeled = [i for b in batches(sampler) for i in b[:2]]
    assert len(labeled) == 10
    for start in (0, 3, 6):
        assert sorted(labeled[start:start + 3]) == [0, 1, 2]
    assert sorted(Counter(labeled).values()) == [3, 3, 4]
    ordered = MixedBatchSampler(fake(3, 10), batch_size=4, shuffle=False)
    assert [i for b in batches(ordered)
            for i in b[:2]] == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]


def test_order_depends_on_seed_and_epoch_only():
    a = MixedBatchSampler(fake(20, 40), batch_size=4, seed=7)
    b = MixedBatchSampler(fake(20, 40), batch_size=4, seed=7)
    assert list(a) == list(b)
    assert list(a) == list(a)  # iterating again repeats the epoch
    first = list(a)
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) == list(b) != first
    assert list(MixedBatchSampler(fake(20, 40), batch_size=4, seed=8)) != first


def test_two_ranks_are_disjoint_and_cover_everything():
    # 16 unlabeled, 2 ranks x 2 per batch -> 4 batches per rank
    ranks = [
        MixedBatchSampler(
            fake(7, 16), batch_size=4, seed=3, rank=r, world_size=2)
        for r in (0, 1)
    ]
    assert [s.num_batches for s in ranks] == [4, 4]
    unlabeled = [{i for b in batches(s) for i in b[2:]} for s in ranks]
    assert unlabeled[0].isdisjoint(unlabeled[1])
    assert unlabeled[0] | unlabeled[1] == set(range(7, 23))
    # 4 batches x 2 labeled x 2 ranks = 16 draws over 7 images: 2 or 3 each
    labeled = Counter(i for s in ranks for b in batches(s) for i in b[:2])
    assert sum(labeled.values()) == 16 and set(labeled) == set(range(7))
    assert sorted(labeled.values()) == [2] * 5 + [3] * 2
    for s in ranks:
        for batch in batches(s):
            assert all(i < 7 for i in batch[:2])
            assert all(i >= 7 for i in batch[2:])


def test_two_ranks_with_padding():
    # 10 unlabeled, 2 ranks x 2 per batch: ceil(10 / 4) = 3 batches per
    # rank, 12 slots, 2 of them padding.
    ranks = [
        MixedBatchSampler(
            fake(3, 10), batch_size=4, seed=4, rank=r, world_size=2)
        for r in (0, 1)
    ]
    assert [s.num_batches for s in ranks] == [3, 3]
    counts = Counter(i for s in ranks for b in batches(s) for i in b[2:])
    assert set(counts) == set(range(3, 13))
    assert sorted(counts.values()) == [1] * 8 + [2] * 2


def test_round_zero_yields_only_labeled_batches():
    # no pseudo labels: ceil(10 / 4) = 3 batches, 12 draws, 2 padding
    sampler = MixedBatchSampler(fake(10, 50, pseudo=False), batch_size=4)
    assert sampler.num_batches == 3 and len(sampler) == 12
    counts = Counter(sampler)
    assert set(counts) == set(range(10))
    assert sorted(counts.values()) == [1] * 8 + [2] * 2
    ordered = MixedBatchSampler(
        fake(10, 50, pseudo=False), batch_size=4, shuffle=False)
    assert list(ordered) == list(range(10)) + [0, 1]
    # two ranks: ceil(10 / (2 * 4)) = 2 batches each, together all images
    ranks = [
        MixedBatchSampler(
            fake(10, 50, pseudo=False),
            batch_size=4,
            seed=5,
            rank=r,
            world_size=2) for r in (0, 1)
    ]
    assert [s.num_batches for s in ranks] == [2, 2]
    assert set(ranks[0]) | set(ranks[1]) == set(range(10))


def test_num_pseudo_zero_means_labeled_only_batches():
    sampler = MixedBatchSampler(
        fake(6, 50), batch_size=2, num_pseudo=0, seed=0)
    assert sampler.num_batches == 3
    assert sorted(sampler) == list(range(6))


@pytest.mark.parametrize('kwargs, option', [
    (dict(batch_size=4, num_pseudo=4), 'num_pseudo'),
    (dict(batch_size=4, num_pseudo=-1), 'num_pseudo'),
    (dict(batch_size=0), 'batch_size'),
    (dict(batch_size=4, rank=2, world_size=2), 'rank'),
])
def test_bad_options_are_named(kwargs, option):
    with pytest.raises(ValueError, match=option):
        MixedBatchSampler(fake(4, 4), **kwargs)


def test_registry_passes_the_seed():
    # MMEngine builds samplers with default_args=dict(dataset=..., seed=...)
    built = DATA_SAMPLERS.build(
        dict(type='MixedBatchSampler', batch_size=4),
        default_args=dict(dataset=fake(5, 12), seed=11))
    assert isinstance(built, MixedBatchSampler) and built.seed == 11
    assert list(built) == list(
        MixedBatchSampler(fake(5, 12), batch_size=4, seed=11))
    assert isinstance(MixedBatchSampler(fake(5, 12), batch_size=4).seed, int)


# -- through a real data loader ----------------------------------------------
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]


def write_png(path, array):
    """Write an uint8 array as PNG, creating the folder."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


@pytest.fixture
def semi_cfg(tmp_path):
    """A SemiSegDataset config: 3 labeled (GT 1), 4 unlabeled (pseudo 2)."""
    init_default_scope('mmseg')
    root = tmp_path / 'data'
    names = dict(
        labeled=['l0', 'l1', 'l2'], unlabeled=['u0', 'u1', 'u2', 'u3'])
    for part, part_names in names.items():
        for name in part_names:
            write_png(str(root / 'img' / f'{name}.png'), np.zeros((8, 8, 3)))
            write_png(str(root / 'gt' / f'{name}.png'), np.ones((8, 8)))
            write_png(str(tmp_path / 'pl' / f'{name}.png'), np.full((8, 8), 2))
        (root / f'{part}.txt').write_text('\n'.join(part_names) + '\n')

    def half(part):
        return dict(
            type='BaseSegDataset',
            data_root=str(root),
            data_prefix=dict(img_path='img', seg_map_path='gt'),
            ann_file=f'{part}.txt',
            img_suffix='.png',
            seg_map_suffix='.png',
            metainfo=dict(classes=('a', 'b', 'c')),
            pipeline=PIPELINE)

    return dict(
        type='SemiSegDataset',
        labeled=half('labeled'),
        unlabeled=half('unlabeled'),
        pseudo_label_dir=str(tmp_path / 'pl'))


def check_batches(loader, num_batches):
    """Every batch: 2 labeled (GT 1) then 2 pseudo-labeled (label 2)."""
    seen = []
    for batch in loader:
        samples = batch['data_samples']
        assert len(batch['inputs']) == 4
        assert [s.metainfo['is_pseudo']
                for s in samples] == [False, False, True, True]
        names = [osp.basename(s.img_path)[0] for s in samples]
        assert names == ['l', 'l', 'u', 'u']
        values = [int(s.gt_sem_seg.data.unique()) for s in samples]
        assert values == [1, 1, 2, 2]
        seen += [osp.basename(s.img_path) for s in samples[2:]]
    assert len(seen) == 2 * num_batches
    assert sorted(seen) == ['u0.png', 'u1.png', 'u2.png', 'u3.png']


def test_torch_dataloader_flags_follow_the_pattern(semi_cfg):
    dataset = SemiSegDataset(
        **{k: v
           for k, v in semi_cfg.items() if k != 'type'})
    sampler = MixedBatchSampler(dataset, batch_size=4, seed=0)
    loader = DataLoader(
        dataset, batch_size=4, sampler=sampler, collate_fn=pseudo_collate)
    assert len(loader) == sampler.num_batches == 2  # ceil(4 unlabeled / 2)
    check_batches(loader, 2)


def test_runner_builds_the_dataloader(semi_cfg):
    loader = Runner.build_dataloader(
        dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='MixedBatchSampler', batch_size=4),
            dataset=semi_cfg),
        seed=0)
    assert isinstance(loader.sampler, MixedBatchSampler)
    assert loader.sampler.seed == 0
    check_batches(loader, 2)


def test_skip_batches_resumes_inside_an_epoch():
    ds = fake(3, 10)
    sampler = MixedBatchSampler(ds, batch_size=4, seed=5, rank=0, world_size=1)
    sampler.set_epoch(2)
    full = list(sampler)
    # 10 unlabeled / 2 per batch = 5 batches of 4 indices
    assert len(full) == 20
    sampler.skip_batches(3)
    assert list(sampler) == full[12:]
    # the skip applies to one pass only
    assert list(sampler) == full
    with pytest.raises(ValueError, match='cannot skip 6 of 5'):
        sampler.skip_batches(6)
