"""Shared fixtures: tiny generated datasets, the default config on them and
one finished tiny run."""
import copy
import gc
import itertools
import json
import os.path as osp
from types import SimpleNamespace
from typing import Callable

import mmengine.config.config as mmengine_config
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import dst_cbc  # noqa: F401
from dst_cbc.datasets import nested_splits, write_list
from tests.helpers.recorders import ReportSnapshotRecorder, RoundStartRecorder
from tests.helpers.threads import torch_threads
from tools.make_synthetic_data import generate_synthetic_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(
    ROOT, 'configs', 'dst_cbc',
    'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')


def make_tiny_synthetic(root: str,
                        num_train: int,
                        num_val: int,
                        size: int = 32,
                        seed: int = 0,
                        ratio: int = 8,
                        batch_size: int = 8) -> str:
    """Generate a small synthetic set with split 1 of ``1/ratio`` labels.

    Writes ``splits/split1/{labeled,unlabeled}_1-<ratio>.txt``, the layout
    of the synthetic configs. Returns ``root``.
    """
    generate_synthetic_dataset(
        root, num_train=num_train, num_val=num_val, size=size, seed=seed)
    names = open(osp.join(root, 'train.txt')).read().split()
    labeled, unlabeled = nested_splits(
        names, [ratio], num_splits=1, batch_size=batch_size)[1][ratio]
    for kind, names in (('labeled', labeled), ('unlabeled', unlabeled)):
        write_list(
            osp.join(root, f'splits/split1/{kind}_1-{ratio}.txt'), names)
    return root


# Names of tiny_config's configs, one each: see tiny_config.
_TINY_NAMES = itertools.count()


def tiny_config(data_root: str,
                work_dir: str,
                ratio: int = 8,
                **train_cfg) -> Config:
    """The default config pointed at ``data_root``, with ``train_cfg``."""
    cfg = Config.fromfile(DEFAULT_CONFIG)
    # Dumped and logged unformatted (yapf takes a second or more per runner);
    # Config.fromfile ignores its format_python_code for a plain config.
    cfg = Config(
        cfg.to_dict(),
        cfg_text=cfg.text,
        filename=cfg.filename,
        format_python_code=False)
    for kind in ('labeled', 'unlabeled'):
        half = cfg.train_dataloader.dataset[kind]
        half.data_root = data_root
        half.ann_file = f'splits/split{{split}}/{kind}_1-{ratio}.txt'
    cfg.val_dataloader.dataset.data_root = data_root
    cfg.test_dataloader = cfg.val_dataloader
    cfg.work_dir = str(work_dir)
    # A runner's message hub and logger are MMEngine instances named by
    # experiment and second, and tiny runners take well under a second to
    # build: a name of its own per config keeps a runner from reading the
    # rounds another recorded.
    cfg.experiment_name = f'tiny_{next(_TINY_NAMES)}'
    cfg.train_cfg.update(train_cfg)
    return cfg


def pytest_collection_finish(session):
    """Exempt what is loaded by now (torch, MMEngine, the test modules) from
    the garbage collector's scans: MMEngine's datasets call gc.collect()
    whenever they are built, which otherwise scans millions of objects
    (about half a second per dataset)."""
    gc.freeze()


@pytest.fixture(scope='session', autouse=True)
def one_torch_thread():
    """Every test on one torch thread (subprocesses keep torch's default):
    the tests run small models, many small ops, which a second thread does
    not speed up and which stall when the cores are busy (a tiny run took
    up to ten times as long on two threads at a load of 6 on 2 cores)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope='session', autouse=True)
def config_formatted_once():
    """Format each config text with yapf once per session.

    MMEngine formats the whole config with yapf whenever it dumps or logs it
    or saves a checkpoint: several times per runner, a second or more each
    (most of what building a tiny runner costs). The formatting is a pure
    function of the text: the same text gets the same result from a cache.
    """
    format_code = mmengine_config.FormatCode
    formatted = {}

    def cached(text, style_config=None, **kwargs):
        key = (text, repr(style_config), repr(sorted(kwargs.items())))
        if key not in formatted:
            formatted[key] = format_code(
                text, style_config=style_config, **kwargs)
        return formatted[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mmengine_config, 'FormatCode', cached)
        yield


@pytest.fixture(scope='session')
def tiny_synthetic() -> Callable[..., str]:
    """:func:`make_tiny_synthetic`, for tests to call."""
    return make_tiny_synthetic


@pytest.fixture(scope='session')
def tiny_cfg() -> Callable[..., Config]:
    """:func:`tiny_config`, for tests to call."""
    return tiny_config


@pytest.fixture(scope='session')
def finished_run(tmp_path_factory) -> SimpleNamespace:
    """One finished tiny curriculum, for the tests that only read a run.

    The default config on 40 generated training images of 32x32 (10
    labeled, split 1 of 1/4) and 8 validation images: round 0 trains 6
    iterations, rounds 1 and 2 (alphas 0.5 and 1.0) 4 each, validating every
    2 iterations; the periodic checkpoint is ``iter_14.pth`` (the last
    iteration). Trained once per session: tests must not change its files
    (copy the work dir with ``shutil.copytree`` into ``tmp_path`` first) nor
    its runner; ``config(work_dir)`` gives a copy of its config to build
    another runner with.

    Attributes:
        runner: The finished runner.
        work (str): Its work dir.
        data_root (str): The generated data.
        unlabeled (list[str]): The unlabeled names, as listed.
        config (str): The config the runner saved in ``work``.
        config_copy (Callable): ``config_copy(work_dir)``: a deep copy of the
            run's config writing to ``work_dir``, its visualizer named after
            it (MMEngine shares a visualizer among runners of one name).
        results (list[RoundResult]): A copy of the loop's results.
        stats (dict): Each labeled round's ``stats.json``.
        snapshots (list[dict]): report.json after each round.
        round_starts (list[dict]): :class:`RoundStartRecorder`'s records.
    """
    tmp = tmp_path_factory.mktemp('finished_run')
    data_root = make_tiny_synthetic(
        str(tmp / 'data'), num_train=40, num_val=8, seed=1, ratio=4)
    cfg = tiny_config(
        data_root,
        tmp / 'work',
        ratio=4,
        alphas=[0.5, 1.0],
        baseline_iters=6,
        round_iters=4,
        val_interval=2)
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.visualizer.name = 'finished_run_visualizer'
    cfg.custom_hooks += [
        dict(type='RoundStartRecorder'),
        dict(type='ReportSnapshotRecorder')
    ]
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.train()
    hooks = {type(h): h for h in runner.hooks}
    results = copy.deepcopy(runner.train_loop.results)

    def config_copy(work_dir) -> Config:
        other = copy.deepcopy(cfg)
        other.work_dir = str(work_dir)
        other.visualizer.name = f'visualizer_{work_dir}'
        # a runner's message hub and logger are MMEngine instances named by
        # experiment and second: a name of its own per copy keeps a runner
        # built in the same second from reading another's recorded rounds
        other.experiment_name = f'run_{work_dir}'
        return other

    return SimpleNamespace(
        runner=runner,
        work=cfg.work_dir,
        data_root=data_root,
        unlabeled=open(osp.join(
            data_root, 'splits/split1/unlabeled_1-4.txt')).read().split(),
        config=osp.join(cfg.work_dir, osp.basename(DEFAULT_CONFIG)),
        config_copy=config_copy,
        results=results,
        stats={
            r.round:
            json.load(open(osp.join(r.pseudo_label_dir, 'stats.json')))
            for r in results if r.pseudo_label_dir
        },
        snapshots=hooks[ReportSnapshotRecorder].snapshots,
        round_starts=hooks[RoundStartRecorder].records)


@pytest.fixture(scope='module')
def one_thread():
    """One torch thread until the end of the requesting module, for tests
    that ask for it: ResNet-101 on a tiny input is many small ops, which
    several threads only slow down on a busy machine."""
    with torch_threads(1):
        yield
