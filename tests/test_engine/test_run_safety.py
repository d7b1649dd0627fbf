"""Run safety: one process per work dir (refused while held, stale locks
taken over, rank 0's refusal shared by every rank) and a work dir of another
config refused, naming the settings that differ."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config

from dst_cbc.engine import run_safety
from dst_cbc.engine.run_safety import (MAX_NAMED, WorkDirLock, check_work_dir,
                                       config_settings, differing_settings,
                                       on_main_process)
from dst_cbc.utils import atomic_write_json, config_fingerprint

# Another process taking the lock.
HOLD = """
import sys
from dst_cbc.engine.run_safety import WorkDirLock
WorkDirLock(sys.argv[1]).acquire()
print('held', flush=True)
sys.stdin.read()  # until the test closes stdin; exits without releasing
"""


@pytest.fixture
def messages(monkeypatch):
    said = []
    monkeypatch.setattr(run_safety, 'print_log',
                        lambda msg, **kwargs: said.append(msg))
    return said


@pytest.mark.slow  # the other process imports the package: 5-12 s
def test_lock_of_a_live_process_refuses_then_its_stale_lock_is_taken(
        tmp_path, messages):
    work_dir = str(tmp_path / 'w')
    other = subprocess.Popen([sys.executable, '-c', HOLD, work_dir],
                             stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE,
                             text=True)
    path = osp.join(work_dir, 'run.lock')
    try:
        assert other.stdout.readline() == 'held\n'
        holder = (f'PID {other.pid} on host {socket.gethostname()}, '
                  f'started {json.load(open(path))["started"]}')
        with pytest.raises(RuntimeError) as e:
            WorkDirLock(work_dir).acquire()
        assert f'work_dir {work_dir} is in use by another run: ' \
            f'{holder}' in str(e.value)
        assert 'choose another --work-dir' in str(e.value)
    finally:
        other.stdin.close()
        other.wait()
    # killed or ended without releasing: its lock file stays, stale
    assert json.load(open(path))['pid'] == other.pid
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


def test_differing_settings_are_dotted_keys_with_both_values():
    saved = dict(model=dict(a=1, b=[1, 2], c=dict(d='x')), train_cfg=None)
    current = dict(
        model=dict(a=2, b=[1, 3, 4], c=dict(d='x')), train_cfg=dict(alphas=[]))
    assert differing_settings(saved, current) == [
        'model.a: 1 -> 2',
        'model.b[1]: 2 -> 3',
        'model.b[2]: <unset> -> 4',
        'train_cfg: None -> <unset>',
        'train_cfg.alphas: <unset> -> []',
    ]
    assert differing_settings(saved, saved) == []


def _cfg(work_dir, **model):
    return Config(
        dict(
            work_dir=str(work_dir),
            model=dict(type='M', **model),
            train_cfg=dict(alphas=(0.5, 1.0))))


def _claim(cfg):
    atomic_write_json(
        os.path.join(cfg.work_dir, 'run.json'),
        dict(config=config_fingerprint(cfg), settings=config_settings(cfg)))


def test_check_work_dir_names_what_differs(tmp_path):
    check_work_dir(_cfg(tmp_path, gamma=3.0))  # no run.json yet: passes
    _claim(_cfg(tmp_path, gamma=3.0))
    check_work_dir(_cfg(tmp_path, gamma=3.0))  # the same config: passes
    with pytest.raises(ValueError) as e:
        check_work_dir(_cfg(tmp_path, gamma=5.0, depth=18))
    assert str(e.value) == (
        f'work_dir {tmp_path} holds a different run: its run.json was '
        'written for another config. Settings that differ (work dir -> '
        'now): model.depth: <unset> -> 18; model.gamma: 3.0 -> 5.0. '
        'Restore those settings to continue that run (--resume), or choose '
        'another --work-dir')


def test_validation_and_test_settings_are_part_of_the_identity(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.val_dataloader = dict(dataset=dict(ann_file='val.txt'))
    cfg.test_evaluator = dict(type='IoUMetric')
    _claim(cfg)
    valtiny = _cfg(tmp_path)
    valtiny.val_dataloader = dict(dataset=dict(ann_file='valtiny.txt'))
    valtiny.test_evaluator = dict(type='IoUMetric')
    with pytest.raises(
            ValueError,
            match=r"val_dataloader.dataset.ann_file: 'val.txt' -> "
            r"'valtiny.txt'\. Restore"):
        check_work_dir(valtiny)
    cfg.test_evaluator = dict(type='IoUMetric', iou_metrics=['mDice'])
    with pytest.raises(ValueError, match=r'test_evaluator.iou_metrics'):
        check_work_dir(cfg)


def test_check_work_dir_lists_at_most_max_named(tmp_path):
    _claim(_cfg(tmp_path))
    many = {f'k{i:02d}': i for i in range(MAX_NAMED + 3)}
    with pytest.raises(
            ValueError, match=r'model.k07: <unset> -> 7; and 3 '
            r'more\. Restore'):
        check_work_dir(_cfg(tmp_path, **many))


def test_check_work_dir_of_an_older_run_json(tmp_path):
    cfg = _cfg(tmp_path, gamma=3.0)
    atomic_write_json(str(tmp_path / 'run.json'), dict(config='0' * 64))
    with pytest.raises(
            ValueError,
            match=r'differ \(work dir -> now\): not '
            r'recorded \(an older run.json\)'):
        check_work_dir(cfg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _take_lock(rank: int, port: int, work_dir: str, out: str) -> None:
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    seen = {}
    for attempt in ('free', 'busy'):
        lock = WorkDirLock(work_dir)
        try:
            on_main_process(lock.acquire)
            seen[attempt] = dict(held=lock.held)
        except RuntimeError as e:
            seen[attempt] = dict(error=str(e))
        if attempt == 'free':
            first = lock  # held by rank 0 while the second attempt runs
    first.release()
    dist.barrier()
    seen['released'] = not osp.exists(osp.join(work_dir, 'run.lock'))
    with open(osp.join(out, f'rank{rank}.json'), 'w') as f:
        json.dump(seen, f)
    dist.destroy_process_group()


@pytest.mark.slow  # 2 spawned processes
def test_rank_0_takes_the_lock_and_every_rank_shares_its_refusal(tmp_path):
    work_dir = str(tmp_path / 'w')
    mp.spawn(
        _take_lock, args=(_free_port(), work_dir, str(tmp_path)), nprocs=2)
    ranks = [json.load(open(tmp_path / f'rank{r}.json')) for r in (0, 1)]
    assert ranks[0]['free'] == dict(held=True)
    assert ranks[1]['free'] == dict(held=False)  # only rank 0 takes it
    # rank 0's second attempt is refused (it holds the lock already), and
    # rank 1 raises the very same message
    error = ranks[0]['busy']['error']
    assert error.startswith(f'work_dir {work_dir} is in use by another '
                            'run: PID ')
    assert ranks[1]['busy'] == dict(error=error)
    assert ranks[0]['released'] and ranks[1]['released']


def test_sweep_removes_only_the_temporary_files_of_atomic_writes(tmp_path):
    labels = tmp_path / 'pseudo_labels' / 'round_2'
    labels.mkdir(parents=True)
    ours = [
        tmp_path / '.round_1_end.pth.tmp',  # a checkpoint being written
        tmp_path / '.summary.json.k2_x9q0a.tmp',  # tempfile.mkstemp's
        labels / '.0007.png.ab12cd34.tmp',
    ]
    users = [
        tmp_path / '.notes.tmp', tmp_path / 'summary.json.tmp',
        tmp_path / 'round_1_end.pth', labels / '0007.png',
        labels / '.0007.png.toolongname.tmp'
    ]
    for path in ours + users:
        path.write_bytes(b'x')
    removed = run_safety.sweep_temporary_files(str(tmp_path))
    assert sorted(removed) == sorted(str(p) for p in ours)
    assert all(p.exists() for p in users)
