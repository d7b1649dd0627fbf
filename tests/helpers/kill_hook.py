"""Test helper: SIGKILL the training process at a chosen point.

The point comes from ``DST_CBC_TEST_KILL=<point>:<arg>`` so that the killed
run and its ``--resume`` use the very same config:

- ``iter:<n>``: right after training iteration n (periodic checkpoints done)
- ``val:<n>``: at the first validation batch once n iterations are done
- ``labeling:<n>``: when the n-th pseudo-label PNG is about to be written
- ``round_end:<r>``: after round r is recorded and its checkpoint saved
- ``ckpt_partial:<file>``: while checkpoint ``<file>`` is written: its
  temporary file holds half of its bytes
- ``ckpt_unpointed:<file>``: ``AtomicCheckpointHook`` has saved ``<file>``
  under its name but ``last_checkpoint`` still names the previous one
- ``ckpt_unrotated:<file>``: ``last_checkpoint`` names ``<file>``, the
  checkpoint it rotates out is not removed yet
- ``save_called:<file>``: ``runner.save_checkpoint`` is called for
  ``<file>``: with MMEngine's ``CheckpointHook`` the rotated-out checkpoint
  is already deleted and ``last_checkpoint`` still names it
- ``pause:<n>``: not a kill: after iteration n, create ``<work_dir>/paused``
  and wait (at most 300 s) until the test removes it
"""
import os
import os.path as osp
import signal
import time

from mmengine.hooks import Hook

import dst_cbc.engine.checkpoints as checkpoints
import dst_cbc.pseudo_labels.labeler as labeler
from mmseg.registry import HOOKS

PAUSE_FILE = 'paused'


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillHook(Hook):
    """Kill the process where ``DST_CBC_TEST_KILL`` says."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        spec = os.environ.get('DST_CBC_TEST_KILL', '')
        self.point, _, self.arg = spec.partition(':')
        self.at = int(self.arg) if self.arg.isdigit() else -1
        if self.point == 'labeling':
            self._kill_in_labeling()
        elif self.point in ('ckpt_unpointed', 'ckpt_unrotated'):
            self._kill_around_pointing()

    def _kill_in_labeling(self) -> None:
        write = labeler.write_label
        count = [0]

        def write_then_die(*args, **kwargs):
            count[0] += 1
            if count[0] == self.at:
                _die()
            write(*args, **kwargs)

        labeler.write_label = write_then_die

    def _kill_around_pointing(self) -> None:
        point = checkpoints.point_last_checkpoint

        def point_and_die(work_dir, path):
            target = osp.basename(path) == self.arg
            if target and self.point == 'ckpt_unpointed':
                _die()
            point(work_dir, path)
            if target:
                _die()

        checkpoints.point_last_checkpoint = point_and_die

    def before_run(self, runner) -> None:
        if self.point not in ('ckpt_partial', 'save_called'):
            return
        save = runner.save_checkpoint

        def save_and_die(out_dir, filename, *args, **kwargs):
            if self.point == 'save_called' and filename == self.arg:
                _die()
            save(out_dir, filename, *args, **kwargs)
            if filename == checkpoints.temporary_name(self.arg):
                path = osp.join(out_dir, filename)
                os.truncate(path, osp.getsize(path) // 2)
                _die()

        runner.save_checkpoint = save_and_die

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if batch_idx + 1 != self.at:
            return
        if self.point == 'iter':
            _die()
        if self.point == 'pause':
            marker = osp.join(runner.work_dir, PAUSE_FILE)
            open(marker, 'w').close()
            deadline = time.monotonic() + 300
            while osp.exists(marker) and time.monotonic() < deadline:
                time.sleep(0.05)

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.point == 'val' and runner.iter >= self.at:
            _die()

    def after_train_epoch(self, runner) -> None:
        if self.point == 'round_end' and runner.train_loop.round == self.at:
            _die()
