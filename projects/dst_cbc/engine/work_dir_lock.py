"""One process per work dir: a lock file naming the process that holds it.

The lock is ``<work_dir>/run.lock``, held with ``flock`` for as long as the
run trains and holding the holder's PID, host and start time as JSON. The
kernel drops an ``flock`` when its process dies, so the file of a killed run
is stale, not held: the next run takes it over and says whose it was.
"""
import datetime
import errno
import fcntl
import json
import logging
import os
import os.path as osp
import socket
import time
from typing import Optional

from mmengine.logging import print_log

LOCK_FILE = 'run.lock'
#: Seconds a lock is retried before the work dir is refused as in use.
PATIENCE = 0.5


def lock_path(work_dir: str) -> str:
    """The lock file of ``work_dir``."""
    return osp.join(work_dir, LOCK_FILE)


def describe_holder(holder: Optional[dict]) -> str:
    """``PID p on host h, started t`` from a lock file's content."""
    if not holder:
        return 'an unknown process (the lock file is empty)'
    return (f'PID {holder.get("pid")} on host {holder.get("host")}, '
            f'started {holder.get("started")}')


def _read_holder(fd: int) -> Optional[dict]:
    """The holder recorded in an open lock file, or None if unreadable."""
    os.lseek(fd, 0, os.SEEK_SET)
    data = b''
    while True:
        block = os.read(fd, 4096)
        if not block:
            break
        data += block
    try:
        return json.loads(data.decode())
    except ValueError:
        return None


def _in_use(work_dir: str, fd: int) -> RuntimeError:
    """The error refusing ``work_dir``, naming the holder of its lock."""
    return RuntimeError(
        f'work_dir {work_dir} is in use by another run: '
        f'{describe_holder(_read_holder(fd))} holds {lock_path(work_dir)}. '
        'Wait for it to finish, or choose another --work-dir')


def _try_flock(fd: int, operation: int = fcntl.LOCK_EX) -> bool:
    """Take the ``flock`` of ``fd``, retrying for at most :data:`PATIENCE`.

    The retries ride out another process's quick look
    (:func:`check_unlocked`); a run holding the lock is refused after them.
    """
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


class WorkDirLock:
    """The exclusive lock of a work dir, taken by one process.

    Args:
        work_dir (str): The run's work dir (created if missing).
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = lock_path(work_dir)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        """bool: Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or refuse at once naming the process holding it.

        A lock file left by a process that no longer holds it (killed, or
        ended without releasing) is taken over with a warning naming it.

        Raises:
            RuntimeError: If another process holds the lock.
        """
        os.makedirs(self.work_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            if not _try_flock(fd):
                error = _in_use(self.work_dir, fd)
                os.close(fd)
                raise error
            if self._same_file(fd):
                break
            os.close(fd)  # released and removed meanwhile: take the new one
        previous = _read_holder(fd)
        if previous:
            print_log(
                f'work_dir {self.work_dir}: taking over the stale lock of '
                f'{describe_holder(previous)}, which ended without '
                'releasing it',
                logger='current',
                level=logging.WARNING)
        self._write_holder(fd)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (no-op if not held)."""
        if self._fd is None:
            return
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def _same_file(self, fd: int) -> bool:
        """Whether ``fd`` is still the file at the lock's path."""
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    @staticmethod
    def _write_holder(fd: int) -> None:
        """Record this process as the holder."""
        holder = dict(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=datetime.datetime.now().astimezone().isoformat(
                timespec='seconds'))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(holder) + '\n').encode())


def check_unlocked(work_dir: str) -> None:
    """Refuse a work dir whose lock another process holds, touching nothing.

    A quick look before the runner is built (and writes logs and its config
    into the work dir); the lock itself is taken by :class:`WorkDirLock`.

    Args:
        work_dir (str): The run's work dir.

    Raises:
        RuntimeError: If another process holds the lock.
    """
    path = lock_path(work_dir)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        if not _try_flock(fd, fcntl.LOCK_SH):
            raise _in_use(work_dir, fd)
    finally:
        os.close(fd)
