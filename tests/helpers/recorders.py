"""Test hooks that record what a run did, for the tests that read it."""
import json
import os.path as osp

from mmengine.hooks import Hook

from mmseg.registry import HOOKS


@HOOKS.register_module()
class RoundStartRecorder(Hook):
    """Records what the model and optimizer look like when a round starts."""

    priority = 'LOWEST'  # after PseudoLabelHook

    def __init__(self) -> None:
        self.records = []

    def before_train_epoch(self, runner) -> None:
        loop = runner.train_loop
        optimizer = runner.optim_wrapper.optimizer
        model = runner.model
        self.records.append(
            dict(
                round=loop.round,
                alpha=loop.alpha,
                optimizer_state_size=len(optimizer.state),
                lrs=[g['lr'] for g in optimizer.param_groups],
                best=None if loop.best is None else loop.best.to_dict(),
                state={
                    k: v.detach().clone()
                    for k, v in model.state_dict().items()
                }))


@HOOKS.register_module()
class ReportSnapshotRecorder(Hook):
    """Copies report.json after each round, once the report hook wrote it."""

    priority = 'LOWEST'  # after CurriculumReportHook (LOW)

    def __init__(self) -> None:
        self.snapshots = []

    def after_train_epoch(self, runner) -> None:
        with open(osp.join(runner.work_dir, 'report.json')) as f:
            self.snapshots.append(json.load(f))
