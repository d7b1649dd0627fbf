"""Mixed precision and channels_last on the CPU: step time and labels.

- **Step time** per model: one training step (forward, loss, backward, SGD
  step, after the data preprocessor) in four variants with the same
  starting weights and batch: float32 (``OptimWrapper``), bfloat16 autocast
  (:class:`BF16OptimWrapper`, what ``--amp`` selects on a CPU), and both
  with the model and the inputs in channels_last (:func:`to_channels_last`,
  what ``ChannelsLastHook`` does). The steps alternate; the report gives
  the ratios of the medians.
- **Labels**: :class:`PseudoLabeler` on the synthetic set's unlabeled
  images with DLV2-R18-mini (``--checkpoint``) and, when CamVid is at
  ``--data-root``, on ``--camvid-images`` of its unlabeled images with the
  Fast-SCNN config (``--camvid-checkpoint``); a model without a checkpoint
  first trains ``--train-iters`` supervised iterations. Float32 against
  bf16 autocast and against channels_last: pixels with the same label and
  files identical byte for byte, at alpha 0.2 and 1.0.

The models are random-initialized (step time does not depend on the
weights); each batch is random images and labels of the model's training
crop, half of the samples pseudo-labeled (the dynamic loss's 4 + 4).

Usage::

    python -m benchmarks.amp.run --threads 1 [--models NAME ...]
        [--repeats N] [--checkpoint CKPT] [--camvid-checkpoint CKPT]
        [--train-iters 300] [--skip-labels]
"""
import argparse
import contextlib
import copy
import functools
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.structures import PixelData
from torch import nn

from benchmarks.common import (ROOT, add_common_args, apply_common_args,
                               build_model, interleave, label_agreement,
                               labeling_dataset_cfg, machine, machine_line,
                               prepare_data, synthetic_data, train_briefly,
                               write_results)
from dst_cbc.engine.precision import (cpu_supports_bf16, inference_autocast,
                                      to_channels_last)
from dst_cbc.engine.report import markdown_table
from dst_cbc.pseudo_labels import PseudoLabeler, label_files
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample

MODELS_DIR = osp.join(ROOT, 'configs', '_base_', 'models')
#: The four step variants: (wrapper type, channels_last).
VARIANTS = {
    'fp32': ('OptimWrapper', False),
    'bf16': ('BF16OptimWrapper', False),
    'fp32_cl': ('OptimWrapper', True),
    'bf16_cl': ('BF16OptimWrapper', True),
}
ALPHAS = (0.2, 1.0)


class ModelSpec(NamedTuple):
    """A timed model: its config, training crop, batch and repeats."""
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
    """EfficientNet-Lite0 (stride 32, 1280 channels, random weights) with
    a dynamic-loss FCN head, 11 classes."""
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


#: The project's models at their training crops (DeepLabV2-R101 at a small
#: crop, to keep the run short).
SPECS = (
    ModelSpec('DLV2-R18-mini', base_model('dlv2_r18-mini.py'), (64, 64), 8,
              20),
    ModelSpec('Fast-SCNN', base_model('fast_scnn_dynamic.py'), (128, 176), 8,
              12),
    ModelSpec('DeepLabV2-R101',
              base_model('deeplabv2_r101-d8.py', init_cfg=None), (161, 161), 2,
              6),
    ModelSpec('EfficientNet-Lite0', efficientnet_lite0, (128, 176), 8, 10),
)


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser, 'amp')
    parser.add_argument(
        '--models',
        nargs='+',
        choices=[s.name for s in SPECS],
        help='models to time (default: all)')
    parser.add_argument(
        '--repeats',
        type=int,
        help='timed steps of each variant (default: per model, 6-20)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--checkpoint', help='DLV2-R18-mini weights for the label check')
    parser.add_argument(
        '--camvid-checkpoint',
        help='Fast-SCNN weights for the label check on CamVid')
    parser.add_argument('--camvid-images', type=int, default=64)
    parser.add_argument(
        '--train-iters',
        type=int,
        default=300,
        help='supervised iterations of a label-check model without a '
        'checkpoint')
    parser.add_argument('--skip-labels', action='store_true')
    return parser.parse_args()


def random_batch(crop: Sequence[int], batch_size: int, num_classes: int,
                 seed: int) -> dict:
    """Random uint8 images and labels, the second half pseudo-labeled.

    Returns:
        dict: ``inputs`` ((3, H, W) tensors) and ``data_samples``.
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


def step_times(spec: ModelSpec, repeats: int, warmup: int, seed: int) -> Dict:
    """Time the four variants of one model's training step, alternating.

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
    batch = random_batch(spec.crop, spec.batch_size,
                         reference.decode_head.num_classes, seed)
    data = reference.data_preprocessor(batch, True)
    optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)
    steps, models = {}, {}
    for name, (wrapper_type, channels_last) in VARIANTS.items():
        model = models[name] = copy.deepcopy(reference).train()
        inputs = data['inputs']
        if channels_last:
            to_channels_last(model)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        wrapper = build_optim_wrapper(
            model, dict(type=wrapper_type, optimizer=optimizer))
        steps[name] = functools.partial(train_step, model, wrapper, inputs,
                                        data['data_samples'])
    for step in steps.values():
        for _ in range(warmup):
            step()
    seconds = interleave(steps, repeats)
    median = {name: statistics.median(s) for name, s in seconds.items()}
    with torch.no_grad():
        feat = models['fp32_cl'].extract_feat(
            data['inputs'].contiguous(memory_format=torch.channels_last))[-1]
    return dict(
        crop=list(spec.crop),
        batch_size=spec.batch_size,
        seconds=seconds,
        median=median,
        bf16_vs_fp32=median['bf16'] / median['fp32'],
        cl_vs_contiguous_fp32=median['fp32_cl'] / median['fp32'],
        cl_vs_contiguous_bf16=median['bf16_cl'] / median['bf16'],
        cl_propagates=feat.is_contiguous(memory_format=torch.channels_last))


def train_step(model: nn.Module, wrapper: OptimWrapper, inputs: torch.Tensor,
               samples: List[SegDataSample]) -> None:
    """``BaseModel.train_step`` on preprocessed inputs."""
    with wrapper.optim_context(model):
        losses = model(inputs, samples, mode='loss')
    loss, _ = model.parse_losses(losses)
    wrapper.update_params(loss)


def label_check(cfg: Config,
                model: nn.Module,
                out_dir: str,
                num_images: Optional[int] = None) -> Dict:
    """Label the unlabeled images in fp32, bf16 and channels_last.

    Returns:
        dict: ``images`` and, per alpha, per variant, the labeler's
        ``seconds`` (one run) and, against fp32, :func:`label_agreement`.
    """
    dataset_cfg = labeling_dataset_cfg(cfg, num_images)
    dataset = DATASETS.build(dataset_cfg)
    labeler = PseudoLabeler(model.decode_head.num_classes, batch_size=8)
    wrapper = build_optim_wrapper(
        model,
        dict(type='BF16OptimWrapper', optimizer=dict(type='SGD', lr=0.0)))
    variants = dict(
        fp32=(model, contextlib.nullcontext),
        bf16=(model, lambda: inference_autocast(wrapper)),
        fp32_cl=(to_channels_last(copy.deepcopy(model)),
                 contextlib.nullcontext))
    results = {}
    for alpha in ALPHAS:
        files, per_variant = {}, {}
        for name, (variant_model, context) in variants.items():
            folder = osp.join(out_dir, f'alpha{alpha}', name)
            files[name] = label_files(dataset_cfg, folder)
            start = time.perf_counter()
            with context():
                labeler.run(variant_model, dataset, folder, alpha, files[name])
            per_variant[name] = dict(seconds=time.perf_counter() - start)
            if name != 'fp32':
                per_variant[name].update(
                    label_agreement(files['fp32'], files[name]))
        results[str(alpha)] = per_variant
    return dict(images=len(dataset), by_alpha=results)


def label_checks(args: argparse.Namespace) -> Dict:
    """The label check of DLV2-R18-mini on synthetic data and, when CamVid
    is at ``--data-root``, of Fast-SCNN on CamVid.

    Returns:
        dict: Per model, the weights (``checkpoint`` or ``train_iters``)
        and :func:`label_check`'s results.
    """
    runs = [('DLV2-R18-mini',
             synthetic_data(args.out, args.synthetic_train,
                            args.synthetic_size).cfg, args.checkpoint, None)]
    if osp.isfile(osp.join(args.data_root, 'train.txt')):
        camvid = prepare_data(args.data_root, osp.join(args.out, 'camvid'))
        runs.append(('Fast-SCNN', camvid.cfg, args.camvid_checkpoint,
                     args.camvid_images))
    results = {}
    for name, cfg, checkpoint, num_images in runs:
        model = build_model(cfg.model, args.seed, checkpoint)
        if checkpoint is None:
            train_briefly(model, cfg, args.train_iters, args.seed)
        results[name] = dict(
            checkpoint=checkpoint,
            train_iters=None if checkpoint else args.train_iters,
            **label_check(cfg, model, osp.join(args.out, 'labels', name),
                          num_images))
    return results


def report(results: Dict) -> str:
    """The Markdown report: the step table and the label agreement."""
    rows = [[
        name, f'{s["batch_size"]} x {s["crop"][0]}x{s["crop"][1]}',
        f'{1000 * s["median"]["fp32"]:.0f}',
        f'{1000 * s["median"]["bf16"]:.0f}', f'**{s["bf16_vs_fp32"]:.2f}**',
        f'{s["cl_vs_contiguous_fp32"]:.2f}',
        f'{s["cl_vs_contiguous_bf16"]:.2f}',
        str(len(s['seconds']['fp32']))
    ] for name, s in results['steps'].items()]
    lines = [
        '## Mixed precision and channels_last on the CPU', '',
        machine_line(results['machine']) +
        f' bf16 supported: {results["cpu_supports_bf16"]}.', '',
        markdown_table([
            'model', 'batch', 'fp32 ms', 'bf16 ms', 'bf16 / fp32',
            'channels_last / contiguous, fp32', 'the same, bf16', 'steps'
        ], rows)
    ]
    labels = []
    for model, check in results.get('labels', {}).items():
        for alpha, variants in check['by_alpha'].items():
            labels += [[
                f'{model}, {check["images"]} images', alpha, name,
                f'{100 - 100 * res["differing"] / res["pixels"]:.3f} %',
                f'{res["differing"]:,}', f'{res["class_changed"]:,}',
                f'{res["identical_files"]} / {res["files"]}'
            ] for name, res in variants.items() if name != 'fp32']
    if labels:
        lines += [
            '',
            markdown_table([
                'model', 'alpha', 'variant', 'same label', 'pixels differing',
                'kept by both, class changed', 'identical files'
            ], labels)
        ]
    return '\n'.join(lines)


def main() -> None:
    """Run the benchmark, print and write the report."""
    args = parse_args()
    apply_common_args(args)
    specs = [s for s in SPECS if not args.models or s.name in args.models]
    results = dict(
        machine=machine(),
        cpu_supports_bf16=cpu_supports_bf16(),
        steps={
            s.name: step_times(s, args.repeats or s.repeats, args.warmup,
                               args.seed)
            for s in specs
        })
    if not args.skip_labels:
        results['labels'] = label_checks(args)
    write_results(args.out, results, report(results))


if __name__ == '__main__':
    main()
