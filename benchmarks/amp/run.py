"""Mixed precision and channels_last on the CPU: step time and labels.

- **Step time** per model: one training step (forward, loss, backward,
  SGD step; ``train_step`` after the data preprocessor) of four variants
  with the same starting weights on the same batch: float32
  (``OptimWrapper``), bfloat16 autocast (:class:`BF16OptimWrapper`, what
  ``--amp`` selects on a CPU), and both with the model and the inputs in
  channels_last (:func:`to_channels_last`, what ``ChannelsLastHook`` does).
  The steps alternate (A B C D, D C B A, ...); the report gives the ratios
  of the medians: bf16 / fp32 (contiguous), channels_last / contiguous (in
  fp32 and in bf16).
- **Labels**: :class:`PseudoLabeler` on the unlabeled images of the
  synthetic set with DLV2-R18-mini (``--checkpoint``) and, when CamVid is at
  ``--data-root``, on ``--camvid-images`` of its unlabeled images with the
  CamVid config's Fast-SCNN at its labeling scale (``--camvid-checkpoint``);
  a model without a checkpoint is first trained ``--train-iters``
  supervised iterations from scratch. Float32 against bfloat16 autocast
  (:func:`inference_autocast` of a :class:`BF16OptimWrapper`) and against
  channels_last: the fraction of pixels with the same label, the files
  identical byte for byte, at alpha 0.2 and 1.0.

The models are random-initialized (step time does not depend on the
weights); each model's batch is random images and labels of its training
crop, half of the samples pseudo-labeled (the dynamic loss's 4 + 4).

Usage::

    python -m benchmarks.amp.run --threads 1 [--models NAME ...]
        [--repeats N] [--checkpoint CKPT] [--camvid-checkpoint CKPT]
        [--train-iters 300] [--skip-labels]
"""
import argparse
import contextlib
import copy
import filecmp
import importlib
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.runner import Runner
from mmengine.structures import PixelData
from PIL import Image
from torch import Tensor, nn

from benchmarks.common import (ROOT, SYNTHETIC_CONFIG, add_common_args,
                               apply_common_args, build_model, endless,
                               markdown_table, point_config, prepare_data,
                               semi_loader_cfg, write_results,
                               write_split_lists)
from dst_cbc.engine.precision import (cpu_supports_bf16, inference_autocast,
                                      to_channels_last)
from dst_cbc.pseudo_labels import PseudoLabeler, label_files
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample
from tools.make_synthetic_data import generate_synthetic_dataset

MODELS_DIR = osp.join(ROOT, 'configs', '_base_', 'models')
EFFICIENTNET_LITE = osp.join(ROOT, 'projects', 'dst_cbc', 'models',
                             'backbones', 'efficientnet_lite.py')
#: The four step variants: (wrapper type, channels_last).
VARIANTS = {
    'fp32': ('OptimWrapper', False),
    'bf16': ('BF16OptimWrapper', False),
    'fp32_cl': ('OptimWrapper', True),
    'bf16_cl': ('BF16OptimWrapper', True),
}
#: The labeling variants: (bf16 autocast, channels_last).
LABEL_VARIANTS = {
    'fp32': (False, False),
    'bf16': (True, False),
    'fp32_cl': (False, True),
}
ALPHAS = (0.2, 1.0)


class ModelSpec(NamedTuple):
    """A benchmarked model: its config, training crop, batch and repeats."""
    name: str
    model_cfg: Callable[[], dict]
    crop: Sequence[int]
    batch_size: int
    repeats: int


def base_model(filename: str, **overrides) -> Callable[[], dict]:
    """The model of ``configs/_base_/models/<filename>``, overridden."""

    def load() -> dict:
        model = Config.fromfile(osp.join(MODELS_DIR, filename)).model
        return dict(model.to_dict(), **overrides)

    return load


def efficientnet_lite0() -> dict:
    """EfficientNet-Lite0 (layer 8, stride 32, 1280 channels) with an FCN
    head trained by the dynamic loss, 11 classes; the ImageNet input
    normalization of its weights."""
    importlib.import_module('dst_cbc.models.backbones')  # registers it
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[127.0] * 3,
            std=[128.0] * 3,
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255),
        backbone=dict(type='EfficientNetLite', arch='lite0'),
        decode_head=dict(
            type='DynamicFCNHead',
            in_channels=1280,
            channels=128,
            num_convs=1,
            concat_input=False,
            num_classes=11,
            norm_cfg=dict(type='BN', requires_grad=True),
            align_corners=False,
            loss_decode=dict(type='DynamicCrossEntropyLoss', gamma=9.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def model_specs() -> List[ModelSpec]:
    """The project's models at their training crops (DeepLabV2-R101 at a
    small crop to keep the run short); EfficientNet-Lite0 when its backbone
    is in the package."""
    specs = [
        ModelSpec('DLV2-R18-mini', base_model('dlv2_r18-mini.py'), (64, 64), 8,
                  20),
        ModelSpec('Fast-SCNN', base_model('fast_scnn_dynamic.py'), (128, 176),
                  8, 12),
        ModelSpec('DeepLabV2-R101',
                  base_model('deeplabv2_r101-d8.py', init_cfg=None),
                  (161, 161), 2, 6),
    ]
    if osp.isfile(EFFICIENTNET_LITE):
        specs.append(
            ModelSpec('EfficientNet-Lite0', efficientnet_lite0, (128, 176), 8,
                      10))
    return specs


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser, 'amp')
    parser.add_argument(
        '--models',
        nargs='+',
        help='models to time (default: all; names as in the table)')
    parser.add_argument(
        '--repeats',
        type=int,
        help='timed steps of each variant (default: per model, 6-20)')
    parser.add_argument(
        '--warmup', type=int, default=2, help='untimed first steps')
    parser.add_argument(
        '--checkpoint', help='DLV2-R18-mini weights for the label check')
    parser.add_argument(
        '--camvid-checkpoint',
        help='Fast-SCNN weights for the label check on CamVid')
    parser.add_argument(
        '--camvid-images',
        type=int,
        default=64,
        help='CamVid images of the label check')
    parser.add_argument(
        '--train-iters',
        type=int,
        default=300,
        help='supervised iterations from scratch of a label-check model '
        'without a checkpoint')
    parser.add_argument(
        '--skip-labels', action='store_true', help='time the steps only')
    return parser.parse_args()


# -- step time --------------------------------------------------------------
def random_batch(crop: Sequence[int], batch_size: int, num_classes: int,
                 seed: int) -> dict:
    """A batch of random images and labels, the second half pseudo-labeled.

    Args:
        crop (Sequence[int]): (H, W) of every image.
        batch_size (int): Images.
        num_classes (int): Label values are 0 .. ``num_classes - 1``.
        seed (int): Seed of the images and labels.

    Returns:
        dict: ``inputs`` (uint8 (3, H, W) tensors) and ``data_samples``.
    """
    gen = torch.Generator().manual_seed(seed)
    height, width = crop
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append(
            torch.randint(
                0, 256, (3, height, width), generator=gen, dtype=torch.uint8))
        label = torch.randint(
            0, num_classes, (1, height, width), generator=gen)
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(
            dict(
                img_shape=(height, width),
                ori_shape=(height, width),
                is_pseudo=i >= batch_size // 2))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def train_step(model: nn.Module, wrapper: OptimWrapper, inputs: Tensor,
               samples: List[SegDataSample]) -> None:
    """``BaseModel.train_step`` on preprocessed inputs.

    Args:
        model (nn.Module): The segmentor.
        wrapper (OptimWrapper): Its optimizer wrapper.
        inputs (Tensor): The preprocessed (N, 3, H, W) batch.
        samples (list[SegDataSample]): The batch's samples.
    """
    with wrapper.optim_context(model):
        losses = model(inputs, samples, mode='loss')
    loss, _ = model.parse_losses(losses)
    wrapper.update_params(loss)


def step_times(spec: ModelSpec, repeats: int, warmup: int, seed: int) -> Dict:
    """Time the four variants of one model's training step, alternating.

    Args:
        spec (ModelSpec): The model.
        repeats (int): Timed steps per variant.
        warmup (int): Untimed steps per variant first.
        seed (int): Seed of the weights and the batch.

    Returns:
        dict: ``seconds`` and ``median`` per variant, the ratios
        ``bf16_vs_fp32``, ``cl_vs_contiguous_fp32`` and
        ``cl_vs_contiguous_bf16``, and ``cl_propagates`` (the backbone's
        output is channels_last in the channels_last variant).
    """
    model_cfg = spec.model_cfg()
    model_cfg['data_preprocessor'] = dict(
        model_cfg['data_preprocessor'], size=tuple(spec.crop))
    reference = build_model(model_cfg, seed)
    num_classes = reference.decode_head.num_classes
    batch = random_batch(spec.crop, spec.batch_size, num_classes, seed)
    data = reference.data_preprocessor(copy.deepcopy(batch), True)
    optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)
    sides = {}
    for name, (wrapper_type, channels_last) in VARIANTS.items():
        model = copy.deepcopy(reference).train()
        inputs = data['inputs']
        if channels_last:
            to_channels_last(model)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        wrapper = build_optim_wrapper(
            model, dict(type=wrapper_type, optimizer=optimizer))
        sides[name] = (model, wrapper, inputs)
    names = list(sides)
    seconds: Dict[str, List[float]] = {name: [] for name in names}
    for rep in range(warmup + repeats):
        for name in names if rep % 2 == 0 else names[::-1]:
            model, wrapper, inputs = sides[name]
            start = time.perf_counter()
            train_step(model, wrapper, inputs, data['data_samples'])
            if rep >= warmup:
                seconds[name].append(time.perf_counter() - start)
    median = {name: statistics.median(s) for name, s in seconds.items()}
    model, _, inputs = sides['fp32_cl']
    with torch.no_grad():
        feat = model.extract_feat(inputs)[-1]
    return dict(
        crop=list(spec.crop),
        batch_size=spec.batch_size,
        seconds=seconds,
        median=median,
        bf16_vs_fp32=median['bf16'] / median['fp32'],
        cl_vs_contiguous_fp32=median['fp32_cl'] / median['fp32'],
        cl_vs_contiguous_bf16=median['bf16_cl'] / median['bf16'],
        cl_propagates=feat.is_contiguous(memory_format=torch.channels_last))


# -- labels -----------------------------------------------------------------
def synthetic_cfg(out_dir: str, num_train: int, size: int) -> Config:
    """The default config on a synthetic set generated in ``out_dir``.

    Args:
        out_dir (str): The benchmark's output folder.
        num_train (int): Training images (a quarter as many for val).
        size (int): Image side.

    Returns:
        Config: The config pointed at the data, split 1 of 1/8 labels.
    """
    data_root = osp.join(out_dir, f'synthetic_{num_train}x{size}')
    generate_synthetic_dataset(
        data_root,
        num_train=num_train,
        num_val=max(1, num_train // 4),
        size=size)
    split_dir = osp.join(out_dir, 'splits')
    write_split_lists(data_root, split_dir)
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    point_config(cfg, data_root, split_dir)
    return cfg


def label_model(cfg: Config, checkpoint: Optional[str], train_iters: int,
                seed: int) -> nn.Module:
    """The labeling model: ``checkpoint``, else ``train_iters`` supervised
    iterations from scratch (round 0's batches, the config's optimizer).

    Args:
        cfg (Config): The DST-CBC config.
        checkpoint (str, optional): Weights to load.
        train_iters (int): Iterations without a checkpoint.
        seed (int): Seed of the weights and the sampler.

    Returns:
        nn.Module: The model.
    """
    model = build_model(cfg.model, seed, checkpoint)
    if checkpoint is None:
        loader = Runner.build_dataloader(semi_loader_cfg(cfg), seed=seed)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        for _, batch in zip(range(train_iters), endless(loader)):
            model.train_step(batch, wrapper)
    return model


def read_png(path: str) -> np.ndarray:
    """Read an 8-bit label PNG."""
    with Image.open(path) as image:
        return np.asarray(image)


def compare_labels(files_a: Sequence[str], files_b: Sequence[str]) -> Dict:
    """Compare two folders' labels of the same images.

    Args:
        files_a (Sequence[str]): One variant's label files.
        files_b (Sequence[str]): The other's, in the same order.

    Returns:
        dict: ``pixels``, ``differing`` pixels, ``agreement`` (fraction of
        pixels with the same label, ignore included), ``class_changed``
        (kept by both with different classes), ``identical_files`` and
        ``files``.
    """
    pixels = same = changed = identical = 0
    for path_a, path_b in zip(files_a, files_b):
        a, b = read_png(path_a), read_png(path_b)
        pixels += a.size
        same += int((a == b).sum())
        changed += int(((a != b) & (a != 255) & (b != 255)).sum())
        identical += filecmp.cmp(path_a, path_b, shallow=False)
    return dict(
        pixels=pixels,
        differing=pixels - same,
        agreement=same / pixels,
        class_changed=changed,
        identical_files=identical,
        files=len(files_a))


def labeling_pipeline(cfg: Config) -> List[dict]:
    """Load, resize to the ``PseudoLabelHook``'s ``infer_scale`` (if the
    config sets one), pack: how the hook loads an image for labeling.

    Args:
        cfg (Config): The DST-CBC config.

    Returns:
        list[dict]: The pipeline.
    """
    hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] == 'PseudoLabelHook'
    ]
    scale = hooks[0].get('infer_scale') if hooks else None
    resize = ([dict(type='Resize', scale=scale, keep_ratio=False)]
              if scale is not None else [])
    return ([dict(type='LoadImageFromFile')] + resize +
            [dict(type='PackSegInputs')])


def label_check(cfg: Config,
                model: nn.Module,
                out_dir: str,
                num_images: Optional[int] = None) -> Dict:
    """Label the unlabeled images in each variant, compare with fp32.

    Args:
        cfg (Config): The DST-CBC config.
        model (nn.Module): The labeling model (float32, contiguous).
        out_dir (str): Folder of the label folders.
        num_images (int, optional): Label the first ``num_images`` only.

    Returns:
        dict: ``images`` and, per alpha, per variant, the labeler's
        ``seconds`` (one run each, not interleaved) and, against fp32,
        :func:`compare_labels`.
    """
    unlabeled = copy.deepcopy(cfg.train_dataloader.dataset.unlabeled)
    if num_images is not None:
        unlabeled['indices'] = num_images
    dataset = DATASETS.build(dict(unlabeled, pipeline=labeling_pipeline(cfg)))
    labeler = PseudoLabeler(model.decode_head.num_classes, batch_size=8)
    models = dict(fp32=model, fp32_cl=to_channels_last(copy.deepcopy(model)))
    bf16_wrapper = build_optim_wrapper(
        model,
        dict(type='BF16OptimWrapper', optimizer=dict(type='SGD', lr=0.0)))
    results = {}
    for alpha in ALPHAS:
        files, per_variant = {}, {}
        for name, (bf16, channels_last) in LABEL_VARIANTS.items():
            folder = osp.join(out_dir, f'alpha{alpha}', name)
            files[name] = label_files(unlabeled, folder)
            context = (
                inference_autocast(bf16_wrapper)
                if bf16 else contextlib.nullcontext())
            start = time.perf_counter()
            with context:
                labeler.run(models['fp32_cl' if channels_last else 'fp32'],
                            dataset, folder, alpha, files[name])
            per_variant[name] = dict(seconds=time.perf_counter() - start)
            if name != 'fp32':
                per_variant[name].update(
                    compare_labels(files['fp32'], files[name]))
        results[str(alpha)] = per_variant
    return dict(images=len(dataset), by_alpha=results)


def label_checks(args: argparse.Namespace) -> Dict:
    """The label check of DLV2-R18-mini on the synthetic set and, when
    CamVid is at ``--data-root``, of its config's Fast-SCNN on CamVid.

    Returns:
        dict: Per model, the weights used (``checkpoint`` or
        ``train_iters``) and :func:`label_check`'s results.
    """
    runs = [('DLV2-R18-mini',
             synthetic_cfg(args.out, args.synthetic_train,
                           args.synthetic_size), args.checkpoint, None)]
    if osp.isfile(osp.join(args.data_root, 'train.txt')):
        camvid = prepare_data(args.data_root, osp.join(args.out, 'camvid'))
        runs.append(('Fast-SCNN (CamVid)', camvid.cfg, args.camvid_checkpoint,
                     args.camvid_images))
    results = {}
    for name, cfg, checkpoint, num_images in runs:
        model = label_model(cfg, checkpoint, args.train_iters, args.seed)
        results[name] = dict(
            checkpoint=checkpoint,
            train_iters=None if checkpoint else args.train_iters,
            **label_check(cfg, model,
                          osp.join(args.out, 'labels',
                                   name.split()[0]), num_images))
    return results


# -- the benchmark ----------------------------------------------------------
def run_benchmark(args: argparse.Namespace) -> Dict:
    """Run the step-time and the label measurements.

    Returns:
        dict: The results written to ``results.json``.
    """
    specs = model_specs()
    if args.models:
        unknown = set(args.models) - {s.name for s in specs}
        if unknown:
            raise ValueError(f'--models: unknown {sorted(unknown)}; choose '
                             f'from {[s.name for s in specs]}')
        specs = [s for s in specs if s.name in args.models]
    steps = {}
    for spec in specs:
        steps[spec.name] = step_times(spec, args.repeats or spec.repeats,
                                      args.warmup, args.seed)
        print(
            f'{spec.name}: bf16 / fp32 '
            f'{steps[spec.name]["bf16_vs_fp32"]:.3f}',
            flush=True)
    results = dict(
        threads=torch.get_num_threads(),
        cpu_supports_bf16=cpu_supports_bf16(),
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        torch=torch.__version__,
        steps=steps)
    if not args.skip_labels:
        results['labels'] = label_checks(args)
    return results


def steps_section(results: Dict) -> List[str]:
    """Report lines of the step-time table."""
    rows = []
    for name, step in results['steps'].items():
        median = step['median']
        rows.append([
            name, f'{step["batch_size"]} x {step["crop"][0]}x'
            f'{step["crop"][1]}', f'{1000 * median["fp32"]:.0f}',
            f'{1000 * median["bf16"]:.0f}', f'**{step["bf16_vs_fp32"]:.2f}** '
            f'({1 / step["bf16_vs_fp32"]:.2f}x)',
            f'{step["cl_vs_contiguous_fp32"]:.2f}',
            f'{step["cl_vs_contiguous_bf16"]:.2f}',
            len(step['seconds']['fp32'])
        ])
    return [
        f'Training step (forward, loss, backward, SGD step), '
        f'{results["threads"]} thread(s), torch {results["torch"]}, CPU '
        f'capability {results["cpu_capability"]}, bf16 supported: '
        f'{results["cpu_supports_bf16"]}. Medians; the four variants '
        'alternate; ratios < 1 are faster.', '',
        markdown_table([
            'model', 'batch', 'fp32 ms', 'bf16 ms', 'bf16 / fp32 (speed-up)',
            'channels_last / contiguous, fp32', 'same, bf16', 'steps'
        ], rows)
    ]


def labels_section(results: Dict) -> List[str]:
    """Report lines of the label agreement."""
    rows = []
    for model, labels in results['labels'].items():
        weights = (
            labels['checkpoint']
            or f'{labels["train_iters"]} supervised iterations from '
            'scratch')
        for alpha, variants in labels['by_alpha'].items():
            for name, res in variants.items():
                if name == 'fp32':
                    continue
                rows.append([
                    f'{model}, {labels["images"]} images', weights, alpha,
                    name, f'{100 * res["agreement"]:.3f} %',
                    f'{res["differing"]:,}', f'{res["class_changed"]:,}',
                    f'{res["identical_files"]} / {res["files"]}',
                    f'{variants["fp32"]["seconds"]:.2f} / '
                    f'{res["seconds"]:.2f}'
                ])
    return [
        '### Pseudo labels (PseudoLabeler) against fp32', '',
        markdown_table([
            'model, data', 'weights', 'alpha', 'variant',
            'pixels with the same label', 'pixels differing',
            'of which kept by both, class changed', 'identical files',
            'labeler s, fp32 / variant (one run)'
        ], rows)
    ]


def main() -> None:
    """Run the benchmark, print and write the report."""
    args = parse_args()
    apply_common_args(args)
    results = run_benchmark(args)
    lines = ['## Mixed precision and channels_last on the CPU', '']
    lines += steps_section(results)
    if 'labels' in results:
        lines += [''] + labels_section(results)
    write_results(args.out, results, '\n'.join(lines))


if __name__ == '__main__':
    main()
