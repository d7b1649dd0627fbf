"""``--amp``: AMP on CUDA, bf16 on a CPU that has it, else a warning."""
import logging

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from dst_cbc import cli
from dst_cbc.engine.precision import BF16OptimWrapper, cpu_supports_bf16
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


@pytest.fixture
def logged(monkeypatch):
    """The (message, level) of every ``print_log`` of ``dst_cbc.cli``."""
    calls = []
    monkeypatch.setattr(
        cli,
        'print_log',
        lambda msg, logger=None, level=logging.INFO: calls.append(
            (msg, level)))
    return calls


def device(monkeypatch, cuda: bool, bf16: bool) -> None:
    """Simulate the devices: CUDA visible or not, CPU bf16 or not."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    monkeypatch.setattr(cli, 'cpu_supports_bf16', lambda: bf16)


def sgd_cfg(**wrapper) -> Config:
    """A config of an SGD optimizer in ``optim_wrapper`` (``**wrapper``)."""
    return Config(
        dict(
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1), **wrapper)))


def zero_label_sample(size: int) -> SegDataSample:
    """A training sample of a ``size`` x ``size`` all-zero label."""
    sample = SegDataSample(
        gt_sem_seg=PixelData(data=torch.zeros(1, size, size).long()))
    sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size)))
    return sample


def test_cpu_with_bf16_selects_the_bf16_wrapper(monkeypatch, logged):
    device(monkeypatch, cuda=False, bf16=True)
    cfg = sgd_cfg()
    cli.enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'BF16OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert [level for _, level in logged] == [logging.INFO]


@pytest.mark.skipif(not cpu_supports_bf16(), reason='no bf16 on this CPU')
def test_default_config_under_amp_steps_in_bf16(monkeypatch, logged, tiny_cfg,
                                                tmp_path):
    device(monkeypatch, cuda=False, bf16=True)
    cfg = tiny_cfg(str(tmp_path / 'data'), str(tmp_path / 'work'))
    cli.enable_amp(cfg)
    # what the runner builds from it: the default model steps in bfloat16
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper) is BF16OptimWrapper
    dtypes = []
    model.backbone.register_forward_hook(
        lambda module, inputs, outputs: dtypes.append(outputs[0].dtype))
    batch = dict(
        inputs=[torch.zeros(3, 16, 16, dtype=torch.uint8)],
        data_samples=[zero_label_sample(16)])
    log_vars = model.train_step(batch, wrapper)
    assert dtypes == [torch.bfloat16]
    assert log_vars['loss'].dtype == torch.float32
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_cpu_without_bf16_warns_and_keeps_fp32(monkeypatch, logged):
    device(monkeypatch, cuda=False, bf16=False)
    cfg = sgd_cfg()
    cli.enable_amp(cfg)
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    (message, level), = logged
    assert level == logging.WARNING
    assert 'full precision' in message and 'bfloat16' in message


def test_cuda_keeps_mmengine_amp(monkeypatch, logged):
    device(monkeypatch, cuda=True, bf16=True)
    cfg = sgd_cfg(type='OptimWrapper')
    cli.enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert logged == []


@pytest.mark.parametrize('wrapper', ['AmpOptimWrapper', 'BF16OptimWrapper'])
def test_already_mixed_precision_is_kept(monkeypatch, logged, wrapper):
    device(monkeypatch, cuda=False, bf16=True)
    cfg = sgd_cfg(type=wrapper)
    cli.enable_amp(cfg)
    assert cfg.optim_wrapper.type == wrapper
    (message, level), = logged
    assert level == logging.WARNING and wrapper in message


def test_other_wrapper_is_an_error(monkeypatch):
    device(monkeypatch, cuda=False, bf16=True)
    with pytest.raises(ValueError, match='ApexOptimWrapper'):
        cli.enable_amp(sgd_cfg(type='ApexOptimWrapper'))
