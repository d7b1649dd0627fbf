"""--resume after SIGKILL at any point repeats the uninterrupted run."""
import filecmp
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'dst_cbc',
                  'dst-cbc_dlv2-r18-mini_1-8_synthetic-64x64.py')
HELPERS = osp.join(ROOT, 'tests', 'helpers')

# Round 0: iterations 1-6; round 1: 7-10; round 2: 11-14. Validation every 2
# iterations of a round, periodic checkpoints every 3 iterations.
TINY = f"""
_base_ = [{CONFIG!r}]
custom_imports = dict(imports=['dst_cbc', 'kill_hook'],
                      allow_failed_imports=False)
randomness = dict(seed=0)
train_cfg = dict(alphas=(0.5, 1.0), baseline_iters=6, round_iters=4,
                 val_interval=2)
default_hooks = dict(checkpoint=dict(interval=3), logger=dict(interval=1))
custom_hooks = [dict(type='PseudoLabelHook', batch_size=8),
                dict(type='KillHook')]
"""


def _train(cwd, work_dir, kill=None, resume=False):
    env = dict(os.environ, PYTHONPATH=HELPERS)
    env.pop('DST_CBC_TEST_KILL', None)
    if kill:
        env['DST_CBC_TEST_KILL'] = kill
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), 'tiny.py',
           '--work-dir', work_dir] + (['--resume'] if resume else [])
    return subprocess.run(cmd, cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Data, config and one uninterrupted run to compare with."""
    from dst_cbc.datasets import (generate_synthetic_dataset, nested_splits,
                                  write_list)
    cwd = tmp_path_factory.mktemp('resume')
    root = str(cwd / 'data' / 'synthetic')
    generate_synthetic_dataset(root, num_train=40, num_val=8, size=32)
    names = open(osp.join(root, 'train.txt')).read().split()
    lab, unlab = nested_splits(names, [8], num_splits=1)[1][8]
    write_list(osp.join(root, 'splits/split1/labeled_1-8.txt'), lab)
    write_list(osp.join(root, 'splits/split1/unlabeled_1-8.txt'), unlab)
    (cwd / 'tiny.py').write_text(TINY)
    proc = _train(str(cwd), 'clean')
    assert proc.returncode == 0, proc.stdout[-3000:]
    return str(cwd)


def _summary(cwd, work_dir):
    return json.load(open(osp.join(cwd, work_dir, 'summary.json')))


def _labels(cwd, work_dir, rnd):
    folder = osp.join(cwd, work_dir, 'pseudo_labels', f'round_{rnd}')
    return folder, sorted(f for f in os.listdir(folder) if f.endswith('.png'))


@pytest.mark.parametrize('kill', [
    'labeling:5',  # during round 1's pseudo-labeling
    'iter:10',  # mid-round 1 (last periodic checkpoint: iteration 9)
    'val:12',  # during a validation of round 2
    'round_end:1',  # between rounds 1 and 2
])
def test_resume_after_kill_matches_uninterrupted_run(tiny, kill):
    work_dir = 'killed_' + kill.replace(':', '_')
    killed = _train(tiny, work_dir, kill=kill)
    assert killed.returncode == -9, killed.stdout[-3000:]
    resumed = _train(tiny, work_dir, resume=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]

    clean, again = _summary(tiny, 'clean'), _summary(tiny, work_dir)
    assert [r['round'] for r in again['rounds']] == [0, 1, 2]
    assert [r['iters'] for r in again['rounds']] == [6, 4, 4]
    assert [r['score'] for r in again['rounds']] == \
        [r['score'] for r in clean['rounds']]
    for rnd in (1, 2):
        folder, files = _labels(tiny, 'clean', rnd)
        other, other_files = _labels(tiny, work_dir, rnd)
        assert other_files == files
        match, mismatch, errors = filecmp.cmpfiles(
            folder, other, files, shallow=False)
        assert (mismatch, errors) == ([], [])
        manifest = json.load(open(osp.join(other, 'manifest.json')))
        assert manifest['complete'] and manifest['round'] == rnd
        assert manifest['num_files'] == len(files)
