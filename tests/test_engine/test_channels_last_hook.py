"""ChannelsLastHook and its DDP wrapper: layout changed, nothing else."""
import copy
import socket
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from torch import nn

from dst_cbc import cli
from dst_cbc.engine.precision import (ChannelsLastDistributedDataParallel,
                                      ChannelsLastHook, is_channels_last,
                                      to_channels_last)
from mmseg.registry import HOOKS, MODEL_WRAPPERS

CL = torch.channels_last


def conv_net() -> nn.Sequential:
    """Two 3x3 convolutions, BN and a 1x1 classifier, seeded weights."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3), nn.Conv2d(4, 2, 1))


@pytest.fixture
def process_group():
    """A one-process gloo group, destroyed afterwards."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_weights_become_channels_last_in_place():
    model = conv_net()
    weight = model[0].weight
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert not is_channels_last(model)
    assert to_channels_last(model) is model
    assert is_channels_last(model)
    assert model[0].weight is weight  # the optimizer's parameter
    assert optimizer.param_groups[0]['params'][0] is weight
    assert weight.is_contiguous(memory_format=CL)
    assert not weight.is_contiguous()
    assert model[1].weight.dim() == 1  # other tensors untouched


def test_outputs_and_layout_of_contiguous_inputs():
    contiguous = conv_net().eval()
    converted = to_channels_last(copy.deepcopy(contiguous))
    x = torch.randn(2, 3, 5, 7)
    with torch.no_grad():
        out = converted[:4](x)
        ref = contiguous[:4](x)
    assert x.is_contiguous()
    assert out.is_contiguous(memory_format=CL) and not out.is_contiguous()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_loaded_weights_keep_the_layout():
    model = to_channels_last(conv_net())
    state = {k: v.contiguous() for k, v in conv_net().state_dict().items()}
    state['0.weight'] = state['0.weight'] + 1
    model.load_state_dict(state)
    assert model[0].weight.is_contiguous(memory_format=CL)
    torch.testing.assert_close(model[0].weight.detach(), state['0.weight'])


def test_hook_converts_single_process_models():
    hook = HOOKS.build(dict(type='ChannelsLastHook'))
    assert isinstance(hook, ChannelsLastHook)
    for stage in (hook.before_train, hook.before_val, hook.before_test):
        runner = SimpleNamespace(model=conv_net())
        stage(runner)
        assert is_channels_last(runner.model)
    wrapped = nn.DataParallel(conv_net())  # no gradient buckets
    hook.before_train(SimpleNamespace(model=wrapped))
    assert is_channels_last(wrapped.module)


def first_step_grads(model: nn.Module, x: torch.Tensor) -> dict:
    model(x).sum().backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def test_ddp_wrapper_converts_before_wrapping(process_group):
    x = torch.randn(2, 3, 8, 8)
    reference = first_step_grads(conv_net(), x)
    wrapper = MODEL_WRAPPERS.build(
        dict(type='ChannelsLastDistributedDataParallel', module=conv_net()))
    assert isinstance(wrapper, ChannelsLastDistributedDataParallel)
    assert is_channels_last(wrapper.module)
    grads = first_step_grads(wrapper, x)
    for name, grad in reference.items():
        torch.testing.assert_close(
            grads[f'module.{name}'], grad, rtol=1e-5, atol=1e-5)
    ChannelsLastHook().before_train(SimpleNamespace(model=wrapper))


def test_hook_refuses_an_unconverted_ddp_model(process_group):
    ddp = nn.parallel.DistributedDataParallel(conv_net())
    with pytest.raises(
            RuntimeError, match='ChannelsLastDistributedDataParallel'):
        ChannelsLastHook().before_train(SimpleNamespace(model=ddp))
    assert not is_channels_last(ddp.module)


def hooks_cfg(*hooks, **extra) -> Config:
    """A config with these custom hooks (types) and extra keys."""
    return Config(dict(custom_hooks=[dict(type=h) for h in hooks], **extra))


def test_launched_runs_with_the_hook_get_the_ddp_wrapper():
    cfg = hooks_cfg(
        'PseudoLabelHook', 'ChannelsLastHook', find_unused_parameters=True)
    cli.use_channels_last_ddp(cfg)
    assert cfg.model_wrapper_cfg == dict(
        type='ChannelsLastDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=True)
    # a configured MMDistributedDataParallel keeps its settings
    cfg = hooks_cfg(
        'ChannelsLastHook',
        model_wrapper_cfg=dict(
            type='MMDistributedDataParallel', broadcast_buffers=True))
    cli.use_channels_last_ddp(cfg)
    assert cfg.model_wrapper_cfg == dict(
        type='ChannelsLastDistributedDataParallel', broadcast_buffers=True)
    cfg = hooks_cfg('PseudoLabelHook')
    cli.use_channels_last_ddp(cfg)
    assert 'model_wrapper_cfg' not in cfg
    with pytest.raises(ValueError, match='MMFullyShardedDataParallel'):
        cli.use_channels_last_ddp(
            hooks_cfg(
                'ChannelsLastHook',
                model_wrapper_cfg=dict(type='MMFullyShardedDataParallel')))
