"""A round's restart: fresh optimizer state, initial lrs, new schedules."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

from dst_cbc.engine.round_schedule import restart_optimization


def two_group_runner(param_scheduler):
    """A runner's optim wrapper over an SGD of two param groups (lr 0.01
    and 0.1, as with a 10x head), so MMEngine also keeps its
    ``base_param_settings`` group, whose lr it logs as ``base_lr``."""
    encoder, head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD([
        dict(params=encoder.parameters()),
        dict(params=head.parameters(), lr=0.1)
    ],
                                lr=0.01,
                                momentum=0.9)
    wrapper = OptimWrapper(optimizer)

    def build_param_scheduler(cfgs):
        return [
            PARAM_SCHEDULERS.build(dict(cfg, optimizer=wrapper))
            for cfg in cfgs
        ]

    return SimpleNamespace(
        optim_wrapper=wrapper,
        cfg=Config(dict(param_scheduler=param_scheduler)),
        build_param_scheduler=build_param_scheduler)


def run_schedule(runner, iters):
    """``iters`` SGD steps on a constant loss, schedulers stepping."""
    params = [
        p for g in runner.optim_wrapper.optimizer.param_groups
        for p in g['params']
    ]
    for _ in range(iters):
        runner.optim_wrapper.update_params(sum(p.sum() for p in params))
        for scheduler in runner.param_schedulers:
            scheduler.step()


def test_restart_resets_every_group_and_the_logged_base_lr():
    """After a round decays every lr to 0, the next round starts at the
    initial lrs (times ``lr_mult``), base_lr included, with no momentum,
    and its poly schedule spans the new round's iterations."""
    runner = two_group_runner(
        [dict(type='PolyLR', eta_min=0., power=1., begin=0, by_epoch=False)])
    restart_optimization(runner, num_iters=4)
    run_schedule(runner, 4)
    lrs = runner.optim_wrapper.get_lr()
    assert lrs == dict(base_lr=[0.], lr=[0., 0.])
    assert runner.optim_wrapper.optimizer.state

    restart_optimization(runner, num_iters=3, lr_mult=0.5)
    lrs = runner.optim_wrapper.get_lr()
    assert lrs['base_lr'] == [pytest.approx(0.005)]
    assert lrs['lr'] == [pytest.approx(0.005), pytest.approx(0.05)]
    assert not runner.optim_wrapper.optimizer.state
    # MMEngine's poly of power 1 reaches eta_min at iteration end - 1: over
    # 3 iterations, one step halves the lr.
    run_schedule(runner, 1)
    lrs = runner.optim_wrapper.get_lr()
    assert lrs['base_lr'] == [pytest.approx(0.0025)]
    assert lrs['lr'] == [pytest.approx(0.0025), pytest.approx(0.025)]


def test_restart_rejects_epoch_schedules():
    runner = two_group_runner(
        [dict(type='PolyLR', eta_min=0., power=1., begin=0, by_epoch=True)])
    with pytest.raises(ValueError, match='set by_epoch=False'):
        restart_optimization(runner, num_iters=4)
