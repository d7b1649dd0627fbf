"""Run ``tools/dist_train.sh`` on CPU processes from a test."""
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import Dict, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def free_port() -> int:
    """A TCP port free on this machine now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def dist_train(
    cwd: str,
    config: str,
    nprocs: int,
    args: Sequence[str] = (),
    env: Optional[Dict[str,
                       Optional[str]]] = None) -> subprocess.CompletedProcess:
    """``tools/dist_train.sh CONFIG NPROCS ARGS`` in ``cwd`` with this
    interpreter and a free port; its output (stderr too) in ``stdout``.

    Args:
        cwd (str): The working folder.
        config (str): The config, relative to ``cwd`` or absolute.
        nprocs (int): Processes.
        args (Sequence[str]): More arguments of ``tools/train.py``.
        env (dict, optional): Environment changes; a None value removes
            the variable.
    """
    environ = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()))
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return subprocess.run(
        [
            'bash',
            osp.join(ROOT, 'tools', 'dist_train.sh'), config,
            str(nprocs)
        ] + list(args),
        cwd=cwd,
        env=environ,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
