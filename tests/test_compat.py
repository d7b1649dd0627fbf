"""mmengine checkpoints load on torch >= 2.6 once the extension is imported,
with ``weights_only=True``: a checkpoint holding other objects is refused."""
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint

from dst_cbc.compat import history_buffer_statistic


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


# -- weights_only=True with an allow-list -------------------------------------
CALLS = []


def _record_call(value):
    """What a malicious checkpoint would run; here it only records."""
    CALLS.append(value)
    return value


class Foreign:
    """An object whose unpickling calls :func:`_record_call`."""

    def __reduce__(self):
        return _record_call, ('ran', )


def test_checkpoint_with_a_foreign_object_is_refused_unrun(tmp_path):
    path = str(tmp_path / 'foreign.pth')
    torch.save(
        dict(state_dict={'weight': torch.zeros(2)}, meta=Foreign()), path)
    with pytest.raises(
            pickle.UnpicklingError,
            match=r'foreign\.pth .*_record_call.*not loaded'):
        _load_checkpoint(path, map_location='cpu')
    with pytest.raises(pickle.UnpicklingError, match='foreign.pth'):
        load_checkpoint(torch.nn.Linear(2, 2), path)
    assert CALLS == []


class ForeignGetattr:
    """Pickles as ``getattr(numpy.ndarray, 'tofile')``."""

    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


def test_getattr_is_allowed_for_history_buffer_statistics_only(tmp_path):
    assert history_buffer_statistic(HistoryBuffer, 'mean') is \
        HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='tofile'):
        history_buffer_statistic(np.ndarray, 'tofile')
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        history_buffer_statistic(HistoryBuffer, '__init__')
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(meta=ForeignGetattr()), path)
    with pytest.raises(pickle.UnpicklingError, match='getattr.pth'):
        _load_checkpoint(path)


def test_numpy_values_of_every_integer_and_float_type_load(tmp_path):
    values = dict(
        array=np.arange(6, dtype=np.uint16).reshape(2, 3),
        f32=np.float32(1.5),
        f16=np.float16(0.25),
        i8=np.int8(-3),
        flag=np.bool_(True),
        dtype=np.dtype('int64'))
    path = str(tmp_path / 'numpy.pth')
    torch.save(values, path)
    loaded = _load_checkpoint(path)
    for key, value in values.items():
        assert type(loaded[key]) is type(value), key
        assert np.array_equal(loaded[key], value), key


def test_numpy_1_names_of_the_scalar_constructor_are_allowed(tmp_path):
    # A checkpoint saved under numpy 1 names numpy.core.multiarray (numpy 2:
    # numpy._core.multiarray). The legacy format is one flat pickle, so the
    # name can be rewritten in place.
    path = tmp_path / 'numpy1.pth'
    torch.save(
        dict(iter=np.int64(120)), path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes().replace(b'numpy._core.multiarray',
                                               b'numpy.core.multiarray'))
    assert b'numpy.core.multiarray' in path.read_bytes()
    loaded = _load_checkpoint(str(path))
    assert loaded['iter'] == 120 and type(loaded['iter']) is np.int64


@pytest.fixture(scope='module')
def project_checkpoint(finished_run):
    """A finished tiny run (conftest's, 14 iterations) and its periodic
    checkpoint, ``iter_14.pth``."""
    return finished_run, osp.join(finished_run.work, 'iter_14.pth')


def test_project_checkpoint_needs_the_allow_list(project_checkpoint):
    _, path = project_checkpoint
    held = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in held
    assert 'builtins.getattr' in held
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_project_checkpoint_loads_with_its_runtime_state(project_checkpoint):
    _, path = project_checkpoint
    checkpoint = _load_checkpoint(path, map_location='cpu')
    assert {
        'meta', 'state_dict', 'optimizer', 'message_hub', 'param_schedulers'
    } <= set(checkpoint)
    assert checkpoint['meta']['iter'] == 14
    momentum = [
        s['momentum_buffer']
        for s in checkpoint['optimizer']['state'].values()
    ]
    assert momentum and all(torch.is_tensor(m) for m in momentum)
    assert checkpoint['param_schedulers'][0]['last_step'] >= 1
    buffers = checkpoint['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    # The statistics methods came back as HistoryBuffer's own.
    assert buffers['train/loss'].statistics('mean') == \
        buffers['train/loss'].mean()


def test_runner_resumes_from_a_project_checkpoint(project_checkpoint,
                                                  tmp_path):
    run, path = project_checkpoint
    runner = Runner.from_cfg(run.config_copy(tmp_path / 'resumed'))
    runner.resume(path, map_location='cpu')
    saved = _load_checkpoint(path, map_location='cpu')
    assert runner.iter == 14
    state = runner.optim_wrapper.optimizer.state_dict()['state']
    for key, value in saved['optimizer']['state'].items():
        assert torch.equal(state[key]['momentum_buffer'],
                           value['momentum_buffer'])
    assert runner.message_hub.get_scalar('train/loss').current() == \
        saved['message_hub']['log_scalars']['train/loss'].current()
    for key, value in saved['state_dict'].items():
        assert torch.equal(runner.model.state_dict()[key], value), key
