"""One process per work dir: refused while held, stale locks taken over."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

import dst_cbc.engine.work_dir_lock as work_dir_lock
from dst_cbc.engine.main_process import on_main_process
from dst_cbc.engine.work_dir_lock import WorkDirLock, check_unlocked

# Another process taking the lock; the module is loaded by its path, which
# spares the child importing the whole extension (torch, MMSeg).
HOLD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location('lock', sys.argv[1])
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
lock.WorkDirLock(sys.argv[2]).acquire()
print('held', flush=True)
sys.stdin.read()  # until the test closes stdin; exits without releasing
"""


@pytest.fixture
def messages(monkeypatch):
    said = []
    monkeypatch.setattr(work_dir_lock, 'print_log',
                        lambda msg, **kwargs: said.append(msg))
    return said


def test_lock_of_a_live_process_refuses_then_its_stale_lock_is_taken(
        tmp_path, messages):
    work_dir = str(tmp_path / 'w')
    other = subprocess.Popen(
        [sys.executable, '-c', HOLD, work_dir_lock.__file__, work_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True)
    path = osp.join(work_dir, 'run.lock')
    try:
        assert other.stdout.readline() == 'held\n'
        holder = (f'PID {other.pid} on host {socket.gethostname()}, '
                  f'started {json.load(open(path))["started"]}')
        for refuse in (WorkDirLock(work_dir).acquire,
                       lambda: check_unlocked(work_dir)):
            with pytest.raises(RuntimeError) as e:
                refuse()
            assert f'work_dir {work_dir} is in use by another run: ' \
                f'{holder}' in str(e.value)
            assert 'choose another --work-dir' in str(e.value)
    finally:
        other.stdin.close()
        other.wait()
    # killed or ended without releasing: its lock file stays, stale
    assert json.load(open(path))['pid'] == other.pid
    check_unlocked(work_dir)  # a stale lock does not refuse
    lock = WorkDirLock(work_dir)
    lock.acquire()
    assert messages == [
        f'work_dir {work_dir}: taking over the stale lock of {holder}, '
        'which ended without releasing it'
    ]
    assert json.load(open(path))['pid'] == os.getpid()
    assert lock.held
    with pytest.raises(RuntimeError, match=f'PID {os.getpid()} on host'):
        WorkDirLock(work_dir).acquire()  # one holder, even in one process
    lock.release()
    assert not osp.exists(path) and not lock.held
    again = WorkDirLock(work_dir)
    again.acquire()  # free again, nothing said
    again.release()
    assert len(messages) == 1


def test_on_main_process_raises_what_the_step_raised():
    calls = []
    on_main_process(calls.append, 1)
    assert calls == [1]
    with pytest.raises(FileNotFoundError, match='gone'):
        on_main_process(lambda:
                        (_ for _ in ()).throw(FileNotFoundError('gone')))
