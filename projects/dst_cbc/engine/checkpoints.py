"""Checkpoints written file-then-rename, and the point a resume starts from.

A checkpoint is written to ``.<name>.tmp`` next to its final name and
renamed, so a file under its final name is always complete; ``last_checkpoint``
is written the same way. :class:`AtomicCheckpointHook` also rotates old
checkpoints out only once the new one and ``last_checkpoint`` are in place
(MMEngine's ``CheckpointHook`` deletes first). :func:`resume_point` picks
the checkpoint ``--resume`` starts from among those that exist and verify.
"""
import glob
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmseg.registry import HOOKS
from ..utils import atomic_write_bytes

LAST_CHECKPOINT = 'last_checkpoint'
#: Names of the resumable checkpoints a curriculum run writes.
RESUMABLE_PATTERNS = ('iter_*.pth', 'epoch_*.pth', 'round_*_end.pth')


def best_checkpoint_name(rnd: int) -> str:
    """File name of round ``rnd``'s best checkpoint."""
    return f'round_{rnd}_best.pth'


def end_checkpoint_name(rnd: int) -> str:
    """File name of the resumable checkpoint saved when round ``rnd`` ends."""
    return f'round_{rnd}_end.pth'


def temporary_name(filename: str) -> str:
    """The name a checkpoint is written under before its rename."""
    return f'.{filename}.tmp'


def save_checkpoint_file(runner, out_dir: str, filename: str, **kwargs) -> str:
    """``runner.save_checkpoint`` to a temporary file, then renamed.

    Args:
        runner (Runner): The runner (rank 0 writes, as MMEngine's).
        out_dir (str): A local folder.
        filename (str): The checkpoint's file name.
        **kwargs: Passed to ``runner.save_checkpoint``.

    Returns:
        str: The checkpoint's path.
    """
    path = osp.join(out_dir, filename)
    runner.save_checkpoint(out_dir, temporary_name(filename), **kwargs)
    if is_main_process():
        os.replace(osp.join(out_dir, temporary_name(filename)), path)
    return path


def point_last_checkpoint(work_dir: str, path: str) -> None:
    """Make ``work_dir/last_checkpoint`` name ``path`` (atomically)."""
    atomic_write_bytes(osp.join(work_dir, LAST_CHECKPOINT), path.encode())


def is_valid_checkpoint(path: str) -> bool:
    """Whether ``path`` is a complete ``torch.save`` file.

    Checks the zip container ``torch.save`` writes: its central directory
    (at the end of the file) must be there and list the pickled object, so
    an empty or truncated file fails. Nothing is unpickled.

    Args:
        path (str): The file.

    Returns:
        bool: True for a complete checkpoint file.
    """
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith('data.pkl') for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def resumable_checkpoints(folder: str) -> List[str]:
    """Resumable checkpoint files in ``folder`` that verify, newest first.

    Args:
        folder (str): A work dir (or a checkpoint hook's ``out_dir``).

    Returns:
        list[str]: Paths, by modification time, newest first.
    """
    paths = {
        p
        for pattern in RESUMABLE_PATTERNS
        for p in glob.glob(osp.join(folder, pattern))
    }
    return sorted((p for p in paths if is_valid_checkpoint(p)),
                  key=osp.getmtime,
                  reverse=True)


def resume_point(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` starts from: one that exists and verifies.

    That is the file ``last_checkpoint`` names; when it is missing, empty or
    names a file that is gone or incomplete, the newest valid resumable
    checkpoint of the work dir (and of the named file's folder), with a
    warning saying so.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: The checkpoint, or None when there is none (the run
        then starts from the beginning, which a message says).
    """
    work_dir = osp.abspath(work_dir)
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    named = ''
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            named = f.read().strip()
        if named and is_valid_checkpoint(named):
            return named
    folders = [work_dir] + ([osp.dirname(named)] if named else [])
    found = [c for folder in folders for c in resumable_checkpoints(folder)]
    found.sort(key=osp.getmtime, reverse=True)
    if not osp.isfile(pointer):
        problem = f'{pointer} does not exist'
    elif not named:
        problem = f'{pointer} is empty'
    else:
        problem = (f'{pointer} names {named}, which is missing or '
                   'incomplete')
    if not found:
        print_log(
            f'--resume: {problem}, and {work_dir} holds no valid '
            'checkpoint; training from the start',
            logger='current',
            level=logging.WARNING)
        return None
    print_log(
        f'--resume: {problem}; resuming from the newest valid '
        f'checkpoint, {found[0]}',
        logger='current',
        level=logging.WARNING)
    return found[0]


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` that never leaves a broken resume point.

    Each checkpoint is written file-then-rename, ``last_checkpoint`` is
    then pointed at it (atomically), and only then is the checkpoint
    rotated out by ``max_keep_ckpts`` removed. A kill at any moment leaves
    ``last_checkpoint`` naming a complete file. Checkpoints to a non-local
    ``out_dir`` are saved as MMEngine saves them. Arguments are those of
    ``CheckpointHook``.
    """

    def before_train(self, runner) -> None:
        """Set up as MMEngine does; on a resumed run, also remove the
        periodic checkpoints a kill left behind (rotated out of
        ``max_keep_ckpts`` but not yet removed, or saved after the resume
        point)."""
        super().before_train(runner)
        if (self.max_keep_ckpts > 0 and is_main_process()
                and isinstance(self.file_backend, LocalBackend)
                and 'keep_ckpt_ids' in runner.message_hub.runtime_info):
            self._remove_orphans(set(self.keep_ckpt_ids))

    def _remove_orphans(self, kept: set) -> None:
        """Remove this hook's checkpoints of steps outside ``kept``."""
        pattern = re.compile(
            re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)') + '$')
        for name in os.listdir(self.out_dir):
            match = pattern.match(name)
            if match and int(match.group(1)) not in kept:
                os.remove(osp.join(self.out_dir, name))
                print_log(
                    f'removed {name}, a checkpoint left by a killed run',
                    logger='current')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save the checkpoint of ``step``, then remove the rotated one."""
        if not isinstance(self.file_backend, LocalBackend):
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        outdated = self._rotate(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        save_checkpoint_file(
            runner,
            self.out_dir,
            filename,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            **self.args)
        if not is_main_process():
            return
        point_last_checkpoint(runner.work_dir, self.last_ckpt)
        if outdated is not None and osp.isfile(outdated):
            os.remove(outdated)

    def _rotate(self, runner, step: int) -> Optional[str]:
        """Record ``step`` among the kept checkpoints (as MMEngine does).

        Returns:
            str | None: The checkpoint now outside ``max_keep_ckpts``, to
            remove once the new one is saved.
        """
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids
                                        and self.keep_ckpt_ids[-1] == step):
            return None
        outdated = None
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated = osp.join(
                self.out_dir,
                self.filename_tmpl.format(self.keep_ckpt_ids.popleft()))
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return outdated


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


def remove_outdated_round_ends(work_dir: str, last_round: int) -> None:
    """Remove the end checkpoints of rounds before ``last_round``.

    :func:`save_round_end` removes the previous round's file once
    ``last_checkpoint`` names the new one; a kill in between leaves it. A
    resumed run calls this once ``round_<last_round>_end.pth`` verifies.

    Args:
        work_dir (str): The run's work dir.
        last_round (int): The last round recorded.
    """
    if not is_valid_checkpoint(
            osp.join(work_dir, end_checkpoint_name(last_round))):
        return
    for rnd in range(last_round):
        path = osp.join(work_dir, end_checkpoint_name(rnd))
        if osp.isfile(path):
            os.remove(path)
            print_log(
                f'removed {path}, a checkpoint left by a killed run',
                logger='current')


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
