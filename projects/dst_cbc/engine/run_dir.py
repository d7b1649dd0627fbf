"""The work dir of a curriculum run: who owns it and which checkpoints it
keeps.

- ``run.lock`` is held by the one process training in it
  (:class:`~.work_dir_lock.WorkDirLock`);
- ``run.json`` names the config the work dir belongs to (its fingerprint
  and settings);
- ``round_<r>_best.pth`` is round r's best model (weights only);
- ``round_<r>_end.pth`` is the resumable state at round r's end, the file
  ``last_checkpoint`` points at until the next periodic checkpoint.

Every checkpoint is written file-then-rename (:mod:`.checkpoints`).
"""
import glob
import json
import logging
import os
import os.path as osp
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log

from ..utils import atomic_write_json, config_fingerprint, read_json
from ..utils.fingerprint import RUN_KEYS
from .checkpoints import (is_valid_checkpoint, point_last_checkpoint,
                          resumable_checkpoints, save_checkpoint_file,
                          temporary_name)
from .main_process import on_main_process
from .work_dir_lock import WorkDirLock

RUN_FILE = 'run.json'
#: Differing settings named in a refusal, at most.
MAX_NAMED = 8
#: A config's settings as plain JSON values (:func:`config_settings`).
Settings = Dict[str, Any]


def best_checkpoint_name(rnd: int) -> str:
    """File name of round ``rnd``'s best checkpoint."""
    return f'round_{rnd}_best.pth'


def end_checkpoint_name(rnd: int) -> str:
    """File name of the resumable checkpoint saved when round ``rnd`` ends."""
    return f'round_{rnd}_end.pth'


def config_settings(cfg: Config) -> Settings:
    """The config entries the fingerprint covers, as plain JSON values."""
    parts = {key: cfg.get(key) for key in RUN_KEYS}
    return json.loads(json.dumps(parts, sort_keys=True, default=str))


def _flatten(value: Any, prefix: str, out: Dict[str, Any]) -> None:
    """Dotted keys (``a.b[0].c``) of the leaves of nested dicts and lists."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f'{prefix}.{key}' if prefix else key, out)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            _flatten(item, f'{prefix}[{i}]', out)
    else:
        out[prefix] = value


def differing_settings(saved: Settings, current: Settings) -> List[str]:
    """The settings that differ, each as ``key: saved -> current``.

    Args:
        saved (dict): :func:`config_settings` of the work dir's run.
        current (dict): :func:`config_settings` of this config.

    Returns:
        list[str]: One entry per differing leaf, sorted by key.
    """
    old: Settings = {}
    new: Settings = {}
    _flatten(saved, '', old)
    _flatten(current, '', new)

    def show(values: Settings, key: str) -> str:
        return repr(values[key]) if key in values else '<unset>'

    return [
        f'{key}: {show(old, key)} -> {show(new, key)}'
        for key in sorted(set(old) | set(new))
        if show(old, key) != show(new, key)
    ]


def check_work_dir(cfg: Config) -> None:
    """Refuse a work dir holding another config's run, naming what differs.

    Reads only, so ``tools/train.py`` calls it before the runner is built
    (MMEngine's runner writes its log folder and dumps the config into the
    work dir as it is built).

    Args:
        cfg (Config): The run's config (``work_dir`` set).

    Raises:
        ValueError: If the work dir's ``run.json`` has another fingerprint.
    """
    path = osp.join(cfg.work_dir, RUN_FILE)
    if not osp.isfile(path):
        return
    saved = read_json(path)
    if saved.get('config') == config_fingerprint(cfg):
        return
    if 'settings' in saved:
        diffs = differing_settings(saved['settings'], config_settings(cfg))
        more = len(diffs) - MAX_NAMED
        named = '; '.join(
            diffs[:MAX_NAMED]) + (f'; and {more} more' if more > 0 else '')
    else:
        named = f'not recorded (an older {RUN_FILE})'
    raise ValueError(
        f'work_dir {cfg.work_dir} holds a different run: its {RUN_FILE} '
        f'was written for another config. Settings that differ (work dir '
        f'-> now): {named}. Restore those settings to continue that run '
        '(--resume), or choose another --work-dir')


@contextmanager
def claim_work_dir(runner, rounds_done: int, num_rounds: int) -> Iterator:
    """Hold the work dir for this run while the block trains.

    Rank 0 takes the lock (the other ranks wait for it), refuses another
    config's work dir, marks the work dir as this config's and says when
    this run resumes a finished run or starts over an earlier one. The
    lock is released when the block ends, also on an error.

    Args:
        runner (Runner): The runner (its ``work_dir``, ``cfg``, ``iter``).
        rounds_done (int): Rounds already recorded (after ``--resume``).
        num_rounds (int): Rounds of the curriculum, round 0 included.

    Raises:
        RuntimeError: If another process holds the work dir.
        ValueError: If the work dir belongs to another config.
    """
    lock = WorkDirLock(runner.work_dir)
    on_main_process(lock.acquire)
    try:
        on_main_process(_claim, runner, rounds_done, num_rounds)
        yield
    finally:
        lock.release()


def _claim(runner, rounds_done: int, num_rounds: int) -> None:
    """Rank 0's part of :func:`claim_work_dir`, under the lock."""
    check_work_dir(runner.cfg)
    work_dir = runner.work_dir
    path = osp.join(work_dir, RUN_FILE)
    if not osp.isfile(path) or 'settings' not in read_json(path):
        atomic_write_json(
            path,
            dict(
                config=config_fingerprint(runner.cfg),
                settings=config_settings(runner.cfg)))
    for tmp in glob.glob(osp.join(work_dir, temporary_name('*.pth'))):
        os.remove(tmp)  # left by a run killed while writing a checkpoint
    if rounds_done == num_rounds:
        print_log(
            f'work_dir {work_dir}: this run is finished (all {num_rounds} '
            'rounds are recorded, see summary.json); --resume has nothing '
            'left to train',
            logger='current')
    elif rounds_done == 0 and runner.iter == 0:
        _warn_if_restarting(work_dir, num_rounds)


def _warn_if_restarting(work_dir: str, num_rounds: int) -> None:
    """Warn that a run without ``--resume`` retrains over an earlier one."""
    final = osp.join(work_dir, end_checkpoint_name(num_rounds - 1))
    if is_valid_checkpoint(final):
        what = (f'a finished run of this config ({final}); --resume would '
                'only report it finished')
    elif resumable_checkpoints(work_dir):
        what = 'an unfinished run of this config; --resume would continue it'
    else:
        return
    print_log(
        f'work_dir {work_dir} holds {what}. Training again from the start '
        'without --resume, overwriting its checkpoints, labels and summary '
        '(stop now and choose another --work-dir to keep them)',
        logger='current',
        level=logging.WARNING)


def save_round_best(runner, rnd: int, iteration: int) -> None:
    """Save the model as round ``rnd``'s best (weights only, atomically).

    Args:
        runner (Runner): The runner.
        rnd (int): The current round.
        iteration (int): Iterations done in the whole curriculum.
    """
    save_checkpoint_file(
        runner,
        runner.work_dir,
        best_checkpoint_name(rnd),
        save_optimizer=False,
        save_param_scheduler=False,
        meta=dict(iter=iteration, epoch=rnd))


def save_round_end(runner, rnd: int, iteration: int) -> None:
    """Save a resumable checkpoint of finished round ``rnd``.

    ``--resume`` then restarts at the next round even when the run is
    killed before that round's first periodic checkpoint. The previous
    round's file is removed once ``last_checkpoint`` points at the new one.

    Args:
        runner (Runner): The runner.
        rnd (int): The round that ended.
        iteration (int): Iterations done in the whole curriculum.
    """
    path = save_checkpoint_file(
        runner,
        runner.work_dir,
        end_checkpoint_name(rnd),
        meta=dict(iter=iteration, epoch=rnd + 1))
    if is_main_process():
        point_last_checkpoint(runner.work_dir, path)
        previous = osp.join(runner.work_dir, end_checkpoint_name(rnd - 1))
        if osp.isfile(previous):
            os.remove(previous)
