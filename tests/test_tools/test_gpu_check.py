"""tools/gpu_check.sh and tools/gpu_check.py on a CPU: the arguments, the
dry-run plan and its time, the configs the runs resolve, the generated
data, and (slow) a tiny run measured and reported as on a GPU (the install
and the CUDA runs themselves need the GPU machine)."""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from dst_cbc.cli import add_common_args
from mmseg.registry import DATASETS
from tools import gpu_check, reproduce_paper
from tools.gpu_check import Job

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'gpu_check.sh'


@pytest.fixture
def wheel_dir(tmp_path):
    """A folder shaped as tools/gpu_wheels.py leaves it."""
    folder = tmp_path / 'wheels'
    folder.mkdir()
    (folder / 'mmcv-2.1.0.tar.gz').write_bytes(b'')
    (folder / 'addict-2.4.0-py3-none-any.whl').write_bytes(b'')
    return folder


def check(*args, env=None):
    """Run tools/gpu_check.sh with the test's Python as the machine's."""
    return subprocess.run(['bash', str(SCRIPT), *map(str, args)],
                          capture_output=True,
                          text=True,
                          env=dict(
                              os.environ, PYTHON=sys.executable, **(env
                                                                    or {})))


# -- the shell script ---------------------------------------------------------
def test_help_prints_the_usage():
    result = check('--help')
    assert result.returncode == 0
    assert result.stdout.startswith('Usage: bash tools/gpu_check.sh')
    assert '--install-only' in result.stdout


@pytest.mark.parametrize(
    'args, message',
    [((), 'expected WHEEL_DIR and OUT_DIR, got 0 argument(s)'),
     (('{wheels}', ), 'expected WHEEL_DIR and OUT_DIR, got 1 argument(s)'),
     (('--bogus', '{wheels}', '{out}'), 'unknown option --bogus'),
     (('{tmp}/nowhere', '{out}'), 'WHEEL_DIR {tmp}/nowhere is not a folder'),
     (('{tmp}', '{out}'), 'WHEEL_DIR {tmp} has no mmcv-2.1.0.tar.gz'),
     (('{wheels}', '{wheels}/addict-2.4.0-py3-none-any.whl'),
      'OUT_DIR {wheels}/addict-2.4.0-py3-none-any.whl exists and is not a '
      'folder'),
     (('--jobs', '0', '{wheels}', '{out}'),
      "--jobs must be a whole number >= 1, got '0'"),
     (('{wheels}', '{out}', '--jobs'), '--jobs needs a number'),
     (('--scratch', '{wheels}/mmcv-2.1.0.tar.gz', '{wheels}', '{out}'),
      '--scratch {wheels}/mmcv-2.1.0.tar.gz exists and is not a folder'),
     (('--train-only', '--install-only', '{wheels}', '{out}'),
      '--install-only and --train-only exclude each other'),
     (('--train-only', '--scratch', '{tmp}', '{wheels}', '{out}'),
      '--train-only expects OUT_DIR, got 2 argument(s)'),
     (('--train-only', '--scratch', '{tmp}', '{out}'),
      "--train-only needs --scratch DIR holding an --install-only run's "
      'venv/ and install.json'),
     (('--train-only', '{out}'), "--train-only needs --scratch DIR")])
def test_a_bad_argument_is_named(tmp_path, wheel_dir, args, message):
    names = dict(tmp=tmp_path, wheels=wheel_dir, out=tmp_path / 'out')
    result = check('--dry-run', *[a.format(**names) for a in args])
    assert result.returncode == 2
    assert f'gpu_check.sh: error: {message.format(**names)}' in result.stderr
    assert not (tmp_path / 'out').exists()


def test_a_wheel_folder_without_wheels_is_refused(tmp_path, wheel_dir):
    (wheel_dir / 'addict-2.4.0-py3-none-any.whl').unlink()
    result = check('--dry-run', wheel_dir, tmp_path / 'out')
    assert result.returncode == 2
    assert f'WHEEL_DIR {wheel_dir} has no wheel' in result.stderr


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path, wheel_dir):
    scratch, out = tmp_path / 'scratch', tmp_path / 'out'
    result = check('--dry-run', '--jobs', '16', '--scratch', scratch,
                   wheel_dir, out)
    assert result.returncode == 0, result.stderr
    plan = result.stdout
    venv_python = f'{scratch}/venv/bin/python'
    for line in (
            f'-m venv --system-site-packages {scratch}/venv',
            f'pip install --no-index --no-deps --ignore-installed '
            f'{wheel_dir}/*.whl   (1 wheels)',
            'CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 MMCV_WITH_OPS=1 MAX_JOBS=16',
            f'--no-build-isolation {wheel_dir}/mmcv-2.1.0.tar.gz   '
            '(CPU ops only)', 'pip install --no-index --no-deps '
            f'--no-build-isolation --use-pep517 -e {ROOT}',
            f'plan: generate data in {scratch}/data',
            'plan: stage 4 (side by side)',
            f'[main-fp16] {venv_python} {ROOT}/tools/train.py '
            f'{ROOT}/{gpu_check.MAIN_CONFIG} --work-dir '
            f'{scratch}/work_dirs/main-fp16 --amp',
            '  605  total (10.1 min; runs still going at 11.5 min are '
            'stopped)'):
        assert line in plan, line
    assert plan.count(f'{venv_python} {ROOT}/tools/train.py') == 5
    assert not scratch.exists() and not out.exists()


def test_install_only_plans_no_run(tmp_path, wheel_dir):
    result = check('--dry-run', '--install-only', wheel_dir, tmp_path / 'o')
    assert result.returncode == 0
    assert 'stop after the install (--install-only)' in result.stdout
    assert 'tools/train.py' not in result.stdout


def test_train_only_plans_the_runs_with_an_earlier_install(tmp_path):
    scratch = tmp_path / 'scratch'
    (scratch / 'venv' / 'bin').mkdir(parents=True)
    (scratch / 'venv' / 'bin' / 'python').symlink_to(sys.executable)
    (scratch / 'install.json').write_text('{}')
    result = check('--dry-run', '--train-only', '--scratch', scratch,
                   tmp_path / 'out')
    assert result.returncode == 0, result.stderr
    assert 'plan: install' not in result.stdout
    assert result.stdout.count(f'{scratch}/venv/bin/python {ROOT}/tools/'
                               'train.py') == 5


def test_without_cuda_it_stops_before_installing(tmp_path, wheel_dir):
    """On a machine whose torch sees no GPU: exit 1, naming the cause,
    nothing installed, the (empty) logs packed into OUT_DIR."""
    scratch, out = tmp_path / 'scratch', tmp_path / 'out'
    result = check(
        '--scratch',
        scratch,
        wheel_dir,
        out,
        env=dict(CUDA_VISIBLE_DEVICES=''))
    assert result.returncode == 1
    assert 'no CUDA device is visible to the torch of PYTHON' in \
        result.stderr
    assert not (scratch / 'venv').exists()
    assert sorted(os.listdir(out)) == ['logs.tar.gz']


# -- the plan -----------------------------------------------------------------
def test_the_plan_fits_twelve_minutes():
    stages = gpu_check.plan('/scratch')
    planned = gpu_check.planned_seconds(stages)
    assert planned == 605
    assert planned < gpu_check.BUDGET_S < 12 * 60
    # The time plan of the script's header is the same.
    header = SCRIPT.read_text().split('set -euo pipefail')[0]
    assert re.search(rf'total +{planned} s \({planned / 60:.1f} min\)', header)
    # A run may take longer than planned before it is stopped.
    assert all(job.timeout_s > job.planned_s for s in stages for job in s)


def resolved(job, scratch):
    """The config tools/train.py builds from a run's command."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('--amp', action='store_true')
    add_common_args(parser)
    command = gpu_check.train_command(job, str(scratch / 'work_dirs'))
    args = parser.parse_args(command[2:])
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    return args, cfg


def test_the_runs_are_the_readme_job_camvid_and_the_paper_protocol(tmp_path):
    jobs = {j.name: j for s in gpu_check.plan(str(tmp_path)) for j in s}
    assert list(jobs) == [
        'voc-r101-fp32', 'voc-r101-fp16', 'camvid-effnet-fp32', 'main-fp32',
        'main-fp16'
    ]
    readme = (ROOT / 'README.md').read_text()
    main_command = readme.split('<!-- main-command -->')[1].split('```')[1]
    assert f'tools/train.py {gpu_check.MAIN_CONFIG}' in main_command
    for name in ('main-fp32', 'main-fp16'):  # the job as it is
        args, cfg = resolved(jobs[name], tmp_path)
        assert args.cfg_options is None
        assert args.amp == (name == 'main-fp16')
        assert cfg.train_cfg.baseline_iters == 2000
    for name in ('voc-r101-fp32', 'voc-r101-fp16'):
        args, cfg = resolved(jobs[name], tmp_path)
        assert args.amp == (name == 'voc-r101-fp16')
        assert cfg.protocol == 'paper' and cfg.sync_bn == 'torch'
        assert cfg.model.backbone.depth == 101
        assert cfg.model.init_cfg is None  # no COCO weights on the machine
        assert cfg.train_dataloader.batch_size == 8
        crop = [
            t for t in cfg.train_dataloader.dataset.labeled.pipeline
            if t.type == 'RandomCrop'
        ]
        assert crop[0].crop_size == (321, 321)
        assert cfg.train_cfg.baseline_iters == cfg.train_cfg.round_iters == 30
        assert list(cfg.train_cfg.alphas) == [0.2]
        assert cfg.val_dataloader.dataset.data_root == str(tmp_path / 'data' /
                                                           'voc')
    args, cfg = resolved(jobs['camvid-effnet-fp32'], tmp_path)
    assert cfg.model.backbone.type == 'EfficientNetLite'
    assert (cfg.train_cfg.baseline_iters, cfg.train_cfg.round_iters) == (200,
                                                                         100)


@pytest.fixture(scope='module')
def scratch_with_trees(tmp_path_factory):
    """A scratch folder with small trees of both layouts where the check
    writes its own."""
    scratch = tmp_path_factory.mktemp('scratch')
    data = scratch / 'data'
    samples = gpu_check.camvid_tree(str(data / 'camvid'), 12, 3,
                                    (48, 36), 2) + gpu_check.voc_tree(
                                        str(data / 'voc'), 3, 8, 2, (50, 38))
    for sample in samples:
        gpu_check.write_sample(sample)
    return scratch


@pytest.mark.parametrize('name, sizes', [('camvid-effnet-fp32', (2, 10, 3)),
                                         ('voc-r101-fp32', (3, 8, 2))])
def test_generated_trees_fill_the_configs_datasets(scratch_with_trees, name,
                                                   sizes):
    init_default_scope('mmseg')
    [job] = [
        j for s in gpu_check.plan(str(scratch_with_trees)) for j in s
        if j.name == name
    ]
    cfg = resolved(job, scratch_with_trees)[1]
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert (train.num_labeled, train.num_unlabeled, len(val)) == sizes
    label = val[0]['data_samples'].gt_sem_seg.data
    classes = len(val.metainfo['classes'])
    assert set(label.unique().tolist()) <= set(range(classes)) | {255}


def test_the_voc_tree_passes_the_reproductions_layout_check(
        scratch_with_trees, tmp_path):
    weights = tmp_path / 'coco.pth'
    weights.write_bytes(b'')
    assert reproduce_paper.check_layout(
        str(scratch_with_trees / 'data' / 'voc'),
        1,
        str(weights),
        any_splits=True) == []


def test_labeling_passes_pair_their_start_and_end_lines():
    marks = [(10.0, 'round 1: pseudo-labeling 96 images (alpha=0.2) into x'),
             (12.4, 'Pseudo labels (alpha=0.2) written to x: coverage 0.2'),
             (50.0, 'round 2: pseudo-labeling 96 images (alpha=0.4) into y'),
             (51.2, 'Pseudo labels (alpha=0.4) written to y: coverage 0.4'),
             (60.0, 'round 3: pseudo-labeling 96 images (alpha=0.6) into z')]
    assert gpu_check.labeling_times(marks) == [
        dict(round=1, images=96, seconds=2.4, ms_per_image=25.0),
        dict(round=2, images=96, seconds=1.2, ms_per_image=12.5)
    ]


# -- running and reporting ----------------------------------------------------
TINY = {
    'train_cfg.baseline_iters': '4',
    'train_cfg.alphas': '[0.2]',
    'train_cfg.round_iters': '4',
    'train_cfg.val_interval': '4',
    'default_hooks.logger.interval': '1',
}


@pytest.fixture(scope='module')
def tiny_scratch(tmp_path_factory):
    """A scratch folder with a small synthetic data set."""
    scratch = tmp_path_factory.mktemp('scratch')
    subprocess.run([
        sys.executable,
        str(ROOT / 'tools' / 'make_synthetic_data.py'), '--out',
        str(scratch / 'data' / 'synthetic'), '--num-train', '32', '--num-val',
        '8'
    ],
                   check=True,
                   capture_output=True)
    return scratch


@pytest.mark.slow
def test_a_run_is_measured_and_reported(tiny_scratch, tmp_path, monkeypatch):
    """The main job, 4 + 4 iterations on CPU, through the check's runner:
    its speed, rounds, labeling pass, and the report of both files."""
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    job = Job('main-fp32', gpu_check.MAIN_CONFIG, False, TINY, 10, 300)
    [run] = gpu_check.run_stage([job], str(tiny_scratch),
                                time.monotonic() + 300, 1, sys.executable)
    assert run['status'] == 'ok', Path(run['log']).read_text()[-3000:]
    assert run['optim_wrapper'] == 'OptimWrapper'
    assert run['iters'] == 8 and run['it_per_s'] > 0
    assert run['peak_memory_mb'] is None  # MMEngine logs it on CUDA only
    assert [r['round'] for r in run['rounds']] == [0, 1]
    [labeling] = run['labeling']
    assert (labeling['round'], labeling['images']) == (1, 28)
    assert 0 < labeling['seconds'] < run['wall_s']
    report = dict(
        environment=gpu_check.environment(),
        install=dict(seconds=dict(venv=1.0, total=2.0), mmcv_ops=None),
        runs=[run])
    gpu_check.write_report(str(tmp_path), report)
    assert json.loads((tmp_path / 'gpu_check.json').read_text()) == report
    markdown = (tmp_path / 'gpu_check.md').read_text()
    assert f"| main-fp32 | fp32 | OptimWrapper | ok | 8 | " \
        f"{run['it_per_s']:.2f} | - |" in markdown
    score = run['rounds'][1]['score']
    assert f'| 1 | 0.20 | {score:.2f} |' in markdown


@pytest.mark.slow
def test_a_run_past_the_deadline_is_stopped(tiny_scratch):
    job = Job('main-stopped', gpu_check.MAIN_CONFIG, False, TINY, 10, 300)
    [run] = gpu_check.run_stage([job], str(tiny_scratch),
                                time.monotonic() + 2, 1, sys.executable)
    assert run['status'] == 'stopped at the time limit'
    assert run['wall_s'] < 30


def test_out_of_time_stages_are_skipped_and_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, 'make_data', lambda scratch: 0.)
    out = tmp_path / 'out'
    started = time.time() - gpu_check.BUDGET_S
    assert gpu_check.main([
        '--out',
        str(out), '--scratch',
        str(tmp_path), '--started',
        str(started)
    ]) == 1
    report = json.loads((out / 'gpu_check.json').read_text())
    assert [r['status']
            for r in report['runs']] == ['skipped: out of time'] * 5
    assert report['planned_s'] == 605
    assert 'skipped: out of time' in (out / 'gpu_check.md').read_text()
