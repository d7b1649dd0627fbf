"""Pseudo-labeling: our one-pass labeler against the paper's Algorithm 1.

Same model, images, batches and machine:

- **Wall time** of :class:`dst_cbc.pseudo_labels.PseudoLabeler` against
  Algorithm 1 as the paper writes it (``tests/helpers/algorithm1.py``: two
  model passes through ``model.test_step``, every 16th pixel's confidence
  kept, a per-class sort) and against the bare forward pass
  (``model.inference`` on the batches, preprocessed beforehand). The three
  alternate; the report gives the ratios of the medians, ours / paper (goal
  <= 0.55) and ours / bare forward (goal <= 1.15).
- **Where the time goes**: one more run of each labeler under
  ``torch.profiler`` with Python stacks; a stage is the time spent in
  public functions (:data:`OUR_STAGES`, :data:`PAPER_STAGES`), the rest is
  what none of them covers. The profiler slows Python calls, so the stages
  are reported as shares of the profiled run.
- **Memory of the threshold state** when 1x, 10x and 100x as many pixels
  (random logits) go through each state update: our histogram against the
  reference's per-class sampled arrays.
- **Agreement**: per-class thresholds and pixels labeled differently,
  against the reference sampling every 16th pixel and every pixel.

Usage::

    python -m benchmarks.labeler.run [--data-root DIR] [--num-images 64]
        [--repeats 3] [--alpha 0.2] [--checkpoint CKPT | --train-iters 50]
        [--camvid-config CONFIG] [--store-at-infer-scale] [--threads N]

Images are loaded as the config's ``pseudo_label_hook`` loads them. Without
``--checkpoint`` the model first trains ``--train-iters`` supervised
iterations from scratch, so that its confidences are spread as a trained
model's are.
"""
import argparse
import statistics
import time
import tracemalloc
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from mmengine.dataset import BaseDataset, pseudo_collate
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile

from benchmarks.common import (CAMVID_CONFIG, add_common_args,
                               apply_common_args, build_model, interleave,
                               label_agreement, labeling_dataset_cfg, machine,
                               machine_line, prepare_data, train_briefly,
                               write_results)
from dst_cbc.engine.report import markdown_table
from dst_cbc.pseudo_labels import (NUM_BINS, PseudoLabeler, label_files,
                                   uncertainty_bins, uncertainty_from_logits,
                                   update_histogram)
from mmseg.registry import DATASETS
from tests.helpers import algorithm1

#: Stages of our labeler: public functions whose time each adds up, and
#: one whose time is reported net of another (``(outer, inner)``).
OUR_STAGES = {
    'image loading (labeling pipeline)': ['prepare_data'],
    'forward pass (model.inference)': ['inference'],
    'preprocessor, logits resized': [('original_size_logits', 'inference')],
    'uncertainty, histogram':
    ['uncertainty_from_logits', 'update_histogram', 'uncertainty_bins'],
    'thresholds, PNGs written': ['apply_thresholds', 'write_label'],
    'ground truth (statistics)': ['load_ground_truth'],
}
PAPER_STAGES = {
    'image loading (labeling pipeline)': ['prepare_data'],
    'forward pass (model.inference)': ['inference'],
    "MMSeg's postprocess_result": ['postprocess_result'],
}
PAPER_GOAL, FORWARD_GOAL = 0.55, 1.15


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_args(parser, 'labeler')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--alpha', type=float, default=0.2)
    parser.add_argument('--checkpoint', help='weights of the labeling model')
    parser.add_argument(
        '--camvid-config',
        default=CAMVID_CONFIG,
        help='the DST-CBC config whose model and pseudo_label_hook label '
        'CamVid (default: the Fast-SCNN one)')
    parser.add_argument(
        '--store-at-infer-scale',
        action='store_true',
        help="labels written at the hook's infer_scale, not the image's size")
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


def forward_batches(model: nn.Module, dataset: BaseDataset,
                    batch_size: int) -> List[Tuple[Tensor, List[dict]]]:
    """The batches our labeler feeds ``model.inference``: consecutive
    images, ``batch_size`` at a time, after the test-mode preprocessor.

    Returns:
        list[tuple[Tensor, list[dict]]]: Per batch, the inputs and the
        images' metainfo.
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


def bare_forward(model: nn.Module, batches: Sequence) -> None:
    """The forward pass alone: ``model.inference`` on every batch."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for inputs, metas in batches:
            model.inference(inputs, metas)
    model.train(was_training)


def function_seconds(fn: Callable[[], object],
                     names: Sequence[str]) -> Dict[str, float]:
    """Run ``fn`` under ``torch.profiler``; seconds spent in each function.

    A function's time is that of its outermost calls (a call inside
    another call of the same name is not counted twice).

    Args:
        fn (Callable): What to run.
        names (Sequence[str]): Python function names (no module).

    Returns:
        dict[str, float]: Seconds per name, and ``total``, the wall time of
        the profiled run.
    """
    with profile(activities=[ProfilerActivity.CPU], with_stack=True) as prof:
        start = time.perf_counter()
        fn()
        total = time.perf_counter() - start
    seconds = dict.fromkeys(names, 0.0)
    for event in prof.events():
        file, _, name = event.name.rpartition(': ')
        if name not in seconds or '.py(' not in file:
            continue
        parent = event.cpu_parent
        while parent is not None and not parent.name.endswith(': ' + name):
            parent = parent.cpu_parent
        if parent is None:
            seconds[name] += event.cpu_time_total / 1e6
    return dict(seconds, total=total)


def stage_seconds(stages: Dict[str, list], fn: Callable[[], object]) -> Dict:
    """Seconds of each stage of one profiled run of ``fn``, and the rest.

    Args:
        stages (dict[str, list]): :data:`OUR_STAGES` or
            :data:`PAPER_STAGES`.
        fn (Callable): One labeling run.

    Returns:
        dict: Seconds per stage, ``rest`` and ``total``.
    """
    names = {
        n
        for parts in stages.values() for part in parts
        for n in ([part] if isinstance(part, str) else part)
    }
    seconds = function_seconds(fn, sorted(names))
    result = {}
    for stage, parts in stages.items():
        result[stage] = sum(
            seconds[p] if isinstance(p, str) else seconds[p[0]] - seconds[p[1]]
            for p in parts)
    result['rest'] = seconds['total'] - sum(result.values())
    result['total'] = seconds['total']
    return result


def state_memory(num_classes: int,
                 shape: Sequence[int],
                 num_images: int,
                 scales: Sequence[int] = (1, 10, 100),
                 seed: int = 0) -> List[Dict]:
    """Threshold-state memory of ours and the reference at growing sizes.

    Four images of random logits are fed in turn, ``scale * num_images``
    of them. Ours is one int64 histogram of shape (C, NUM_BINS), updated in
    place; the reference keeps the sampled float32 confidences until the
    sort (tracemalloc's peak includes the concatenation and the sort).

    Returns:
        list[dict]: Per scale: ``scale``, ``pixels``, ``ours_bytes``,
        ``reference_bytes`` and ``reference_peak_bytes``.
    """
    generator = torch.Generator().manual_seed(seed)
    pool = [
        3 * torch.randn(num_classes, *shape, generator=generator)
        for _ in range(4)
    ]
    rows = []
    for scale in scales:
        images = scale * num_images
        hist = torch.zeros(num_classes, NUM_BINS, dtype=torch.int64)
        for i in range(images):
            label, u = uncertainty_from_logits(pool[i % 4])
            update_histogram(hist, label, uncertainty_bins(u))
        tracemalloc.start()
        state = algorithm1.new_state(num_classes)
        for i in range(images):
            algorithm1.update(state, pool[i % 4])
        retained = sum(a.nbytes for samples in state for a in samples)
        algorithm1.thresholds(state, 0.5)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append(
            dict(
                scale=scale,
                pixels=images * shape[0] * shape[1],
                ours_bytes=hist.element_size() * hist.numel(),
                reference_bytes=retained,
                reference_peak_bytes=peak))
    return rows


def agreement(ours: Dict, ours_paths: Sequence[str], reference: Dict,
              reference_paths: Sequence[str]) -> Dict:
    """Thresholds and labels of ours against one reference run.

    Thresholds are compared where both have one: ours has none for a class
    without pixels, the reference none (0) for a class it keeps whole.

    Returns:
        dict: :func:`label_agreement` (a = ours) and ``threshold_max_diff``
        (None if no class is compared).
    """
    diffs = [
        abs(o - r) for o, r in zip(ours['thresholds'], reference['thresholds'])
        if o is not None and r != 0
    ]
    return dict(
        label_agreement(ours_paths, reference_paths),
        threshold_max_diff=max(diffs) if diffs else None)


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
    options = dict(
        store_at_infer_scale=True) if (args.store_at_infer_scale) else {}
    dataset_cfg = labeling_dataset_cfg(data.cfg, args.num_images, **options)
    dataset = DATASETS.build(dataset_cfg)
    batch_size = data.cfg.pseudo_label_hook.get('batch_size', 1)
    paths = {
        name: label_files(dataset_cfg, f'{args.out}/labels/{name}')
        for name in ('ours', 'paper', 'paper_every_pixel')
    }
    labeler = PseudoLabeler(
        model.decode_head.num_classes,
        batch_size=batch_size,
        resize_gt=args.store_at_infer_scale)
    outputs = {}

    def ours() -> None:
        outputs['ours'] = labeler.run(model, dataset, f'{args.out}/labels',
                                      args.alpha, paths['ours'])

    def paper() -> None:
        outputs['paper'] = algorithm1.run(model, dataset, paths['paper'],
                                          args.alpha, batch_size)

    batches = forward_batches(model, dataset, batch_size)
    bare_forward(model, batches[:1])  # warm-up: kernels, page cache
    seconds = interleave(
        dict(
            ours=ours, paper=paper, bare=lambda: bare_forward(model, batches)),
        args.repeats)
    every_pixel = algorithm1.run(
        model,
        dataset,
        paths['paper_every_pixel'],
        args.alpha,
        batch_size,
        stride=1)
    median = {k: statistics.median(v) for k, v in seconds.items()}
    return dict(
        machine=machine(),
        data=data.note,
        model=args.checkpoint
        or f'trained {args.train_iters} supervised iterations from scratch',
        num_images=len(dataset),
        store_at_infer_scale=args.store_at_infer_scale,
        alpha=args.alpha,
        batch_size=batch_size,
        seconds=seconds,
        paper_ratio=median['ours'] / median['paper'],
        forward_ratio=median['ours'] / median['bare'],
        stages=dict(
            ours=stage_seconds(OUR_STAGES, ours),
            paper=stage_seconds(PAPER_STAGES, paper)),
        agreement=dict(
            paper=agreement(outputs['ours'], paths['ours'], outputs['paper'],
                            paths['paper']),
            paper_every_pixel=agreement(outputs['ours'], paths['ours'],
                                        every_pixel,
                                        paths['paper_every_pixel'])),
        memory=state_memory(
            model.decode_head.num_classes,
            args.mem_shape,
            args.mem_images,
            seed=args.seed))


def report(results: Dict) -> str:
    """The Markdown report of :func:`run_benchmark`'s results."""
    median = {k: statistics.median(v) for k, v in results['seconds'].items()}
    timing = [[
        name, f'{median[name]:.2f}',
        ', '.join(f'{t:.2f}' for t in results['seconds'][name])
    ] for name in ('ours', 'paper', 'bare')]
    stages = []
    for name, parts in results['stages'].items():
        stages += [[
            name, stage, f'{seconds:.3f}',
            f'{100 * seconds / parts["total"]:.1f} %'
        ] for stage, seconds in parts.items() if stage != 'total']
    memory = [[
        f'{r["scale"]}x', f'{r["pixels"]:,}', f'{r["ours_bytes"]:,}',
        f'{r["reference_bytes"]:,}', f'{r["reference_peak_bytes"]:,}'
    ] for r in results['memory']]
    agree = [[
        name, '-' if a['threshold_max_diff'] is None else
        f'{a["threshold_max_diff"]:.2g}',
        f'{100 * a["differing"] / a["pixels"]:.2f} %', f'{a["kept_only_a"]:,}',
        f'{a["kept_only_b"]:,}', f'{a["class_changed"]:,}'
    ] for name, a in results['agreement'].items()]
    paper, bare = results['paper_ratio'], results['forward_ratio']
    return '\n'.join([
        '## Pseudo-labeling: ours (one pass) vs Algorithm 1 (two passes)', '',
        machine_line(results['machine']), results['data'],
        f'{results["model"]}; {results["num_images"]} images, alpha '
        f'{results["alpha"]}, batch {results["batch_size"]}.', '',
        markdown_table(['side', 'median s', 'runs (s)'], timing), '',
        f'**ours / paper: {paper:.3f}** (goal <= {PAPER_GOAL}: '
        f'{"met" if paper <= PAPER_GOAL else "not met"}); **ours / bare '
        f'forward: {bare:.3f}** (goal <= {FORWARD_GOAL}: '
        f'{"met" if bare <= FORWARD_GOAL else "not met"}).', '',
        markdown_table(['labeler', 'stage', 'profiled s', 'share'],
                       stages), '',
        markdown_table([
            'scale', 'pixels', 'ours bytes', 'paper bytes', 'paper peak bytes'
        ], memory), '',
        markdown_table([
            'against', 'max threshold diff', 'pixels differing',
            'kept only by ours', 'kept only by it', 'class changed'
        ], agree)
    ])


def main() -> None:
    """Run the benchmark, print and write the report."""
    args = parse_args()
    apply_common_args(args)
    results = run_benchmark(args)
    write_results(args.out, results, report(results))


if __name__ == '__main__':
    main()
