"""Training step: a semi-supervised 4 + 4 step against a plain MMSeg step.

- **Step time**: one DST-CBC iteration (``SemiSegDataset`` +
  ``MixedBatchSampler`` batch of 4 labeled + 4 pseudo-labeled images, the
  model of the config with ``DynamicLossHead`` / ``DynamicCrossEntropyLoss``
  on every head) against one plain MMSeg iteration of the same model (the
  plain heads with ``CrossEntropyLoss``, the same starting weights) on 8
  labeled images from a plain dataloader (``CamVidDataset`` or
  ``SyntheticShapesDataset`` + ``InfiniteSampler``). Both use the config's
  training pipeline and ``num_workers``; the iterations alternate. Reports
  the ratio of the medians semi / plain of ``train_step`` alone (goal
  <= 1.05) and of the whole iteration (``next(loader)`` + ``train_step``).
- **Loss check**: with gamma = 0 both models compute the same losses on
  the same batch (the plain ``CrossEntropyLoss`` with
  ``avg_non_ignore=True``, the same definition as ours).
- **Data wait**: the time the semi-supervised loop spends in
  ``next(iterator)`` for ``num_workers`` 0, 1, 2, with and without
  ``CachedLoad`` (its cache filled first: the steady state after the first
  epoch; forked workers inherit it).

The pseudo labels are the unlabeled images' ground truth (the labels' values
do not change the step's cost).

Usage::

    python -m benchmarks.train_step.run [--data-root DIR] [--out DIR]
        [--iters 30] [--wait-iters 20] [--workers 0 1 2]
"""
import argparse
import copy
import os.path as osp
import statistics
import time
from typing import Callable, Dict, Iterator, List, NamedTuple, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader, Dataset

from benchmarks.common import (add_common_args, apply_common_args, build_model,
                               endless, markdown_table, prepare_data,
                               semi_loader_cfg, write_png, write_results)
from dst_cbc.pseudo_labels import label_files
from dst_cbc.utils import load_ground_truth
from mmseg.registry import DATASETS, MODELS

STEP_GOAL = 1.05


class Side(NamedTuple):
    """One side of the step comparison: a model, its optimizer and data."""
    model: nn.Module
    optim_wrapper: OptimWrapper
    batches: Iterator


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser, 'train_step')
    parser.add_argument(
        '--iters',
        type=int,
        default=30,
        help='timed iterations of each side of the step comparison')
    parser.add_argument(
        '--wait-iters',
        type=int,
        default=20,
        help='timed iterations of each data-wait setting')
    parser.add_argument(
        '--warmup', type=int, default=3, help='untimed first iterations')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    return parser.parse_args()


# -- the two models ---------------------------------------------------------
def map_heads(model_cfg: dict, fn: Callable[[dict], dict]) -> dict:
    """A copy of a model config with ``fn`` applied to every head config.

    Args:
        model_cfg (dict): The segmentor's config.
        fn (Callable[[dict], dict]): Maps a decode head config to a new one.

    Returns:
        dict: The new model config.
    """
    model_cfg = copy.deepcopy(dict(model_cfg))
    model_cfg['decode_head'] = fn(model_cfg['decode_head'])
    aux = model_cfg.get('auxiliary_head')
    if isinstance(aux, dict):
        model_cfg['auxiliary_head'] = fn(aux)
    elif aux is not None:
        model_cfg['auxiliary_head'] = [fn(head) for head in aux]
    return model_cfg


def plain_head(head: dict) -> dict:
    """The plain MMSeg head of a ``Dynamic<Base>`` head config.

    The base head type (the name without ``Dynamic``) with
    ``CrossEntropyLoss`` of the same weight and name, averaged over
    non-ignored pixels as ours is.

    Args:
        head (dict): A ``Dynamic<Base>`` head config, e.g.
            ``type='DynamicDLV2Head'``.

    Returns:
        dict: The plain head's config.
    """
    head = dict(head)
    head['type'] = head['type'].removeprefix('Dynamic')
    loss = head['loss_decode']
    head['loss_decode'] = dict(
        type='CrossEntropyLoss',
        use_sigmoid=False,
        loss_weight=loss.get('loss_weight', 1.0),
        loss_name=loss.get('loss_name', 'loss_ce'),
        avg_non_ignore=True)
    return head


def with_gamma(model_cfg: dict, gamma: float) -> dict:
    """A copy of a model config whose dynamic losses use ``gamma``.

    Args:
        model_cfg (dict): The segmentor's config.
        gamma (float): The dynamic loss exponent.

    Returns:
        dict: The new model config.
    """

    def set_gamma(head: dict) -> dict:
        head = dict(head)
        head['loss_decode'] = dict(head['loss_decode'], gamma=gamma)
        return head

    return map_heads(model_cfg, set_gamma)


def build_pair(model_cfg: dict, seed: int) -> Tuple[nn.Module, nn.Module]:
    """The DST-CBC model and its plain MMSeg twin with the same weights.

    Args:
        model_cfg (dict): The DST-CBC model config.
        seed (int): Seed of the weight initialization.

    Returns:
        tuple[nn.Module, nn.Module]: The semi-supervised and plain models.
    """
    semi = build_model(model_cfg, seed)
    plain = MODELS.build(map_heads(model_cfg, plain_head))
    plain.load_state_dict(semi.state_dict())
    return semi, plain


def batch_losses(model: nn.Module, batch: dict, seed: int) -> Dict[str, float]:
    """The loss items of ``model`` on a copy of ``batch`` (train mode).

    Args:
        model (nn.Module): A segmentor.
        batch (dict): A collated batch.
        seed (int): Seed of torch's generator before the forward pass, so
            that two models of one architecture draw the same dropout.

    Returns:
        dict[str, float]: The losses by name (``acc_seg`` left out).
    """
    model.train()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    torch.manual_seed(seed)
    losses = model(**data, mode='loss')
    return {k: v.item() for k, v in losses.items() if 'loss' in k}


def loss_check(model_cfg: dict, batch: dict, seed: int) -> Dict:
    """Losses of both models on one batch, at gamma 0 and as configured.

    Args:
        model_cfg (dict): The DST-CBC model config.
        batch (dict): A semi-supervised batch.
        seed (int): Seed of the weights, shared by both models.

    Returns:
        dict: ``gamma0`` and ``configured``, each with the ``semi`` and
        ``plain`` loss items, and ``gamma0_max_abs_diff``.
    """
    result = {}
    for name, cfg in (('gamma0', with_gamma(model_cfg,
                                            0.0)), ('configured', model_cfg)):
        semi, plain = build_pair(cfg, seed)
        result[name] = dict(
            semi=batch_losses(semi, batch, seed),
            plain=batch_losses(plain, batch, seed))
    gamma0 = result['gamma0']
    result['gamma0_max_abs_diff'] = max(
        abs(v - gamma0['plain'][k]) for k, v in gamma0['semi'].items())
    return result


# -- data -------------------------------------------------------------------
def write_gt_pseudo_labels(cfg: Config, out_dir: str) -> str:
    """Write the unlabeled images' ground truth as their pseudo labels.

    Args:
        cfg (Config): The DST-CBC config.
        out_dir (str): The benchmark's output folder.

    Returns:
        str: The pseudo-label folder.
    """
    label_dir = osp.join(out_dir, 'pseudo_labels')
    unlabeled_cfg = dict(cfg.train_dataloader.dataset.unlabeled, pipeline=[])
    dataset = DATASETS.build(unlabeled_cfg)
    paths = label_files(unlabeled_cfg, label_dir)
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        write_png(
            load_ground_truth(info, dataset.reduce_zero_label), paths[idx])
    return label_dir


def with_cached_load(pipeline: List[dict], cached: bool) -> List[dict]:
    """A pipeline with its leading ``Load*`` transforms in ``CachedLoad``
    (``cached``) or not.

    Args:
        pipeline (list[dict]): A training pipeline, with or without
            ``CachedLoad``.
        cached (bool): Whether to cache the loading transforms.

    Returns:
        list[dict]: The new pipeline.
    """
    pipeline = copy.deepcopy(list(pipeline))
    if pipeline[0]['type'] == 'CachedLoad':
        pipeline = list(pipeline[0]['transforms']) + pipeline[1:]
    if not cached:
        return pipeline
    num_load = 0
    while pipeline[num_load]['type'].startswith('Load'):
        num_load += 1
    return [dict(type='CachedLoad', transforms=pipeline[:num_load])
            ] + pipeline[num_load:]


def semi_loader(cfg: Config, label_dir: str, num_workers: int, cached: bool,
                seed: int) -> DataLoader:
    """The round's semi-supervised dataloader.

    Args:
        cfg (Config): The DST-CBC config.
        label_dir (str): The pseudo-label folder.
        num_workers (int): Loader processes (0: the main process).
        cached (bool): Whether loading goes through ``CachedLoad``.
        seed (int): Sampler seed.

    Returns:
        DataLoader: The loader; its (forked) workers persist across epochs
        and end with it.
    """
    loader_cfg = semi_loader_cfg(
        cfg,
        label_dir,
        num_workers=num_workers,
        persistent_workers=num_workers > 0)
    if num_workers > 0:
        loader_cfg['multiprocessing_context'] = 'fork'
    for half in ('labeled', 'unlabeled'):
        dataset = loader_cfg['dataset'][half]
        dataset['pipeline'] = with_cached_load(dataset['pipeline'], cached)
    return Runner.build_dataloader(loader_cfg, seed=seed)


def plain_loader(cfg: Config, seed: int) -> DataLoader:
    """A plain MMSeg dataloader of every training image with its ground
    truth, batches of the config's size, the config's pipeline.

    Args:
        cfg (Config): The DST-CBC config.
        seed (int): Sampler seed.

    Returns:
        DataLoader: The loader (an endless ``InfiniteSampler``).
    """
    loader = cfg.train_dataloader
    dataset = dict(loader.dataset.labeled, ann_file='train.txt')
    return Runner.build_dataloader(
        dict(
            batch_size=loader.batch_size,
            num_workers=loader.num_workers,
            persistent_workers=False,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dataset),
        seed=seed)


def fill_cache(dataset: Dataset) -> None:
    """Run every sample of ``dataset`` through its pipeline once, which
    fills the process's ``CachedLoad`` cache.

    Args:
        dataset (Dataset): The dataset.
    """
    for idx in range(len(dataset)):
        dataset[idx]


# -- timing -----------------------------------------------------------------
def timed_iteration(side: Side) -> Tuple[float, float]:
    """One training iteration of ``side``.

    Args:
        side (Side): The model, optimizer and batches to use.

    Returns:
        tuple[float, float]: Seconds in ``next(batches)`` and in
        ``train_step``.
    """
    start = time.perf_counter()
    batch = next(side.batches)
    fetched = time.perf_counter()
    side.model.train_step(batch, side.optim_wrapper)
    return fetched - start, time.perf_counter() - fetched


def time_sides(sides: Dict[str, Side], iters: int,
               warmup: int) -> Dict[str, Dict[str, List[float]]]:
    """Alternate iterations of the sides (A B, B A, ...), time them.

    Args:
        sides (dict[str, Side]): The sides by name.
        iters (int): Timed iterations per side.
        warmup (int): Untimed iterations per side first.

    Returns:
        dict: Per side, lists of ``data`` and ``step`` seconds.
    """
    names = list(sides)
    seconds = {name: dict(data=[], step=[]) for name in names}
    for i in range(warmup + iters):
        for name in names if i % 2 == 0 else names[::-1]:
            data, step = timed_iteration(sides[name])
            if i >= warmup:
                seconds[name]['data'].append(data)
                seconds[name]['step'].append(step)
    return seconds


def step_comparison(cfg: Config, label_dir: str, iters: int, warmup: int,
                    seed: int) -> Dict:
    """Time the semi-supervised and the plain iteration, interleaved.

    Both loaders use the config's pipeline and ``num_workers``; a
    ``CachedLoad`` cache is filled first.

    Args:
        cfg (Config): The DST-CBC config.
        label_dir (str): The pseudo-label folder.
        iters (int): Timed iterations per side.
        warmup (int): Untimed iterations per side first.
        seed (int): Seed of the weights and the samplers.

    Returns:
        dict: Per side the ``data`` and ``step`` seconds, and the ratios
        semi / plain of the median step and of the median iteration.
    """
    semi_model, plain_model = build_pair(cfg.model, seed)
    num_workers = cfg.train_dataloader.num_workers
    semi_data = semi_loader(cfg, label_dir, num_workers, _uses_cache(cfg),
                            seed)
    plain_data = plain_loader(cfg, seed)
    if _uses_cache(cfg):
        fill_cache(semi_data.dataset)
        fill_cache(plain_data.dataset)
    sides = dict(
        semi=Side(semi_model, build_optim_wrapper(semi_model,
                                                  cfg.optim_wrapper),
                  endless(semi_data)),
        plain=Side(plain_model,
                   build_optim_wrapper(plain_model, cfg.optim_wrapper),
                   endless(plain_data)))
    seconds = time_sides(sides, iters, warmup)
    medians = {
        name: dict(
            step=statistics.median(s['step']),
            iteration=statistics.median(
                [d + t for d, t in zip(s['data'], s['step'])]))
        for name, s in seconds.items()
    }
    return dict(
        seconds=seconds,
        medians=medians,
        step_ratio=medians['semi']['step'] / medians['plain']['step'],
        iteration_ratio=medians['semi']['iteration'] /
        medians['plain']['iteration'])


def _uses_cache(cfg: Config) -> bool:
    """Whether the config's training pipeline starts with ``CachedLoad``.

    Args:
        cfg (Config): The DST-CBC config.

    Returns:
        bool: True if it does.
    """
    pipeline = cfg.train_dataloader.dataset.labeled.pipeline
    return pipeline[0]['type'] == 'CachedLoad'


def data_wait(cfg: Config, model: nn.Module, label_dir: str, num_workers: int,
              cached: bool, iters: int, warmup: int, seed: int) -> Dict:
    """Time the semi-supervised loop's wait for data in one setting.

    Args:
        cfg (Config): The DST-CBC config.
        model (nn.Module): The model to train meanwhile.
        label_dir (str): The pseudo-label folder.
        num_workers (int): Loader processes.
        cached (bool): Whether loading goes through ``CachedLoad`` (its
            cache filled before the workers fork).
        iters (int): Timed iterations.
        warmup (int): Untimed iterations first (worker start-up).
        seed (int): Sampler seed.

    Returns:
        dict: ``num_workers``, ``cached``, and the ``wait`` and ``step``
        seconds of every timed iteration.
    """
    loader = semi_loader(cfg, label_dir, num_workers, cached, seed)
    if cached:
        fill_cache(loader.dataset)
    side = Side(model, build_optim_wrapper(model, cfg.optim_wrapper),
                endless(loader))
    times = [timed_iteration(side) for _ in range(warmup + iters)][warmup:]
    return dict(
        num_workers=num_workers,
        cached=cached,
        wait=[w for w, _ in times],
        step=[s for _, s in times])


def run_benchmark(args: argparse.Namespace) -> Dict:
    """Run every measurement of the training-step benchmark.

    Returns:
        dict: The results written to ``results.json``.
    """
    data = prepare_data(args.data_root, args.out, args.synthetic_train,
                        args.synthetic_size)
    cfg = data.cfg
    label_dir = write_gt_pseudo_labels(cfg, args.out)
    check_batch = next(iter(semi_loader(cfg, label_dir, 0, False, args.seed)))
    steps = step_comparison(cfg, label_dir, args.iters, args.warmup, args.seed)
    model = build_model(cfg.model, args.seed)
    waits = [
        data_wait(cfg, model, label_dir, workers, cached, args.wait_iters,
                  args.warmup, args.seed) for workers in args.workers
        for cached in (False, True)
    ]
    return dict(
        data=data.note,
        config_num_workers=cfg.train_dataloader.num_workers,
        config_cached=_uses_cache(cfg),
        loss_check=loss_check(cfg.model, check_batch, args.seed),
        steps=steps,
        data_wait=waits)


def steps_section(results: Dict) -> List[str]:
    """Report lines of the step comparison and the loss check."""
    steps = results['steps']
    rows = []
    for name, title in (('semi', 'DST-CBC 4 + 4 (SemiSegDataset, '
                         'MixedBatchSampler, DynamicLossHead)'),
                        ('plain', 'plain MMSeg 8 labeled (InfiniteSampler, '
                         'CrossEntropyLoss)')):
        seconds = steps['seconds'][name]
        rows.append([
            title, f'{1000 * statistics.median(seconds["data"]):.1f}',
            f'{1000 * steps["medians"][name]["step"]:.1f}',
            f'{1000 * steps["medians"][name]["iteration"]:.1f}',
            len(seconds['step'])
        ])
    check = results['loss_check']
    ratio = steps['step_ratio']
    return [
        f'Data: {results["data"]}',
        f'Both sides: the config\'s pipeline (CachedLoad: '
        f'{results["config_cached"]}, cache filled first), num_workers '
        f'{results["config_num_workers"]}, same starting weights; '
        'iterations alternate; medians.', '',
        markdown_table([
            'iteration', 'median next(loader) ms', 'median train_step ms',
            'median iteration ms', 'iterations'
        ], rows), '',
        f'**semi / plain train_step: {ratio:.3f}** (goal <= {STEP_GOAL}: '
        f'{"met" if ratio <= STEP_GOAL else "NOT met"}); whole iteration: '
        f'{steps["iteration_ratio"]:.3f}.', '',
        'Loss check on one semi-supervised batch, same weights: gamma 0, '
        'max |semi - plain| over the loss items = '
        f'{check["gamma0_max_abs_diff"]:.2e}; with the configured gamma, '
        f'decode loss semi {check["configured"]["semi"]["decode.loss_ce"]:.4f}'
        f' vs plain {check["configured"]["plain"]["decode.loss_ce"]:.4f} '
        '(pseudo-labeled pixels down-weighted).'
    ]


def wait_section(results: Dict) -> List[str]:
    """Report lines of the data-wait measurements."""
    rows = []
    for wait in results['data_wait']:
        total = sum(wait['wait']) + sum(wait['step'])
        rows.append([
            wait['num_workers'], 'yes' if wait['cached'] else 'no',
            f'{1000 * statistics.mean(wait["wait"]):.1f}',
            f'{1000 * statistics.median(wait["wait"]):.1f}',
            f'{1000 * statistics.mean(wait["step"]):.1f}',
            f'{100 * sum(wait["wait"]) / total:.1f} %'
        ])
    return [
        '### Time the semi-supervised loop waits for data (next(iterator))',
        '',
        markdown_table([
            'num_workers', 'CachedLoad', 'mean wait ms', 'median wait ms',
            'mean train_step ms', 'wait share of the iteration'
        ], rows), '',
        'CachedLoad rows: the cache was filled before timing (later '
        'epochs); forked workers inherit it and persist across epochs.'
    ]


def main() -> None:
    """Run the benchmark, print and write the report."""
    args = parse_args()
    apply_common_args(args)
    results = run_benchmark(args)
    text = '\n'.join(['## Training step: DST-CBC 4 + 4 vs plain MMSeg 8', ''] +
                     steps_section(results) + [''] + wait_section(results))
    write_results(args.out, results, text)


if __name__ == '__main__':
    main()
