"""Checkpoints written file-then-rename; the resume point is a valid file."""
import logging
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub

import dst_cbc.engine.checkpoints as checkpoints
from dst_cbc.engine.checkpoints import (AtomicCheckpointHook,
                                        is_valid_checkpoint, resume_point,
                                        save_checkpoint_file)


def _write_checkpoint(path, iteration=0):
    torch.save(
        dict(
            meta=dict(iter=iteration), state_dict=dict(w=torch.arange(1000.))),
        path)


@pytest.fixture
def messages(monkeypatch):
    """The messages checkpoints prints."""
    said = []
    monkeypatch.setattr(checkpoints, 'print_log',
                        lambda msg, **kwargs: said.append(msg))
    return said


def _point(work_dir, text):
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(text)


def test_is_valid_checkpoint(tmp_path):
    good = str(tmp_path / 'good.pth')
    _write_checkpoint(good)
    data = open(good, 'rb').read()
    half, empty, text = (
        str(tmp_path / n) for n in ('h.pth', 'e.pth', 't.pth'))
    open(half, 'wb').write(data[:len(data) // 2])
    open(empty, 'wb').close()
    open(text, 'w').write('not a checkpoint')
    assert is_valid_checkpoint(good)
    for path in (half, empty, text, str(tmp_path / 'missing.pth')):
        assert not is_valid_checkpoint(path), path


def _work_dir_with_checkpoints(tmp_path):
    """iter_3.pth (older), round_0_end.pth (newer), a truncated iter_6."""
    work_dir = str(tmp_path)
    for age, name in ((20, 'iter_3.pth'), (10, 'round_0_end.pth')):
        path = osp.join(work_dir, name)
        _write_checkpoint(path)
        os.utime(path, (1e9 - age, 1e9 - age))
    _write_checkpoint(osp.join(work_dir, 'iter_6.pth'))
    os.truncate(osp.join(work_dir, 'iter_6.pth'), 100)
    _write_checkpoint(osp.join(work_dir, 'round_0_best.pth'))  # not one
    return work_dir


def test_resume_point_is_the_valid_file_last_checkpoint_names(
        tmp_path, messages):
    work_dir = _work_dir_with_checkpoints(tmp_path)
    _point(work_dir, osp.join(work_dir, 'iter_3.pth') + '\n')
    assert resume_point(work_dir) == osp.join(work_dir, 'iter_3.pth')
    assert messages == []


def test_resume_point_falls_back_to_the_newest_valid_checkpoint(
        tmp_path, messages):
    work_dir = _work_dir_with_checkpoints(tmp_path)
    newest = osp.join(work_dir, 'round_0_end.pth')
    cases = [
        ('', 'last_checkpoint is empty'),
        (osp.join(work_dir, 'iter_9.pth'), 'iter_9.pth, which is missing'),
        (osp.join(work_dir, 'iter_6.pth'), 'iter_6.pth, which is missing '
         'or incomplete'),
        (None, 'last_checkpoint does not exist'),
    ]
    for text, said in cases:
        if text is None:
            os.remove(osp.join(work_dir, 'last_checkpoint'))
        else:
            _point(work_dir, text)
        assert resume_point(work_dir) == newest
        assert said in messages[-1]
        assert messages[-1].endswith(f'newest valid checkpoint, {newest}')
    assert len(messages) == len(cases)


def test_resume_point_without_any_valid_checkpoint(tmp_path, messages):
    _point(str(tmp_path), str(tmp_path / 'iter_3.pth'))
    assert resume_point(str(tmp_path)) is None
    assert messages == [
        f'--resume: {tmp_path}/last_checkpoint names {tmp_path}/iter_3.pth, '
        f'which is missing or incomplete, and {tmp_path} holds no valid '
        'checkpoint; training from the start'
    ]


class _Runner(SimpleNamespace):
    """What AtomicCheckpointHook uses of a runner; records each save."""

    def save_checkpoint(self, out_dir, filename, **kwargs):
        path = osp.join(out_dir, filename)
        self.seen.append(
            (filename, sorted(os.listdir(out_dir)),
             open(osp.join(out_dir, 'last_checkpoint')).read() if osp.exists(
                 osp.join(out_dir, 'last_checkpoint')) else None))
        _write_checkpoint(path, kwargs['meta']['iter'])


def test_atomic_checkpoint_hook_removes_the_old_file_last(tmp_path):
    work_dir = str(tmp_path)
    runner = _Runner(
        work_dir=work_dir,
        seen=[],
        message_hub=MessageHub('test_atomic_hook'),
        logger=logging.getLogger('test_atomic_hook'))
    hook = AtomicCheckpointHook(interval=3, by_epoch=False, max_keep_ckpts=1)
    hook.before_train(runner)
    for step in (3, 6):
        hook._save_checkpoint_with_step(runner, step, dict(iter=step))
    old = osp.join(work_dir, 'iter_3.pth')
    new = osp.join(work_dir, 'iter_6.pth')
    # iter_6 is written to a temporary name while iter_3 and the pointer
    # to it are still in place
    assert runner.seen == [
        ('.iter_3.pth.tmp', [], None),
        ('.iter_6.pth.tmp', ['iter_3.pth', 'last_checkpoint'], old),
    ]
    assert sorted(os.listdir(work_dir)) == ['iter_6.pth', 'last_checkpoint']
    assert open(osp.join(work_dir, 'last_checkpoint')).read() == new
    assert runner.message_hub.get_info('keep_ckpt_ids') == [6]
    assert runner.message_hub.get_info('last_ckpt') == new


def test_saved_checkpoint_honours_the_umask(tmp_path):
    runner = _Runner(seen=[])
    old = os.umask(0o027)
    try:
        path = save_checkpoint_file(
            runner, str(tmp_path), 'a.pth', meta=dict(iter=1))
    finally:
        os.umask(old)
    assert os.listdir(str(tmp_path)) == ['a.pth']
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert torch.load(path)['meta'] == dict(iter=1)


def test_outdated_round_ends_are_removed_once_the_last_verifies(tmp_path):
    from dst_cbc.engine.checkpoints import remove_outdated_round_ends
    for rnd in (0, 1, 2):
        torch.save({'round': rnd}, tmp_path / f'round_{rnd}_end.pth')
    (tmp_path / 'round_1_best.pth').write_bytes(b'kept')
    (tmp_path / 'round_3_end.pth').write_bytes(b'truncated')
    remove_outdated_round_ends(str(tmp_path), 3)  # not valid: nothing goes
    assert len(list(tmp_path.glob('round_*_end.pth'))) == 4
    remove_outdated_round_ends(str(tmp_path), 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'round_1_best.pth', 'round_2_end.pth', 'round_3_end.pth'
    ]
