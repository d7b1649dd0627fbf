"""BF16OptimWrapper, the bf16 capability check and inference_autocast."""
import copy

import pytest
import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from torch import nn

from dst_cbc.engine import precision
from dst_cbc.engine.precision import (BF16OptimWrapper, cpu_supports_bf16,
                                      inference_autocast)
from mmseg.registry import OPTIM_WRAPPERS


class ConvNet(nn.Module):
    """A convolution and a linear layer; records the dtypes it computes in."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)
        self.seen = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv(x)
        out = self.fc(feat.mean(dim=(2, 3)))
        self.seen.append((feat.dtype, out.dtype))
        return out


def sgd_wrapper(model: nn.Module, wrapper_type: str) -> OptimWrapper:
    init_default_scope('mmseg')
    return build_optim_wrapper(
        model,
        dict(
            type=wrapper_type,
            optimizer=dict(type='SGD', lr=0.5, momentum=0.0)))


def loss_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x).float().pow(2).mean()


def test_registered_in_mmseg_scope():
    assert OPTIM_WRAPPERS.scope == 'mmseg'
    assert OPTIM_WRAPPERS.get('BF16OptimWrapper') is BF16OptimWrapper
    wrapper = sgd_wrapper(ConvNet(), 'BF16OptimWrapper')
    assert type(wrapper) is BF16OptimWrapper
    assert wrapper.device_type == 'cpu'


@pytest.mark.skipif(not cpu_supports_bf16(), reason='no bf16 on this CPU')
def test_steps_under_bf16_autocast_without_loss_scaling():
    model = ConvNet()
    reference = copy.deepcopy(model)
    x = torch.randn(2, 3, 8, 8)
    wrapper = sgd_wrapper(model, 'BF16OptimWrapper')
    with wrapper.optim_context(model):
        loss = loss_of(model, x)
    # inside the forward: conv and linear ran in bfloat16
    assert model.seen == [(torch.bfloat16, torch.bfloat16)]
    wrapper.backward(loss)
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    wrapper.step()
    # the same step by hand: plain autocast, unscaled backward, p -= lr * g
    with torch.autocast('cpu', dtype=torch.bfloat16):
        ref_loss = loss_of(reference, x)
    ref_loss.backward()
    assert loss.item() == ref_loss.item()
    for name, param in reference.named_parameters():
        assert grads[name].dtype == torch.float32
        torch.testing.assert_close(grads[name], param.grad, rtol=0, atol=0)
        new = dict(model.named_parameters())[name]
        assert new.dtype == torch.float32
        torch.testing.assert_close(
            new.detach(), (param - 0.5 * param.grad).detach(), rtol=0, atol=0)
    # outside the context the model computes in float32 again
    model(x)
    assert model.seen[-1] == (torch.float32, torch.float32)


def test_fp32_wrapper_does_not_autocast():
    model = ConvNet()
    wrapper = sgd_wrapper(model, 'OptimWrapper')
    with wrapper.optim_context(model):
        model(torch.randn(1, 3, 4, 4))
    assert model.seen == [(torch.float32, torch.float32)]


def test_inference_autocast_follows_the_wrapper():
    bf16 = sgd_wrapper(ConvNet(), 'BF16OptimWrapper')
    with inference_autocast(bf16):
        assert torch.is_autocast_enabled('cpu')
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16
    assert not torch.is_autocast_enabled('cpu')
    with inference_autocast(sgd_wrapper(ConvNet(), 'OptimWrapper')):
        assert not torch.is_autocast_enabled('cpu')
    # AmpOptimWrapper refuses to build without a GPU; its autocast is
    # MMEngine's on the current device with the wrapper's dtype
    cuda_amp = AmpOptimWrapper.__new__(AmpOptimWrapper)
    cuda_amp.cast_dtype = torch.bfloat16
    with inference_autocast(cuda_amp):
        assert torch.is_autocast_enabled('cpu')
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16


def test_cpu_supports_bf16_is_false_without_onednn(monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, 'is_available', lambda: False)
    assert cpu_supports_bf16() is False


def test_cpu_supports_bf16_asks_onednn(monkeypatch):

    class FakeOps:
        answer = True

        def _is_mkldnn_bf16_supported(self):
            return self.answer

    fake = FakeOps()
    monkeypatch.setattr(torch.backends.mkldnn, 'is_available', lambda: True)
    monkeypatch.setattr(precision.torch.ops, 'mkldnn', fake)
    assert cpu_supports_bf16() is True
    fake.answer = False
    assert cpu_supports_bf16() is False
    monkeypatch.setattr(precision.torch.ops, 'mkldnn',
                        object())  # no such query
    assert cpu_supports_bf16() is False
