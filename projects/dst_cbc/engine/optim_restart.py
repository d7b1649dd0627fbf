"""Restart the optimization at a round's start, as the paper does."""
import copy


def restart_optimization(runner, num_iters: int, lr_mult: float = 1.) -> None:
    """Clear optimizer state, restore initial lrs, start fresh schedules.

    Every parameter scheduler of the config without an ``end`` is stretched
    over the round's ``num_iters`` iterations.

    Args:
        runner (Runner): The runner (its optim wrapper, config and
            parameter schedulers).
        num_iters (int): Iterations of the round.
        lr_mult (float): The round starts at this multiple of the initial
            learning rates. Defaults to 1.

    Raises:
        ValueError: If a parameter scheduler steps by epoch.
    """
    optim_wrapper = runner.optim_wrapper
    wrappers = (
        optim_wrapper.values()
        if hasattr(optim_wrapper, 'values') else [optim_wrapper])
    for wrapper in wrappers:
        wrapper.optimizer.state.clear()
        # The wrapper's groups, as its schedulers step them: with several
        # groups MMEngine adds one more that only tracks (and logs) base_lr.
        for group in wrapper.param_groups:
            for key in [k for k in group if k.startswith('initial_')]:
                group[key[len('initial_'):]] = group[key]
            group.setdefault('initial_lr', group['lr'])
            group['lr'] = group['initial_lr'] * lr_mult
    scheduler_cfg = runner.cfg.get('param_scheduler')
    if scheduler_cfg is None:
        return
    scheduler_cfg = copy.deepcopy(scheduler_cfg)
    for cfg in (scheduler_cfg
                if isinstance(scheduler_cfg, list) else [scheduler_cfg]):
        if cfg.get('by_epoch', True):
            raise ValueError('CurriculumTrainLoop steps schedules per '
                             'iteration: set by_epoch=False in '
                             'param_scheduler')
        cfg.setdefault('end', num_iters)
    runner.param_schedulers = runner.build_param_scheduler(scheduler_cfg)
