"""The renderings of the rounds' record (:func:`.rounds.build_report`).

- ``summary.json`` and a fixed-width table in the log, written by
  :func:`record_results` as each round ends, before its end checkpoint;
- ``report.json`` and ``report.md`` (Markdown tables padded so that they also
  read as plain text in a log), PNG plots drawn by matplotlib's Agg canvas
  (no display, no global pyplot state) and the visualizer's scalars, written
  by :class:`CurriculumReportHook`.

An online run (UniMatch) has no rounds: :class:`TrainingCurvesHook` renders
its loss terms, confident-pixel ratio and validation metric over training,
from every iteration's logged values that MMEngine keeps in the message hub
(``train/<key>``, saved with each checkpoint, so a resumed run has the whole
history), into the same ``report.md``, ``report.json`` and ``plots/``.
"""
import io
import math
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Set

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mmengine.dist import is_main_process, master_only
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import HOOKS
from ..utils import atomic_write_bytes, atomic_write_json
from .rounds import RoundResult, build_report, results_from_hub, store_results

SUMMARY_JSON = 'summary.json'
REPORT_JSON = 'report.json'
REPORT_MD = 'report.md'
PLOT_DIR = 'plots'

#: Keys of a round in ``summary.json``, in their order there.
SUMMARY_KEYS = ('round', 'alpha', 'iters', 'score', 'checkpoint', 'coverage',
                'pseudo_miou', 'pseudo_label_dir')

#: Size of every plot in inches, and its resolution: 640 x 400 pixels.
FIG_SIZE = (6.4, 4.0)
DPI = 100

#: Caption of each plot :func:`render_plots` makes, by file name.
PLOT_TITLES = {
    'miou.png': 'validation metric per round, baseline dashed',
    'pseudo_labels.png': 'pseudo-label coverage and mIoU per round',
    'thresholds.png': 'class thresholds per round',
}


def _fmt(value: Optional[float], spec: str, scale: float = 1.0) -> str:
    """Format a number, or '-' for None."""
    return '-' if value is None else format(scale * value, spec)


# -- summary.json and the logged table ----------------------------------------
def summary_of(report: dict) -> dict:
    """What ``summary.json`` holds: each round's result and the best round.

    Args:
        report (dict): A :func:`build_report` result.

    Returns:
        dict: ``metric``, ``rounds`` (the :data:`SUMMARY_KEYS` of each round)
        and ``best`` (the best round's, or None).
    """
    rounds = [{k: r[k] for k in SUMMARY_KEYS} for r in report['rounds']]
    best = [s for s, r in zip(rounds, report['rounds']) if r['is_best']]
    return dict(
        metric=report['metric'], rounds=rounds, best=best[0] if best else None)


@master_only
def write_summary(path: str,
                  results: Sequence[RoundResult],
                  metric: str = 'mIoU') -> None:
    """Write ``summary.json``: every round's result plus the best round.

    Args:
        path (str): Destination file.
        results (Sequence[RoundResult]): One result per finished round.
        metric (str): Name of the validation metric that ``score`` holds.
    """
    atomic_write_json(path, summary_of(build_report(results, metric)))


def format_summary(results: Sequence[RoundResult],
                   metric: str = 'mIoU') -> str:
    """Render round results as a fixed-width table.

    Args:
        results (Sequence[RoundResult]): The rounds.
        metric (str): Name of the validation metric column.

    Returns:
        str: The table, one line per round, the best round marked with ``*``.
    """
    lines = [
        f'{"round":>5} {"alpha":>5} {"iters":>6} {"val " + metric:>9} '
        f'{"vs base":>7} {"coverage":>8} {"pseudo mIoU":>11}'
    ]
    for r in build_report(results, metric)['rounds']:
        lines.append(f'{r["round"]:>5} {_fmt(r["alpha"], ".1f"):>5} '
                     f'{r["iters"]:>6} {_fmt(r["score"], ".2f"):>9} '
                     f'{_fmt(r["gain"], "+.2f"):>7} '
                     f'{_fmt(r["coverage"], ".1f", 100):>8} '
                     f'{_fmt(r["pseudo_miou"], ".2f"):>11}' +
                     (' *' if r['is_best'] else ''))
    return '\n'.join(lines)


def record_results(runner, results: List[RoundResult], metric: str) -> None:
    """Record the finished rounds: message hub, ``summary.json``, log.

    Args:
        runner (Runner): The runner.
        results (list[RoundResult]): Every finished round.
        metric (str): Name of the validation metric that ``score`` holds.
    """
    store_results(runner.message_hub, results)
    write_summary(osp.join(runner.work_dir, SUMMARY_JSON), results, metric)
    print_log('\n' + format_summary(results, metric), logger='current')


# -- report.md ----------------------------------------------------------------
def markdown_table(header: Sequence[str],
                   rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table whose columns are padded to equal width.

    The first column is left-aligned, the others right-aligned, so the same
    text is a valid Markdown table and a readable fixed-width one.

    Args:
        header (Sequence[str]): Column titles.
        rows (Sequence[Sequence[str]]): Cells, one sequence per row.

    Returns:
        str: The table, one line per row (header and separator first).

    Raises:
        ValueError: A row has a different number of cells than the header.
    """
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f'row {list(row)} has {len(row)} cells, the '
                             f'header {len(header)}')
    widths = [
        max([len(header[i])] + [len(row[i]) for row in rows] + [3])
        for i in range(len(header))
    ]

    def line(cells):
        padded = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths))
        ]
        return '| ' + ' | '.join(padded) + ' |'

    rule = '|' + '|'.join(':' + '-' * (w + 1) if i == 0 else '-' *
                          (w + 1) + ':' for i, w in enumerate(widths)) + '|'
    return '\n'.join([line(header), rule] + [line(row) for row in rows])


def format_rounds_table(report: dict) -> str:
    """The per-round table: validation metric, gain, pseudo-label quality.

    Args:
        report (dict): A :func:`build_report` result.

    Returns:
        str: A :func:`markdown_table`; the best round is marked ``*``.
    """
    metric = report['metric']
    header = ('round', 'alpha', 'iters', f'val {metric}', 'vs baseline',
              'coverage %', 'pseudo mIoU', 'pseudo acc', 'best')
    rows = [(str(r['round']), _fmt(r['alpha'], '.2f'), str(r['iters']),
             _fmt(r['score'], '.2f'), _fmt(r['gain'], '+.2f'),
             _fmt(r['coverage'], '.1f', 100), _fmt(r['pseudo_miou'], '.2f'),
             _fmt(r['pseudo_acc'], '.2f'), '*' if r['is_best'] else '')
            for r in report['rounds']]
    return markdown_table(header, rows)


def format_class_tables(report: dict) -> str:
    """Per-class tables of the self-training rounds.

    Coverage (percent of each class's pixels kept), the class thresholds
    (confidence a kept pixel must exceed) and, when the unlabeled images
    have ground truth, the pseudo labels' IoU per class (percent).

    Args:
        report (dict): A :func:`build_report` result.

    Returns:
        str: Titled :func:`markdown_table` sections, or '' when no round
        has pseudo-label statistics.
    """
    sections = []
    specs = (('class_coverage', 'Pseudo-label coverage per class (%)', '.1f',
              100), ('thresholds', 'Class thresholds (confidence)', '.3f', 1),
             ('class_pseudo_iou',
              'Pseudo-label IoU per class against ground truth (%)', '.2f', 1))
    for key, title, spec, scale in specs:
        rounds = [r for r in report['rounds'] if r[key] is not None]
        if not rounds:
            continue
        rows = [[str(r['round']), _fmt(r['alpha'], '.2f')] +
                [_fmt(v, spec, scale) for v in r[key]] for r in rounds]
        sections.append(f'### {title}\n\n' +
                        markdown_table(['round', 'alpha'] +
                                       list(report['classes']), rows))
    return '\n\n'.join(sections)


def format_round_line(report: dict, num_rounds: Optional[int] = None) -> str:
    """One line on the latest round: alpha, coverage, metric, best so far.

    Args:
        report (dict): A :func:`build_report` result with at least a round.
        num_rounds (int, optional): Number of self-training rounds, shown as
            ``round r/R``.

    Returns:
        str: E.g. ``round 2/5 done | alpha 0.40 | coverage 40.1% |
        val mIoU 55.23 (+3.10 vs baseline) | best 55.23 (round 2)``.
    """
    r = report['rounds'][-1]
    metric = report['metric']
    of = '' if num_rounds is None else f'/{num_rounds}'
    coverage = ('-'
                if r['coverage'] is None else f'{100 * r["coverage"]:.1f}%')
    gain = ('' if r['gain'] is None else f' ({r["gain"]:+.2f} vs baseline)')
    best = report['best']
    best_text = ('-' if best is None else
                 f'{best["score"]:.2f} (round {best["round"]})')
    return (f'round {r["round"]}{of} done | alpha {_fmt(r["alpha"], ".2f")}'
            f' | coverage {coverage}'
            f' | val {metric} {_fmt(r["score"], ".2f")}{gain}'
            f' | best {best_text}')


def format_report_markdown(report: dict, plots: Sequence[str] = ()) -> str:
    """The whole report as a Markdown document.

    Args:
        report (dict): A :func:`build_report` result.
        plots (Sequence[str]): Plot paths relative to the report, embedded
            at the end.

    Returns:
        str: The document, ending with a newline.
    """
    metric = report['metric']
    best = report['best']
    lines = ['# DST-CBC report', '']
    summary = [f'Validation metric: {metric} (%).']
    if report['baseline'] is not None:
        summary.append(f'Baseline (round 0): {report["baseline"]:.2f}.')
    if best is not None:
        gain = '' if best['gain'] is None else f' ({best["gain"]:+.2f})'
        which = ('baseline'
                 if best['alpha'] is None else f'alpha {best["alpha"]:.2f}')
        summary.append(
            f'Best: round {best["round"]} ({which}), {best["score"]:.2f}'
            f'{gain}, checkpoint `{best["checkpoint"]}`.')
    lines += [
        ' '.join(summary), '', '## Rounds', '',
        format_rounds_table(report)
    ]
    class_tables = format_class_tables(report)
    if class_tables:
        lines += ['', '## Per class', '', class_tables]
    if plots:
        lines += ['', '## Plots', '']
        lines += [
            f'![{PLOT_TITLES.get(osp.basename(p), p)}]({p})' for p in plots
        ]
    return '\n'.join(lines) + '\n'


# -- plots --------------------------------------------------------------------
def _new_axes(title: str, ylabel: str, xlabel: str = 'round'):
    """A fresh figure on the Agg canvas and its axes."""
    fig = Figure(figsize=FIG_SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _round_ticks(ax, rounds: List[dict]) -> None:
    """Integer round ticks labelled with the round's alpha."""
    ax.set_xticks([r['round'] for r in rounds])
    ax.set_xticklabels([
        str(r['round'])
        if r['alpha'] is None else f'{r["round"]}\nα={r["alpha"]:g}'
        for r in rounds
    ])


def _png(fig: Figure) -> bytes:
    """Render a figure as PNG bytes of :data:`FIG_SIZE` x :data:`DPI`."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=DPI)
    return buf.getvalue()


def plot_miou(report: dict) -> bytes:
    """Validation metric per round, the baseline as a horizontal line.

    Args:
        report (dict): A :func:`build_report` result.

    Returns:
        bytes: A 640 x 400 PNG.
    """
    metric = report['metric']
    fig, ax = _new_axes(f'Validation {metric} per round', f'{metric} (%)')
    scored = [r for r in report['rounds'] if r['score'] is not None]
    ax.plot([r['round'] for r in scored], [r['score'] for r in scored],
            'o-',
            label=f'val {metric}')
    if report['baseline'] is not None:
        ax.axhline(
            report['baseline'],
            color='grey',
            linestyle='--',
            label='baseline (round 0)')
    best = report['best']
    if best is not None:
        ax.plot([best['round']], [best['score']],
                '*',
                color='tab:red',
                markersize=14,
                label='best')
    _round_ticks(ax, report['rounds'])
    ax.legend(loc='best')
    return _png(fig)


def plot_pseudo_labels(report: dict) -> bytes:
    """Pseudo-label coverage and pseudo-label mIoU per self-training round.

    Args:
        report (dict): A :func:`build_report` result.

    Returns:
        bytes: A 640 x 400 PNG (percent on the y axis, alpha dotted).
    """
    fig, ax = _new_axes('Pseudo labels per round', '%')
    rounds = [r for r in report['rounds'] if r['alpha'] is not None]
    x = [r['round'] for r in rounds]
    ax.plot(
        x, [100 * r['alpha'] for r in rounds],
        ':',
        color='grey',
        label='alpha (target coverage)')
    cov = [r for r in rounds if r['coverage'] is not None]
    ax.plot([r['round'] for r in cov], [100 * r['coverage'] for r in cov],
            'o-',
            label='coverage')
    gt = [r for r in rounds if r['pseudo_miou'] is not None]
    if gt:
        ax.plot([r['round'] for r in gt], [r['pseudo_miou'] for r in gt],
                's-',
                label='pseudo-label mIoU vs ground truth')
    ax.set_ylim(0, 105)
    _round_ticks(ax, rounds)
    ax.legend(loc='best')
    return _png(fig)


def plot_thresholds(
        report: dict,
        palette: Optional[Sequence[Sequence[int]]] = None) -> bytes:
    """Per-class confidence thresholds per self-training round.

    Args:
        report (dict): A :func:`build_report` result.
        palette (Sequence[Sequence[int]], optional): RGB colour per class
            (the dataset's); matplotlib's cycle when None.

    Returns:
        bytes: A 640 x 400 PNG. A class without pixels in a round (threshold
        None) leaves a gap.
    """
    fig, ax = _new_axes('Class thresholds per round', 'confidence threshold')
    rounds = [r for r in report['rounds'] if r['thresholds'] is not None]
    x = [r['round'] for r in rounds]
    for c, name in enumerate(report['classes']):
        y = [
            math.nan if r['thresholds'][c] is None else r['thresholds'][c]
            for r in rounds
        ]
        colour = (None if palette is None else tuple(v / 255
                                                     for v in palette[c]))
        ax.plot(x, y, 'o-', color=colour, label=name)
    ax.set_ylim(0, 1.02)
    _round_ticks(ax, rounds)
    # Outside the axes, on the right: thresholds fill the whole range.
    fig.subplots_adjust(right=0.72)
    ax.legend(
        loc='upper left',
        bbox_to_anchor=(1.02, 1.0),
        fontsize='small',
        ncol=max(1, math.ceil(len(report['classes']) / 14)))
    return _png(fig)


def render_plots(
        report: dict,
        palette: Optional[Sequence[Sequence[int]]] = None) -> Dict[str, bytes]:
    """Every plot the report has data for, by file name.

    Args:
        report (dict): A :func:`build_report` result.
        palette (Sequence[Sequence[int]], optional): Class colours for the
            thresholds plot.

    Returns:
        dict[str, bytes]: ``miou.png`` always; ``pseudo_labels.png`` once a
        self-training round has finished; ``thresholds.png`` once a round
        has statistics.
    """
    plots = {'miou.png': plot_miou(report)}
    if any(r['alpha'] is not None for r in report['rounds']):
        plots['pseudo_labels.png'] = plot_pseudo_labels(report)
    if any(r['thresholds'] is not None for r in report['rounds']):
        plots['thresholds.png'] = plot_thresholds(report, palette)
    return plots


# -- the hook -----------------------------------------------------------------
def save_report(work_dir: str, report: dict, plots: Dict[str, bytes],
                format_markdown: Callable[[dict, Sequence[str]], str]) -> str:
    """Write a report's plots, ``report.json`` and ``report.md`` (each
    atomically) to ``work_dir``.

    Args:
        work_dir (str): The run's work dir.
        report (dict): The report's numbers (JSON values).
        plots (dict[str, bytes]): PNG bytes by file name, written to
            :data:`PLOT_DIR`.
        format_markdown (Callable): Renders ``report.md`` from the report
            and the plots' paths relative to it.

    Returns:
        str: The path of ``report.md``.
    """
    for name, png in plots.items():
        atomic_write_bytes(osp.join(work_dir, PLOT_DIR, name), png)
    plot_paths = [f'{PLOT_DIR}/{name}' for name in plots]
    atomic_write_json(
        osp.join(work_dir, REPORT_JSON), dict(report, plots=plot_paths))
    markdown = osp.join(work_dir, REPORT_MD)
    atomic_write_bytes(markdown, format_markdown(report, plot_paths).encode())
    return markdown


def write_report(work_dir: str,
                 report: dict,
                 palette: Optional[Sequence[Sequence[int]]] = None) -> str:
    """Write ``report.json``, ``report.md`` and the plots to ``work_dir``.

    Args:
        work_dir (str): The run's work dir.
        report (dict): A :func:`build_report` result.
        palette (Sequence[Sequence[int]], optional): Class colours for the
            thresholds plot.

    Returns:
        str: The path of ``report.md``.
    """
    return save_report(work_dir, report, render_plots(report, palette),
                       format_report_markdown)


@HOOKS.register_module()
class CurriculumReportHook(Hook):
    """Write and print the curriculum's report after every round.

    Works with :class:`CurriculumTrainLoop`, which records a round in the
    message hub (:func:`record_results`) before it calls the
    ``after_train_epoch`` hooks. After each round, rank 0

    - logs one line: round, alpha, coverage, validation metric (and its gain
      over the round-0 baseline), best so far;
    - logs the per-class tables (coverage, thresholds, pseudo-label IoU);
      the loop's own table of the rounds is logged just before;
    - writes ``<work_dir>/report.json`` and ``report.md`` (see
      :func:`build_report`) and the plots ``<work_dir>/plots/miou.png``,
      ``pseudo_labels.png`` and ``thresholds.png``;
    - adds the round's scalars to the runner's visualizer with
      ``step=round`` (``curriculum/val_<metric>``, ``curriculum/gain``,
      ``curriculum/best_<metric>``, ``curriculum/alpha``,
      ``curriculum/coverage``, ``curriculum/pseudo_miou``,
      ``curriculum/pseudo_acc`` and per class
      ``curriculum/{coverage,threshold,pseudo_iou}/<class>``), so they reach
      TensorBoard when ``TensorboardVisBackend`` is among ``vis_backends``.

    A resumed run is reported once more before it trains, from the rounds
    its checkpoint recorded: a run killed after a round's end checkpoint
    but before that round's report (the last round included, where the
    resumed run has nothing left to train) gets its report completed.
    Per-class numbers come from each round's labeler statistics, which the
    recorded rounds carry.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._logged_rounds: Set[int] = set()

    def before_train(self, runner) -> None:
        """Check that the train loop records rounds; report those recorded
        before a resume."""
        if not hasattr(runner.train_loop, 'results'):
            raise TypeError('CurriculumReportHook reports the rounds of '
                            'CurriculumTrainLoop, but train_cfg builds '
                            f'{type(runner.train_loop).__name__}')
        self._report(runner)

    def after_train_epoch(self, runner) -> None:
        """Report every round finished so far."""
        self._report(runner)

    def _report(self, runner) -> None:
        """Write, log and send the report of the recorded rounds (rank 0
        only; nothing before the first round)."""
        results = results_from_hub(runner.message_hub)
        if not results or not is_main_process():
            return
        loop = runner.train_loop
        metainfo = getattr(loop.dataloader.dataset, 'metainfo', None) or {}
        report = build_report(
            results, metric=loop.metric, classes=metainfo.get('classes'))
        markdown = write_report(runner.work_dir, report,
                                metainfo.get('palette'))
        class_tables = format_class_tables(report)
        if class_tables:
            print_log('\n' + class_tables, logger='current')
        print_log(
            format_round_line(report, len(loop.alphas)) +
            f' | report: {markdown}',
            logger='current')
        self._add_scalars(runner, report)

    def _add_scalars(self, runner, report: dict) -> None:
        """Send the scalars of rounds not sent yet to the visualizer."""
        metric = report['metric']
        best_so_far = None
        for r in report['rounds']:
            if r['score'] is not None:
                best_so_far = max(r['score'], best_so_far or r['score'])
            if r['round'] in self._logged_rounds:
                continue
            values = {
                f'curriculum/val_{metric}': r['score'],
                'curriculum/gain': r['gain'],
                f'curriculum/best_{metric}': best_so_far,
                'curriculum/alpha': r['alpha'],
                'curriculum/coverage': r['coverage'],
                'curriculum/pseudo_miou': r['pseudo_miou'],
                'curriculum/pseudo_acc': r['pseudo_acc'],
            }
            for key, name in (('class_coverage', 'coverage'),
                              ('thresholds', 'threshold'), ('class_pseudo_iou',
                                                            'pseudo_iou')):
                for cls, value in zip(report['classes'], r[key] or []):
                    values[f'curriculum/{name}/{cls}'] = value
            scalars = {k: float(v) for k, v in values.items() if v is not None}
            if scalars:
                runner.visualizer.add_scalars(scalars, step=r['round'])
            self._logged_rounds.add(r['round'])


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
    fig, ax = _new_axes(title, ylabel, 'iteration')
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
    fig, ax = _new_axes(f'Validation {metric}', metric, 'iteration')
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
        markdown = save_report(runner.work_dir, report, plots, format_markdown)
        print_log(f'report: {markdown}', logger='current')
