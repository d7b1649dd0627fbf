"""The renderings of the rounds' record (:func:`.rounds.build_report`).

- ``summary.json`` and a fixed-width table in the log, written by
  :func:`record_results` as each round ends, before its end checkpoint;
- ``report.json`` and ``report.md`` (Markdown tables padded so that they also
  read as plain text in a log), PNG plots drawn by matplotlib's Agg canvas
  (no display, no global pyplot state) and the visualizer's scalars, written
  by :class:`CurriculumReportHook`.
"""
import io
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Set

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
def _new_axes(title: str, ylabel: str):
    """A fresh figure on the Agg canvas and its axes."""
    fig = Figure(figsize=FIG_SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel('round')
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
    plots = render_plots(report, palette)
    for name, png in plots.items():
        atomic_write_bytes(osp.join(work_dir, PLOT_DIR, name), png)
    plot_paths = [f'{PLOT_DIR}/{name}' for name in plots]
    atomic_write_json(
        osp.join(work_dir, REPORT_JSON), dict(report, plots=plot_paths))
    markdown = osp.join(work_dir, REPORT_MD)
    atomic_write_bytes(markdown,
                       format_report_markdown(report, plot_paths).encode())
    return markdown


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
