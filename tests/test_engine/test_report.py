"""The curriculum report: from a real tiny run, and rendered from hand-made
inputs.

The tiny run (conftest's ``finished_run``: 40 train images of 32x32, 10
labeled, 6 + 4 + 4 iterations, alphas 0.5 and 1.0) uses the default config,
so ``CurriculumReportHook`` comes from
``configs/_base_/schedules/curriculum.py``.
"""
import copy
import glob
import io
import json
import os.path as osp
import re
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.logging import MessageHub
from PIL import Image

import dst_cbc  # noqa: F401
from dst_cbc.datasets.synthetic import SYNTHETIC_CLASSES
from dst_cbc.engine import CurriculumReportHook, RoundResult
from dst_cbc.engine.report import (DPI, FIG_SIZE, format_class_tables,
                                   format_report_markdown, format_round_line,
                                   format_rounds_table, markdown_table,
                                   record_results, render_plots)
from dst_cbc.engine.rounds import RESULTS_KEY, build_report
from mmseg.registry import HOOKS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'dst_cbc',
                  'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')
PLOT_SIZE = (int(FIG_SIZE[0] * DPI), int(FIG_SIZE[1] * DPI))  # (640, 400)


def _table_rows(markdown, title):
    """Cells of the body rows of the table after the heading ``title``."""
    section = markdown.split(title, 1)[1].strip().split('\n\n')[0]
    lines = section.splitlines()[2:]  # skip header and rule
    return [[c.strip() for c in line.strip('|').split('|')] for line in lines]


# -- the real run ------------------------------------------------------------
def test_report_json_matches_results_and_stats(finished_run):
    report = json.load(open(osp.join(finished_run.work, 'report.json')))
    results, stats = finished_run.results, finished_run.stats
    assert report['metric'] == 'mIoU'
    assert report['classes'] == list(SYNTHETIC_CLASSES)
    assert report['baseline'] == results[0].score
    assert [r['round'] for r in report['rounds']] == [0, 1, 2]
    for entry, result in zip(report['rounds'], results):
        for key in ('alpha', 'iters', 'score', 'coverage', 'pseudo_miou',
                    'checkpoint', 'pseudo_label_dir'):
            assert entry[key] == getattr(result, key), key
        assert entry['gain'] == pytest.approx(result.score - results[0].score)
    assert all(report['rounds'][0][k] is None
               for k in ('class_coverage', 'thresholds', 'class_pseudo_iou',
                         'pseudo_acc'))
    for entry in report['rounds'][1:]:
        st = stats[entry['round']]
        assert entry['class_coverage'] == st['class_coverage']
        assert entry['thresholds'] == st['thresholds']
        assert entry['class_pseudo_iou'] == st['class_iou']
        assert entry['pseudo_acc'] == st['pseudo_acc']
        assert entry['num_pseudo_images'] == 30
    # alpha = 1 keeps every pixel of every class that has pixels
    assert report['rounds'][2]['coverage'] == 1.0
    assert all(c in (None, 1.0) for c in report['rounds'][2]['class_coverage'])
    best = max(results, key=lambda r: r.score)
    assert report['best']['round'] == best.round
    assert report['best']['score'] == best.score
    assert [r['is_best'] for r in report['rounds']].count(True) == 1
    assert report['plots'] == [
        'plots/miou.png', 'plots/pseudo_labels.png', 'plots/thresholds.png'
    ]


def test_report_is_rewritten_at_every_round(finished_run):
    snaps = finished_run.snapshots
    assert [[r['round'] for r in s['rounds']] for s in snaps] == \
        [[0], [0, 1], [0, 1, 2]]
    # round 0 has no pseudo labels yet: only the mIoU plot
    assert snaps[0]['plots'] == ['plots/miou.png']
    assert snaps[1]['rounds'][1]['coverage'] == pytest.approx(0.5, abs=0.05)


def test_markdown_rows_show_the_numbers(finished_run):
    md = open(osp.join(finished_run.work, 'report.md')).read()
    rows = _table_rows(md, '## Rounds')
    assert [r[0] for r in rows] == ['0', '1', '2']
    for row, result in zip(rows, finished_run.results):
        base = finished_run.results[0].score
        assert row[1] == ('-'
                          if result.alpha is None else f'{result.alpha:.2f}')
        assert row[3] == f'{result.score:.2f}'
        assert row[4] == f'{result.score - base:+.2f}'
        assert row[5] == ('-' if result.coverage is None else
                          f'{100 * result.coverage:.1f}')
    cov = _table_rows(md, 'Pseudo-label coverage per class (%)')
    st = finished_run.stats[1]
    assert cov[0][:2] == ['1', '0.50']
    assert cov[0][2:] == [
        '-' if c is None else f'{100 * c:.1f}' for c in st['class_coverage']
    ]
    thr = _table_rows(md, 'Class thresholds (confidence)')
    assert thr[1][2:] == [
        '-' if t is None else f'{t:.3f}'
        for t in finished_run.stats[2]['thresholds']
    ]
    for plot in ('plots/miou.png', 'plots/pseudo_labels.png',
                 'plots/thresholds.png'):
        assert f']({plot})' in md


def test_plots_are_pngs_of_the_figure_size(finished_run):
    for name in ('miou.png', 'pseudo_labels.png', 'thresholds.png'):
        with Image.open(osp.join(finished_run.work, 'plots', name)) as img:
            assert img.format == 'PNG'
            assert img.size == PLOT_SIZE


def test_one_line_summary_logged_per_round(finished_run):
    log_file = glob.glob(osp.join(finished_run.work, '*', '*.log'))[0]
    lines = re.findall(
        r'round (\d)/2 done \| alpha (\S+) \| coverage (\S+) \| '
        r'val mIoU ([\d.]+).* \| best ([\d.]+) \(round (\d)\)',
        open(log_file).read())
    assert [int(m[0]) for m in lines] == [0, 1, 2]
    for match, result in zip(lines, finished_run.results):
        assert match[3] == f'{result.score:.2f}'
        assert match[2] == ('-' if result.coverage is None else
                            f'{100 * result.coverage:.1f}%')


def test_scalars_reach_the_visualizer_by_round(finished_run):
    backend = finished_run.runner.visualizer.get_backend('LocalVisBackend')
    records = [
        json.loads(line) for line in open(backend._scalar_save_file)
        if 'curriculum/val_mIoU' in line
    ]
    assert [r['step'] for r in records] == [0, 1, 2]
    for rec, result in zip(records, finished_run.results):
        assert rec['curriculum/val_mIoU'] == pytest.approx(result.score)
    assert 'curriculum/coverage' not in records[0]
    st = finished_run.stats[1]
    assert records[1]['curriculum/alpha'] == 0.5
    assert records[1]['curriculum/coverage'] == pytest.approx(st['coverage'])
    assert records[1]['curriculum/threshold/background'] == pytest.approx(
        st['thresholds'][0])
    best = [
        max(r.score for r in finished_run.results[:i + 1]) for i in range(3)
    ]
    assert [r['curriculum/best_mIoU'] for r in records] == \
        pytest.approx(best)


def test_hook_in_default_config_after_pseudo_labels():
    cfg = Config.fromfile(CONFIG)
    types = [h['type'] for h in cfg.custom_hooks]
    assert types.index('CurriculumReportHook') > types.index('PseudoLabelHook')
    hook = HOOKS.get('CurriculumReportHook')
    assert hook is CurriculumReportHook
    assert hook.__module__ == 'dst_cbc.engine.report'


def test_hook_rejects_a_loop_without_rounds():
    runner = SimpleNamespace(train_loop=SimpleNamespace())
    with pytest.raises(TypeError, match='CurriculumTrainLoop'):
        CurriculumReportHook().before_train(runner)


# -- rendering hand-made inputs -----------------------------------------------
def _result(rnd, alpha, miou, coverage=None, pseudo=None, stats=None):
    return RoundResult(
        round=rnd,
        alpha=alpha,
        iters=100,
        score=miou,
        coverage=coverage,
        pseudo_miou=pseudo,
        pseudo_label_dir=None if rnd == 0 else f'pl/round_{rnd}',
        checkpoint=None if miou is None else f'round_{rnd}_best.pth',
        stats=stats)


def _stats(coverage, thresholds, iou=None, acc=None):
    return dict(
        classes=['bg', 'fg'],
        class_coverage=coverage,
        thresholds=thresholds,
        class_iou=iou,
        pseudo_acc=acc,
        num_images=10)


@pytest.fixture
def hand_report():
    """Baseline 50, round 1 at 52.5 (best), round 2 not validated."""
    results = [
        _result(0, None, 50.0),
        _result(
            1,
            0.2,
            52.5,
            coverage=0.2,
            pseudo=61.0,
            stats=_stats([0.25, 0.125], [0.9, 0.75],
                         iou=[80.0, 42.0],
                         acc=80.0)),
        _result(
            2,
            0.4,
            None,
            coverage=0.4,
            pseudo=55.0,
            stats=_stats([0.5, None], [0.5, None])),
    ]
    return build_report(results)


def test_gain_best_and_per_class_columns(hand_report):
    rounds = hand_report['rounds']
    assert hand_report['baseline'] == 50.0
    assert [r['gain'] for r in rounds] == [0.0, 2.5, None]
    assert [r['is_best'] for r in rounds] == [False, True, False]
    assert hand_report['best'] == dict(
        round=1,
        alpha=0.2,
        score=52.5,
        gain=2.5,
        checkpoint='round_1_best.pth')
    assert hand_report['classes'] == ['bg', 'fg']
    assert rounds[1]['class_pseudo_iou'] == [80.0, 42.0]
    assert rounds[2]['class_pseudo_iou'] is None
    assert rounds[0]['thresholds'] is None


def test_rounds_table_cells(hand_report):
    rows = [[c.strip() for c in line.strip('|').split('|')]
            for line in format_rounds_table(hand_report).splitlines()[2:]]
    assert rows == [
        ['0', '-', '100', '50.00', '+0.00', '-', '-', '-', ''],
        ['1', '0.20', '100', '52.50', '+2.50', '20.0', '61.00', '80.00', '*'],
        ['2', '0.40', '100', '-', '-', '40.0', '55.00', '-', ''],
    ]


def test_no_baseline_round_means_no_gain():
    report = build_report([_result(1, 0.2, 52.5, coverage=0.2)])
    assert report['baseline'] is None
    assert report['rounds'][0]['gain'] is None
    assert report['best']['gain'] is None
    assert report['classes'] == []


def test_class_tables(hand_report):
    text = format_class_tables(hand_report)
    assert _table_rows(text, 'Pseudo-label coverage per class (%)') == [[
        '1', '0.20', '25.0', '12.5'
    ], ['2', '0.40', '50.0', '-']]
    assert _table_rows(text, 'Class thresholds (confidence)') == [[
        '1', '0.20', '0.900', '0.750'
    ], ['2', '0.40', '0.500', '-']]
    # only round 1 has ground-truth IoU
    assert _table_rows(
        text, 'Pseudo-label IoU per class against ground truth (%)') == [[
            '1', '0.20', '80.00', '42.00'
        ]]
    assert format_class_tables(build_report([_result(0, None, 50.0)])) == ''


def test_markdown_table_is_padded_and_checked():
    assert markdown_table(['a', 'bb'],
                          [['x', '1'], ['yyyy', '22']]) == ('| a    |  bb |\n'
                                                            '|:-----|----:|\n'
                                                            '| x    |   1 |\n'
                                                            '| yyyy |  22 |')
    with pytest.raises(ValueError, match='2 cells'):
        markdown_table(['a', 'b', 'c'], [['x', 'y']])


def test_round_line(hand_report):
    assert format_round_line(
        hand_report,
        5) == ('round 2/5 done | alpha 0.40 | coverage 40.0% | val mIoU - | '
               'best 52.50 (round 1)')
    first = build_report([_result(0, None, 50.0)])
    assert format_round_line(first) == (
        'round 0 done | alpha - | coverage - | val mIoU 50.00 '
        '(+0.00 vs baseline) | best 50.00 (round 0)')


def test_report_markdown_document(hand_report):
    md = format_report_markdown(hand_report, ['plots/miou.png'])
    assert md.startswith('# DST-CBC report\n')
    assert ('Best: round 1 (alpha 0.20), 52.50 (+2.50), checkpoint '
            '`round_1_best.pth`.') in md
    assert '](plots/miou.png)' in md
    assert md.endswith('\n')


def test_stats_with_other_class_count_rejected():
    with pytest.raises(ValueError, match='round 1'):
        build_report([
            _result(
                1, 0.2, 52.5, stats=_stats([0.1, 0.2, 0.3], [0.5, 0.5, 0.5]))
        ])


def test_plots_from_hand_made_report(hand_report):
    only_baseline = build_report([_result(0, None, 50.0)])
    assert list(render_plots(only_baseline)) == ['miou.png']
    plots = render_plots(hand_report, palette=[[0, 0, 0], [255, 0, 0]])
    assert list(plots) == ['miou.png', 'pseudo_labels.png', 'thresholds.png']
    for png in plots.values():
        with Image.open(io.BytesIO(png)) as img:
            assert img.format == 'PNG' and img.size == PLOT_SIZE


class _RecordingVisualizer:
    """Stands in for the runner's visualizer: keeps add_scalars calls."""

    def __init__(self):
        self.calls = []

    def add_scalars(self, scalars, step):
        self.calls.append((step, scalars))


def test_hook_sends_each_round_once_and_backfills(tmp_path):
    # A loaded baseline (round 0) is recorded without an after_train_epoch
    # call: its scalars go out with round 1's, each round exactly once.
    hook = CurriculumReportHook()
    runner = SimpleNamespace(visualizer=_RecordingVisualizer())
    results = [_result(0, None, 50.0), _result(1, 0.2, 48.0, coverage=0.2)]
    hook._add_scalars(runner, build_report(results))
    results.append(_result(2, 0.4, 53.0, coverage=0.4))
    hook._add_scalars(runner, build_report(results))
    calls = runner.visualizer.calls
    assert [step for step, _ in calls] == [0, 1, 2]
    # best so far at each round: 50, 50 (round 1 is worse), 53
    assert [s['curriculum/best_mIoU'] for _, s in calls] == [50.0, 50.0, 53.0]
    assert calls[1][1]['curriculum/gain'] == -2.0
    assert 'curriculum/alpha' not in calls[0][1]  # None values are left out


def test_report_uses_the_stats_in_memory(finished_run, tmp_path):
    """The hook reads no stats.json: the loop's results carry the stats."""
    results = copy.deepcopy(finished_run.results)
    for r in results[1:]:
        r.pseudo_label_dir = str(tmp_path / 'gone' / f'round_{r.round}')
    report = build_report(results, classes=list(SYNTHETIC_CLASSES))
    for entry in report['rounds'][1:]:
        assert entry['thresholds'] == finished_run.stats[
            entry['round']]['thresholds']


def _fake_runner(work_dir, hub_name):
    """What the hook reads of a runner: work dir, hub, loop, visualizer."""
    dataset = SimpleNamespace(
        metainfo=dict(classes=('bg', 'fg'), palette=[[0, 0, 0], [255, 0, 0]]))
    loop = SimpleNamespace(
        results=[],
        metric='mIoU',
        alphas=[0.2, 0.4],
        dataloader=SimpleNamespace(dataset=dataset))
    return SimpleNamespace(
        work_dir=str(work_dir),
        message_hub=MessageHub.get_instance(hub_name),
        train_loop=loop,
        visualizer=_RecordingVisualizer())


def test_resumed_finished_run_completes_the_report(tmp_path):
    """Killed after the last round's end checkpoint, before its report: the
    resumed run trains nothing, yet its report gets the last round."""
    results = [
        _result(0, None, 50.0),
        _result(
            1,
            0.2,
            52.5,
            coverage=0.2,
            stats=_stats([0.25, 0.125], [0.9, 0.75])),
        _result(
            2, 0.4, 53.0, coverage=0.4, stats=_stats([0.5, 0.25], [0.5, 0.4])),
    ]
    killed = _fake_runner(tmp_path, 'test_report_killed')
    hook = CurriculumReportHook()
    hook.before_train(killed)
    assert not (tmp_path / 'report.json').exists()  # no round yet
    for rnd in range(3):  # the loop's _record
        killed.train_loop.results = results[:rnd + 1]
        record_results(killed, killed.train_loop.results, 'mIoU')
        if rnd < 2:  # the kill: round 2's after_train_epoch never comes
            hook.after_train_epoch(killed)
    stale = json.load(open(tmp_path / 'report.json'))
    assert [r['round'] for r in stale['rounds']] == [0, 1]

    resumed = _fake_runner(tmp_path, 'test_report_resumed')
    # --resume loads the hub from round 2's end checkpoint; the loop takes
    # its results from the hub before it calls before_train.
    resumed.message_hub.update_info(RESULTS_KEY,
                                    killed.message_hub.get_info(RESULTS_KEY))
    resumed.train_loop.results = copy.deepcopy(results)
    CurriculumReportHook().before_train(resumed)
    plots = [
        'plots/miou.png', 'plots/pseudo_labels.png', 'plots/thresholds.png'
    ]
    assert json.load(open(tmp_path / 'report.json')) == dict(
        build_report(results, classes=['bg', 'fg']), plots=plots)
    md = open(tmp_path / 'report.md').read()
    assert [r[0] for r in _table_rows(md, '## Rounds')] == ['0', '1', '2']
    assert _table_rows(
        md, 'Class thresholds (confidence)')[1][2:] == ['0.500', '0.400']
    assert [step for step, _ in resumed.visualizer.calls] == [0, 1, 2]
