"""Checks of a curriculum run's settings, made before anything trains."""
import copy
import os.path as osp
from typing import Optional, Sequence

from torch import nn


def check_train_options(alphas: Sequence[float], val_interval: int,
                   round_lr_mult: float,
                   baseline_checkpoint: Optional[str]) -> None:
    """Refuse ``train_cfg`` values the loop cannot run, naming the option."""
    for alpha in alphas:
        if not 0 < alpha <= 1:
            raise ValueError('train_cfg.alphas must lie in (0, 1], '
                             f'got {list(alphas)}')
    if val_interval < 1:
        raise ValueError(
            f'train_cfg.val_interval must be >= 1, got {val_interval}')
    if round_lr_mult <= 0:
        raise ValueError(
            f'train_cfg.round_lr_mult must be > 0, got {round_lr_mult}')
    if baseline_checkpoint and not osp.isfile(baseline_checkpoint):
        raise FileNotFoundError('train_cfg.baseline_checkpoint '
                                f'{baseline_checkpoint} does not exist')


def check_dataloader_cfg(dataloader: dict) -> dict:
    """A copy of the train dataloader config, its sampler's batch size set."""
    cfg = copy.deepcopy(dataloader)
    sampler = cfg['sampler']
    if sampler.get('type') != 'MixedBatchSampler':
        raise ValueError('CurriculumTrainLoop needs train_dataloader.sampler '
                         "type='MixedBatchSampler', got "
                         f'{sampler.get("type")!r}')
    if sampler.setdefault('batch_size', cfg['batch_size']) != cfg['batch_size']:
        raise ValueError(
            f'train_dataloader.sampler.batch_size={sampler["batch_size"]} '
            f'differs from train_dataloader.batch_size={cfg["batch_size"]}')
    return cfg


def check_num_classes(model: nn.Module, num_classes: int) -> None:
    """The model's heads must predict the dataset's classes."""
    model = getattr(model, 'module', model)
    heads = [('model.decode_head', getattr(model, 'decode_head', None))]
    aux = getattr(model, 'auxiliary_head', None)
    aux = list(aux) if isinstance(aux, nn.ModuleList) else [aux]
    heads += [(f'model.auxiliary_head[{i}]', h) for i, h in enumerate(aux)]
    for name, head in heads:
        if head is not None and head.num_classes != num_classes:
            raise ValueError(
                f'{name}.num_classes={head.num_classes} but the training '
                f'dataset has {num_classes} classes')
