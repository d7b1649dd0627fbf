"""Report the curriculum at every round boundary: files, log and scalars."""
import os.path as osp
from typing import Set

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import HOOKS
from ..utils import atomic_write_bytes, atomic_write_json
from .report import (build_report, format_class_tables, format_report_markdown,
                     format_round_line, render_plots)

REPORT_JSON = 'report.json'
REPORT_MD = 'report.md'
PLOT_DIR = 'plots'


@HOOKS.register_module()
class CurriculumReportHook(Hook):
    """Write and print the curriculum's report after every round.

    Works with :class:`CurriculumTrainLoop`, which records a round in
    ``runner.train_loop.results`` before it calls the ``after_train_epoch``
    hooks. After each round, rank 0

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

    Per-class numbers come from each round's labeler statistics, which the
    loop's results carry.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._logged_rounds: Set[int] = set()

    def before_train(self, runner) -> None:
        """Check that the train loop records rounds."""
        if not hasattr(runner.train_loop, 'results'):
            raise TypeError('CurriculumReportHook reports the rounds of '
                            'CurriculumTrainLoop, but train_cfg builds '
                            f'{type(runner.train_loop).__name__}')

    def after_train_epoch(self, runner) -> None:
        """Report every round finished so far (rank 0 only)."""
        if not is_main_process():
            return
        loop = runner.train_loop
        metainfo = getattr(loop.dataloader.dataset, 'metainfo', None) or {}
        report = build_report(
            loop.results, metric=loop.metric, classes=metainfo.get('classes'))

        plots = render_plots(report, metainfo.get('palette'))
        for name, png in plots.items():
            atomic_write_bytes(osp.join(runner.work_dir, PLOT_DIR, name), png)
        plot_paths = [f'{PLOT_DIR}/{name}' for name in plots]
        atomic_write_json(
            osp.join(runner.work_dir, REPORT_JSON),
            dict(report, plots=plot_paths))
        atomic_write_bytes(
            osp.join(runner.work_dir, REPORT_MD),
            format_report_markdown(report, plot_paths).encode())

        class_tables = format_class_tables(report)
        if class_tables:
            print_log('\n' + class_tables, logger='current')
        print_log(
            format_round_line(report, len(loop.alphas)) +
            f' | report: {osp.join(runner.work_dir, REPORT_MD)}',
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
