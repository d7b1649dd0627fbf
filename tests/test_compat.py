"""mmengine checkpoints load on torch >= 2.6 once the extension is imported."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint

import dst_cbc  # noqa: F401


def _save_mmengine_style_checkpoint(path):
    hub = MessageHub.get_instance('test_compat_hub')
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('best_score', np.float64(61.25))
    checkpoint = dict(
        meta=dict(epoch=3, iter=np.int64(120), seed=np.int32(7)),
        state_dict={'weight': torch.arange(4.)},
        message_hub=hub.state_dict())
    torch.save(checkpoint, path)


def test_plain_torch_load_refuses_mmengine_checkpoints(tmp_path):
    # The problem being fixed: torch's default weights_only=True load fails.
    path = str(tmp_path / 'ckpt.pth')
    _save_mmengine_style_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_mmengine_loader_reads_message_hub_and_numpy_scalars(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _save_mmengine_style_checkpoint(path)
    checkpoint = _load_checkpoint(path, map_location='cpu')
    assert checkpoint['meta']['iter'] == 120
    assert isinstance(checkpoint['meta']['iter'], np.int64)
    hub = MessageHub.get_instance('test_compat_restored')
    hub.load_state_dict(checkpoint['message_hub'])
    assert hub.get_info('best_score') == 61.25
    assert hub.get_scalar('train/loss').current() == 0.5


def test_load_checkpoint_into_model(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _save_mmengine_style_checkpoint(path)
    model = torch.nn.Linear(2, 2)
    model.register_parameter('weight', torch.nn.Parameter(torch.zeros(4)))
    load_checkpoint(model, path, strict=False)
    assert torch.equal(model.weight.data, torch.arange(4.))


def test_missing_checkpoint_names_the_file(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(missing)
