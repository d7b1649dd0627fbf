"""The work dir of a curriculum run: who owns it and which checkpoints it
keeps.

- ``run.json`` names the config (its fingerprint) the work dir belongs to;
- ``round_<r>_best.pth`` is round r's best model (weights only);
- ``round_<r>_end.pth`` is the resumable state at round r's end, the file
  ``last_checkpoint`` points at until the next periodic checkpoint.
"""
import os
import os.path as osp

from mmengine.dist import barrier, is_main_process

from ..utils import (atomic_write_bytes, atomic_write_json, config_fingerprint,
                     read_json)

RUN_FILE = 'run.json'
LAST_CHECKPOINT = 'last_checkpoint'


def best_checkpoint_name(rnd: int) -> str:
    """File name of round ``rnd``'s best checkpoint."""
    return f'round_{rnd}_best.pth'


def end_checkpoint_name(rnd: int) -> str:
    """File name of the resumable checkpoint saved when round ``rnd`` ends."""
    return f'round_{rnd}_end.pth'


def claim_work_dir(runner) -> None:
    """Refuse a work dir that holds another run; mark it as this run's.

    ``run.json`` keeps the config fingerprint (model, data, schedule,
    hooks); a relaunch or ``--resume`` of the same config passes.

    Args:
        runner (Runner): The runner (its ``work_dir`` and ``cfg``).

    Raises:
        ValueError: If the work dir belongs to another config.
    """
    path = osp.join(runner.work_dir, RUN_FILE)
    fingerprint = config_fingerprint(runner.cfg)
    if osp.isfile(path):
        if read_json(path).get('config') != fingerprint:
            raise ValueError(
                f'work_dir {runner.work_dir} holds a different run (its '
                f'{RUN_FILE} has another config fingerprint); choose another '
                '--work-dir or delete it')
    elif is_main_process():
        atomic_write_json(path, dict(config=fingerprint))
    barrier()


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
    name = end_checkpoint_name(rnd)
    runner.save_checkpoint(
        runner.work_dir, name, meta=dict(iter=iteration, epoch=rnd + 1))
    if is_main_process():
        atomic_write_bytes(
            osp.join(runner.work_dir, LAST_CHECKPOINT),
            osp.join(runner.work_dir, name).encode())
        previous = osp.join(runner.work_dir, end_checkpoint_name(rnd - 1))
        if osp.isfile(previous):
            os.remove(previous)
