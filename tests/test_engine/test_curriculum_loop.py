"""The curriculum loop: rounds, alphas, best-checkpoint carry-over, resets."""
import copy
import json
import math
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

import dst_cbc  # noqa: F401
from dst_cbc.engine import epochs_from_ratio, round_lengths
from tests.helpers.recorders import RoundStartRecorder


def test_rounds_use_their_alpha_and_pseudo_labels(finished_run):
    records = finished_run.round_starts
    assert [r['round'] for r in records] == [0, 1, 2]
    assert [r['alpha'] for r in records] == [None, 0.5, 1.0]
    results = finished_run.runner.train_loop.results
    for rec, result in zip(records[1:], results[1:]):
        assert result.pseudo_label_dir == osp.join(finished_run.work,
                                                   'pseudo_labels',
                                                   f'round_{rec["round"]}')
        stats = json.load(
            open(osp.join(result.pseudo_label_dir, 'stats.json')))
        assert stats['alpha'] == rec['alpha']
        # the labeler's statistics travel in memory, equal to the file
        assert result.stats == stats
    # alpha = 1 keeps every pixel
    assert results[2].stats['coverage'] == 1.0


def test_round_starts_from_best_checkpoint_with_fresh_optimizer(finished_run):
    records = finished_run.round_starts
    initial_lr = finished_run.runner.cfg.optim_wrapper.optimizer.lr
    for rec in records:
        # momentum buffers are empty and the lr is back at its initial value
        assert rec['optimizer_state_size'] == 0
        assert all(lr == pytest.approx(initial_lr) for lr in rec['lrs'])
    for rec in records[1:]:
        best = _load_checkpoint(rec['best']['checkpoint'], map_location='cpu')
        for key, value in best['state_dict'].items():
            assert torch.equal(rec['state'][key], value), key


def test_iterations_and_summary(finished_run):
    assert finished_run.runner.iter == 6 + 4 + 4
    summary = json.load(open(osp.join(finished_run.work, 'summary.json')))
    rounds = summary['rounds']
    assert [r['round'] for r in rounds] == [0, 1, 2]
    assert [r['alpha'] for r in rounds] == [None, 0.5, 1.0]
    assert [r['iters'] for r in rounds] == [6, 4, 4]
    assert rounds[0]['coverage'] is None
    assert rounds[2]['coverage'] == 1.0
    for r in rounds:
        assert osp.isfile(r['checkpoint'])
    assert summary['best']['score'] == max(r['score'] for r in rounds)
    assert summary['metric'] == 'mIoU'
    assert all('stats' not in r for r in rounds)


def test_epochs_from_ratio():
    # 30 * sqrt(8) = 84.85...; 30 * sqrt(1) = 30
    assert epochs_from_ratio(1 / 8) == pytest.approx(84.8528, abs=1e-4)
    assert epochs_from_ratio(1.0) == 30
    assert epochs_from_ratio(1 / 4, base_epochs=60) == pytest.approx(120)
    with pytest.raises(ValueError, match='labeled_ratio'):
        epochs_from_ratio(0)


def test_round_lengths_by_hand():
    # 10 labeled, 70 unlabeled (1/8), batches of 8 = 4 + 4, one process:
    # round 0 = ceil(30 * sqrt(8) * ceil(10 / 8)) = ceil(169.7) = 170,
    # a round = 6 epochs of ceil(70 / 4) = 18 batches = 108.
    assert round_lengths(10, 70, 2, 8, 4) == [170, 108, 108]
    # two processes: ceil(10 / 16) = 1 and ceil(70 / 8) = 9 batches
    assert round_lengths(10, 70, 1, 8, 4, world_size=2) == [85, 54]
    assert round_lengths(
        10, 70, 1, 8, 4, baseline_epochs=2, epochs_per_round=0.5) == [4, 9]
    assert round_lengths(
        10, 70, 1, 8, 4, baseline_iters=0, round_iters=7) == [0, 7]
    # every label, no round: 60 * sqrt(1) epochs of ceil(12 / 8) = 2
    assert round_lengths(12, 0, 0, 8, 4, base_epochs=60) == [120]


def test_supervised_run_on_every_label(finished_run, tmp_path):
    """``alphas=()`` with no unlabeled set: round 0 alone, 30 epochs."""
    cfg = finished_run.config_copy(tmp_path / 'full')
    cfg.train_dataloader.dataset.unlabeled = None
    cfg.train_cfg = dict(
        type='CurriculumTrainLoop',
        alphas=(),
        baseline_epochs=0.5,
        val_interval=2)
    cfg.custom_hooks = []
    runner = Runner.from_cfg(cfg)
    num_labeled = runner.train_loop.dataloader.dataset.num_labeled
    assert runner.train_loop.round_iters == [
        math.ceil(0.5 * math.ceil(num_labeled / 8))
    ]
    runner.train()
    (result, ) = runner.train_loop.results
    assert result.checkpoint == osp.join(cfg.work_dir, 'round_0_best.pth')
    assert osp.isfile(result.checkpoint)
    with pytest.raises(ValueError, match='no unlabeled images'):
        Runner.from_cfg(copy.deepcopy(cfg)).build_train_loop(
            dict(cfg.train_cfg, alphas=(0.5, )))


def test_baseline_checkpoint_makes_the_given_model_round_0(
        finished_run, tmp_path):
    """A given baseline takes no iterations: round 1 starts fresh at once.

    The config still says ``baseline_iters=6``; with ``baseline_checkpoint``
    round 0 counts 0 iterations, so round 1 runs exactly ``round_iters``
    with a reset optimizer and its own poly schedule.
    """
    baseline = osp.join(finished_run.work, 'round_0_best.pth')
    cfg = finished_run.config_copy(tmp_path / 'loaded')
    cfg.train_cfg.baseline_checkpoint = baseline
    cfg.train_cfg.alphas = [1.0]
    cfg.custom_hooks = [
        h for h in cfg.custom_hooks if h['type'] != 'RoundStartRecorder'
    ]
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
    assert first.iters == 0 and first.checkpoint == baseline
    loaded = _load_checkpoint(baseline, map_location='cpu')['state_dict']
    for key, value in loaded.items():
        assert torch.equal(start['state'][key], value), key


def test_baseline_checkpoint_must_exist(finished_run, tmp_path):
    cfg = finished_run.config_copy(tmp_path / 'missing')
    cfg.train_cfg.baseline_checkpoint = str(tmp_path / 'nope.pth')
    with pytest.raises(
            FileNotFoundError,
            match='train_cfg.baseline_checkpoint .*nope.pth'):
        Runner.from_cfg(cfg).train()


def test_baseline_checkpoint_of_another_layout_is_refused(
        finished_run, tmp_path):
    """Every key of the model must be in a given baseline: an unconverted
    checkpoint (here, its keys renamed) is refused, not half loaded."""
    checkpoint = _load_checkpoint(
        osp.join(finished_run.work, 'round_0_best.pth'), map_location='cpu')
    checkpoint['state_dict'] = {
        'net.' + key: value
        for key, value in checkpoint['state_dict'].items()
    }
    other = str(tmp_path / 'other_layout.pth')
    torch.save(checkpoint, other)
    cfg = finished_run.config_copy(tmp_path / 'other')
    cfg.train_cfg.baseline_checkpoint = other
    cfg.train_cfg.alphas = [1.0]
    with pytest.raises(
            RuntimeError, match='missing keys in source state_dict'):
        Runner.from_cfg(cfg).train()


def test_load_from_initialises_round_0(finished_run, tmp_path):
    """``load_from`` means what it means in MMEngine: round 0 trains from
    the loaded weights (e.g. a pretrained model), for its full length."""
    cfg = finished_run.config_copy(tmp_path / 'init')
    cfg.load_from = osp.join(finished_run.work, 'round_0_best.pth')
    cfg.train_cfg.alphas = []
    cfg.custom_hooks = [dict(type='RoundStartRecorder')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 6
    (start, ) = [h for h in runner.hooks
                 if isinstance(h, RoundStartRecorder)][0].records
    loaded = _load_checkpoint(cfg.load_from, map_location='cpu')
    for key, value in loaded['state_dict'].items():
        assert torch.equal(start['state'][key], value), key
