"""The curriculum's report: one record per round, rendered as tables and plots.

Pure functions: :func:`build_report` merges the loop's round results with each
round's pseudo-label statistics; the ``format_*`` functions render it as
Markdown (tables padded so that they also read as plain text in a log) and
the ``plot_*`` functions as PNG bytes drawn by matplotlib's Agg canvas (no
display, no global pyplot state). :class:`CurriculumReportHook` writes them.
"""
import io
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .summary import RoundResult, best_result

#: Size of every plot in inches, and its resolution: 640 x 400 pixels.
FIG_SIZE = (6.4, 4.0)
DPI = 100

#: Caption of each plot :func:`render_plots` makes, by file name.
PLOT_TITLES = {
    'miou.png': 'validation metric per round, baseline dashed',
    'pseudo_labels.png': 'pseudo-label coverage and mIoU per round',
    'thresholds.png': 'class thresholds per round',
}

_PER_CLASS = (
    # (report key, stats.json key)
    ('class_coverage', 'class_coverage'),
    ('thresholds', 'thresholds'),
    ('class_pseudo_iou', 'class_iou'),
)


def _fmt(value: Optional[float], spec: str, scale: float = 1.0) -> str:
    """Format a number, or '-' for None."""
    return '-' if value is None else format(scale * value, spec)


def build_report(results: Sequence[RoundResult],
                 metric: str = 'mIoU',
                 classes: Optional[Sequence[str]] = None) -> dict:
    """Merge round results and their pseudo-label statistics into one report.

    Args:
        results (Sequence[RoundResult]): :attr:`CurriculumTrainLoop.results`,
            one per finished round, self-training rounds with the labeler's
            ``stats`` (None: not available).
        metric (str): Name of the validation metric. Defaults to 'mIoU'.
        classes (Sequence[str], optional): Class names; by default those of
            the first statistics that name them, else ``class_<i>``.

    Returns:
        dict: ``metric``, ``classes``, ``baseline`` (round 0's score or
        None), ``best`` (round, alpha, score, gain and checkpoint of the
        best round, or None) and ``rounds``: per round ``round``, ``alpha``,
        ``iters``, ``score``, ``gain`` (score minus the baseline's),
        ``is_best``, ``coverage`` (fraction), ``pseudo_miou`` and
        ``pseudo_acc`` (percent), per class ``class_coverage`` (fraction),
        ``thresholds`` (confidence) and ``class_pseudo_iou`` (percent, vs
        ground truth), ``num_pseudo_images``, ``checkpoint`` and
        ``pseudo_label_dir``. Missing values are None.

    Raises:
        ValueError: A round's statistics list a different number of classes.
    """
    classes = _report_classes(results, classes)
    baseline = (
        results[0].score if results and results[0].round == 0 else None)
    best_kept = best_result(results)
    best_round = None if best_kept is None else best_kept.round
    rounds = [
        _round_entry(result, baseline, best_round, len(classes))
        for result in results
    ]
    return dict(
        metric=metric,
        classes=classes,
        baseline=baseline,
        best=_best_entry(rounds, best_round),
        rounds=rounds)


def _best_entry(rounds: List[dict],
                best_round: Optional[int]) -> Optional[dict]:
    """Round, alpha, score, gain and checkpoint of the best round's entry."""
    if best_round is None:
        return None
    entry = next(r for r in rounds if r['round'] == best_round)
    return {
        k: entry[k]
        for k in ('round', 'alpha', 'score', 'gain', 'checkpoint')
    }


def _report_classes(results: Sequence[RoundResult],
                    classes: Optional[Sequence[str]]) -> List[str]:
    """Class names: the given ones, the statistics' or ``class_<i>``."""
    stats = [r.stats for r in results if r.stats]
    if classes is None:
        named = [s['classes'] for s in stats if s['classes']]
        classes = named[0] if named else None
    if classes is None and stats:
        classes = [f'class_{i}' for i in range(len(stats[0]['thresholds']))]
    return list(classes) if classes is not None else []


def _round_entry(result: RoundResult, baseline: Optional[float],
                 best_round: Optional[int], num_classes: int) -> dict:
    """One round of :func:`build_report`'s ``rounds``."""
    st = result.stats or {}
    for _, key in _PER_CLASS:
        if st.get(key) is not None and len(st[key]) != num_classes:
            raise ValueError(
                f'round {result.round}: stats "{key}" has '
                f'{len(st[key])} classes, the report {num_classes}')
    gain = (None if baseline is None or result.score is None else
            result.score - baseline)
    entry = dict(
        round=result.round,
        alpha=result.alpha,
        iters=result.iters,
        score=result.score,
        gain=gain,
        is_best=result.round == best_round,
        coverage=result.coverage,
        pseudo_miou=result.pseudo_miou,
        pseudo_acc=st.get('pseudo_acc'),
        num_pseudo_images=st.get('num_images'),
        checkpoint=result.checkpoint,
        pseudo_label_dir=result.pseudo_label_dir)
    for report_key, stats_key in _PER_CLASS:
        entry[report_key] = st.get(stats_key)
    return entry


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
