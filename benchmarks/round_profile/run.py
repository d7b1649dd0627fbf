"""Where the time of a DST-CBC round goes.

Trains the benchmark data's config through MMEngine's ``Runner``: round 0
(``--baseline-iters``, or ``--baseline-checkpoint`` as round 0) and one
self-training round (``--round-iters`` at ``--alpha``). Two hooks of this
script, the first and the last to run at every hook point (priorities
``HIGHEST`` and ``LOWEST``), time the stages between MMEngine's hook calls:

- **data**: from the end of the previous stage to the first
  ``before_train_iter`` hook: ``next()`` on the loop's batches (after a
  validation that improved the round's best score, also saving that
  checkpoint, which no hook brackets);
- **train step**: from the last ``before_train_iter`` hook to the first
  ``after_train_iter`` hook: ``model.train_step`` (forward, losses,
  backward, optimizer step);
- **iteration hooks**: the ``after_train_iter`` hooks (logging, schedules,
  periodic checkpoints);
- **labeling**: the ``before_train_epoch`` hooks (``PseudoLabelHook``);
- **validation**: ``before_val`` to ``after_val``;
- **round-end hooks**: the ``after_train_epoch`` hooks (the report);

and **other** is the rest of the round (loading the best checkpoint,
saving the round's best, rebuilding the dataloader). A round runs from the
end of the previous round's ``after_train_epoch`` hooks (``before_train``
for round 0) to the end of its own.

Usage::

    python -m benchmarks.round_profile.run [--data-root DIR]
        [--baseline-iters 50 | --baseline-checkpoint CKPT]
        [--round-iters 100] [--val-interval 50] [--alpha 0.2] [--threads N]
"""
import argparse
import copy
import os.path as osp
import shutil
import time
from collections import defaultdict
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from benchmarks.common import (add_common_args, apply_common_args, machine,
                               machine_line, prepare_data, write_results)
from dst_cbc.engine.report import markdown_table

STAGES = ('data', 'train step', 'iteration hooks', 'labeling', 'validation',
          'round-end hooks', 'other')


class StageClock:
    """Seconds per round and stage, charged by :class:`ClockHook` s."""

    def __init__(self) -> None:
        self.seconds: Dict[int, Dict[str, float]] = defaultdict(
            lambda: defaultdict(float))
        self.round = 0
        self._open: Dict[str, float] = {}
        self.begin()

    def begin(self) -> None:
        """Round 0 starts now."""
        self._idle_since = self._round_start = time.perf_counter()

    def start(self, stage: str) -> None:
        """A stage begins now."""
        self._open[stage] = time.perf_counter()

    def stop(self, stage: str) -> None:
        """A stage ends now: its time goes to the current round."""
        now = time.perf_counter()
        self.seconds[self.round][stage] += now - self._open.pop(stage)
        self._idle_since = now

    def data_wait_ends(self) -> None:
        """An iteration starts: the time since the last stage was data."""
        self.seconds[self.round]['data'] += (
            time.perf_counter() - self._idle_since)

    def round_ends(self, next_round: int) -> None:
        """Close the current round's wall time; ``next_round`` follows."""
        now = time.perf_counter()
        self.seconds[self.round]['total'] = now - self._round_start
        self._round_start = self._idle_since = now
        self.round = next_round

    def table(self) -> Dict[str, Dict[str, float]]:
        """Per round (str keys), seconds of :data:`STAGES` and ``total``."""
        table = {}
        for rnd, seconds in sorted(self.seconds.items()):
            row = {stage: seconds.get(stage, 0.0) for stage in STAGES}
            row['total'] = seconds['total']
            row['other'] = row['total'] - sum(row[s]
                                              for s in STAGES if s != 'other')
            table[str(rnd)] = row
        return table


class ClockHook(Hook):
    """One edge of the clock: the first (``HIGHEST``) or the last
    (``LOWEST``) hook at every hook point.

    Args:
        clock (StageClock): The clock to charge.
        first (bool): Whether this is the first hook of every point.
    """

    def __init__(self, clock: StageClock, first: bool) -> None:
        self.clock = clock
        self.first = first
        self.priority = 'HIGHEST' if first else 'LOWEST'

    def _edge(self, stage: str, opens_first: bool) -> None:
        """Open ``stage`` at one edge of a hook point, close it at the
        other."""
        if self.first == opens_first:
            self.clock.start(stage)
        else:
            self.clock.stop(stage)

    def before_train(self, runner) -> None:
        if self.first:
            self.clock.begin()

    def before_train_epoch(self, runner) -> None:
        self._edge('labeling', opens_first=True)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.first:
            self.clock.data_wait_ends()
        else:
            self.clock.start('train step')

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if self.first:
            self.clock.stop('train step')
        self._edge('iteration hooks', opens_first=True)

    def before_val(self, runner) -> None:
        if self.first:
            self.clock.start('validation')

    def after_val(self, runner) -> None:
        if not self.first:
            self.clock.stop('validation')

    def after_train_epoch(self, runner) -> None:
        self._edge('round-end hooks', opens_first=True)
        if not self.first:
            self.clock.round_ends(runner.train_loop.round + 1)


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser, 'round_profile')
    parser.add_argument('--baseline-iters', type=int, default=50)
    parser.add_argument(
        '--baseline-checkpoint',
        help='trained baseline used as round 0 instead of training it')
    parser.add_argument('--round-iters', type=int, default=100)
    parser.add_argument('--val-interval', type=int, default=50)
    parser.add_argument('--alpha', type=float, default=0.2)
    return parser.parse_args()


def profile_config(cfg: Config,
                   work_dir: str,
                   baseline_iters: int,
                   round_iters: int,
                   val_interval: int,
                   alpha: float,
                   seed: int,
                   baseline_checkpoint: Optional[str] = None) -> Config:
    """The benchmark data's config shortened to round 0 and one round."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.train_cfg.update(
        baseline_iters=baseline_iters,
        round_iters=round_iters,
        val_interval=val_interval,
        alphas=[alpha],
        baseline_checkpoint=baseline_checkpoint)
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=seed)
    return cfg


def run_profile(cfg: Config) -> Dict:
    """Train ``cfg`` in a fresh work dir with the clock's hooks.

    Returns:
        dict: ``seconds`` per round (:meth:`StageClock.table`) and
        ``wall_seconds`` of ``runner.train()``.
    """
    shutil.rmtree(cfg.work_dir, ignore_errors=True)
    runner = Runner.from_cfg(cfg)
    clock = StageClock()
    for first in (True, False):
        runner.register_hook(ClockHook(clock, first))
    start = time.perf_counter()
    runner.train()
    return dict(
        seconds=clock.table(), wall_seconds=time.perf_counter() - start)


def report(results: Dict) -> str:
    """The Markdown report of the profile."""
    seconds = results['seconds']
    header: List[str] = ['stage']
    for rnd in seconds:
        header += [f'round {rnd} s', 'share']
    rows = [[stage] + [
        cell for rnd in seconds for cell in
        (f'{seconds[rnd][stage]:.2f}',
         f'{100 * seconds[rnd][stage] / seconds[rnd]["total"]:.1f} %')
    ] for stage in STAGES + ('total', )]
    return '\n'.join([
        '## Profile of a DST-CBC round', '',
        machine_line(results['machine']), results['data'],
        f'Round 0: {results["round0"]}; round 1: {results["round_iters"]} '
        f'iterations at alpha {results["alpha"]}, validation every '
        f'{results["val_interval"]} iterations and at the round\'s end; '
        f'runner.train() {results["wall_seconds"]:.1f} s.', '',
        markdown_table(header, rows)
    ])


def main() -> None:
    """Run the benchmark, print and write the report."""
    args = parse_args()
    apply_common_args(args)
    data = prepare_data(args.data_root, args.out, args.synthetic_train,
                        args.synthetic_size)
    cfg = profile_config(data.cfg, osp.join(args.out,
                                            'work_dir'), args.baseline_iters,
                         args.round_iters, args.val_interval, args.alpha,
                         args.seed, args.baseline_checkpoint)
    results = dict(
        machine=machine(),
        data=data.note,
        round0=(f'given: {args.baseline_checkpoint}'
                if args.baseline_checkpoint else
                f'{args.baseline_iters} supervised iterations'),
        round_iters=args.round_iters,
        alpha=args.alpha,
        val_interval=args.val_interval,
        **run_profile(cfg))
    write_results(args.out, results, report(results))


if __name__ == '__main__':
    main()
