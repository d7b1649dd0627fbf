"""The README's main job, end to end through tools/train.py and tools/test.py.

Generates the synthetic dataset, runs the default DST-CBC config (baseline +
5 rounds) and checks that self-training beats its own baseline, then
re-evaluates the best checkpoint with tools/test.py.
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'dst_cbc',
                  'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')

pytestmark = pytest.mark.slow  # the main job: minutes on CPU


def _run(args, cwd):
    proc = subprocess.run(
        [sys.executable] + args,
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED='1'))
    assert proc.returncode == 0, proc.stdout[-5000:]
    return proc.stdout


@pytest.fixture(scope='module')
def default_run(tmp_path_factory):
    """Run the README's main job in a fresh working directory."""
    cwd = str(tmp_path_factory.mktemp('e2e'))
    _run([
        osp.join(ROOT, 'tools', 'make_synthetic_data.py'), '--out',
        'data/synthetic'
    ], cwd)
    log = _run(
        [osp.join(ROOT, 'tools', 'train.py'), CONFIG, '--work-dir', 'work'],
        cwd)
    summary = json.load(open(osp.join(cwd, 'work', 'summary.json')))
    return cwd, log, summary


def test_curriculum_beats_its_baseline(default_run):
    cwd, log, summary = default_run
    rounds = summary['rounds']
    assert [r['round'] for r in rounds] == [0, 1, 2, 3, 4, 5]
    assert [r['alpha'] for r in rounds] == [None, 0.2, 0.4, 0.6, 0.8, 1.0]
    baseline = rounds[0]['score']
    best_dst = max(r['score'] for r in rounds[1:])
    assert best_dst > baseline
    # coverage follows the curriculum: class-balanced top-alpha per class
    for r in rounds[1:]:
        assert r['coverage'] == pytest.approx(r['alpha'], abs=0.01)
    # the per-round table is printed
    assert re.search(r'round alpha\s+iters\s+val mIoU', log)
    for r in rounds:
        assert osp.isfile(osp.join(cwd, r['checkpoint']))


def test_best_checkpoint_reevaluates_with_tools_test(default_run):
    cwd, log, summary = default_run
    best = summary['best']
    out = _run([
        osp.join(ROOT, 'tools', 'test.py'), CONFIG, best['checkpoint'],
        '--work-dir', 'test_work'
    ], cwd)
    miou = float(re.findall(r'mIoU: ([0-9.]+)', out)[-1])
    assert miou == pytest.approx(best['score'], abs=0.01)
