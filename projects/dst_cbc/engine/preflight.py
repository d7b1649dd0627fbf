"""Checks of a curriculum run's settings and data, made before anything
trains."""
import copy
import os.path as osp
import time
from typing import List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from torch import nn

from .dataset_files import dataset_file_problems, describe_problems
from .main_process import on_main_process


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
    if sampler.setdefault('batch_size',
                          cfg['batch_size']) != cfg['batch_size']:
        raise ValueError(
            f'train_dataloader.sampler.batch_size={sampler["batch_size"]} '
            f'differs from train_dataloader.batch_size={cfg["batch_size"]}')
    return cfg


def check_train_dataset(model: nn.Module, dataset,
                        alphas: Sequence[float]) -> None:
    """The training set must have unlabeled images if rounds ask for them,
    and the classes the model's heads predict."""
    if alphas and dataset.num_unlabeled == 0:
        raise ValueError('train_cfg.alphas asks for self-training rounds '
                         'but train_dataloader.dataset has no unlabeled '
                         'images; set alphas=() for a supervised model')
    check_num_classes(model, len(dataset.metainfo['classes']))


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


def run_datasets(runner) -> List[Tuple[str, object, bool]]:
    """The datasets a curriculum run reads, with whether they need labels.

    Args:
        runner (Runner): The runner, its train and val loops built.

    Returns:
        list[tuple]: ``(config option, dataset, needs labels)`` of the
        labeled, unlabeled (if any) and val (if any) datasets.
    """
    train = runner.train_loop.dataloader.dataset
    datasets = [('train_dataloader.dataset.labeled', train.labeled, True)]
    if train.unlabeled is not None:
        datasets.append(
            ('train_dataloader.dataset.unlabeled', train.unlabeled, False))
    val_loop = runner.val_loop
    if val_loop is not None and hasattr(val_loop.dataloader.dataset,
                                        'get_data_info'):
        datasets.append(
            ('val_dataloader.dataset', val_loop.dataloader.dataset, True))
    return datasets


def check_run_data(runner) -> None:
    """Check the files of every dataset the run reads, before round 0.

    See :mod:`~.dataset_files` for what is checked up front and what when
    a file is read. Rank 0 checks; every rank raises its refusal.

    Args:
        runner (Runner): The runner, its train and val loops built.

    Raises:
        FileNotFoundError: If listed files are missing (and nothing else
            is wrong), naming them.
        ValueError: If files are unreadable, truncated, of another size
            than their image or hold labels out of range, naming them.
    """
    on_main_process(_check_run_data, run_datasets(runner))


def _check_run_data(datasets: List[Tuple[str, object, bool]]) -> None:
    """Rank 0's part of :func:`check_run_data`."""
    start = time.perf_counter()
    paragraphs, only_missing, num_files = [], True, 0
    for name, dataset, needs_labels in datasets:
        problems = dataset_file_problems(dataset, needs_labels)
        num_files += len(dataset)
        if problems:
            paragraphs.append(describe_problems(name, dataset, problems))
            only_missing &= all(p.endswith('is missing') for p in problems)
    if paragraphs:
        error = FileNotFoundError if only_missing else ValueError
        raise error('bad input found before training:\n' +
                    '\n'.join(paragraphs))
    print_log(
        f'checked the files of the {num_files} images of '
        f'{", ".join(name for name, _, _ in datasets)} in '
        f'{time.perf_counter() - start:.1f} s (images: exist, header, '
        'complete end; labels: exist, size, values); images are fully '
        'decoded only when loaded, which names a file it cannot decode',
        logger='current')
