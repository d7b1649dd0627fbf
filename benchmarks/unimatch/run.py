"""UniMatch's training step against the same passes as a bare PyTorch loop.

One iteration of the CamVid UniMatch config's model (EfficientNet-Lite0 +
DeepLabV3+, ImageNet weights) on one fixed batch of 4 labeled + 4 unlabeled
+ 4 CutMix-source crops of 128 x 176, three ways, interleaved:

- ``train_step``: MMEngine's ``model.train_step`` (UniMatchDataPreProcessor,
  ``UniMatch.loss``, ``parse_losses``, ``OptimWrapper``), as training runs;
- ``loss``: ``UniMatch.loss`` on the preprocessed batch, backward and an SGD
  step (the model's share, without the data preprocessor);
- ``bare``: the authors' ``unimatch.py`` step written with torch only on the
  same modules and preprocessed tensors: eval-mode forward of the sources,
  the labeled + weak forward with the channel-dropped copy, CutMix, the
  strong forward, the four terms, backward, SGD step.

Before timing, ``loss`` and ``bare`` run once from the same weights and
random state: their four terms must agree. Prints the medians and the ratios
to ``bare`` (the framework's overhead), with the CPU and the threads, and
writes them to ``<out>/results.json`` and ``results.md``.

Usage::

    OMP_NUM_THREADS=1 python -m benchmarks.unimatch.run [--iters 20] \\
        [--out DIR]
"""
import argparse
import copy
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from benchmarks.common import interleave, machine, machine_line, write_results
from dst_cbc.engine.report import markdown_table
from dst_cbc.models.unimatch import UniMatch
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs', 'unimatch',
    'unimatch_effnet-lite0-deeplabv3plus_1xb4+8_camvid-1-8_128x176.py')
LABELED, UNLABELED = 4, 8
LR = 0.005


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv``, else ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--iters', type=int, default=20, help='timed steps of each side')
    parser.add_argument(
        '--out',
        default=osp.join(ROOT, 'work_dirs', 'benchmarks', 'unimatch_step'),
        help='folder of results.json and results.md')
    return parser.parse_args(argv)


def build_model() -> UniMatch:
    """The config's model with its ImageNet weights, threshold 0 (every
    pixel counts, as a trained model's confident ones do)."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(CONFIG)
    cfg.model.conf_thresh = 0.0
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def make_batch(crop=(128, 176), num_classes=11) -> dict:
    """A dataloader batch: random crops, labels and strong views."""
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for i in range(LABELED + UNLABELED):
        inputs.append(
            torch.randint(0, 256, (3, *crop), generator=g, dtype=torch.uint8))
        sample = SegDataSample()
        sample.set_metainfo(dict(is_pseudo=i >= LABELED, img_shape=crop))
        if i < LABELED:
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, num_classes, (1, *crop), generator=g))
        else:
            sample.strong_views = torch.randint(
                0, 256, (2, 3, *crop), generator=g, dtype=torch.uint8)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def bare_terms(model: UniMatch, inputs: torch.Tensor,
               samples: list) -> Dict[str, torch.Tensor]:
    """The authors' step in torch, up to the four weighted terms."""
    labeled = [s.gt_sem_seg.data[0] for s in samples[:LABELED]]
    unlabeled = samples[LABELED:]
    half = len(unlabeled) // 2
    main, mix = unlabeled[:half], unlabeled[half:]
    img_x, img_w = inputs[:LABELED], inputs[LABELED:LABELED + half]
    img_w_mix = inputs[LABELED + half:]
    strong = torch.stack([s.strong_views for s in main])
    strong_mix = torch.stack([s.strong_views for s in mix])
    boxes = torch.stack([s.cutmix_boxes for s in main])
    ignore = torch.stack([s.ignore_mask for s in main])
    ignore_mix = torch.stack([s.ignore_mask for s in mix])
    size, align = img_w.shape[-2:], model.align_corners

    def up(logits):
        return resize(logits, size, mode='bilinear', align_corners=align)

    with torch.no_grad():
        model.eval()
        pred_mix = up(model.decode_head(model.backbone(img_w_mix)))
        conf_mix, mask_mix = pred_mix.softmax(dim=1).max(dim=1)
    model.train()
    feats = model.backbone(torch.cat([img_x, img_w]))
    both = [torch.cat([f, F.dropout2d(f, 0.5, training=True)]) for f in feats]
    preds, preds_fp = model.decode_head(both).chunk(2)
    pred_x, pred_w = preds[:LABELED], up(preds[LABELED:]).detach()
    pred_fp = up(preds_fp[LABELED:])
    views = torch.where(boxes.unsqueeze(2), strong_mix, strong)
    pred_s = up(model.decode_head(model.backbone(torch.cat(views.unbind(1)))))
    conf_w, mask_w = pred_w.softmax(dim=1).max(dim=1)

    def term(pred, mask, conf, ign):
        loss = F.cross_entropy(pred, mask, reduction='none')
        loss = loss * ((conf >= model.conf_thresh) & (ign != 255))
        return loss.sum() / (ign != 255).sum()

    terms = {}
    for v, pred in enumerate(pred_s.chunk(2)):
        box = boxes[:, v]
        terms[f'loss_s{v + 1}'] = 0.125 * term(
            pred, torch.where(box, mask_mix, mask_w),
            torch.where(box, conf_mix, conf_w),
            torch.where(box, ignore_mix, ignore))
    terms['loss_fp'] = 0.25 * term(pred_fp, mask_w, conf_w, ignore)
    label = torch.stack(labeled)
    terms['loss_x'] = 0.5 * F.cross_entropy(
        resize(pred_x, label.shape[-2:], mode='bilinear', align_corners=align),
        label,
        ignore_index=255)
    return terms


def check_same_terms(model: UniMatch, data: dict) -> float:
    """Largest difference of the four terms between UniMatch.loss and the
    bare step, from the same weights and random state."""
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    torch.manual_seed(1)
    a = ours.loss(data['inputs'], data['data_samples'])
    torch.manual_seed(1)
    b = bare_terms(theirs, data['inputs'], data['data_samples'])
    return max(abs(a[k].item() - b[k].item()) for k in b)


def main(argv: Optional[List[str]] = None) -> None:
    """Time the three sides; write and print the medians and ratios."""
    args = parse_args(argv)
    torch.manual_seed(0)
    model = build_model()
    batch = make_batch()
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    diff = check_same_terms(model, data)
    sides = {name: copy.deepcopy(model) for name in ('train_step', 'loss')}
    sides['bare'] = copy.deepcopy(model)
    wrapper = OptimWrapper(
        torch.optim.SGD(sides['train_step'].parameters(), lr=LR))
    loss_opt = torch.optim.SGD(sides['loss'].parameters(), lr=LR)
    bare_opt = torch.optim.SGD(sides['bare'].parameters(), lr=LR)

    def train_step():
        sides['train_step'].train_step(copy.deepcopy(batch), wrapper)

    def loss_step():
        m = sides['loss']
        m.train()
        total, _ = m.parse_losses(m.loss(data['inputs'], data['data_samples']))
        loss_opt.zero_grad()
        total.backward()
        loss_opt.step()

    def bare_step():
        total = sum(
            bare_terms(sides['bare'], data['inputs'],
                       data['data_samples']).values())
        bare_opt.zero_grad()
        total.backward()
        bare_opt.step()

    fns = dict(train_step=train_step, loss=loss_step, bare=bare_step)
    interleave(fns, 2)  # warm-up
    seconds = interleave(fns, args.iters)
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    results = dict(
        machine=machine(),
        omp_num_threads=os.environ.get('OMP_NUM_THREADS'),
        command='OMP_NUM_THREADS=1 python -m benchmarks.unimatch.run '
        f'--iters {args.iters}',
        batch=f'{LABELED} labeled + {UNLABELED // 2} unlabeled + '
        f'{UNLABELED // 2} CutMix-source crops of 128 x 176',
        iters=args.iters,
        max_term_difference=diff,
        seconds=seconds,
        median_seconds=medians,
        ratio_to_bare={k: v / medians['bare']
                       for k, v in medians.items()})
    write_results(args.out, results, table(results))


def table(results: Dict) -> str:
    """The results as Markdown: machine, batch, terms, medians, ratios."""
    rows = [[
        f'`{name}`', f'{median:.3f}', f'{results["ratio_to_bare"][name]:.2f}'
    ] for name, median in results['median_seconds'].items()]
    return '\n'.join([
        f'{machine_line(results["machine"])} '
        f'OMP_NUM_THREADS={results["omp_num_threads"] or "unset"}; '
        f'{results["batch"]}, {results["iters"]} timed steps per side, '
        'interleaved; terms of UniMatch.loss against the bare step: max '
        f'|difference| {results["max_term_difference"]:.1e}.', '',
        markdown_table(['side', 'median s / iteration', 'x bare'], rows)
    ])


if __name__ == '__main__':
    main()
