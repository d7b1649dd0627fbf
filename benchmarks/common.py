"""Helpers shared by the benchmarks.

The performance benchmarks run on CamVid when ``--data-root`` holds it
(Fast-SCNN at half resolution, ``configs/camvid``) and otherwise on
generated synthetic data (the main job's config). Every benchmark writes
``<out>/results.json`` (with the machine it ran on: CPU model, instruction
set, threads) and ``<out>/results.md``, and prints the tables. Wall times
are compared as ratios of medians measured in the same run, the compared
sides interleaved, because absolute times drift on a shared machine.
"""
import argparse
import copy
import filecmp
import os.path as osp
import platform
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint, set_random_seed
from PIL import Image
from torch import nn

import dst_cbc  # noqa: F401  (registers the extension's modules)
from dst_cbc.datasets import (endless_batches, nested_splits, read_list,
                              write_splits)
from dst_cbc.utils import atomic_write_bytes, atomic_write_json
from mmseg.registry import HOOKS, MODELS
from tools.make_synthetic_data import generate_synthetic_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CAMVID_CONFIG = osp.join(ROOT, 'configs', 'camvid',
                         'dst-cbc_fast-scnn_1xb4+4_camvid-1-8_128x176.py')
SYNTHETIC_CONFIG = osp.join(
    ROOT, 'configs', 'dst_cbc',
    'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')
#: Where the CamVid configs expect the data (SegNet layout).
DEFAULT_DATA_ROOT = osp.join(ROOT, 'data', 'camvid')
LABEL_RATIO = 8


@dataclass
class BenchData:
    """The data a benchmark runs on, with its config.

    Attributes:
        kind (str): ``'camvid'`` or ``'synthetic'``.
        cfg (Config): The DST-CBC config pointed at the data, split 1 of
            1/8 labels.
        note (str): One sentence naming the data and the model.
    """
    kind: str
    cfg: Config
    note: str


def add_common_args(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the options every performance benchmark takes.

    Args:
        parser (ArgumentParser): The benchmark's parser.
        name (str): The benchmark's name, the default output sub-folder.
    """
    parser.add_argument(
        '--data-root',
        default=DEFAULT_DATA_ROOT,
        help='CamVid in the SegNet layout; synthetic data is generated '
        'when it is absent')
    parser.add_argument(
        '--out',
        default=osp.join(ROOT, 'work_dirs', 'benchmarks', name),
        help='folder of results.json, results.md and scratch files')
    parser.add_argument(
        '--synthetic-train',
        type=int,
        default=256,
        help='training images of the synthetic fallback')
    parser.add_argument(
        '--synthetic-size',
        type=int,
        default=64,
        help='image side of the synthetic fallback')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--threads',
        type=int,
        help="torch's intra-op threads (default: torch's choice)")


def apply_common_args(args: argparse.Namespace) -> None:
    """Set torch's threads (``--threads``) and quiet MMEngine's logging.

    A WARNING-level logger becomes MMEngine's current one, so that the
    INFO lines of weight initialization and labeling do not bury the tables.

    Args:
        args (Namespace): Parsed options of :func:`add_common_args`.
    """
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    MMLogger.get_instance('dst_cbc_benchmark', log_level='WARNING')


def write_split_lists(data_root: str,
                      split_dir: str,
                      ratios: Sequence[int] = (LABEL_RATIO, ),
                      num_splits: int = 1) -> None:
    """Write nested splits of ``data_root/train.txt``.

    Split ``s`` goes to ``split_dir/split<s>/{labeled,unlabeled}_1-<k>.txt``
    for each ratio ``1/k``; a larger ratio's labeled list contains every
    smaller one's (:func:`dst_cbc.datasets.nested_splits`).

    Args:
        data_root (str): Folder holding ``train.txt``.
        split_dir (str): Folder of the ``split<s>`` folders.
        ratios (Sequence[int]): The ``k`` of each ratio ``1/k``.
        num_splits (int): Splits to write. Defaults to 1.
    """
    names = read_list(osp.join(data_root, 'train.txt'))
    write_splits(split_dir, nested_splits(names, list(ratios), num_splits))


def point_config(cfg: Config,
                 data_root: str,
                 split_dir: str,
                 ratio: int = LABEL_RATIO,
                 split: Union[int, str] = 1) -> None:
    """Point a config's datasets at the data and split lists.

    The paths are made absolute: a dataset joins a relative ``ann_file`` to
    its ``data_root``, not to the current directory. A config without an
    unlabeled set (a supervised one) keeps its labeled list.

    Args:
        cfg (Config): The config, changed in place.
        data_root (str): The dataset folder.
        split_dir (str): The folder written by :func:`write_split_lists`.
        ratio (int): The ``k`` of the lists' ratio ``1/k``.
        split (int | str): The split whose lists to read, or ``'{split}'``
            to leave the choice to the config's ``split`` (the placeholder
            ``SemiSegDataset`` fills). Defaults to 1.
    """
    data_root = osp.abspath(data_root)
    folder = osp.join(osp.abspath(split_dir), f'split{split}')
    train = cfg.train_dataloader.dataset
    train.labeled.data_root = data_root
    if train.unlabeled is not None:
        train.unlabeled.data_root = data_root
        for kind in ('labeled', 'unlabeled'):
            train[kind].ann_file = osp.join(folder, f'{kind}_1-{ratio}.txt')
    for loader in ('val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root


def synthetic_data(out_dir: str,
                   num_train: int = 256,
                   size: int = 64,
                   note: str = '') -> BenchData:
    """The main job's config on synthetic data generated in
    ``out_dir/synthetic_<num_train>x<size>`` (reused when already there),
    split 1 of 1/8 labels; ``note`` opens its description."""
    data_root = osp.join(out_dir, f'synthetic_{num_train}x{size}')
    generate_synthetic_dataset(
        data_root,
        num_train=num_train,
        num_val=max(1, num_train // 4),
        size=size)
    return BenchData(
        'synthetic', pointed(SYNTHETIC_CONFIG, data_root, out_dir),
        f'{note}SYNTHETIC data generated in {data_root} ({num_train} train '
        f'images of {size}x{size}); the model of '
        f'{osp.relpath(SYNTHETIC_CONFIG, ROOT)}.')


def prepare_data(data_root: str,
                 out_dir: str,
                 synthetic_train: int = 256,
                 synthetic_size: int = 64,
                 camvid_config: str = CAMVID_CONFIG) -> BenchData:
    """``camvid_config`` on CamVid when ``data_root`` holds it (split 1 of
    1/8 labels, lists in ``out_dir/splits``), else :func:`synthetic_data`
    of ``synthetic_train`` images of side ``synthetic_size``."""
    if not osp.isfile(osp.join(data_root, 'train.txt')):
        return synthetic_data(out_dir, synthetic_train, synthetic_size,
                              f'CamVid not found at {data_root}: ')
    return BenchData(
        'camvid', pointed(camvid_config, data_root, out_dir),
        f'CamVid at {data_root}; the model of '
        f'{osp.relpath(camvid_config, ROOT)}.')


def pointed(config: str, data_root: str, out_dir: str) -> Config:
    """``config`` pointed at ``data_root`` and its split 1 of 1/8 labels,
    written into ``out_dir/splits``."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    split_dir = osp.join(out_dir, 'splits')
    write_split_lists(data_root, split_dir)
    point_config(cfg, data_root, split_dir)
    return cfg


def build_model(model_cfg: dict,
                seed: int = 0,
                checkpoint: Optional[str] = None) -> nn.Module:
    """Build and initialize a segmentor on the CPU, in train mode.

    Args:
        model_cfg (dict): The model's config.
        seed (int): Seed of the weight initialization. Defaults to 0.
        checkpoint (str, optional): Weights to load after initialization.

    Returns:
        nn.Module: The segmentor.
    """
    init_default_scope('mmseg')
    set_random_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model


def semi_loader_cfg(cfg: Config,
                    pseudo_label_dir: Optional[str] = None,
                    **overrides) -> dict:
    """The train dataloader config of a round, as the loop builds it.

    Args:
        cfg (Config): The DST-CBC config.
        pseudo_label_dir (str, optional): The round's pseudo labels; None
            gives round 0's labeled-only batches.
        **overrides: Dataloader options to replace (``num_workers``...).

    Returns:
        dict: A dataloader config for ``Runner.build_dataloader``.
    """
    loader = copy.deepcopy(cfg.train_dataloader.to_dict())
    loader.update(overrides)
    loader['dataset']['pseudo_label_dir'] = pseudo_label_dir
    loader['sampler']['batch_size'] = loader['batch_size']
    return loader


def train_briefly(model: nn.Module, cfg: Config, iters: int,
                  seed: int) -> nn.Module:
    """Train ``model`` ``iters`` supervised iterations (round 0's batches,
    the config's optimizer), so that its confidences are spread as a
    trained model's are.

    Returns:
        nn.Module: ``model``, trained in place.
    """
    loader = Runner.build_dataloader(semi_loader_cfg(cfg), seed=seed)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    for _, batch in zip(range(iters), endless_batches(loader)):
        model.train_step(batch, optim_wrapper)
    return model


def labeling_dataset_cfg(cfg: Config,
                         num_images: Optional[int] = None,
                         **hook_options) -> dict:
    """The unlabeled images, loaded as the config's labeling hook loads
    them.

    Args:
        cfg (Config): A DST-CBC config (its named ``pseudo_label_hook``).
        num_images (int, optional): Keep the first ``num_images`` only.
        **hook_options: Hook options to replace (``store_at_infer_scale``).

    Returns:
        dict: The dataset config (``pipeline`` the hook's
        ``labeling_pipeline()``).
    """
    hook = HOOKS.build(dict(cfg.pseudo_label_hook, **hook_options))
    dataset = dict(
        copy.deepcopy(cfg.train_dataloader.dataset.unlabeled),
        pipeline=hook.labeling_pipeline())
    if num_images is not None:
        dataset['indices'] = num_images
    return dataset


def read_png(path: str) -> np.ndarray:
    """Read an 8-bit label PNG."""
    with Image.open(path) as image:
        return np.asarray(image)


def label_agreement(paths_a: Sequence[str], paths_b: Sequence[str]) -> Dict:
    """Compare two sets of pseudo labels of the same images (255: ignored).

    Returns:
        dict: ``pixels``, ``differing`` pixels, ``kept_only_a``,
        ``kept_only_b``, ``class_changed`` (kept by both, another class),
        ``identical_files`` and ``files``.
    """
    counts = dict.fromkeys(('pixels', 'differing', 'kept_only_a',
                            'kept_only_b', 'class_changed', 'identical_files'),
                           0)
    for path_a, path_b in zip(paths_a, paths_b):
        a, b = read_png(path_a), read_png(path_b)
        kept_a, kept_b = a != 255, b != 255
        counts['pixels'] += a.size
        counts['differing'] += int((a != b).sum())
        counts['kept_only_a'] += int((kept_a & ~kept_b).sum())
        counts['kept_only_b'] += int((kept_b & ~kept_a).sum())
        counts['class_changed'] += int((kept_a & kept_b & (a != b)).sum())
        counts['identical_files'] += filecmp.cmp(path_a, path_b, False)
    return dict(counts, files=len(paths_a))


def interleave(fns: Dict[str, Callable[[], Any]],
               repeats: int) -> Dict[str, List[float]]:
    """Time each function ``repeats`` times, alternating their order.

    Even repeats call the functions in the given order, odd ones in reverse
    (A B, B A, A B, ...), so that a slow drift of the machine's load hits
    every side equally.

    Args:
        fns (dict[str, Callable]): The functions to time, by name.
        repeats (int): Calls of each function.

    Returns:
        dict[str, list[float]]: Seconds of every call, by name.
    """
    names = list(fns)
    seconds: Dict[str, List[float]] = {name: [] for name in names}
    for rep in range(repeats):
        for name in names if rep % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            fns[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else the platform's)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads: Optional[int] = None) -> Dict:
    """What a result depends on besides the code: CPU model, the
    instruction set torch uses, threads, torch.

    Args:
        threads (int, optional): The threads of the measured processes;
            defaults to this process's torch threads.

    Returns:
        dict: ``cpu``, ``capability`` (e.g. ``'AVX512'``), ``threads`` and
        ``torch``.
    """
    return dict(
        cpu=cpu_model(),
        capability=torch.backends.cpu.get_cpu_capability(),
        threads=threads or torch.get_num_threads(),
        torch=torch.__version__)


def machine_line(info: Dict) -> str:
    """One sentence naming the machine of :func:`machine`."""
    return (f'{info["cpu"]} ({info["capability"]}), {info["threads"]} '
            f'thread(s), torch {info["torch"]}.')


def write_results(out_dir: str, results: Dict, text: str) -> None:
    """Write ``results.json`` and ``results.md`` atomically and print.

    Args:
        out_dir (str): The benchmark's output folder.
        results (dict): JSON-serialisable results (with ``machine``).
        text (str): The Markdown report.
    """
    atomic_write_json(osp.join(out_dir, 'results.json'), results)
    atomic_write_bytes(osp.join(out_dir, 'results.md'), text.encode())
    print(text)
    print(f'\nresults in {out_dir}')
