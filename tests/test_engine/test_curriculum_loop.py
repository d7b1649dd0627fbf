"""The curriculum loop: rounds, alphas, best-checkpoint carry-over, resets."""
import json
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

import dst_cbc  # noqa: F401
from dst_cbc.engine import epochs_from_ratio
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
                best=None if loop.best is None else dict(loop.best),
                pseudo_dir=loop._pseudo_label_dir,
                state={
                    k: v.detach().clone()
                    for k, v in model.state_dict().items()
                }))


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, tiny_synthetic, tiny_cfg):
    """A short curriculum on a small synthetic set: 2 rounds."""
    tmp = tmp_path_factory.mktemp('loop')
    data_root = tiny_synthetic(str(tmp / 'data'), num_train=40, num_val=8,
                               seed=1, ratio=4)
    cfg = tiny_cfg(data_root, tmp / 'work', ratio=4, alphas=[0.5, 1.0],
                   baseline_iters=6, round_iters=4, val_interval=2)
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.custom_hooks.append(dict(type='RoundStartRecorder'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    recorder = [h for h in runner.hooks
                if isinstance(h, RoundStartRecorder)][0]
    return runner, recorder, cfg


def test_rounds_use_their_alpha_and_pseudo_labels(tiny_run):
    runner, recorder, cfg = tiny_run
    assert [r['round'] for r in recorder.records] == [0, 1, 2]
    assert [r['alpha'] for r in recorder.records] == [None, 0.5, 1.0]
    for rec in recorder.records[1:]:
        stats = json.load(open(osp.join(rec['pseudo_dir'], 'stats.json')))
        assert stats['alpha'] == rec['alpha']
    # alpha = 1 keeps every pixel
    assert json.load(open(osp.join(recorder.records[2]['pseudo_dir'],
                                   'stats.json')))['coverage'] == 1.0


def test_round_starts_from_best_checkpoint_with_fresh_optimizer(tiny_run):
    runner, recorder, cfg = tiny_run
    initial_lr = cfg.optim_wrapper.optimizer.lr
    for rec in recorder.records:
        # momentum buffers are empty and the lr is back at its initial value
        assert rec['optimizer_state_size'] == 0
        assert all(lr == pytest.approx(initial_lr) for lr in rec['lrs'])
    for rec in recorder.records[1:]:
        best = _load_checkpoint(rec['best']['checkpoint'], map_location='cpu')
        for key, value in best['state_dict'].items():
            assert torch.equal(rec['state'][key], value), key


def test_iterations_and_summary(tiny_run):
    runner, recorder, cfg = tiny_run
    assert runner.iter == 6 + 4 + 4
    summary = json.load(open(osp.join(cfg.work_dir, 'summary.json')))
    rounds = summary['rounds']
    assert [r['round'] for r in rounds] == [0, 1, 2]
    assert [r['alpha'] for r in rounds] == [None, 0.5, 1.0]
    assert [r['iters'] for r in rounds] == [6, 4, 4]
    assert rounds[0]['coverage'] is None
    assert rounds[2]['coverage'] == 1.0
    for r in rounds:
        assert osp.isfile(r['checkpoint'])
    assert summary['best']['mIoU'] == max(r['mIoU'] for r in rounds)


def test_epochs_from_ratio():
    # 30 * sqrt(8) = 84.85...; 30 * sqrt(1) = 30
    assert epochs_from_ratio(1 / 8) == pytest.approx(84.8528, abs=1e-4)
    assert epochs_from_ratio(1.0) == 30
    assert epochs_from_ratio(1 / 4, base_epochs=60) == pytest.approx(120)
    with pytest.raises(ValueError, match='labeled_ratio'):
        epochs_from_ratio(0)


def test_load_from_makes_the_loaded_model_round_0(tiny_run, tmp_path):
    """A loaded baseline takes no iterations: round 1 starts fresh at once.

    The config still says ``baseline_iters=6``; with ``load_from`` round 0
    must count 0 iterations, so round 1 runs exactly ``round_iters`` with a
    reset optimizer and its own poly schedule (it once ran 6 + 4 iterations
    without the reset, as if resuming).
    """
    _, _, cfg = tiny_run
    baseline = osp.join(cfg.work_dir, 'round_0_best.pth')
    cfg = cfg.copy()
    cfg.work_dir = str(tmp_path / 'loaded')
    cfg.load_from = baseline
    cfg.train_cfg.alphas = [1.0]
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'RoundStartRecorder']
    cfg.custom_hooks.append(dict(type='RoundStartRecorder'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    loop = runner.train_loop
    assert loop.round_iters == [0, 4]
    assert runner.iter == 4
    recorder = [h for h in runner.hooks
                if isinstance(h, RoundStartRecorder)][0]
    (start, ) = recorder.records
    assert start['round'] == 1
    assert start['optimizer_state_size'] == 0
    initial_lr = cfg.optim_wrapper.optimizer.lr
    assert all(lr == pytest.approx(initial_lr) for lr in start['lrs'])
    first = loop.results[0]
    assert first['iters'] == 0 and first['checkpoint'] == baseline
    loaded = _load_checkpoint(baseline, map_location='cpu')['state_dict']
    for key, value in loaded.items():
        assert torch.equal(start['state'][key], value), key
