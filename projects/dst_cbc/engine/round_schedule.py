"""The round schedule: how long each round lasts, and how its optimization
restarts (optimizer state cleared, initial learning rates, fresh parameter
schedules), as the paper does."""
import copy
import math
import os.path as osp
from typing import List, Optional

from ..datasets.mixed_batch_sampler import batches_per_epoch

#: ``train_cfg`` options that must be positive when set.
POSITIVE_OPTIONS = ('baseline_iters', 'baseline_epochs', 'base_epochs',
                    'round_iters', 'epochs_per_round', 'val_interval',
                    'round_lr_mult')
#: ``train_cfg`` options counting iterations.
ITERATION_OPTIONS = ('baseline_iters', 'round_iters', 'val_interval')


def check_train_options(options: dict) -> None:
    """Refuse ``train_cfg`` values the curriculum cannot run.

    Called by :class:`~dst_cbc.engine.CurriculumRunner` before anything is
    built or written, and by the loop itself.

    Args:
        options (dict): ``train_cfg`` of a ``CurriculumTrainLoop``; options
            not set (or None) are not checked.

    Raises:
        ValueError: Naming the first option out of range.
        FileNotFoundError: If ``baseline_checkpoint`` does not exist.
    """
    for key in POSITIVE_OPTIONS:
        value = options.get(key)
        if value is not None and not value > 0:
            raise ValueError(f'train_cfg.{key} must be > 0, got {value!r}')
    for key in ITERATION_OPTIONS:
        value = options.get(key)
        if value is not None and value != int(value):
            raise ValueError(f'train_cfg.{key} counts iterations and must '
                             f'be a whole number, got {value!r}')
    alphas = options.get('alphas', ())
    if not all(0 < alpha <= 1 for alpha in alphas):
        raise ValueError(
            f'train_cfg.alphas must lie in (0, 1], got {list(alphas)}')
    checkpoint = options.get('baseline_checkpoint')
    if checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'train_cfg.baseline_checkpoint {checkpoint} does not exist')


def epochs_from_ratio(labeled_ratio: float, base_epochs: float = 30.) -> float:
    """The paper's supervised-baseline length: ``30 * sqrt(1 / ratio)`` epochs.

    Args:
        labeled_ratio (float): Labeled share of the training set, in (0, 1].
        base_epochs (float): Epochs at full labels (30 in the paper; 60 for
            Cityscapes, which trains twice as long).

    Returns:
        float: Epochs over the labeled set.
    """
    if not 0 < labeled_ratio <= 1:
        raise ValueError(
            f'labeled_ratio must be in (0, 1], got {labeled_ratio}')
    return base_epochs * math.sqrt(1. / labeled_ratio)


def round_lengths(num_labeled: int,
                  num_unlabeled: int,
                  num_rounds: int,
                  batch_size: int,
                  num_pseudo: int,
                  world_size: int = 1,
                  baseline_iters: Optional[int] = None,
                  baseline_epochs: Optional[float] = None,
                  base_epochs: float = 30.,
                  round_iters: Optional[int] = None,
                  epochs_per_round: float = 6.) -> List[int]:
    """Iterations of round 0 and of every self-training round.

    An epoch of round 0 is one pass over the labeled images in batches of
    ``batch_size``; an epoch of a self-training round is one pass over the
    unlabeled images, ``num_pseudo`` per batch (both per rank, as
    :class:`~dst_cbc.datasets.MixedBatchSampler` yields them).

    Args:
        num_labeled (int): Labeled images.
        num_unlabeled (int): Unlabeled images (0 without self-training).
        num_rounds (int): Self-training rounds.
        batch_size (int): Images per batch on each rank.
        num_pseudo (int): Pseudo-labeled images per self-training batch.
        world_size (int): Number of processes. Defaults to 1.
        baseline_iters (int, optional): Iterations of round 0; 0 when the
            curriculum starts from a trained baseline.
        baseline_epochs (float, optional): Epochs of round 0 over the
            labeled images, when ``baseline_iters`` is not given. When
            neither is given, :func:`epochs_from_ratio` of the labeled share
            with ``base_epochs``.
        base_epochs (float): See :func:`epochs_from_ratio`. Defaults to 30.
        round_iters (int, optional): Iterations of every self-training
            round, overriding ``epochs_per_round``.
        epochs_per_round (float): Epochs of a self-training round.
            Defaults to 6.

    Returns:
        list[int]: ``num_rounds + 1`` iteration counts, round 0 first.
    """
    if baseline_iters is None:
        if baseline_epochs is None:
            baseline_epochs = epochs_from_ratio(
                num_labeled / (num_labeled + num_unlabeled), base_epochs)
        baseline_iters = math.ceil(
            baseline_epochs *
            batches_per_epoch(num_labeled, batch_size, world_size))
    if num_rounds and round_iters is None:
        round_iters = math.ceil(
            epochs_per_round *
            batches_per_epoch(num_unlabeled, num_pseudo, world_size))
    return [int(baseline_iters)] + [int(round_iters or 0)] * num_rounds


def restart_optimization(runner, num_iters: int, lr_mult: float = 1.) -> None:
    """Clear optimizer state, restore initial lrs, start fresh schedules.

    Every parameter scheduler of the config without an ``end`` is stretched
    over the round's ``num_iters`` iterations.

    Args:
        runner (Runner): The runner (its optim wrapper, config and
            parameter schedulers).
        num_iters (int): Iterations of the round.
        lr_mult (float): The round starts at this multiple of the initial
            learning rates. Defaults to 1.

    Raises:
        ValueError: If a parameter scheduler steps by epoch.
    """
    optim_wrapper = runner.optim_wrapper
    wrappers = (
        optim_wrapper.values()
        if hasattr(optim_wrapper, 'values') else [optim_wrapper])
    for wrapper in wrappers:
        wrapper.optimizer.state.clear()
        # The wrapper's groups, as its schedulers step them: with several
        # groups MMEngine adds one more that only tracks (and logs) base_lr.
        for group in wrapper.param_groups:
            for key in [k for k in group if k.startswith('initial_')]:
                group[key[len('initial_'):]] = group[key]
            group.setdefault('initial_lr', group['lr'])
            group['lr'] = group['initial_lr'] * lr_mult
    scheduler_cfg = runner.cfg.get('param_scheduler')
    if scheduler_cfg is None:
        return
    scheduler_cfg = copy.deepcopy(scheduler_cfg)
    for cfg in (scheduler_cfg
                if isinstance(scheduler_cfg, list) else [scheduler_cfg]):
        if cfg.get('by_epoch', True):
            raise ValueError('CurriculumTrainLoop steps schedules per '
                             'iteration: set by_epoch=False in '
                             'param_scheduler')
        cfg.setdefault('end', num_iters)
    runner.param_schedulers = runner.build_param_scheduler(scheduler_cfg)
