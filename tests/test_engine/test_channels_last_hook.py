"""ChannelsLastHook / to_channels_last: layout changed, nothing else."""
import copy
from types import SimpleNamespace

import torch
from torch import nn

from dst_cbc.engine.channels_last_hook import (ChannelsLastHook,
                                               to_channels_last)
from mmseg.registry import HOOKS

CL = torch.channels_last


def conv_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 2, 1))


def test_weights_become_channels_last_in_place():
    model = conv_net()
    weight = model[0].weight
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert to_channels_last(model) is model
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
        out = converted(x)
        ref = contiguous(x)
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


def test_hook_converts_the_wrapped_module():
    wrapped = nn.DataParallel(conv_net())  # a model wrapper of MMEngine's
    runner = SimpleNamespace(model=wrapped)
    hook = HOOKS.build(dict(type='ChannelsLastHook'))
    assert isinstance(hook, ChannelsLastHook)
    hook.before_train(runner)
    assert wrapped.module[0].weight.is_contiguous(memory_format=CL)
    for stage in (hook.before_val, hook.before_test):
        runner = SimpleNamespace(model=conv_net())
        stage(runner)
        assert runner.model[3].weight.is_contiguous(memory_format=CL)
