"""The report of an online semi-supervised run (UniMatch): its loss terms,
confident-pixel ratio and validation metric over training.

MMEngine keeps every iteration's logged values in the message hub
(``train/<key>``, saved with each checkpoint, so a resumed run has the whole
history); :class:`TrainingCurvesHook` renders them into
``<work_dir>/report.md``, ``report.json`` and ``plots/`` after every
validation and at the end of training.
"""
import io
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import HOOKS
from ..utils import atomic_write_bytes, atomic_write_json
from .report import (DPI, FIG_SIZE, PLOT_DIR, REPORT_JSON, REPORT_MD,
                     markdown_table)

#: Message hub key of the validation scores recorded during training.
VAL_KEY = 'training_curves_val'
#: Plot file names.
LOSSES_PNG = 'losses.png'
RATIO_PNG = 'confident_ratio.png'
VAL_PNG = 'val.png'


def history(message_hub, key: str) -> np.ndarray:
    """Every iteration's logged value of ``train/<key>`` (empty if none)."""
    buffer = message_hub.log_scalars.get(f'train/{key}')
    return np.zeros(0) if buffer is None else np.asarray(buffer.data[0])


def range_means(values: np.ndarray, num_rows: int) -> List[dict]:
    """Mean of ``values`` over consecutive, equal ranges of iterations.

    Args:
        values (np.ndarray): One value per iteration, from iteration 1.
        num_rows (int): Ranges at most.

    Returns:
        list[dict]: ``first``, ``last`` (iterations, 1-based) and ``mean``.
    """
    size = max(1, math.ceil(len(values) / num_rows))
    return [
        dict(
            first=start + 1,
            last=min(start + size, len(values)),
            mean=float(values[start:start + size].mean()))
        for start in range(0, len(values), size)
    ]


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over ``window`` iterations (shorter at the start)."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def _axes(title: str, ylabel: str):
    """A figure on the Agg canvas and its axes, iterations on x."""
    fig = Figure(figsize=FIG_SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel('iteration')
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _png(fig: Figure) -> bytes:
    """Render a figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=DPI)
    return buf.getvalue()


def plot_curves(curves: Dict[str, np.ndarray], title: str,
                ylabel: str) -> bytes:
    """Smoothed per-iteration curves on one axes.

    Args:
        curves (dict[str, np.ndarray]): Label to one value per iteration.
        title (str): Title.
        ylabel (str): Label of the y axis.

    Returns:
        bytes: A 640 x 400 PNG.
    """
    fig, ax = _axes(title, ylabel)
    for label, values in curves.items():
        window = max(1, len(values) // 100)
        ax.plot(
            np.arange(1,
                      len(values) + 1),
            smooth(values, window),
            label=f'{label} (mean of {window})')
    ax.legend(loc='best', fontsize='small')
    return _png(fig)


def plot_val(val: Sequence[dict], metric: str) -> bytes:
    """The validation metric at each validation.

    Args:
        val (Sequence[dict]): ``iter`` and ``score`` of each validation.
        metric (str): The metric's name.

    Returns:
        bytes: A 640 x 400 PNG.
    """
    fig, ax = _axes(f'Validation {metric}', metric)
    ax.plot([v['iter'] for v in val], [v['score'] for v in val], 'o-')
    return _png(fig)


def format_markdown(report: dict, plots: Sequence[str]) -> str:
    """The report as Markdown: terms per range of iterations, validations.

    Args:
        report (dict): :meth:`TrainingCurvesHook.build_report`'s result.
        plots (Sequence[str]): Plot paths relative to the report.

    Returns:
        str: The document, ending with a newline.
    """
    lines = ['# Training report', '']
    best = report['best']
    if best is not None:
        lines += [
            f'Best validation {report["metric"]}: {best["score"]:.2f} at '
            f'iteration {best["iter"]}.', ''
        ]
    ranges = report['ranges']
    keys = list(ranges)
    if keys:
        lines += [
            '## Logged terms (mean per range of iterations)', '',
            markdown_table(['iterations'] + keys, [[
                f'{row["first"]}-{row["last"]}',
                *(f'{ranges[k][i]["mean"]:.4f}' for k in keys)
            ] for i, row in enumerate(ranges[keys[0]])]), ''
        ]
    if report['val']:
        lines += [
            '## Validation', '',
            markdown_table(['iteration', report['metric']],
                           [[str(v['iter']), f'{v["score"]:.2f}']
                            for v in report['val']]), ''
        ]
    lines += [f'![{osp.basename(p)}]({p})' for p in plots]
    return '\n'.join(lines).rstrip('\n') + '\n'


@HOOKS.register_module()
class TrainingCurvesHook(Hook):
    """Write the report of a run's logged terms and validations.

    After every validation during training and when training ends, rank 0
    writes ``<work_dir>/report.md`` and ``report.json`` (the mean of each
    logged term per tenth of the iterations so far, every validation score
    and the best) and the plots ``plots/losses.png`` (the loss terms),
    ``plots/confident_ratio.png`` and ``plots/val.png``. The validation
    scores are kept in the message hub, so a resumed run reports them all.

    Args:
        terms (Sequence[str]): Logged loss terms to report and plot.
            Defaults to UniMatch's, the total first.
        ratio (str): The logged share of confident pixels. Defaults to
            'confident_ratio'.
        metric (str): Validation metric. Defaults to 'mIoU'.
        num_rows (int): Ranges of iterations in the table. Defaults to 10.
    """

    priority = 'LOW'

    def __init__(self,
                 terms: Sequence[str] = ('loss', 'loss_x', 'loss_s1',
                                         'loss_s2', 'loss_fp'),
                 ratio: str = 'confident_ratio',
                 metric: str = 'mIoU',
                 num_rows: int = 10) -> None:
        self.terms = tuple(terms)
        self.ratio = ratio
        self.metric = metric
        self.num_rows = num_rows
        self._training = False

    def before_train(self, runner) -> None:
        """Record validations from now on."""
        self._training = True

    def after_val_epoch(self,
                        runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Record a validation of training and refresh the report."""
        if not self._training or not metrics or self.metric not in metrics:
            return
        val = list(runner.message_hub.get_info(VAL_KEY, []))
        val.append(dict(iter=runner.iter, score=float(metrics[self.metric])))
        runner.message_hub.update_info(VAL_KEY, val)
        self.write(runner)

    def after_train(self, runner) -> None:
        """Write the final report."""
        self.write(runner)
        self._training = False

    def build_report(self, runner) -> dict:
        """The report's numbers.

        Returns:
            dict: ``metric``, ``ranges`` (per logged key, its
            :func:`range_means`), ``val`` and ``best`` (the best
            validation, or None).
        """
        hub = runner.message_hub
        ranges = {}
        for key in self.terms + (self.ratio, ):
            values = history(hub, key)
            if len(values):
                ranges[key] = range_means(values, self.num_rows)
        val = list(hub.get_info(VAL_KEY, []))
        best = max(val, key=lambda v: v['score']) if val else None
        return dict(metric=self.metric, ranges=ranges, val=val, best=best)

    def write(self, runner) -> None:
        """Write the report and plots (rank 0)."""
        if not is_main_process():
            return
        hub = runner.message_hub
        curves = {key: history(hub, key) for key in self.terms}
        plots = {}
        if any(len(v) for v in curves.values()):
            plots[LOSSES_PNG] = plot_curves(
                {k: v
                 for k, v in curves.items() if len(v)}, 'Loss terms', 'loss')
        ratio = history(hub, self.ratio)
        if len(ratio):
            plots[RATIO_PNG] = plot_curves(
                {self.ratio: ratio}, 'Confident pixels of the weak views',
                'share of pixels')
        report = self.build_report(runner)
        if report['val']:
            plots[VAL_PNG] = plot_val(report['val'], self.metric)
        for name, png in plots.items():
            atomic_write_bytes(osp.join(runner.work_dir, PLOT_DIR, name), png)
        paths = [f'{PLOT_DIR}/{name}' for name in plots]
        atomic_write_json(
            osp.join(runner.work_dir, REPORT_JSON), dict(report, plots=paths))
        markdown = osp.join(runner.work_dir, REPORT_MD)
        atomic_write_bytes(markdown, format_markdown(report, paths).encode())
        print_log(f'report: {markdown}', logger='current')
