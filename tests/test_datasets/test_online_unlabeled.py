"""Unlabeled images read as they are (``SemiSegDataset(online=True)``), with
no mask files, and ``MixedBatchSampler`` batches of more unlabeled than
labeled images, as UniMatch trains on."""
import os.path as osp

import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from PIL import Image

import dst_cbc  # noqa: F401
from dst_cbc.datasets import MixedBatchSampler, SemiSegDataset, write_list
from dst_cbc.datasets.file_checks import dataset_file_problems
from dst_cbc.models import UniMatch, UniMatchDataPreProcessor

CLASSES = ('a', 'b', 'c')
SIZE = (12, 10)  # width, height
LABELED, UNLABELED = 3, 8


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """Images ``l*`` with labels, ``u*`` without any label file."""
    root = tmp_path_factory.mktemp('online')
    (root / 'img').mkdir()
    (root / 'ann').mkdir()
    rng = np.random.default_rng(0)
    names = dict(
        labeled=[f'l{i}' for i in range(LABELED)],
        unlabeled=[f'u{i}' for i in range(UNLABELED)])
    for kind, items in names.items():
        for name in items:
            img = rng.integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8)
            Image.fromarray(img).save(root / 'img' / f'{name}.png')
            if kind == 'labeled':
                label = rng.integers(0, 3, (SIZE[1], SIZE[0]), np.uint8)
                Image.fromarray(label).save(root / 'ann' / f'{name}.png')
        write_list(str(root / f'{kind}.txt'), items)
    return str(root)


def half(root, kind, pipeline):
    prefix = dict(img_path='img')
    if kind == 'labeled':
        prefix['seg_map_path'] = 'ann'
    return dict(
        type='BaseSegDataset',
        metainfo=dict(classes=CLASSES),
        data_root=root,
        data_prefix=prefix,
        img_suffix='.png',
        seg_map_suffix='.png',
        ann_file=f'{kind}.txt',
        pipeline=pipeline)


LABELED_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=(8, 8)),
    dict(type='PackSegInputs')
]
UNLABELED_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=(8, 8)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='StrongViews'),
    dict(type='PackSegInputsWithViews')
]


def online_dataset(root, **kwargs):
    init_default_scope('mmseg')
    return SemiSegDataset(
        half(root, 'labeled', LABELED_PIPELINE),
        half(root, 'unlabeled', UNLABELED_PIPELINE),
        online=True,
        **kwargs)


def test_unlabeled_images_without_masks_are_read(root):
    ds = online_dataset(root)
    assert ds.online and ds.unlabeled_readable and not ds.has_pseudo_labels
    assert ds.unlabeled.get_data_info(0).get('seg_map_path') is None
    sample = ds[LABELED]['data_samples']
    assert sample.metainfo['is_pseudo']
    assert 'gt_sem_seg' not in sample
    assert tuple(sample.strong_views.shape) == (2, 3, 8, 8)
    assert 'gt_sem_seg' in ds[0]['data_samples']
    # The file checks take an unlabeled set without ground truth.
    assert dataset_file_problems(ds.unlabeled, needs_labels=False) == []


def test_without_online_the_unlabeled_images_are_not_readable(root):
    init_default_scope('mmseg')
    ds = SemiSegDataset(
        half(root, 'labeled', LABELED_PIPELINE),
        half(root, 'unlabeled', UNLABELED_PIPELINE))
    assert not ds.unlabeled_readable
    with pytest.raises(RuntimeError, match='online=True'):
        ds[LABELED]
    with pytest.raises(ValueError, match='online=True'):
        online_dataset(root, pseudo_label_dir=root)
    with pytest.raises(ValueError, match='online=True'):
        SemiSegDataset(
            half(root, 'labeled', LABELED_PIPELINE), None, online=True)


def test_batches_of_more_unlabeled_than_labeled_images(root):
    ds = online_dataset(root)
    sampler = MixedBatchSampler(
        ds, batch_size=6, num_pseudo=4, seed=0, rank=0, world_size=1)
    assert sampler.num_labeled_per_batch == 2 and sampler.num_batches == 2
    indices = list(sampler)
    batches = [indices[i:i + 6] for i in range(0, len(indices), 6)]
    for batch in batches:
        assert all(i < LABELED for i in batch[:2])
        assert all(i >= LABELED for i in batch[2:])
    # One epoch draws every unlabeled image once, as a crop or a source.
    unlabeled = sorted(i for b in batches for i in b[2:])
    assert unlabeled == list(range(LABELED, LABELED + UNLABELED))

    # The model takes the first half as crops, the second as their sources.
    pre = UniMatchDataPreProcessor(size=(8, 8))
    data = pre(pseudo_collate([ds[i] for i in batches[0]]), training=True)
    inputs_x, samples_x, batch = UniMatch.split_batch(data['inputs'],
                                                      data['data_samples'])
    assert len(inputs_x) == len(samples_x) == 2
    assert batch.weak.shape == batch.mix_weak.shape == (2, 3, 8, 8)
    assert batch.strong.shape == batch.mix_strong.shape == (2, 2, 3, 8, 8)
    assert batch.boxes.shape == (2, 2, 8, 8)
    paths = [s.img_path for s in data['data_samples']]
    assert not set(paths[2:4]) & set(paths[4:])
    assert osp.basename(paths[2]).startswith('u')
