"""Shared fixtures: tiny generated datasets and the default config on them."""
import os.path as osp
from typing import Callable

import pytest
from mmengine.config import Config

import dst_cbc  # noqa: F401
from dst_cbc.datasets import nested_splits, write_list
from tests.helpers.threads import torch_threads
from tools.make_synthetic_data import generate_synthetic_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(
    ROOT, 'configs', 'dst_cbc',
    'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')


def make_tiny_synthetic(root: str,
                        num_train: int,
                        num_val: int,
                        size: int = 32,
                        seed: int = 0,
                        ratio: int = 8,
                        batch_size: int = 8) -> str:
    """Generate a small synthetic set with split 1 of ``1/ratio`` labels.

    Writes ``splits/split1/{labeled,unlabeled}_1-<ratio>.txt``, the layout
    of the synthetic configs. Returns ``root``.
    """
    generate_synthetic_dataset(
        root, num_train=num_train, num_val=num_val, size=size, seed=seed)
    names = open(osp.join(root, 'train.txt')).read().split()
    labeled, unlabeled = nested_splits(
        names, [ratio], num_splits=1, batch_size=batch_size)[1][ratio]
    for kind, names in (('labeled', labeled), ('unlabeled', unlabeled)):
        write_list(
            osp.join(root, f'splits/split1/{kind}_1-{ratio}.txt'), names)
    return root


def tiny_config(data_root: str,
                work_dir: str,
                ratio: int = 8,
                **train_cfg) -> Config:
    """The default config pointed at ``data_root``, with ``train_cfg``."""
    cfg = Config.fromfile(DEFAULT_CONFIG)
    for kind in ('labeled', 'unlabeled'):
        half = cfg.train_dataloader.dataset[kind]
        half.data_root = data_root
        half.ann_file = f'splits/split{{split}}/{kind}_1-{ratio}.txt'
    cfg.val_dataloader.dataset.data_root = data_root
    cfg.test_dataloader = cfg.val_dataloader
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.update(train_cfg)
    return cfg


@pytest.fixture(scope='session')
def tiny_synthetic() -> Callable[..., str]:
    """:func:`make_tiny_synthetic`, for tests to call."""
    return make_tiny_synthetic


@pytest.fixture(scope='session')
def tiny_cfg() -> Callable[..., Config]:
    """:func:`tiny_config`, for tests to call."""
    return tiny_config


@pytest.fixture(scope='module')
def one_thread():
    """One torch thread until the end of the requesting module, for tests
    that ask for it: ResNet-101 on a tiny input is many small ops, which
    several threads only slow down on a busy machine."""
    with torch_threads(1):
        yield
