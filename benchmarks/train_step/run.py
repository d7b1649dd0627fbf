"""Training step: a semi-supervised 4 + 4 step against a plain MMSeg step.

- **Step time**: one DST-CBC iteration (``SemiSegDataset`` +
  ``MixedBatchSampler``: 4 labeled + 4 pseudo-labeled images; the config's
  model, the dynamic loss on every head) against one plain MMSeg iteration
  of the same model (the plain heads with ``CrossEntropyLoss``, the same
  starting weights) on 8 labeled images (``InfiniteSampler``). Both use the
  config's pipeline and ``num_workers``; the iterations alternate. Reports
  semi / plain of the median ``train_step`` (goal <= 1.05) and of the
  median whole iteration (``next(loader)`` + ``train_step``).
- **Loss check**: with gamma 0 both models compute the same loss on the
  same batch.
- **Data wait**: the time the semi-supervised loop waits in ``next()`` for
  ``num_workers`` 0, 1, 2, with and without ``CachedLoad`` (its cache
  filled first: the steady state after the first epoch).

The pseudo labels are the unlabeled images' ground truth (their values do
not change the step's cost).

Usage::

    python -m benchmarks.train_step.run [--data-root DIR] [--iters 30]
        [--wait-iters 20] [--workers 0 1 2] [--threads N]
"""
import argparse
import copy
import statistics
import time
from typing import Callable, Dict, Iterator, List, NamedTuple, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader

from benchmarks.common import (add_common_args, apply_common_args, build_model,
                               interleave, machine, machine_line, prepare_data,
                               semi_loader_cfg, write_results)
from dst_cbc.datasets import endless_batches
from dst_cbc.engine.report import markdown_table
from dst_cbc.pseudo_labels import label_files, write_label
from dst_cbc.utils import load_ground_truth
from mmseg.registry import DATASETS, MODELS

STEP_GOAL = 1.05


class Side(NamedTuple):
    """A model, its optimizer and its endless batches."""
    model: nn.Module
    optim_wrapper: OptimWrapper
    batches: Iterator


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser, 'train_step')
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--wait-iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    return parser.parse_args()


def map_heads(model_cfg: dict, fn: Callable[[dict], dict]) -> dict:
    """A copy of a model config with ``fn`` applied to every head config."""
    model_cfg = copy.deepcopy(dict(model_cfg))
    model_cfg['decode_head'] = fn(model_cfg['decode_head'])
    aux = model_cfg.get('auxiliary_head')
    if isinstance(aux, dict):
        model_cfg['auxiliary_head'] = fn(aux)
    elif aux is not None:
        model_cfg['auxiliary_head'] = [fn(head) for head in aux]
    return model_cfg


def plain_head(head: dict) -> dict:
    """The plain MMSeg head of a ``Dynamic<Base>`` head config: the base
    type with ``CrossEntropyLoss`` of the same weight and name, averaged
    over non-ignored pixels as the dynamic loss is."""
    loss = head['loss_decode']
    return dict(
        head,
        type=head['type'].removeprefix('Dynamic'),
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=loss.get('loss_weight', 1.0),
            loss_name=loss.get('loss_name', 'loss_ce'),
            avg_non_ignore=True))


def with_gamma(model_cfg: dict, gamma: float) -> dict:
    """A copy of a model config whose dynamic losses use ``gamma``."""
    return map_heads(
        model_cfg, lambda head: dict(
            head, loss_decode=dict(head['loss_decode'], gamma=gamma)))


def build_pair(model_cfg: dict, seed: int) -> Tuple[nn.Module, nn.Module]:
    """The DST-CBC model and its plain MMSeg twin, same weights."""
    semi = build_model(model_cfg, seed)
    plain = MODELS.build(map_heads(model_cfg, plain_head))
    plain.load_state_dict(semi.state_dict())
    return semi, plain


def batch_losses(model: nn.Module, batch: dict, seed: int) -> Dict[str, float]:
    """The loss items of ``model`` on a copy of ``batch``, in train mode
    (torch seeded first, so that twin models draw the same dropout)."""
    model.train()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    torch.manual_seed(seed)
    losses = model(**data, mode='loss')
    return {k: v.item() for k, v in losses.items() if 'loss' in k}


def loss_check(model_cfg: dict, batch: dict, seed: int) -> Dict:
    """Losses of both models on one batch, at gamma 0 and as configured.

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


def write_gt_pseudo_labels(cfg: Config, out_dir: str) -> str:
    """Write the unlabeled images' ground truth as their pseudo labels.

    Returns:
        str: The pseudo-label folder.
    """
    label_dir = f'{out_dir}/pseudo_labels'
    unlabeled_cfg = dict(cfg.train_dataloader.dataset.unlabeled, pipeline=[])
    dataset = DATASETS.build(unlabeled_cfg)
    for idx, path in enumerate(label_files(unlabeled_cfg, label_dir)):
        gt = load_ground_truth(
            dataset.get_data_info(idx), dataset.reduce_zero_label)
        write_label(path, gt.astype('uint8'))
    return label_dir


def with_cached_load(pipeline: List[dict], cached: bool) -> List[dict]:
    """A pipeline with its leading ``Load*`` transforms in ``CachedLoad``
    (``cached``) or not."""
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


def uses_cache(cfg: Config) -> bool:
    """Whether the config's training pipeline starts with ``CachedLoad``."""
    pipeline = cfg.train_dataloader.dataset.labeled.pipeline
    return pipeline[0]['type'] == 'CachedLoad'


def semi_loader(cfg: Config, label_dir: str, num_workers: int, cached: bool,
                seed: int) -> DataLoader:
    """The round's dataloader; ``CachedLoad``'s cache filled first (forked
    workers inherit it and persist across epochs)."""
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
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    if cached:
        for idx in range(len(loader.dataset)):
            loader.dataset[idx]
    return loader


def plain_side(cfg: Config, model: nn.Module, seed: int) -> Side:
    """A plain MMSeg side: every training image with its ground truth in
    the config's batches and pipeline, an ``InfiniteSampler``."""
    loader_cfg = cfg.train_dataloader
    dataset = dict(loader_cfg.dataset.labeled, ann_file='train.txt')
    loader = Runner.build_dataloader(
        dict(
            batch_size=loader_cfg.batch_size,
            num_workers=loader_cfg.num_workers,
            persistent_workers=False,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dataset),
        seed=seed)
    if uses_cache(cfg):
        for idx in range(len(loader.dataset)):
            loader.dataset[idx]
    return Side(model, build_optim_wrapper(model, cfg.optim_wrapper),
                iter(loader))


def timed_iteration(side: Side) -> Tuple[float, float]:
    """One iteration of ``side``: seconds in ``next()`` and in
    ``train_step``."""
    start = time.perf_counter()
    batch = next(side.batches)
    fetched = time.perf_counter()
    side.model.train_step(batch, side.optim_wrapper)
    return fetched - start, time.perf_counter() - fetched


def step_comparison(cfg: Config, label_dir: str, iters: int, warmup: int,
                    seed: int) -> Dict:
    """Time the semi-supervised and the plain iteration, alternating.

    Returns:
        dict: Per side ``data`` and ``step`` seconds of every iteration,
        and the ratios semi / plain of the median ``step`` and of the
        median ``iteration``.
    """
    semi_model, plain_model = build_pair(cfg.model, seed)
    loader = semi_loader(cfg, label_dir, cfg.train_dataloader.num_workers,
                         uses_cache(cfg), seed)
    sides = dict(
        semi=Side(semi_model, build_optim_wrapper(semi_model,
                                                  cfg.optim_wrapper),
                  endless_batches(loader)),
        plain=plain_side(cfg, plain_model, seed))
    for side in sides.values():
        for _ in range(warmup):
            timed_iteration(side)
    times: Dict[str, List[Tuple[float, float]]] = {name: [] for name in sides}
    interleave(
        {
            name:
            lambda name=name: times[name].append(timed_iteration(sides[name]))
            for name in sides
        }, iters)
    result: Dict = {
        name: dict(data=[d for d, _ in t], step=[s for _, s in t])
        for name, t in times.items()
    }
    for kind in ('step', 'iteration'):
        medians = [
            statistics.median(s['step'] if kind == 'step' else
                              [d + t for d, t in zip(s['data'], s['step'])])
            for s in (result['semi'], result['plain'])
        ]
        result[f'{kind}_ratio'] = medians[0] / medians[1]
    return result


def data_wait(cfg: Config, model: nn.Module, label_dir: str, num_workers: int,
              cached: bool, iters: int, warmup: int, seed: int) -> Dict:
    """The semi-supervised loop's wait for data in one setting.

    Returns:
        dict: ``num_workers``, ``cached``, and the ``wait`` and ``step``
        seconds of every timed iteration.
    """
    loader = semi_loader(cfg, label_dir, num_workers, cached, seed)
    side = Side(model, build_optim_wrapper(model, cfg.optim_wrapper),
                endless_batches(loader))
    times = [timed_iteration(side) for _ in range(warmup + iters)][warmup:]
    return dict(
        num_workers=num_workers,
        cached=cached,
        wait=[w for w, _ in times],
        step=[s for _, s in times])


def run_benchmark(args: argparse.Namespace) -> Dict:
    """Run every measurement; the results written to ``results.json``."""
    data = prepare_data(args.data_root, args.out, args.synthetic_train,
                        args.synthetic_size)
    cfg = data.cfg
    label_dir = write_gt_pseudo_labels(cfg, args.out)
    batch = next(iter(semi_loader(cfg, label_dir, 0, False, args.seed)))
    model = build_model(cfg.model, args.seed)
    return dict(
        machine=machine(),
        data=data.note,
        loss_check=loss_check(cfg.model, batch, args.seed),
        steps=step_comparison(cfg, label_dir, args.iters, args.warmup,
                              args.seed),
        data_wait=[
            data_wait(cfg, model, label_dir, workers, cached, args.wait_iters,
                      args.warmup, args.seed) for workers in args.workers
            for cached in (False, True)
        ])


def report(results: Dict) -> str:
    """The Markdown report of :func:`run_benchmark`'s results."""
    steps = results['steps']
    rows = [[
        name, f'{1000 * statistics.median(steps[name]["data"]):.1f}',
        f'{1000 * statistics.median(steps[name]["step"]):.1f}'
    ] for name in ('semi', 'plain')]
    waits = []
    for wait in results['data_wait']:
        total = sum(wait['wait']) + sum(wait['step'])
        waits.append([
            str(wait['num_workers']), 'yes' if wait['cached'] else 'no',
            f'{1000 * statistics.mean(wait["wait"]):.1f}',
            f'{1000 * statistics.mean(wait["step"]):.1f}',
            f'{100 * sum(wait["wait"]) / total:.1f} %'
        ])
    ratio = steps['step_ratio']
    return '\n'.join([
        '## Training step: DST-CBC 4 + 4 vs plain MMSeg 8', '',
        machine_line(results['machine']), results['data'], '',
        markdown_table(['side', 'median next() ms', 'median train_step ms'],
                       rows), '',
        f'**semi / plain train_step: {ratio:.3f}** (goal <= {STEP_GOAL}: '
        f'{"met" if ratio <= STEP_GOAL else "not met"}); whole iteration '
        f'{steps["iteration_ratio"]:.3f}. Gamma 0: largest loss difference '
        f'{results["loss_check"]["gamma0_max_abs_diff"]:.2e}.', '',
        markdown_table([
            'num_workers', 'CachedLoad', 'mean wait ms', 'mean train_step ms',
            'wait share'
        ], waits)
    ])


def main() -> None:
    """Run the benchmark, print and write the report."""
    args = parse_args()
    apply_common_args(args)
    results = run_benchmark(args)
    write_results(args.out, results, report(results))


if __name__ == '__main__':
    main()
