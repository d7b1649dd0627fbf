"""Every config under configs/ parses and builds its model and datasets."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import dst_cbc  # noqa: F401
from dst_cbc.datasets import nested_splits, write_list
from mmseg.registry import DATASETS, MODELS
from tools.make_synthetic_data import generate_synthetic_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    """The generated dataset in the layout the synthetic configs expect."""
    root = str(tmp_path_factory.mktemp('cfg') / 'synthetic')
    generate_synthetic_dataset(root, num_train=24, num_val=4, size=32)
    names = open(osp.join(root, 'train.txt')).read().split()
    for s, ratios in nested_splits(names, [8, 4], num_splits=1).items():
        for k, (lab, unlab) in ratios.items():
            write_list(
                osp.join(root, f'splits/split{s}/labeled_1-{k}.txt'), lab)
            write_list(
                osp.join(root, f'splits/split{s}/unlabeled_1-{k}.txt'), unlab)
    return root


def _point_at(cfg, data_root):
    """Point every dataset of the config at ``data_root``."""
    train = cfg.train_dataloader.dataset
    for ds in (train.get('labeled'), train.get('unlabeled'), train,
               cfg.val_dataloader.dataset, cfg.test_dataloader.dataset):
        if ds is not None and 'data_root' in ds:
            ds.data_root = data_root


def test_configs_found():
    assert CONFIGS, 'no configs found'


# Model configs already run forward: many paper configs share one model
# (ResNet-101), and one forward pass per distinct model is enough.
_FORWARDED = set()


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_builds_model_and_datasets(path, synthetic_root):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    assert cfg.custom_imports['imports'] == ['dst_cbc']
    model = MODELS.build(cfg.model)
    num_classes = model.decode_head.num_classes
    model_key = repr(cfg.model.to_dict())
    if model_key not in _FORWARDED:
        _FORWARDED.add(model_key)
        x = torch.rand(1, 3, 64, 64)
        model.eval()
        with torch.no_grad():
            assert model(x, mode='tensor').shape[:2] == (1, num_classes)
    # VOC and Cityscapes configs build their datasets against a fake tree
    # in tests/test_configs_paper.py.
    train = cfg.train_dataloader.dataset
    if train.type == 'SemiSegDataset' and 'synthetic' in \
            train.labeled.data_root:
        _point_at(cfg, synthetic_root)
        train = DATASETS.build(cfg.train_dataloader.dataset)
        assert train.num_labeled == 3 and train.num_unlabeled == 21
        val = DATASETS.build(cfg.val_dataloader.dataset)
        assert len(val) == 4
        assert len(train.metainfo['classes']) == num_classes


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_dataloader_workers_suit_the_hardware(path):
    """GPU configs hide loading in pinned, persistent workers; the CPU ones
    (synthetic, CamVid) load in the main process from CachedLoad or small
    files, which measured fastest on 2 cores (benchmarks/train_step)."""
    loader = Config.fromfile(path).train_dataloader
    if any(k in path for k in ('voc', 'cityscapes')):
        assert loader.num_workers >= 4
        assert loader.persistent_workers and loader.pin_memory
    else:
        assert loader.num_workers == 0
        assert not loader.get('persistent_workers', False)
