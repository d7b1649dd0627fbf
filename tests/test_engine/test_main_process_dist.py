"""Rank 0 takes the work dir's lock; its refusal stops every rank (gloo)."""
import json
import os.path as osp
import socket

import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _take_lock(rank: int, port: int, work_dir: str, out: str) -> None:
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    from dst_cbc.engine.main_process import on_main_process
    from dst_cbc.engine.work_dir_lock import WorkDirLock
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
