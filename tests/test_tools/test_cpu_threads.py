"""The launch scripts' thread split: cores / processes on CPUs.

``tools/cpu_threads.sh`` is sourced with a fake ``nproc`` (the node's
cores) and a fake interpreter whose exit status answers "is CUDA
available?" (``true``: yes, ``false``: no); the scripts themselves run with
a fake interpreter that prints the environment it is launched with.
"""
import os
import os.path as osp
import stat
import subprocess

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools')


def threads(procs: str, cores: int, cuda: bool, omp: str = None) -> str:
    """OMP_NUM_THREADS after ``set_cpu_threads procs`` ('' when unset)."""
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    if omp is not None:
        env['OMP_NUM_THREADS'] = omp
    env['PYTHON'] = 'true' if cuda else 'false'
    script = (f'source {osp.join(TOOLS, "cpu_threads.sh")}; '
              f'nproc() {{ echo {cores}; }}; set_cpu_threads "{procs}"; '
              'echo "${OMP_NUM_THREADS:-}"')
    out = subprocess.run(['bash', '-c', script],
                         env=env,
                         text=True,
                         stdout=subprocess.PIPE,
                         check=True).stdout
    return out.strip()


@pytest.mark.parametrize(
    'procs,cores,expected',
    [
        ('2', 2, '1'),  # this machine: two 1-thread processes
        ('2', 8, '4'),
        ('3', 8, '2'),  # rounded down: no process oversubscribes a core
        ('1', 8, '8'),
        ('4', 2, '1'),  # more processes than cores: at least one thread each
    ])
def test_cpu_processes_share_the_cores(procs, cores, expected):
    assert threads(procs, cores, cuda=False) == expected


def test_omp_num_threads_set_by_the_user_is_kept():
    assert threads('2', 8, cuda=False, omp='3') == '3'


def test_cuda_leaves_the_default_to_torch():
    assert threads('2', 8, cuda=True) == ''


@pytest.mark.parametrize('procs', ['auto', 'cpu', '0', ''])
def test_non_numeric_process_counts_are_left_to_torch(procs):
    assert threads(procs, 8, cuda=False) == ''


@pytest.fixture
def fake_bin(tmp_path):
    """A folder with ``nproc`` (6 cores) and ``python``: no CUDA for
    ``-c``, else print OMP_NUM_THREADS and the arguments."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name, body in (('nproc', 'echo 6'),
                       ('python', '[ "$1" = -c ] && exit 1\n'
                        'echo "OMP_NUM_THREADS=${OMP_NUM_THREADS:-} $*"')):
        path = bin_dir / name
        path.write_text(f'#!/usr/bin/env bash\n{body}\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return bin_dir


@pytest.mark.parametrize('script,args', [
    ('dist_train.sh', ['cfg.py', '3', '--amp']),
    ('dist_test.sh', ['cfg.py', 'ckpt.pth', '3', '--tta']),
])
def test_launch_scripts_give_each_process_its_share(fake_bin, script, args):
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    env.update(
        PATH=f'{fake_bin}:{env["PATH"]}', PYTHON=str(fake_bin / 'python'))
    out = subprocess.run(
        ['bash', osp.join(TOOLS, script)] + args,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        check=True).stdout
    assert out.startswith('OMP_NUM_THREADS=2 -m torch.distributed.run ')
    assert '--nproc_per_node=3' in out
    assert out.rstrip().endswith(f'--launcher pytorch {args[-1]}')
