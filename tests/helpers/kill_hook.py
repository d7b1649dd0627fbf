"""Test helper: SIGKILL the training process at a chosen point.

The point comes from ``DST_CBC_TEST_KILL=<point>:<n>`` so that the killed run
and its ``--resume`` use the very same config:

- ``iter:<n>``: right after training iteration n (periodic checkpoints done)
- ``val:<n>``: at the first validation batch once n iterations are done
- ``labeling:<n>``: when the n-th pseudo-label PNG is about to be written
- ``round_end:<r>``: after round r is recorded and its checkpoint saved
"""
import os
import signal

from mmengine.hooks import Hook

import dst_cbc.pseudo_labels.labeler as labeler
from mmseg.registry import HOOKS


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillHook(Hook):
    """Kill the process where ``DST_CBC_TEST_KILL`` says."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        spec = os.environ.get('DST_CBC_TEST_KILL', '')
        self.point, _, at = spec.partition(':')
        self.at = int(at) if at else -1
        if self.point == 'labeling':
            write = labeler.write_label
            count = [0]

            def write_then_die(*args, **kwargs):
                count[0] += 1
                if count[0] == self.at:
                    _die()
                write(*args, **kwargs)

            labeler.write_label = write_then_die

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.point == 'iter' and batch_idx + 1 == self.at:
            _die()

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.point == 'val' and runner.iter >= self.at:
            _die()

    def after_train_epoch(self, runner) -> None:
        if self.point == 'round_end' and runner.train_loop.round == self.at:
            _die()
