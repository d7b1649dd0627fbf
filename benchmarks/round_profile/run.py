"""Where the time of a DST-CBC round goes.

Runs :class:`CurriculumTrainLoop` through MMEngine's ``Runner`` with the
benchmark data's config: a short round 0 (``--baseline-iters``, or the
``--baseline-checkpoint`` as round 0) and one self-training round
(``--round-iters`` at ``--alpha``). Timers are wrapped, by this script, around

- **data**: each ``next()`` on the loop's batch iterator;
- **forward**: ``model.train_step`` minus ``update_params`` (preprocessing,
  forward pass, losses);
- **backward + optimizer**: ``OptimWrapper.update_params``;
- **labeling**: ``PseudoLabelHook.label_round``;
- **validation**: ``runner.val_loop.run``;
- **checkpointing**: ``runner.save_checkpoint`` and
  ``runner.load_checkpoint``;
- **report**: ``CurriculumReportHook.after_train_epoch``;

and **other** is the rest of the round's wall time (other hooks, logging,
rebuilding the dataloader, summary files). The wall time between two timed
events goes to the round current at the first, so the rounds partition the
run. Prints the seconds and shares per round.

Usage::

    python -m benchmarks.round_profile.run [--data-root DIR] [--out DIR]
        [--baseline-iters 50 | --baseline-checkpoint CKPT] [--round-iters 100]
        [--val-interval 50] [--alpha 0.2]
"""
import argparse
import copy
import functools
import os.path as osp
import shutil
import time
from collections import defaultdict
from typing import Callable, Dict, Iterator, Optional
from unittest import mock

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from benchmarks.common import (add_common_args, apply_common_args,
                               markdown_table, prepare_data, write_results)
from dst_cbc.engine import (CurriculumReportHook, PseudoLabelHook,
                            curriculum_loop)

#: Categories of the report, in order; ``forward`` and ``other`` are derived.
CATEGORIES = ('data', 'forward', 'backward+optimizer', 'labeling',
              'validation', 'checkpointing', 'report', 'other')


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
    parser.add_argument(
        '--num-unlabeled',
        type=int,
        help='use only the first N unlabeled images (default: all)')
    parser.add_argument(
        '--num-val',
        type=int,
        help='validate on the first N val images only (default: all)')
    parser.add_argument(
        '--log-level',
        default='WARNING',
        help="the runner's log level (INFO shows the training log)")
    return parser.parse_args()


class RoundClock:
    """Charges wall time to (round, category).

    A call wrapped by :meth:`wrap` adds its duration to the category of the
    round current when it starts. Every timed event also moves the clock:
    the wall time since the previous event goes to the ``total`` of the round
    that was current then, so the totals of the rounds partition the run.

    Args:
        loop (CurriculumTrainLoop): The loop whose ``round`` is read.
    """

    def __init__(self, loop) -> None:
        self._loop = loop
        self.seconds: Dict[int, Dict[str, float]] = defaultdict(
            lambda: defaultdict(float))
        self.calls: Dict[int,
                         Dict[str,
                              int]] = defaultdict(lambda: defaultdict(int))
        self._round = loop.round
        self._last = time.perf_counter()

    def tick(self) -> int:
        """Charge the time since the last event to its round.

        Returns:
            int: The round current now.
        """
        now = time.perf_counter()
        self.seconds[self._round]['total'] += now - self._last
        self._last, self._round = now, self._loop.round
        return self._round

    def wrap(self, fn: Callable, category: str) -> Callable:
        """``fn`` with its calls timed under ``category``.

        Args:
            fn (Callable): The function or bound method to time.
            category (str): Where its time goes.

        Returns:
            Callable: The timed function.
        """

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            rnd = self.tick()
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[rnd][category] += time.perf_counter() - start
                self.calls[rnd][category] += 1
                self.tick()

        return timed

    def wrap_batches(self, batches_fn: Callable[..., Iterator],
                     category: str) -> Callable[..., Iterator]:
        """A generator function whose every ``next()`` is timed.

        Args:
            batches_fn (Callable): Returns an endless iterator of batches.
            category (str): Where the time of each ``next()`` goes.

        Returns:
            Callable: The timed generator function.
        """

        @functools.wraps(batches_fn)
        def timed_batches(*args, **kwargs):
            batches = batches_fn(*args, **kwargs)
            next_batch = self.wrap(lambda: next(batches), category)
            while True:
                yield next_batch()

        return timed_batches


def install_timers(runner: Runner, clock: RoundClock) -> None:
    """Wrap the runner's model, optimizer, loops and hooks in timers.

    Instance attributes shadow the methods, so the package is untouched
    (the loop's batches are timed by :func:`run_profile`).

    Args:
        runner (Runner): A runner whose ``train()`` has built its loops and
            optimizer wrapper.
        clock (RoundClock): The clock to charge.
    """
    runner.model.train_step = clock.wrap(runner.model.train_step, 'train_step')
    runner.optim_wrapper.update_params = clock.wrap(
        runner.optim_wrapper.update_params, 'backward+optimizer')
    if runner.val_loop is not None:
        runner.val_loop.run = clock.wrap(runner.val_loop.run, 'validation')
    runner.save_checkpoint = clock.wrap(runner.save_checkpoint,
                                        'checkpointing')
    runner.load_checkpoint = clock.wrap(runner.load_checkpoint,
                                        'checkpointing')
    for hook in runner.hooks:
        if isinstance(hook, PseudoLabelHook):
            hook.label_round = clock.wrap(hook.label_round, 'labeling')
        elif isinstance(hook, CurriculumReportHook):
            hook.after_train_epoch = clock.wrap(hook.after_train_epoch,
                                                'report')


class ProfileHook(Hook):
    """Installs the timers when training starts and stops the clock at
    its end; ``clock`` holds the measurements."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.clock: Optional[RoundClock] = None

    def before_train(self, runner: Runner) -> None:
        """Start the clock and wrap the timers."""
        self.clock = RoundClock(runner.train_loop)
        install_timers(runner, self.clock)

    def after_train(self, runner: Runner) -> None:
        """Charge the last stretch of wall time."""
        self.clock.tick()


def profile_config(cfg: Config,
                   work_dir: str,
                   baseline_iters: int,
                   round_iters: int,
                   val_interval: int,
                   alpha: float,
                   baseline_checkpoint: Optional[str],
                   log_level: str,
                   seed: int,
                   num_unlabeled: Optional[int] = None,
                   num_val: Optional[int] = None) -> Config:
    """The benchmark data's config shortened to round 0 and one round.

    Args:
        cfg (Config): The DST-CBC config pointed at the data.
        work_dir (str): The run's work dir.
        baseline_iters (int): Iterations of round 0.
        round_iters (int): Iterations of the self-training round.
        val_interval (int): Validate every this many iterations.
        alpha (float): Pseudo-label ratio of the round.
        baseline_checkpoint (str, optional): Checkpoint used as round 0.
        log_level (str): The runner's log level.
        seed (int): The run's random seed.
        num_unlabeled (int, optional): Keep only the first unlabeled images.
        num_val (int, optional): Keep only the first val images.

    Returns:
        Config: The profiled run's config.
    """
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.train_cfg.update(
        baseline_iters=baseline_iters,
        round_iters=round_iters,
        val_interval=val_interval,
        alphas=[alpha])
    cfg.train_cfg.baseline_checkpoint = baseline_checkpoint
    cfg.log_level = log_level
    cfg.randomness = dict(seed=seed)
    if num_unlabeled is not None:
        cfg.train_dataloader.dataset.unlabeled.indices = num_unlabeled
    if num_val is not None:
        cfg.val_dataloader.dataset.indices = num_val
    return cfg


def run_profile(cfg: Config) -> Dict:
    """Train ``cfg`` in a fresh work dir with the timers.

    Args:
        cfg (Config): The profiled run's config (its work dir is emptied).

    Returns:
        dict: ``seconds`` and ``calls`` per round (str keys) and category,
        ``forward`` and ``other`` derived, and ``wall_seconds`` of
        ``runner.train()``.
    """
    shutil.rmtree(cfg.work_dir, ignore_errors=True)
    runner = Runner.from_cfg(cfg)
    hook = ProfileHook()
    runner.register_hook(hook)
    batches = curriculum_loop.endless_batches

    def timed_batches(*args, **kwargs) -> Iterator:
        return hook.clock.wrap_batches(batches, 'data')(*args, **kwargs)

    start = time.perf_counter()
    # The loop's batches, for this run only.
    with mock.patch.object(curriculum_loop, 'endless_batches', timed_batches):
        runner.train()
    wall = time.perf_counter() - start
    seconds = {str(r): derive(s) for r, s in hook.clock.seconds.items()}
    calls = {str(r): dict(c) for r, c in hook.clock.calls.items()}
    return dict(seconds=seconds, calls=calls, wall_seconds=wall)


def derive(seconds: Dict[str, float]) -> Dict[str, float]:
    """Add ``forward`` (train_step - update_params) and ``other`` (the
    round's total minus every category) to a round's seconds.

    Args:
        seconds (dict[str, float]): Measured seconds of one round.

    Returns:
        dict[str, float]: Seconds of :data:`CATEGORIES` and ``total``.
    """
    result = {c: seconds.get(c, 0.0) for c in CATEGORIES}
    result['forward'] = (
        seconds.get('train_step', 0.0) - result['backward+optimizer'])
    result['total'] = seconds['total']
    result['other'] = result['total'] - sum(
        v for c, v in result.items() if c not in ('other', 'total'))
    return result


def report(results: Dict) -> str:
    """The Markdown report of the profile."""
    profile = results['profile']
    rounds = sorted(profile['seconds'], key=int)
    header = ['category']
    for rnd in rounds:
        header += [f'round {rnd} s', 'share']
    rows = []
    for category in CATEGORIES + ('total', ):
        row = [category]
        for rnd in rounds:
            seconds = profile['seconds'][rnd]
            row += [
                f'{seconds[category]:.2f}',
                f'{100 * seconds[category] / seconds["total"]:.1f} %'
            ]
        rows.append(row)
    setup = profile['wall_seconds'] - sum(profile['seconds'][rnd]['total']
                                          for rnd in rounds)
    return '\n'.join([
        '## Profile of a DST-CBC round', '', f'Data: {results["data"]}',
        f'Round 0: {results["round0"]}; round 1: {results["round_iters"]} '
        f'iterations at alpha {results["alpha"]}, validation every '
        f'{results["val_interval"]} iterations and at the round\'s end.', '',
        markdown_table(header, rows), '',
        'forward = train_step - update_params (data preprocessing, forward, '
        'losses); labeling includes loading the unlabeled images and '
        'writing the PNGs; other = hooks, logging, dataloader rebuild, '
        f'summary. runner.train() took {profile["wall_seconds"]:.1f} s, '
        f'{setup:.1f} s of it before round 0 (weight init, the baseline, '
        'hooks\' before_run).'
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
                         args.baseline_checkpoint, args.log_level, args.seed,
                         args.num_unlabeled, args.num_val)
    results = dict(
        data=data.note,
        round0=(f'given: {args.baseline_checkpoint}'
                if args.baseline_checkpoint else
                f'{args.baseline_iters} supervised iterations'),
        round_iters=args.round_iters,
        alpha=args.alpha,
        val_interval=args.val_interval,
        profile=run_profile(cfg))
    write_results(args.out, results, report(results))


if __name__ == '__main__':
    main()
