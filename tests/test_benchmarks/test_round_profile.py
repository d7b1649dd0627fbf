"""The round profile's clock: its stages by hand, then on a real run."""
import pytest

from benchmarks.round_profile import run as bench


class FakeTime:
    """``time.perf_counter`` that moves only when told."""

    def __init__(self):
        self.now = 100.

    def __call__(self):
        return self.now


def test_clock_charges_each_stage_by_hand(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(bench.time, 'perf_counter', fake)
    clock = bench.StageClock()
    first, last = bench.ClockHook(clock, True), bench.ClockHook(clock, False)

    class Loop:
        round = 0

    runner = type('Runner', (), {'train_loop': Loop})()

    def at(seconds, hook, point, *args):
        fake.now += seconds
        getattr(hook, point)(runner, *args)

    at(0, first, 'before_train')
    at(1, first, 'before_train_epoch')  # 1 s of other (e.g. loading)
    at(2, last, 'before_train_epoch')  # 2 s labeling
    at(3, first, 'before_train_iter', 0)  # 3 s data
    at(0, last, 'before_train_iter', 0)
    at(4, first, 'after_train_iter', 0)  # 4 s train step
    at(0.5, last, 'after_train_iter', 0)  # 0.5 s iteration hooks
    at(0, first, 'before_val')
    at(5, last, 'after_val')  # 5 s validation
    at(0.25, first, 'before_train_iter', 1)  # 0.25 s data
    at(0, last, 'before_train_iter', 1)
    at(4, first, 'after_train_iter', 1)
    at(0.5, last, 'after_train_iter', 1)
    at(2, first, 'after_train_epoch')  # 2 s other (saving the round)
    at(0.75, last, 'after_train_epoch')  # 0.75 s round-end hooks
    at(9, first, 'before_train_iter', 2)  # round 1: 9 s data
    table = clock.table()
    assert table['0'] == dict(
        {
            'data': 3.25,
            'train step': 8,
            'iteration hooks': 1,
            'labeling': 2,
            'validation': 5,
            'round-end hooks': 0.75,
            'other': 3
        },
        total=23)
    assert clock.round == 1 and clock.seconds[1]['data'] == 9


def test_profile_of_a_tiny_run_sees_every_stage(tmp_path):
    data = bench.prepare_data(
        str(tmp_path / 'no_camvid'), str(tmp_path), 16, 32)
    cfg = bench.profile_config(
        data.cfg,
        str(tmp_path / 'work_dir'),
        baseline_iters=4,
        round_iters=3,
        val_interval=3,
        alpha=0.2,
        seed=0)
    result = bench.run_profile(cfg)
    seconds = result['seconds']
    assert set(seconds) == {'0', '1'}
    for rnd in ('0', '1'):
        for stage in ('data', 'train step', 'iteration hooks', 'validation',
                      'round-end hooks'):
            assert seconds[rnd][stage] > 0, (rnd, stage)
        assert seconds[rnd]['other'] >= 0
        assert sum(seconds[rnd][s] for s in bench.STAGES) == pytest.approx(
            seconds[rnd]['total'])
    # round 0 labels nothing, round 1 its unlabeled images
    assert seconds['0']['labeling'] < seconds['1']['labeling']
    assert seconds['0']['total'] + seconds['1']['total'] <= (
        result['wall_seconds'])
