"""Pseudo-labeling: our one-pass labeler against the paper's Algorithm 1.

Same model, same images, same machine:

- **Wall time** of :class:`dst_cbc.pseudo_labels.PseudoLabeler` (one model
  pass; per-class histograms of float16 uncertainties; labels and
  uncertainties kept in scratch files until the thresholds are known)
  against Algorithm 1 as the paper and the original code write it (pass 1
  keeps the max-probability of every 16th pixel of each image's flattened
  map per predicted class and sorts each class's array for the threshold
  ``t_c`` that leaves the top ``alpha`` above it; pass 2 runs the model
  again and labels ``argmax`` where ``max-prob > t_c(argmax)``, else 255).
  Both write the same 8-bit PNGs. The runs alternate and the report gives
  the ratio of the medians, ours / paper (goal <= 0.55).
- **Memory of the threshold state** when 1x, 10x and 100x as many pixels
  (random logits, image by image) go through each state-update routine:
  our histogram against the reference's per-class sampled arrays.
- **Agreement**: per-class thresholds and the fraction of pixels labeled
  differently, against the reference sampling every 16th pixel and every
  pixel (the latter isolates the effect of our float16 rounding).
- **Distance to the forward-pass limit**: a third side of the interleaved
  runs is the bare forward pass (``model.inference``, eval mode, no grad)
  of the same model over the same batches, preprocessed beforehand (no
  loading, no resizing, no histograms, no files). The report gives ours /
  bare forward (goal <= 1.15) and where our extra time goes: image loading,
  data preprocessor, forward pass, resizing the logits to the image size,
  storing (uncertainty, histogram, scratch file), writing the labels
  (thresholds, PNGs), ground truth for the statistics, the rest.

Usage::

    python -m benchmarks.labeler.run [--data-root DIR] [--out DIR]
        [--num-images 64] [--repeats 3] [--alpha 0.2]
        [--checkpoint CKPT | --train-iters 50] [--camvid-config CONFIG]

The images are loaded as the config's ``PseudoLabelHook`` loads them (its
``infer_scale``, ``cache_images`` and ``batch_size``); both labelers get the
logits at the image's own size, ours from
:func:`dst_cbc.pseudo_labels.original_size_logits` (MMSeg's forward pass and
resize without the argmax of its ``postprocess_result``), the reference from
``model.test_step`` as the original code does. Without
``--checkpoint`` the model is first trained ``--train-iters`` supervised
iterations from scratch, so that its confidences are spread as a trained
model's are, not all near ``1 / num_classes``.
"""
import argparse
import contextlib
import copy
import functools
import os.path as osp
import statistics
import time
import tracemalloc
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple)

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import BaseDataset, pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from PIL import Image
from torch import Tensor, nn

from benchmarks.common import (CAMVID_CONFIG, add_common_args,
                               apply_common_args, build_model, endless,
                               interleave, markdown_table, prepare_data,
                               semi_loader_cfg, write_png, write_results)
from dst_cbc.engine import PseudoLabelHook
from dst_cbc.pseudo_labels import NUM_BINS, PseudoLabeler, label_files
from dst_cbc.pseudo_labels import labeler as labeler_module
from dst_cbc.pseudo_labels import (uncertainty_bins, uncertainty_from_logits,
                                   update_histogram)
from mmseg.registry import DATASETS, HOOKS

#: The original code keeps every 16th pixel for the thresholds.
PAPER_STRIDE = 16
IGNORE_INDEX = 255
#: Per class, the sampled max-probabilities, one array per image.
ReferenceState = List[List[np.ndarray]]
#: Model methods whose time the wall-time comparison reports: the forward
#: pass (both labelers) and MMSeg's post-processing (``test_step`` only).
MODEL_METHODS = ('inference', 'postprocess_result')
#: Title and number of model passes of each timed labeler.
LABELERS = dict(
    ours=('ours (PseudoLabeler)', 1),
    paper=('paper Algorithm 1 (every 16th pixel)', 2))
#: Methods of our labeler whose time the breakdown reports.
LABELER_METHODS = ('_load', '_store', '_write_labels', '_load_gt')
FORWARD_GOAL = 1.15


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser, 'labeler')
    parser.add_argument(
        '--num-images',
        type=int,
        default=64,
        help='unlabeled images to label (the first of the list)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--alpha', type=float, default=0.2)
    parser.add_argument(
        '--batch-size',
        type=int,
        help="images per forward pass (default: the config's "
        'PseudoLabelHook)')
    parser.add_argument('--checkpoint', help='weights of the labeling model')
    parser.add_argument(
        '--camvid-config',
        default=CAMVID_CONFIG,
        help='the DST-CBC config whose model and PseudoLabelHook label '
        'CamVid (default: the Fast-SCNN one)')
    parser.add_argument(
        '--store-at-infer-scale',
        action='store_true',
        help="label as PseudoLabelHook(store_at_infer_scale=True) does: "
        "labels written at the config's infer_scale, not the image's size")
    parser.add_argument(
        '--train-iters',
        type=int,
        default=50,
        help='supervised iterations before labeling (without --checkpoint)')
    parser.add_argument(
        '--mem-images',
        type=int,
        default=8,
        help='images of random logits at 1x in the memory measurement')
    parser.add_argument(
        '--mem-shape',
        type=int,
        nargs=2,
        default=(360, 480),
        help='height and width of those images (CamVid: 360 480)')
    return parser.parse_args()


# -- Algorithm 1, as the paper and the original code write it ---------------
def new_reference_state(num_classes: int) -> ReferenceState:
    """An empty threshold state of the reference: no sample per class.

    Args:
        num_classes (int): Number of classes.

    Returns:
        ReferenceState: One empty list per class.
    """
    return [[] for _ in range(num_classes)]


def max_probability(logits: Tensor) -> Tuple[Tensor, Tensor]:
    """Argmax class and max softmax probability of one image's logits.

    Args:
        logits (Tensor): Logits of shape (C, H, W).

    Returns:
        tuple[Tensor, Tensor]: int64 ``label`` and float32 ``confidence``,
        both of shape (H, W).
    """
    confidence, label = logits.float().softmax(dim=0).max(dim=0)
    return label, confidence


def reference_update(state: ReferenceState,
                     logits: Tensor,
                     stride: int = PAPER_STRIDE) -> None:
    """Pass 1 of Algorithm 1: add one image's sampled confidences.

    Keeps every ``stride``-th pixel of the image's flattened map (pixels 0,
    stride, 2 * stride, ...) and appends its max-probability to the array
    of its argmax class, as the original code does.

    Args:
        state (ReferenceState): The per-class samples, changed in place.
        logits (Tensor): One image's logits, shape (C, H, W).
        stride (int): Sampling stride. Defaults to 16.
    """
    label, confidence = max_probability(logits)
    label = label.flatten()[::stride].numpy()
    confidence = confidence.flatten()[::stride].numpy()
    for c, samples in enumerate(state):
        samples.append(confidence[label == c])


def reference_thresholds(state: ReferenceState, alpha: float) -> np.ndarray:
    """Per-class thresholds of Algorithm 1 from the sampled confidences.

    Each class's samples are sorted; with ``n`` samples and
    ``k = int(alpha * n)``, ``t_c`` is the ``(k + 1)``-th largest, so that
    exactly the ``k`` samples above it are kept (without ties). As in the
    original code, a class is kept whole (``t_c = 0``) when ``alpha >= 1``
    or ``k = 0`` (fewer than ``1 / alpha`` samples, none included).

    Args:
        state (ReferenceState): The samples of pass 1.
        alpha (float): Fraction of each class's pixels to keep.

    Returns:
        np.ndarray: float32 thresholds, shape (C,).
    """
    thresholds = np.zeros(len(state), dtype=np.float32)
    for c, samples in enumerate(state):
        values = np.sort(np.concatenate(samples)) if samples else []
        keep = int(len(values) * alpha)
        if alpha < 1 and keep > 0:
            thresholds[c] = values[len(values) - keep - 1]
    return thresholds


def reference_labels(logits: Tensor, thresholds: np.ndarray) -> np.ndarray:
    """Pass 2 of Algorithm 1: ``argmax`` where ``max-prob > t_c(argmax)``.

    Args:
        logits (Tensor): One image's logits, shape (C, H, W).
        thresholds (np.ndarray): Per-class thresholds, shape (C,).

    Returns:
        np.ndarray: uint8 pseudo label of shape (H, W), 255 = ignored.
    """
    label, confidence = max_probability(logits)
    label, confidence = label.numpy(), confidence.numpy()
    keep = confidence > thresholds[label]
    return np.where(keep, label, IGNORE_INDEX).astype(np.uint8)


def image_logits(model: nn.Module, dataset: BaseDataset,
                 batch_size: int) -> Iterator[Tuple[int, Tensor]]:
    """Logits of every image of ``dataset`` at its own size, in order.

    Args:
        model (nn.Module): The segmentor, in eval mode.
        dataset (BaseDataset): Images of one size with a labeling pipeline.
        batch_size (int): Images per ``test_step``.

    Yields:
        tuple[int, Tensor]: The image's index and its (C, H, W) logits.
    """
    for start in range(0, len(dataset), batch_size):
        indices = range(start, min(start + batch_size, len(dataset)))
        samples = [dataset.prepare_data(i) for i in indices]
        with torch.no_grad():
            results = model.test_step(pseudo_collate(samples))
        for idx, result in zip(indices, results):
            yield idx, result.seg_logits.data


def warm_up(model: nn.Module, dataset: BaseDataset, batch_size: int) -> None:
    """Load every image once and run one batch, untimed.

    The first timed run then finds the files in the page cache (and in the
    ``CachedLoad`` cache when the labeling pipeline has one) and torch's
    kernels set up for the images' size, as every later run does.

    Args:
        model (nn.Module): The labeling segmentor.
        dataset (BaseDataset): The unlabeled images.
        batch_size (int): Images per forward pass.
    """
    for idx in range(len(dataset)):
        dataset.prepare_data(idx)
    model.eval()
    next(image_logits(model, dataset, batch_size))


def run_reference(model: nn.Module,
                  dataset: BaseDataset,
                  out_dir: str,
                  paths: Sequence[str],
                  alpha: float,
                  batch_size: int = 8,
                  stride: int = PAPER_STRIDE) -> Dict:
    """Label ``dataset`` with Algorithm 1: two model passes.

    Args:
        model (nn.Module): The labeling segmentor.
        dataset (BaseDataset): The unlabeled images (labeling pipeline).
        out_dir (str): Folder of the PNGs.
        paths (Sequence[str]): Each image's PNG in it (``label_files``).
        alpha (float): Fraction of each class's pixels to keep.
        batch_size (int): Images per forward pass. Defaults to 8.
        stride (int): Pixel sampling stride of pass 1. Defaults to 16.

    Returns:
        dict: ``thresholds`` (per-class confidence), ``coverage`` and
        ``pixels``.
    """
    was_training = model.training
    model.eval()
    state = new_reference_state(model.decode_head.num_classes)
    for _, logits in image_logits(model, dataset, batch_size):
        reference_update(state, logits, stride)
    thresholds = reference_thresholds(state, alpha)
    kept = total = 0
    for idx, logits in image_logits(model, dataset, batch_size):
        label = reference_labels(logits, thresholds)
        write_png(label, paths[idx])
        kept += int((label != IGNORE_INDEX).sum())
        total += label.size
    model.train(was_training)
    return dict(
        thresholds=thresholds.tolist(), coverage=kept / total, pixels=total)


def run_ours(model: nn.Module,
             dataset: BaseDataset,
             out_dir: str,
             paths: Sequence[str],
             alpha: float,
             batch_size: int = 8,
             labeler: Optional[PseudoLabeler] = None) -> Dict:
    """Label ``dataset`` with :class:`PseudoLabeler`.

    Args:
        model (nn.Module): The labeling segmentor.
        dataset (BaseDataset): The unlabeled images (labeling pipeline).
        out_dir (str): Folder of the PNGs.
        paths (Sequence[str]): Each image's PNG in it (``label_files``).
        alpha (float): Fraction of each class's pixels to keep.
        batch_size (int): Images per forward pass. Defaults to 8.
        labeler (PseudoLabeler, optional): The labeler to run (e.g. with
            timed methods); by default a new one of ``batch_size``.

    Returns:
        dict: The labeler's statistics (``thresholds``, ``coverage``, ...).
    """
    if labeler is None:
        labeler = PseudoLabeler(
            model.decode_head.num_classes, batch_size=batch_size)
    return labeler.run(model, dataset, out_dir, alpha, paths)


def forward_batches(model: nn.Module, dataset: BaseDataset,
                    batch_size: int) -> List[Tuple[Tensor, List[dict]]]:
    """The preprocessed batches our labeler feeds the model.

    Consecutive images, ``batch_size`` at a time, as
    :class:`PseudoLabeler` batches images of one size.

    Args:
        model (nn.Module): The labeling segmentor.
        dataset (BaseDataset): Images of one size (labeling pipeline).
        batch_size (int): Images per forward pass.

    Returns:
        list[tuple[Tensor, list[dict]]]: Per batch, the inputs after the
        test-mode data preprocessor and the images' metainfo.
    """
    batches = []
    for start in range(0, len(dataset), batch_size):
        samples = [
            dataset.prepare_data(i)
            for i in range(start, min(start + batch_size, len(dataset)))
        ]
        data = model.data_preprocessor(pseudo_collate(samples), False)
        batches.append(
            (data['inputs'], [s.metainfo for s in data['data_samples']]))
    return batches


def run_bare_forward(model: nn.Module,
                     batches: Sequence[Tuple[Tensor, List[dict]]]) -> None:
    """The forward pass alone: ``model.inference`` on every batch.

    Args:
        model (nn.Module): The labeling segmentor.
        batches (Sequence): :func:`forward_batches`.
    """
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for inputs, metas in batches:
            model.inference(inputs, metas)
    model.train(was_training)


# -- memory of the threshold state -----------------------------------------
def logits_pool(num_classes: int,
                shape: Sequence[int],
                seed: int = 0) -> List[Tensor]:
    """Four images of random logits with well spread confidences.

    Args:
        num_classes (int): Number of classes.
        shape (Sequence[int]): Height and width.
        seed (int): Seed of the generator. Defaults to 0.

    Returns:
        list[Tensor]: (C, H, W) float32 logits.
    """
    generator = torch.Generator().manual_seed(seed)
    return [
        3 * torch.randn(num_classes, *shape, generator=generator)
        for _ in range(4)
    ]


def ours_state_bytes(pool: Sequence[Tensor], num_images: int) -> int:
    """Feed ``num_images`` images through our state update; its bytes.

    Our state is the int64 histogram of shape (C, NUM_BINS), allocated
    once: :func:`update_histogram` adds each image's counts in place.

    Args:
        pool (Sequence[Tensor]): Images of logits, used in turn.
        num_images (int): Images to feed.

    Returns:
        int: Bytes of the state after the last image.
    """
    hist = torch.zeros(len(pool[0]), NUM_BINS, dtype=torch.int64)
    for i in range(num_images):
        label, u = uncertainty_from_logits(pool[i % len(pool)])
        update_histogram(hist, label, uncertainty_bins(u))
    return hist.element_size() * hist.numel()


def reference_state_bytes(pool: Sequence[Tensor],
                          num_images: int) -> Tuple[int, int]:
    """Feed ``num_images`` images through the reference's state update.

    Args:
        pool (Sequence[Tensor]): Images of logits, used in turn.
        num_images (int): Images to feed.

    Returns:
        tuple[int, int]: Bytes of the sampled arrays after the last image
        (``nbytes``), and the tracemalloc peak of the update and of the
        threshold computation (concatenation and sort included).
    """
    tracemalloc.start()
    try:
        state = new_reference_state(len(pool[0]))
        for i in range(num_images):
            reference_update(state, pool[i % len(pool)])
        retained = sum(a.nbytes for samples in state for a in samples)
        reference_thresholds(state, 0.5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return retained, peak


def state_memory(num_classes: int,
                 shape: Sequence[int],
                 num_images: int,
                 scales: Sequence[int] = (1, 10, 100),
                 seed: int = 0) -> List[Dict]:
    """Threshold-state memory of ours and the reference at growing sizes.

    Args:
        num_classes (int): Number of classes.
        shape (Sequence[int]): Height and width of an image.
        num_images (int): Images at scale 1.
        scales (Sequence[int]): Multiples of ``num_images`` to measure.
        seed (int): Seed of the random logits. Defaults to 0.

    Returns:
        list[dict]: Per scale: ``scale``, ``pixels``, ``ours_bytes``,
        ``reference_bytes`` and ``reference_peak_bytes``.
    """
    pool = logits_pool(num_classes, shape, seed)
    rows = []
    for scale in scales:
        images = scale * num_images
        retained, peak = reference_state_bytes(pool, images)
        rows.append(
            dict(
                scale=scale,
                pixels=images * shape[0] * shape[1],
                ours_bytes=ours_state_bytes(pool, images),
                reference_bytes=retained,
                reference_peak_bytes=peak))
    return rows


# -- agreement --------------------------------------------------------------
def read_png(path: str) -> np.ndarray:
    """Read an 8-bit label PNG."""
    with Image.open(path) as image:
        return np.asarray(image)


def label_difference(paths_a: Sequence[str], paths_b: Sequence[str]) -> Dict:
    """Compare two sets of pseudo labels of the same images.

    Args:
        paths_a (Sequence[str]): One set of PNGs, one per image.
        paths_b (Sequence[str]): The other, in the same order.

    Returns:
        dict: ``pixels``; ``differing`` pixels and their ``fraction``;
        ``kept_only_a`` and ``kept_only_b`` (kept by one, ignored by the
        other); ``class_changed`` (kept by both with different classes).
    """
    counts = dict(
        pixels=0, differing=0, kept_only_a=0, kept_only_b=0, class_changed=0)
    for path_a, path_b in zip(paths_a, paths_b):
        a, b = read_png(path_a), read_png(path_b)
        kept_a, kept_b = a != IGNORE_INDEX, b != IGNORE_INDEX
        counts['pixels'] += a.size
        counts['differing'] += int((a != b).sum())
        counts['kept_only_a'] += int((kept_a & ~kept_b).sum())
        counts['kept_only_b'] += int((kept_b & ~kept_a).sum())
        counts['class_changed'] += int((kept_a & kept_b & (a != b)).sum())
    counts['fraction'] = counts['differing'] / counts['pixels']
    return counts


def threshold_difference(ours: Sequence, reference: Sequence) -> Dict:
    """Per-class ``|ours - reference|`` of confidence thresholds.

    Compared only where both have a threshold: ours has none for a class
    without pixels, and the reference none (0) for a class it keeps whole
    (``alpha = 1``, or fewer than ``1 / alpha`` samples). Ours is the
    float16-rounded confidence of the last pixel kept, the reference's the
    float32 confidence of the first sample dropped.

    Args:
        ours (Sequence[float | None]): Our per-class thresholds.
        reference (Sequence[float]): The reference's.

    Returns:
        dict: ``per_class`` differences (None where not compared), ``max``
        and ``mean`` over the compared classes (None if there are none).
    """
    diffs = [
        None if o is None or r == 0 else abs(o - r)
        for o, r in zip(ours, reference)
    ]
    present = [d for d in diffs if d is not None]
    return dict(
        per_class=diffs,
        max=max(present) if present else None,
        mean=statistics.mean(present) if present else None)


# -- the benchmark ----------------------------------------------------------
def train_briefly(model: nn.Module, cfg: Config, iters: int,
                  seed: int) -> None:
    """Train ``model`` ``iters`` supervised iterations (round-0 batches).

    Args:
        model (nn.Module): The segmentor, trained in place.
        cfg (Config): The DST-CBC config (train dataloader, optimizer).
        iters (int): Iterations.
        seed (int): Seed of the sampler.
    """
    loader = Runner.build_dataloader(semi_loader_cfg(cfg), seed=seed)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    for _, batch in zip(range(iters), endless(loader)):
        model.train_step(batch, optim_wrapper)


def labeling_hook(cfg: Config, **overrides) -> PseudoLabelHook:
    """The config's :class:`PseudoLabelHook` (its defaults if it has none).

    Args:
        cfg (Config): The DST-CBC config.
        **overrides: Hook arguments to replace (``store_at_infer_scale``).

    Returns:
        PseudoLabelHook: The hook, for its labeling pipeline and batch size.
    """
    for hook in cfg.get('custom_hooks', []):
        if hook['type'] == 'PseudoLabelHook':
            return HOOKS.build(dict(copy.deepcopy(hook), **overrides))
    return PseudoLabelHook(**overrides)


def labeling_cfg(cfg: Config, num_images: int, **overrides) -> Dict:
    """The first ``num_images`` unlabeled images, loaded as the config's
    :class:`PseudoLabelHook` loads them.

    Args:
        cfg (Config): The DST-CBC config.
        num_images (int): Images to keep.
        **overrides: Hook arguments to replace (see :func:`labeling_hook`).

    Returns:
        dict: The dataset config.
    """
    return dict(
        cfg.train_dataloader.dataset.unlabeled,
        pipeline=labeling_hook(cfg, **overrides).labeling_pipeline(),
        indices=num_images)


def agreement(ours: Dict, ours_paths: Sequence[str], reference: Dict,
              reference_paths: Sequence[str]) -> Dict:
    """Thresholds and labels of ours against one reference run.

    Args:
        ours (dict): Our labeler's statistics.
        ours_paths (Sequence[str]): Our labels.
        reference (dict): The reference run's result.
        reference_paths (Sequence[str]): The reference's labels.

    Returns:
        dict: ``thresholds`` (see :func:`threshold_difference`),
        ``labels`` (see :func:`label_difference`, a = ours) and both
        coverages.
    """
    return dict(
        thresholds=threshold_difference(ours['thresholds'],
                                        reference['thresholds']),
        labels=label_difference(ours_paths, reference_paths),
        ours_coverage=ours['coverage'],
        reference_coverage=reference['coverage'],
        reference_thresholds=reference['thresholds'])


@contextlib.contextmanager
def method_seconds(obj: Any,
                   names: Sequence[str]) -> Iterator[Dict[str, float]]:
    """Add up the seconds spent in some methods of ``obj`` meanwhile.

    Timed instance attributes shadow the methods while the context is open
    (for a module, its functions are replaced, then restored).

    Args:
        obj (Any): The object, e.g. the model, or a module.
        names (Sequence[str]): Names of its methods to time.

    Yields:
        dict[str, float]: Seconds per method, filled while the context is
        open.
    """
    seconds = dict.fromkeys(names, 0.0)

    def timed(name: str, method: Callable) -> Callable:

        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - start

        return wrapper

    own = {name: vars(obj)[name] for name in names if name in vars(obj)}
    for name in names:
        setattr(obj, name, timed(name, getattr(obj, name)))
    try:
        yield seconds
    finally:
        for name in names:
            if name in own:
                setattr(obj, name, own[name])
            else:
                delattr(obj, name)


@contextlib.contextmanager
def ours_seconds(model: nn.Module,
                 labeler: PseudoLabeler) -> Iterator[Dict[str, float]]:
    """Seconds of one run of our labeler in each of its stages.

    Args:
        model (nn.Module): The labeling segmentor.
        labeler (PseudoLabeler): The labeler about to run.

    Yields:
        dict[str, float]: Seconds in the labeler's ``LABELER_METHODS``, in
        ``original_size_logits`` and in the data preprocessor's
        ``forward``, filled while the context is open.
    """
    with method_seconds(labeler, LABELER_METHODS) as methods, \
            method_seconds(labeler_module,
                           ['original_size_logits']) as logits, \
            method_seconds(model.data_preprocessor,
                           ['forward']) as preprocess:
        seconds = dict(methods, preprocess=0.0)
        yield seconds
    seconds.update(methods, preprocess=preprocess['forward'], **logits)


def compare_labelers(model: nn.Module,
                     dataset: BaseDataset,
                     dirs: Dict[str, str],
                     paths: Dict[str, List[str]],
                     alpha: float,
                     batch_size: int,
                     repeats: int,
                     bare_batches: Optional[Sequence] = None,
                     resize_gt: bool = False) -> Dict:
    """Time ours, the reference and the bare forward pass, interleaved.

    Args:
        model (nn.Module): The labeling segmentor.
        dataset (BaseDataset): The unlabeled images.
        dirs (dict[str, str]): Label folder of ``'ours'`` and ``'paper'``.
        paths (dict[str, list[str]]): Each image's label in each folder.
        alpha (float): Fraction of each class's pixels to keep.
        batch_size (int): Images per forward pass.
        repeats (int): Runs of each labeler.
        bare_batches (Sequence, optional): :func:`forward_batches`; when
            given, :func:`run_bare_forward` on them is a third side
            (``'bare'``).
        resize_gt (bool): Our labeler's ``resize_gt`` (labels stored at the
            labeling size). Defaults to False.

    Returns:
        dict: Per side, ``seconds`` of every run; per labeler,
        ``model_seconds`` of every run (in ``model.inference``, the forward
        pass, and in MMSeg's ``postprocess_result``, which only
        ``model.test_step`` calls) and the last run's ``outputs``; and
        ``stage_seconds``, our labeler's :func:`ours_seconds` of every run.
    """
    labelers = dict(ours=run_ours, paper=run_reference)
    outputs: Dict[str, Dict] = {}
    model_seconds: Dict[str, List[Dict]] = {name: [] for name in labelers}
    stage_seconds: List[Dict[str, float]] = []
    num_classes = model.decode_head.num_classes

    def timed_run(name: str) -> Callable[[], None]:

        def run() -> None:
            if name == 'ours':
                labeler = PseudoLabeler(
                    num_classes, batch_size=batch_size, resize_gt=resize_gt)
                stages = ours_seconds(model, labeler)
                extra = dict(labeler=labeler)
            else:
                stages, extra = contextlib.nullcontext({}), {}
            with method_seconds(model, MODEL_METHODS) as seconds, \
                    stages as stage:
                outputs[name] = labelers[name](model, dataset, dirs[name],
                                               paths[name], alpha, batch_size,
                                               **extra)
            model_seconds[name].append(seconds)
            if name == 'ours':
                stage_seconds.append(stage)

        return run

    sides = {name: timed_run(name) for name in labelers}
    if bare_batches is not None:
        sides['bare'] = functools.partial(run_bare_forward, model,
                                          bare_batches)
    seconds = interleave(sides, repeats)
    return dict(
        seconds=seconds,
        model_seconds=model_seconds,
        stage_seconds=stage_seconds,
        outputs=outputs)


def run_benchmark(args: argparse.Namespace) -> Dict:
    """Run every measurement of the labeler benchmark.

    Returns:
        dict: The results written to ``results.json``.
    """
    data = prepare_data(args.data_root, args.out, args.synthetic_train,
                        args.synthetic_size, args.camvid_config)
    model = build_model(data.cfg.model, args.seed, args.checkpoint)
    if args.checkpoint is None:
        train_briefly(model, data.cfg, args.train_iters, args.seed)
    overrides = dict(
        store_at_infer_scale=True) if (args.store_at_infer_scale) else {}
    dataset_cfg = labeling_cfg(data.cfg, args.num_images, **overrides)
    dataset = DATASETS.build(dataset_cfg)
    batch_size = args.batch_size or labeling_hook(data.cfg).batch_size
    warm_up(model, dataset, batch_size)
    dirs = {
        name: osp.join(args.out, 'labels', name)
        for name in ('ours', 'paper', 'paper_every_pixel')
    }
    paths = {name: label_files(dataset_cfg, d) for name, d in dirs.items()}
    timing = compare_labelers(
        model,
        dataset,
        dirs,
        paths,
        args.alpha,
        batch_size,
        args.repeats,
        forward_batches(model, dataset, batch_size),
        resize_gt=args.store_at_infer_scale)
    outputs, seconds = timing['outputs'], timing['seconds']
    every_pixel = run_reference(
        model,
        dataset,
        dirs['paper_every_pixel'],
        paths['paper_every_pixel'],
        args.alpha,
        batch_size,
        stride=1)
    num_classes = model.decode_head.num_classes
    return dict(
        data=data.note,
        model=args.checkpoint
        or f'trained {args.train_iters} supervised iterations from scratch',
        num_images=len(dataset),
        store_at_infer_scale=args.store_at_infer_scale,
        pixels=outputs['paper']['pixels'],
        alpha=args.alpha,
        batch_size=batch_size,
        seconds=seconds,
        model_seconds=timing['model_seconds'],
        stage_seconds=timing['stage_seconds'],
        ratio=statistics.median(seconds['ours']) /
        statistics.median(seconds['paper']),
        forward_ratio=statistics.median(seconds['ours']) /
        statistics.median(seconds['bare']),
        ours_thresholds=outputs['ours']['thresholds'],
        agreement=dict(
            paper=agreement(outputs['ours'], paths['ours'], outputs['paper'],
                            paths['paper']),
            paper_every_pixel=agreement(outputs['ours'], paths['ours'],
                                        every_pixel,
                                        paths['paper_every_pixel'])),
        memory=state_memory(
            num_classes, args.mem_shape, args.mem_images, seed=args.seed),
        memory_image_shape=list(args.mem_shape))


def _num(value: Optional[float]) -> str:
    """A number for the tables; '-' for None."""
    return '-' if value is None else f'{value:.3g}'


def timing_section(results: Dict) -> List[str]:
    """Report lines of the wall-time comparison."""
    rows = []
    for name, title_passes in LABELERS.items():
        title, passes = title_passes
        seconds = results['seconds'][name]
        model = results['model_seconds'][name]
        forward = [m['inference'] for m in model]
        postprocess = [m['postprocess_result'] for m in model]
        rest = [t - f - p for t, f, p in zip(seconds, forward, postprocess)]
        rows.append([title, passes] + [
            f'{statistics.median(values):.2f}'
            for values in (seconds, forward, postprocess, rest)
        ] + [', '.join(f'{t:.2f}' for t in seconds)])
    ratio = results['ratio']
    stored = ('the labeling scale'
              if results.get('store_at_infer_scale') else "the image's size")
    return [
        f'Data: {results["data"]}',
        f'Model: {results["model"]}. {results["num_images"]} images '
        f'({results["pixels"]:,} pixels), alpha {results["alpha"]}, '
        f'batch {results["batch_size"]}; labels stored at {stored}; runs '
        'interleaved.', '',
        markdown_table([
            'labeler', 'model passes', 'median s',
            'forward pass (model.inference) s', 'MMSeg postprocess_result s',
            'rest s', 'runs (s)'
        ], rows), '',
        f'**ours / paper wall time (medians): {ratio:.3f}** (goal <= 0.55: '
        f'{"met" if ratio <= 0.55 else "NOT met"}). Both load the images '
        'the same way, run the same forward pass on the same batches and '
        'write the same PNGs. The reference calls model.test_step, as the '
        'original code does: MMSeg\'s predict, the forward pass, then '
        'postprocess_result, which resizes the logits to the image size '
        'and takes an argmax the reference does not use. Ours resizes the '
        'logits in the same way without that argmax (original_size_logits, '
        'in "rest"); ours also reads each ground-truth PNG for its '
        'pseudo-label IoU statistics.'
    ] + forward_limit_section(results)


def stage_breakdown(results: Dict) -> List[Tuple[str, float]]:
    """Median seconds of each stage of our labeler's runs.

    Args:
        results (dict): :func:`run_benchmark`'s results.

    Returns:
        list[tuple[str, float]]: (stage, median seconds), the stages adding
        up to a run's wall time.
    """
    runs = []
    for total, stage, model in zip(results['seconds']['ours'],
                                   results['stage_seconds'],
                                   results['model_seconds']['ours']):
        forward = model['inference']
        resize = (
            stage['original_size_logits'] - stage['preprocess'] - forward)
        write = stage['_write_labels'] - stage['_load_gt']
        parts = [
            ('image loading (labeling pipeline)', stage['_load']),
            ('data preprocessor', stage['preprocess']),
            ('forward pass (model.inference)', forward),
            ('logits resized to the image size', resize),
            ('uncertainty, histogram, scratch file (_store)', stage['_store']),
            ('thresholds applied, PNGs written (_write_labels)', write),
            ('ground truth read for the IoU statistics', stage['_load_gt']),
        ]
        parts.append(('rest (collate, thresholds, stats, folders)',
                      total - sum(v for _, v in parts)))
        runs.append(parts)
    return [(name, statistics.median(run[i][1] for run in runs))
            for i, (name, _) in enumerate(runs[0])]


def forward_limit_section(results: Dict) -> List[str]:
    """Report lines of ours against the bare forward pass."""
    bare = statistics.median(results['seconds']['bare'])
    ratio = results['forward_ratio']
    rows = [[name, f'{seconds:.3f}', f'{100 * seconds / bare:.1f} %']
            for name, seconds in stage_breakdown(results)]
    return [
        '', '### Distance to the forward-pass limit', '',
        f'Bare forward pass (model.inference on the same batches, '
        f'preprocessed beforehand; no loading, resizing, histograms or '
        f'files): median {bare:.2f} s (runs '
        f'{", ".join(f"{t:.2f}" for t in results["seconds"]["bare"])}). '
        f'**ours / bare forward: {ratio:.3f}** (goal <= {FORWARD_GOAL}: '
        f'{"met" if ratio <= FORWARD_GOAL else "NOT met"}). Where our '
        'time goes (medians over the runs; % of the bare forward pass):', '',
        markdown_table(['stage of ours', 'median s', 'of bare forward'], rows)
    ]


def memory_section(results: Dict) -> List[str]:
    """Report lines of the threshold-state memory."""
    height, width = results['memory_image_shape']
    rows = [[
        f'{r["scale"]}x', f'{r["pixels"]:,}', f'{r["ours_bytes"]:,}',
        f'{r["reference_bytes"]:,}', f'{r["reference_peak_bytes"]:,}'
    ] for r in results['memory']]
    return [
        f'### Threshold-state memory (random logits, {height}x{width} '
        'images fed one at a time)', '',
        markdown_table([
            'scale', 'pixels', 'ours: histogram bytes (nbytes)',
            'paper: sampled arrays bytes (nbytes)',
            'paper: tracemalloc peak bytes'
        ], rows), '',
        'Ours: one int64 (C, 15361) histogram, allocated once and updated '
        'in place (exact size; torch memory, which tracemalloc does not '
        'see). To avoid the second model pass ours also keeps each image\'s '
        'label and float16 uncertainty (3 bytes/pixel) in a scratch file '
        'on disk, not in memory. Paper: float32 max-probabilities of every '
        '16th pixel (0.25 bytes/pixel), growing linearly; its peak '
        'includes the concatenation and the sort.'
    ]


def agreement_section(results: Dict) -> List[str]:
    """Report lines of the agreement of ours with the reference."""
    rows = []
    for name, agree in results['agreement'].items():
        labels = agree['labels']
        rows.append([
            name.replace('_', ' '),
            _num(agree['thresholds']['max']),
            _num(agree['thresholds']['mean']),
            f'{100 * labels["fraction"]:.3f} %', f'{labels["kept_only_a"]:,}',
            f'{labels["kept_only_b"]:,}', f'{labels["class_changed"]:,}',
            f'{agree["ours_coverage"]:.4f} / '
            f'{agree["reference_coverage"]:.4f}'
        ])
    return [
        '### Agreement (ours vs the reference, same model)', '',
        markdown_table([
            'reference', 'max abs threshold diff', 'mean abs diff',
            'pixels labeled differently', 'kept only by ours',
            'kept only by reference', 'class changed',
            'coverage ours / reference'
        ], rows), '',
        'Why they differ: ours thresholds float16-rounded uncertainties '
        'and keeps every pixel tied with the last kept one (at least '
        'ceil(alpha n) per class); the reference keeps exactly int(alpha n) '
        'of its samples by float32 max-probability, which cannot tell '
        'apart confidences closer to 1 than 6e-8 (ours can); and the paper '
        'estimates each threshold from every 16th pixel only (sampling '
        'error: compare with the "every pixel" row).'
    ]


def report(results: Dict) -> str:
    """The Markdown report of :func:`run_benchmark`'s results."""
    lines = [
        '## Pseudo-labeling: ours (one pass) vs paper Algorithm 1 '
        '(two passes)', ''
    ]
    lines += timing_section(results) + ['']
    lines += memory_section(results) + ['']
    lines += agreement_section(results)
    return '\n'.join(lines)


def main() -> None:
    """Run the benchmark, print and write the report."""
    args = parse_args()
    apply_common_args(args)
    results = run_benchmark(args)
    write_results(args.out, results, report(results))


if __name__ == '__main__':
    main()
