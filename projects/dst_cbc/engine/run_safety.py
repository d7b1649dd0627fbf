"""Run safety: one run per work dir, the work dir's identity, and the
runner that enforces both before it writes anything.

- ``run.lock`` is held (``flock``) by the one process training in the work
  dir and names it (PID, host, start time). The kernel drops an ``flock``
  when its process dies, so the file of a killed run is stale, not held: the
  next run takes it over and says whose it was.
- ``run.json`` names the config the work dir belongs to (its fingerprint
  and settings); a run of another config is refused, naming what differs.
- :class:`CurriculumRunner` (``runner_type='CurriculumRunner'``, set by
  every config of this project) takes the lock as soon as the distributed
  environment is up, before MMEngine writes its log folder and config dump,
  removes what a killed run left half-written, and resumes from the newest
  checkpoint that verifies. So MMSeg's own ``tools/train.py`` (what
  ``mim train mmseg`` runs) gets the same guarantees as this project's.
"""
import datetime
import errno
import fcntl
import glob
import json
import logging
import os
import os.path as osp
import re
import socket
import time
from typing import Any, Callable, Dict, List, Optional

from mmengine.config import Config
from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmseg.registry import RUNNERS
from ..utils import atomic_write_json, config_fingerprint, read_json
from ..utils.fingerprint import RUN_KEYS
from .checkpoints import (end_checkpoint_name, is_valid_checkpoint,
                          resumable_checkpoints, resume_point)
from .round_schedule import check_train_options

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

    The retries ride out a lock released a moment ago; a run holding the
    lock is refused after them.
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


def on_main_process(fn: Callable[..., Any], *args, **kwargs) -> None:
    """Call ``fn`` on rank 0; every rank raises what it raised.

    The other ranks wait for rank 0's outcome (a barrier), so a refusal
    (a held lock, a bad file) stops all of them with the same message.
    Without distributed training this is a plain call.

    Args:
        fn (Callable): The step; its return value is dropped.
        *args: Positional arguments of ``fn``.
        **kwargs: Keyword arguments of ``fn``.
    """
    outcome: list = [None]
    if is_main_process():
        try:
            fn(*args, **kwargs)
        except Exception as e:  # shared with the other ranks, then raised
            outcome[0] = e
    broadcast_object_list(outcome)
    error: Optional[Exception] = outcome[0]
    if error is not None:
        raise error


RUN_FILE = 'run.json'
#: Differing settings named in a refusal, at most.
MAX_NAMED = 8
#: A config's settings as plain JSON values (:func:`config_settings`).
Settings = Dict[str, Any]


def config_settings(cfg: Config) -> Settings:
    """The config entries the fingerprint covers, as plain JSON values."""
    parts = {key: cfg.get(key) for key in RUN_KEYS}
    return json.loads(json.dumps(parts, sort_keys=True, default=str))


def _flatten(value: Any, prefix: str, out: Dict[str, Any]) -> None:
    """Dotted keys (``a.b[0].c``) of the leaves of nested dicts and lists."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f'{prefix}.{key}' if prefix else key, out)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            _flatten(item, f'{prefix}[{i}]', out)
    else:
        out[prefix] = value


def differing_settings(saved: Settings, current: Settings) -> List[str]:
    """The settings that differ, each as ``key: saved -> current``.

    Args:
        saved (dict): :func:`config_settings` of the work dir's run.
        current (dict): :func:`config_settings` of this config.

    Returns:
        list[str]: One entry per differing leaf, sorted by key.
    """
    old: Settings = {}
    new: Settings = {}
    _flatten(saved, '', old)
    _flatten(current, '', new)

    def show(values: Settings, key: str) -> str:
        return repr(values[key]) if key in values else '<unset>'

    return [
        f'{key}: {show(old, key)} -> {show(new, key)}'
        for key in sorted(set(old) | set(new))
        if show(old, key) != show(new, key)
    ]


def check_work_dir(cfg: Config) -> None:
    """Refuse a work dir holding another config's run, naming what differs.

    Reads only, so :class:`CurriculumRunner` calls it before MMEngine writes
    its log folder and dumps the config into the work dir.

    Args:
        cfg (Config): The run's config (``work_dir`` set).

    Raises:
        ValueError: If the work dir's ``run.json`` has another fingerprint.
    """
    path = osp.join(cfg.work_dir, RUN_FILE)
    if not osp.isfile(path):
        return
    saved = read_json(path)
    if saved.get('config') == config_fingerprint(cfg):
        return
    if 'settings' in saved:
        diffs = differing_settings(saved['settings'], config_settings(cfg))
        more = len(diffs) - MAX_NAMED
        named = '; '.join(
            diffs[:MAX_NAMED]) + (f'; and {more} more' if more > 0 else '')
    else:
        named = f'not recorded (an older {RUN_FILE})'
    raise ValueError(
        f'work_dir {cfg.work_dir} holds a different run: its {RUN_FILE} '
        f'was written for another config. Settings that differ (work dir '
        f'-> now): {named}. Restore those settings to continue that run '
        '(--resume), or choose another --work-dir')


def record_run(runner, rounds_done: int, num_rounds: int) -> None:
    """Mark the work dir as this config's, once its data passed the checks.

    Rank 0 refuses another config's work dir, writes ``run.json`` and says
    when this run resumes a finished run or starts over an earlier one.
    The runner holds the work dir's lock (:class:`CurriculumRunner`).

    Args:
        runner (Runner): The runner (its ``work_dir``, ``cfg``, ``iter``).
        rounds_done (int): Rounds already recorded (after ``--resume``).
        num_rounds (int): Rounds of the curriculum, round 0 included.

    Raises:
        ValueError: If the work dir belongs to another config.
    """
    on_main_process(_record_run, runner, rounds_done, num_rounds)


def _record_run(runner, rounds_done: int, num_rounds: int) -> None:
    """Rank 0's part of :func:`record_run`."""
    check_work_dir(runner.cfg)
    work_dir = runner.work_dir
    path = osp.join(work_dir, RUN_FILE)
    if not osp.isfile(path) or 'settings' not in read_json(path):
        atomic_write_json(
            path,
            dict(
                config=config_fingerprint(runner.cfg),
                settings=config_settings(runner.cfg)))
    if rounds_done == num_rounds:
        print_log(
            f'work_dir {work_dir}: this run is finished (all {num_rounds} '
            'rounds are recorded, see summary.json); --resume has nothing '
            'left to train',
            logger='current')
    elif rounds_done == 0 and runner.iter == 0:
        _warn_if_restarting(work_dir, num_rounds)


def _warn_if_restarting(work_dir: str, num_rounds: int) -> None:
    """Warn that a run without ``--resume`` retrains over an earlier one."""
    final = osp.join(work_dir, end_checkpoint_name(num_rounds - 1))
    if is_valid_checkpoint(final):
        what = (f'a finished run of this config ({final}); --resume would '
                'only report it finished')
    elif resumable_checkpoints(work_dir):
        what = 'an unfinished run of this config; --resume would continue it'
    else:
        return
    print_log(
        f'work_dir {work_dir} holds {what}. Training again from the start '
        'without --resume, overwriting its checkpoints, labels and summary '
        '(stop now and choose another --work-dir to keep them)',
        logger='current',
        level=logging.WARNING)


#: What this project's atomic writes leave behind when killed before their
#: rename: ``.<name>.pth.tmp`` (checkpoints) and ``.<name>.<8 chars>.tmp``
#: (``tempfile.mkstemp`` in :mod:`~dst_cbc.utils.io`).
TEMPORARY_FILE = re.compile(r'^\..+\.(pth|[a-z0-9_]{8})\.tmp$')


def sweep_temporary_files(work_dir: str) -> List[str]:
    """Remove the temporary files a killed run left in its work dir.

    Looks in the work dir, its folders and their ``round_<r>`` folders (the
    pseudo labels), and removes only names matching :data:`TEMPORARY_FILE`.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        list[str]: The removed files.
    """
    folders = [work_dir] + glob.glob(osp.join(work_dir, '*', '')) + glob.glob(
        osp.join(work_dir, '*', 'round_*', ''))
    removed = []
    for folder in folders:
        for name in os.listdir(folder):
            path = osp.join(folder, name)
            if TEMPORARY_FILE.match(name) and osp.isfile(path):
                os.remove(path)
                removed.append(path)
    if removed:
        print_log(
            f'work_dir {work_dir}: removed {len(removed)} temporary files '
            'left by a killed run',
            logger='current')
    return removed


@RUNNERS.register_module()
class CurriculumRunner(Runner):
    """MMEngine's ``Runner`` that owns its work dir before writing into it.

    Set by ``runner_type = 'CurriculumRunner'``; MMSeg's ``tools/train.py``
    and ``tools/test.py`` then build it from the config. Compared with
    ``Runner``:

    - a ``CurriculumTrainLoop``'s options are checked before anything is
      built or written (:func:`~.round_schedule.check_train_options`);
    - right after the distributed environment is set up (MMEngine has only
      created the work dir folder), rank 0 takes the work dir's lock
      (:class:`WorkDirLock`) and refuses a work dir holding another
      config's run (:func:`check_work_dir`): a second run in a busy work
      dir, or a run of another config, is refused having written nothing.
      This holds for every run the runner builds, tests included: test
      another config, or while the run trains, with another ``--work-dir``.
      The lock is released when ``train``, ``val`` or ``test`` returns or
      raises;
    - the temporary files a killed run left are removed
      (:func:`sweep_temporary_files`);
    - the config is saved into the work dir when training starts, not when
      the runner is built: a test or validation run leaves it as it is;
    - ``resume=True`` continues from the newest checkpoint that verifies
      (:func:`~.checkpoints.resume_point`: ``last_checkpoint``, else the
      newest complete one, with a warning), or from the start when there is
      none; ``load_from`` keeps MMEngine's other meaning, the initial
      weights of a run that is not resumed.

    Arguments are those of ``Runner``.
    """

    def __init__(self, *args, **kwargs) -> None:
        train_cfg = kwargs.get('train_cfg') or {}
        if str(train_cfg.get('type', '')).endswith('CurriculumTrainLoop'):
            check_train_options(train_cfg)
        self._work_dir_lock: Optional[WorkDirLock] = None
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            self._release_work_dir()
            raise

    def setup_env(self, env_cfg: Dict) -> None:
        """Set up the environment, then take the work dir if it is free and
        this config's.

        Args:
            env_cfg (dict): The ``env_cfg`` of ``Runner.setup_env``.
        """
        super().setup_env(env_cfg)
        self._work_dir_lock = WorkDirLock(self.work_dir)
        on_main_process(self._work_dir_lock.acquire)
        on_main_process(check_work_dir, self.cfg)
        on_main_process(sweep_temporary_files, self.work_dir)

    def load_or_resume(self) -> None:
        """Resume from the newest valid checkpoint, or load ``load_from``."""
        if self._resume and not self._has_loaded:
            checkpoint = resume_point(self.work_dir)
            if checkpoint is None:
                self._resume = False
            else:
                self._load_from = checkpoint
        super().load_or_resume()

    def dump_config(self) -> None:
        """Save nothing yet: :meth:`train` saves the config.

        ``Runner`` saves it when built, so a test or validation run in a
        training's work dir would overwrite the training's saved config
        (with ``load_from`` set to the tested checkpoint, say), which the
        pseudo-label tools and a user retraining from it read.
        """

    def train(self):
        """Save the config into the work dir, train, then release the work
        dir (also on an error)."""
        try:
            super().dump_config()
            return super().train()
        finally:
            self._release_work_dir()

    def val(self) -> dict:
        """Validate, then release the work dir (also on an error)."""
        try:
            return super().val()
        finally:
            self._release_work_dir()

    def test(self) -> dict:
        """Test, then release the work dir (also on an error)."""
        try:
            return super().test()
        finally:
            self._release_work_dir()

    def _release_work_dir(self) -> None:
        """Release the work dir's lock if this process holds it."""
        if self._work_dir_lock is not None:
            self._work_dir_lock.release()
