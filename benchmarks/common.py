"""Helpers shared by the performance benchmarks.

Each benchmark runs on the real CamVid data when it is there (Fast-SCNN at
half resolution, ``configs/camvid``) and otherwise on generated synthetic
data (the default config), prints Markdown tables and writes them to
``<out>/results.md`` next to ``<out>/results.json``. Wall times are compared
as ratios of medians measured in the same run, with the compared sides
interleaved, because absolute times drift on a shared machine.
"""
import argparse
import copy
import io
import os.path as osp
import time
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Union)

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, set_random_seed
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

import dst_cbc  # noqa: F401  (registers the extension's modules)
from dst_cbc.datasets import nested_splits, read_list, write_splits
from dst_cbc.utils import atomic_write_bytes, atomic_write_json
from mmseg.registry import MODELS
from tools.make_synthetic_data import generate_synthetic_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CAMVID_CONFIG = osp.join(ROOT, 'configs', 'camvid',
                         'dst-cbc_fast-scnn_1xb4+4_camvid-1-8_128x176.py')
SYNTHETIC_CONFIG = osp.join(
    ROOT, 'configs', 'dst_cbc',
    'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')
DEFAULT_DATA_ROOT = osp.join(osp.dirname(ROOT), 'shared', 'data', 'camvid')
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
    """Add the options every benchmark takes.

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
            Defaults to ``(LABEL_RATIO, )``.
        num_splits (int): Splits to write. Defaults to 1.
    """
    names = read_list(osp.join(data_root, 'train.txt'))
    write_splits(split_dir, nested_splits(names, list(ratios), num_splits))


def point_config(cfg: Config,
                 data_root: str,
                 split_dir: str,
                 ratio: int = LABEL_RATIO,
                 split: Union[int, str] = 1) -> None:
    """Point a DST-CBC config's datasets at the data and split lists.

    The paths are made absolute: a dataset joins a relative ``ann_file`` to
    its ``data_root``, not to the current directory. A config without an
    unlabeled set (a supervised one) keeps its labeled list.

    Args:
        cfg (Config): The config, changed in place.
        data_root (str): The dataset folder.
        split_dir (str): The folder written by :func:`write_split_lists`.
        ratio (int): The ``k`` of the lists' ratio ``1/k``.
            Defaults to :data:`LABEL_RATIO`.
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


def prepare_data(data_root: str,
                 out_dir: str,
                 synthetic_train: int = 256,
                 synthetic_size: int = 64,
                 camvid_config: str = CAMVID_CONFIG) -> BenchData:
    """CamVid when ``data_root`` holds it, else generated synthetic data.

    Nothing is downloaded: the synthetic set is generated into
    ``out_dir/synthetic_<train>x<size>`` (reused when already there).

    Args:
        data_root (str): Where CamVid would be.
        out_dir (str): The benchmark's output folder.
        synthetic_train (int): Training images of the synthetic set (a
            quarter as many validation images). Defaults to 256.
        synthetic_size (int): Image side of the synthetic set.
            Defaults to 64.
        camvid_config (str): The DST-CBC config used on CamVid.
            Defaults to the Fast-SCNN one.

    Returns:
        BenchData: The data's kind, config and a note for the output.
    """
    init_default_scope('mmseg')
    if osp.isfile(osp.join(data_root, 'train.txt')):
        kind, cfg = 'camvid', Config.fromfile(camvid_config)
        note = (f'CamVid at {data_root}; the model of '
                f'{osp.relpath(camvid_config, ROOT)} (training crops '
                f'{cfg.crop_size[0]}x{cfg.crop_size[1]}).')
    else:
        missing = data_root
        data_root = osp.join(out_dir,
                             f'synthetic_{synthetic_train}x{synthetic_size}')
        generate_synthetic_dataset(
            data_root,
            num_train=synthetic_train,
            num_val=max(1, synthetic_train // 4),
            size=synthetic_size)
        kind, cfg = 'synthetic', Config.fromfile(SYNTHETIC_CONFIG)
        note = (f'CamVid not found at {missing}: SYNTHETIC data generated '
                f'in {data_root} ({synthetic_train} train images of '
                f'{synthetic_size}x{synthetic_size}); DeepLabV2-R18-mini of '
                f'{osp.relpath(SYNTHETIC_CONFIG, ROOT)}.')
    split_dir = osp.join(out_dir, 'splits')
    write_split_lists(data_root, split_dir)
    point_config(cfg, data_root, split_dir)
    return BenchData(kind, cfg, note)


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
    """The train dataloader config as :class:`CurriculumTrainLoop` builds
    it for a round.

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


def write_png(label: np.ndarray, path: str) -> None:
    """Write a uint8 label map as an 8-bit PNG, atomically.

    Args:
        label (np.ndarray): The label map.
        path (str): The PNG's path.
    """
    buffer = io.BytesIO()
    Image.fromarray(label).save(buffer, format='PNG')
    atomic_write_bytes(path, buffer.getvalue())


def endless(loader: DataLoader) -> Iterator[Any]:
    """Batches of ``loader``, epoch after epoch (the sampler reseeded).

    Args:
        loader (DataLoader): A data loader.

    Yields:
        The loader's batches, without end.
    """
    epoch = 0
    while True:
        if hasattr(loader.sampler, 'set_epoch'):
            loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


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


def markdown_table(header: Sequence[str],
                   rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table.

    Args:
        header (Sequence[str]): Column titles.
        rows (Sequence[Sequence]): Cells, formatted with ``str``.

    Returns:
        str: The table, one line per row.
    """
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def apply_common_args(args: argparse.Namespace) -> None:
    """Set torch's threads (``--threads``) and quiet MMEngine's logging.

    A WARNING-level logger becomes MMEngine's current one: weight
    initialization and the labeler log through it, and their INFO lines
    would bury the tables.

    Args:
        args (Namespace): Parsed options of :func:`add_common_args`.
    """
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    MMLogger.get_instance('dst_cbc_benchmark', log_level='WARNING')


def write_results(out_dir: str, results: Dict, text: str) -> None:
    """Write ``results.json`` and ``results.md`` atomically and print.

    Args:
        out_dir (str): The benchmark's output folder.
        results (dict): JSON-serialisable results.
        text (str): The Markdown report.
    """
    atomic_write_json(osp.join(out_dir, 'results.json'), results)
    atomic_write_bytes(osp.join(out_dir, 'results.md'), text.encode())
    print(text)
    print(f'\nresults in {out_dir}')
