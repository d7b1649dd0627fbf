"""--resume after SIGKILL at any point repeats the uninterrupted run; one
run per work dir; a finished or another config's work dir is said so."""
import filecmp
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import pytest
import torch

import mmseg
from tests.helpers.kill_hook import PAUSE_FILE

# Each test launches tools/train.py (or MMSeg's), most kill it: 10-40 s each.
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'dst_cbc',
                  'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')
# On the trainings' PYTHONPATH, for custom_imports of kill_hook and
# confidence_metric.
HELPERS = osp.join(ROOT, 'tests', 'helpers')

# Round 0: iterations 1-6; round 1: 7-10; round 2: 11-14. Validation every 2
# iterations of a round, periodic checkpoints every 3 iterations (one kept).
# The best checkpoints are chosen by the mean confidence, which moves with
# every step (mIoU stays put in so few iterations): each round's last
# validation is its best but in round 1 (iterations 8 and 10 score 50.22
# and 48.26).
TINY = f"""
_base_ = [{CONFIG!r}]
custom_imports = dict(imports=['dst_cbc', 'kill_hook', 'confidence_metric'],
                      allow_failed_imports=False)
randomness = dict(seed=0)
train_cfg = dict(alphas=(0.5, 1.0), baseline_iters=6, round_iters=4,
                 val_interval=2, metric='confidence')
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='MeanConfidenceMetric')]
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', interval=3),
    logger=dict(interval=1))
custom_hooks = [dict(type='PseudoLabelHook', batch_size=8),
                dict(type='CurriculumReportHook'), dict(type='KillHook')]
"""
# The same run checkpointed by MMEngine's CheckpointHook, which deletes the
# rotated-out checkpoint before it writes the new one.
PLAIN = """
_base_ = ['tiny.py']
default_hooks = dict(checkpoint=dict(type='CheckpointHook'))
"""


def _command(work_dir,
             config='tiny.py',
             resume=False,
             options=(),
             script=osp.join(ROOT, 'tools', 'train.py')):
    cmd = [sys.executable, script, config, '--work-dir', work_dir]
    if options:
        cmd += ['--cfg-options', *options]
    return cmd + (['--resume'] if resume else [])


def _env(kill=None):
    env = dict(os.environ, PYTHONPATH=HELPERS)
    env.pop('DST_CBC_TEST_KILL', None)
    if kill:
        env['DST_CBC_TEST_KILL'] = kill
    return env


def _train(cwd, work_dir, kill=None, **kwargs):
    return subprocess.run(
        _command(work_dir, **kwargs),
        cwd=cwd,
        env=_env(kill),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Data, configs and one uninterrupted run to compare with.

    The run pauses after iteration 4 while a second run is started in its
    work dir (``busy`` holds that run's output), then trains on.
    """
    from dst_cbc.datasets import nested_splits, write_list
    from tools.make_synthetic_data import generate_synthetic_dataset
    cwd = tmp_path_factory.mktemp('resume')
    root = str(cwd / 'data' / 'synthetic')
    generate_synthetic_dataset(root, num_train=40, num_val=8, size=32)
    names = open(osp.join(root, 'train.txt')).read().split()
    lab, unlab = nested_splits(names, [8], num_splits=1)[1][8]
    write_list(osp.join(root, 'splits/split1/labeled_1-8.txt'), lab)
    write_list(osp.join(root, 'splits/split1/unlabeled_1-8.txt'), unlab)
    (cwd / 'tiny.py').write_text(TINY)
    (cwd / 'plain.py').write_text(PLAIN)
    first = subprocess.Popen(
        _command('clean'),
        cwd=str(cwd),
        env=_env('pause:4'),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    marker = cwd / 'clean' / PAUSE_FILE
    while not marker.exists() and first.poll() is None:
        time.sleep(0.05)
    busy = dict(second=_train(str(cwd), 'clean', resume=True), pid=first.pid)
    marker.unlink(missing_ok=True)
    busy['first'] = first.communicate()[0]
    assert first.returncode == 0, busy['first'][-3000:]
    return dict(cwd=str(cwd), busy=busy)


def _summary(cwd, work_dir):
    return json.load(open(osp.join(cwd, work_dir, 'summary.json')))


def _labels(cwd, work_dir, rnd):
    folder = osp.join(cwd, work_dir, 'pseudo_labels', f'round_{rnd}')
    return folder, sorted(f for f in os.listdir(folder) if f.endswith('.png'))


def _assert_same_results(cwd, work_dir):
    """Scores, pseudo labels and best weights equal the clean run's."""
    clean, again = _summary(cwd, 'clean'), _summary(cwd, work_dir)
    assert [r['round'] for r in again['rounds']] == [0, 1, 2]
    assert [r['iters'] for r in again['rounds']] == [6, 4, 4]
    assert [r['score'] for r in again['rounds']] == \
        [r['score'] for r in clean['rounds']]
    for rnd in (1, 2):
        folder, files = _labels(cwd, 'clean', rnd)
        other, other_files = _labels(cwd, work_dir, rnd)
        assert other_files == files
        _, mismatch, errors = filecmp.cmpfiles(
            folder, other, files, shallow=False)
        assert (mismatch, errors) == ([], [])
        manifest = json.load(open(osp.join(other, 'manifest.json')))
        assert manifest['complete'] and manifest['round'] == rnd
        assert manifest['num_files'] == len(files)
    for rnd in (0, 1, 2):
        name = f'round_{rnd}_best.pth'
        weights = [
            torch.load(osp.join(cwd, w, name),
                       weights_only=False)['state_dict']
            for w in ('clean', work_dir)
        ]
        assert weights[0].keys() == weights[1].keys()
        assert all(
            torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    # the report shows every round, as the clean run's
    reports = [
        json.load(open(osp.join(cwd, w, 'report.json')))
        for w in ('clean', work_dir)
    ]
    assert [
        (r['round'], r['score'], r['gain']) for r in reports[1]['rounds']
    ] == [(r['round'], r['score'], r['gain']) for r in reports[0]['rounds']]
    # no checkpoint or temporary file a kill left behind survives a resume
    assert _files(cwd, work_dir, '.pth') == _files(cwd, 'clean', '.pth')
    assert not _files(cwd, work_dir, '.tmp')


def _files(cwd, work_dir, suffix):
    """Files of a work dir and its label folders ending with ``suffix``."""
    top = osp.join(cwd, work_dir)
    return sorted(
        osp.relpath(osp.join(folder, name), top) for folder in [top] + [
            osp.join(top, 'pseudo_labels', r)
            for r in os.listdir(osp.join(top, 'pseudo_labels'))
        ] for name in os.listdir(folder) if name.endswith(suffix))


@pytest.mark.parametrize(
    'kill',
    [
        'labeling:5',  # during round 1's pseudo-labeling
        'iter:10',  # mid-round 1 (last periodic checkpoint: iteration 9)
        'val:12',  # during a validation of round 2, after iter_12.pth
        'round_end:1',  # between rounds 1 and 2
        # after the last round: round_2_end.pth saved and named by
        # last_checkpoint; round_1_end.pth not yet removed, no report of
        # round 2 yet
        'ckpt_unrotated:round_2_end.pth',
    ])
def test_resume_after_kill_matches_uninterrupted_run(tiny, kill):
    cwd = tiny['cwd']
    work_dir = 'killed_' + kill.replace(':', '_').replace('.', '_')
    killed = _train(cwd, work_dir, kill=kill)
    assert killed.returncode == -9, killed.stdout[-3000:]
    resumed = _train(cwd, work_dir, resume=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    _assert_same_results(cwd, work_dir)


def test_resume_through_a_chain_of_kills(tiny):
    """Each leg resumes the previous one and is killed at a new point."""
    cwd, work_dir = tiny['cwd'], 'chain'
    legs = [
        # round 0's final validation, iter_6.pth saved before it
        ('val:6', None),
        # writing round 1's first best checkpoint (iteration 8)
        ('ckpt_partial:round_1_best.pth', 'resuming round 0 at iteration '
         '6/6 of the round'),
        # last_checkpoint names iter_9.pth, iter_6.pth not removed yet
        ('ckpt_unrotated:iter_9.pth', None),
        # iter_12.pth saved, last_checkpoint still names round_1_end.pth
        ('ckpt_unpointed:iter_12.pth', 'resuming round 1 at iteration 3/4'),
    ]
    for i, (kill, said) in enumerate(legs):
        proc = _train(cwd, work_dir, kill=kill, resume=i > 0)
        assert proc.returncode == -9, (kill, proc.stdout[-3000:])
        if said:
            assert said in proc.stdout, (kill, proc.stdout[-3000:])
    pointer = open(osp.join(cwd, work_dir, 'last_checkpoint')).read()
    assert pointer.endswith('round_1_end.pth')
    resumed = _train(cwd, work_dir, resume=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    _assert_same_results(cwd, work_dir)


def test_kill_between_delete_and_write_of_mmengine_checkpoint_hook(tiny):
    """MMEngine's hook deleted iter_3.pth, which last_checkpoint names, and
    is killed before iter_6.pth is written: no valid checkpoint is left."""
    cwd, work_dir = tiny['cwd'], 'plain'
    killed = _train(
        cwd, work_dir, kill='save_called:iter_6.pth', config='plain.py')
    assert killed.returncode == -9, killed.stdout[-3000:]
    pointer = open(osp.join(cwd, work_dir, 'last_checkpoint')).read()
    assert pointer.endswith('iter_3.pth') and not osp.exists(pointer)
    resumed = _train(cwd, work_dir, config='plain.py', resume=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    # the killed run's lock is stale: taken over, naming it
    assert 'taking over the stale lock of PID' in resumed.stdout
    assert 'iter_3.pth, which is missing or incomplete' in resumed.stdout
    assert 'holds no valid checkpoint; training from the start' in \
        resumed.stdout
    _assert_same_results(cwd, work_dir)


def _copy_run(cwd, src, dst):
    """Copy a work dir, its last_checkpoint pointed at the copy's file."""
    shutil.copytree(osp.join(cwd, src), osp.join(cwd, dst))
    pointer = osp.join(cwd, dst, 'last_checkpoint')
    name = osp.basename(open(pointer).read())
    with open(pointer, 'w') as f:
        f.write(osp.join(cwd, dst, name))


def test_empty_or_dangling_last_checkpoint(tiny):
    """Killed after iteration 10: iter_9.pth and round_0_end.pth exist."""
    cwd = tiny['cwd']
    killed = _train(cwd, 'pointer', kill='iter:10')
    assert killed.returncode == -9, killed.stdout[-3000:]
    _copy_run(cwd, 'pointer', 'empty')
    open(osp.join(cwd, 'empty', 'last_checkpoint'), 'w').close()
    _copy_run(cwd, 'pointer', 'dangling')
    os.remove(osp.join(cwd, 'dangling', 'iter_9.pth'))
    for work_dir, said in (
        ('empty', 'last_checkpoint is empty; resuming from the newest '
         'valid checkpoint, {}/iter_9.pth'),
        ('dangling', 'iter_9.pth, which is missing or incomplete; resuming '
         'from the newest valid checkpoint, {}/round_0_end.pth'),
    ):
        resumed = _train(cwd, work_dir, resume=True)
        assert resumed.returncode == 0, resumed.stdout[-3000:]
        assert said.format(osp.join(cwd, work_dir)) in resumed.stdout
        _assert_same_results(cwd, work_dir)


def test_second_run_in_a_busy_work_dir_is_refused(tiny):
    second, pid = tiny['busy']['second'], tiny['busy']['pid']
    assert second.returncode == 1, second.stdout[-3000:]
    assert 'is in use by another run: PID {} on host'.format(pid) in \
        second.stdout
    assert 'Traceback' in second.stdout
    assert 'Iter(train)' not in second.stdout  # refused before training
    # the first run went on unharmed (its results are the reference of the
    # kill tests) and released its lock
    assert not osp.exists(osp.join(tiny['cwd'], 'clean', 'run.lock'))


def _snapshot(folder):
    """Every file's path, size, mtime and content hash."""
    files = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = osp.join(dirpath, name)
            stat = os.stat(path)
            digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()
            files[path] = (stat.st_size, stat.st_mtime_ns, digest)
    return files


def test_refused_resume_names_the_keys_and_changes_nothing(tiny):
    cwd = tiny['cwd']
    _copy_run(cwd, 'clean', 'changed')
    before = _snapshot(osp.join(cwd, 'changed'))
    proc = _train(
        cwd,
        'changed',
        resume=True,
        options=[
            'model.decode_head.loss_decode.gamma=5.0',
            'train_cfg.round_iters=5'
        ])
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert 'holds a different run' in proc.stdout
    assert ('model.decode_head.loss_decode.gamma: 3.0 -> 5.0; '
            'train_cfg.round_iters: 4 -> 5.') in proc.stdout
    assert _snapshot(osp.join(cwd, 'changed')) == before


def test_finished_run_is_said_finished(tiny):
    cwd = tiny['cwd']
    _copy_run(cwd, 'clean', 'finished')
    summary = open(osp.join(cwd, 'finished', 'summary.json'), 'rb').read()
    resumed = _train(cwd, 'finished', resume=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert 'this run is finished (all 3 rounds are recorded' in \
        resumed.stdout
    assert 'Iter(train)' not in resumed.stdout
    assert open(osp.join(cwd, 'finished', 'summary.json'),
                'rb').read() == summary
    # the same config without --resume trains again, saying so first
    again = _train(cwd, 'finished', kill='iter:1')
    assert again.returncode == -9, again.stdout[-3000:]
    said = again.stdout.index('holds a finished run of this config')
    assert '--resume would only report it finished' in again.stdout
    assert said < again.stdout.index('Iter(train)')


# MMSeg's own train script (what ``mim train mmseg`` runs): the configs'
# CurriculumRunner gives it the same run safety as tools/train.py.
MMSEG_TRAIN = osp.join(
    osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')


def test_mmseg_train_script_refuses_a_busy_work_dir_having_written_nothing(
        tiny):
    cwd = tiny['cwd']
    first = subprocess.Popen(
        _command('mmseg_busy', script=MMSEG_TRAIN),
        cwd=cwd,
        env=_env('pause:4'),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    marker = osp.join(cwd, 'mmseg_busy', PAUSE_FILE)
    while not osp.exists(marker) and first.poll() is None:
        time.sleep(0.05)
    before = _snapshot(osp.join(cwd, 'mmseg_busy'))
    second = _train(cwd, 'mmseg_busy', script=MMSEG_TRAIN)
    after = _snapshot(osp.join(cwd, 'mmseg_busy'))
    os.remove(marker)
    output = first.communicate()[0]
    assert second.returncode == 1, second.stdout[-3000:]
    assert f'is in use by another run: PID {first.pid} on host' in \
        second.stdout
    assert after == before
    # the first run, MMSeg's script on the default config, trained on
    # unharmed to the results of tools/train.py
    assert first.returncode == 0, output[-3000:]
    _assert_same_results(cwd, 'mmseg_busy')


def test_mmseg_train_script_resumes_past_a_truncated_last_checkpoint(tiny):
    cwd, work_dir = tiny['cwd'], 'mmseg_truncated'
    killed = _train(cwd, work_dir, kill='round_end:1', script=MMSEG_TRAIN)
    assert killed.returncode == -9, killed.stdout[-3000:]
    pointer = open(osp.join(cwd, work_dir, 'last_checkpoint')).read()
    assert pointer.endswith('round_1_end.pth')
    with open(pointer, 'r+b') as f:
        f.truncate(osp.getsize(pointer) // 2)
    resumed = _train(cwd, work_dir, resume=True, script=MMSEG_TRAIN)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert (f'{pointer}, which is missing or incomplete; resuming from the '
            'newest valid checkpoint') in resumed.stdout
    _assert_same_results(cwd, work_dir)
