"""The training half of ``tools/gpu_check.sh``: generated data, the runs on
CUDA and the report.

Run by the check with the Python of the venv it installed::

    python tools/gpu_check.py --out DIR --scratch DIR \\
        [--install-json FILE] [--started EPOCH_SECONDS] [--python PY] \\
        [--dry-run]

In ``--scratch`` it generates three data sets (the main job's synthetic
data, a CamVid-size tree, a PASCAL VOC tree), then trains, each as
``tools/train.py`` on ``cuda`` (stages in this order, the runs of a stage
side by side):

1. the paper protocol's DeepLabV2-R101 VOC 1/20 config (batch 8 at
   321x321): round 0 for 30 iterations, one labeling pass, round 1 for 30
   iterations, in fp32;
2. the same with ``--amp`` (float16, loss scaling);
3. the CamVid EfficientNet-Lite0 DST-CBC config: 200 + 100 iterations and
   one labeling pass, fp32;
4. the README's main job, as it is, in fp32 and with ``--amp`` side by
   side (two processes on one GPU, half the cores each).

After each run it rewrites ``gpu_check.json`` and ``gpu_check.md`` in
``--out``: versions, the GPU, the install's seconds, and per run the
iterations per second (median of MMEngine's per-iteration times), peak GPU
memory (MMEngine's), labeling time per image and per-round scores. Runs
still going 11.5 minutes after ``--started`` (the check's start) are
stopped and reported as such; later runs are skipped. ``--dry-run`` prints
the plan and needs only the standard library.
"""
import argparse
import json
import os
import os.path as osp
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The README's main job.
MAIN_CONFIG = ('configs/dst_cbc/'
               'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')
CAMVID_CONFIG = ('configs/camvid/'
                 'dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-1-8_'
                 '128x176.py')
VOC_CONFIG = ('configs/dst_cbc/paper/'
              'dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-paper-1-20_321x321.py')
#: CamVid as SegNet ships it: 367 train and 101 val images of 480x360,
#: 11 classes and void (11); 1/8 labeled is 45 images.
CAMVID = dict(num_train=367, num_val=101, size=(480, 360), num_labeled=45)
#: A VOC tree for the paper protocol: 500x375 JPEGs; 16 labeled images, 96
#: to label (12 passes of 8), 8 val images.
VOC = dict(num_labeled=16, num_unlabeled=96, num_val=8, size=(500, 375))
#: Planned seconds of the install steps (tools/gpu_check.sh) on 16 cores.
INSTALL_PLAN = (
    ('venv and 17 wheels, offline', 20),
    ('mmcv 2.1.0 from its sdist, CPU ops (77 C++ files, 16 jobs)', 180),
    ('the project (editable) and the import check', 15),
)
DATA_PLAN_S = 40
#: Seconds after the check's start at which runs are stopped: the report is
#: written by 12 minutes.
BUDGET_S = 690
#: A stage is not started with less time left.
MIN_STAGE_S = 30
LABELING_START = re.compile(r'round (\d+): pseudo-labeling (\d+) images')
LABELING_END = re.compile(r'Pseudo labels \(alpha=[^)]*\) written to')


@dataclass
class Job:
    """One training of the check.

    Args:
        name (str): Its name (also its work dir's).
        config (str): Config path relative to the repository.
        amp (bool): Whether it trains with ``--amp``.
        options (dict): ``--cfg-options`` given to ``tools/train.py``.
        planned_s (int): Seconds it is planned to take.
        timeout_s (int): Seconds after which it is stopped.
    """

    name: str
    config: str
    amp: bool
    options: Dict[str, str] = field(default_factory=dict)
    planned_s: int = 60
    timeout_s: int = 180


def data_options(prefixes: Sequence[str], root: str) -> Dict[str, str]:
    """``<prefix>.data_root=<root>`` for each dataset config prefix."""
    return {f'{prefix}.data_root': root for prefix in prefixes}


def plan(scratch: str) -> List[List[Job]]:
    """The runs in stages; the runs of a stage train side by side.

    Args:
        scratch (str): The check's folder (data, work dirs).

    Returns:
        list[list[Job]]: The stages in order.
    """
    semi = ('train_dataloader.dataset.labeled',
            'train_dataloader.dataset.unlabeled')
    evaluation = ('val_dataloader.dataset', 'test_dataloader.dataset')
    voc_root = osp.join(scratch, 'data', 'voc')
    voc = dict(
        data_options(semi + evaluation, voc_root), **{
            'model.init_cfg': 'None',
            'train_cfg.baseline_iters': '30',
            'train_cfg.alphas': '[0.2]',
            'train_cfg.round_iters': '30',
            'train_cfg.val_interval': '30',
            'default_hooks.logger.interval': '5',
        })
    camvid_root = osp.join(scratch, 'data', 'camvid')
    camvid = dict(
        data_options(semi + evaluation, camvid_root), **{
            f'{prefix}.ann_file': osp.join(camvid_root, 'splits', 'split1',
                                           f'{kind}_1-8.txt')
            for prefix, kind in zip(semi, ('labeled', 'unlabeled'))
        }, **{
            'train_cfg.baseline_iters': '200',
            'train_cfg.alphas': '[0.2]',
            'train_cfg.round_iters': '100',
            'train_cfg.val_interval': '100',
            'default_hooks.logger.interval': '10',
        })
    return [
        [Job('voc-r101-fp32', VOC_CONFIG, False, voc, 60, 150)],
        [Job('voc-r101-fp16', VOC_CONFIG, True, voc, 50, 150)],
        [Job('camvid-effnet-fp32', CAMVID_CONFIG, False, camvid, 60, 150)],
        [
            Job('main-fp32', MAIN_CONFIG, False, planned_s=180, timeout_s=360),
            Job('main-fp16', MAIN_CONFIG, True, planned_s=180, timeout_s=360)
        ],
    ]


def planned_seconds(stages: Sequence[Sequence[Job]]) -> int:
    """The check's planned seconds: install, data, then each stage as long
    as its longest run."""
    return (sum(s for _, s in INSTALL_PLAN) + DATA_PLAN_S +
            sum(max(job.planned_s for job in stage) for stage in stages))


def train_command(job: Job,
                  work_dir: str,
                  python: str = sys.executable) -> List[str]:
    """The ``tools/train.py`` command of a run with ``python``."""
    command = [
        python,
        osp.join(ROOT, 'tools', 'train.py'),
        osp.join(ROOT, job.config), '--work-dir', work_dir
    ]
    if job.amp:
        command.append('--amp')
    if job.options:
        command += ['--cfg-options'
                    ] + [f'{k}={v}' for k, v in job.options.items()]
    return command


def print_plan(stages: Sequence[Sequence[Job]], scratch: str,
               python: str) -> None:
    """Print the runs' commands (with ``python``) and the time plan."""
    print('plan: generate data in ' + osp.join(scratch, 'data'))
    print('  ' + ' '.join([
        'python', 'tools/make_synthetic_data.py', '--out',
        osp.join(scratch, 'data', 'synthetic')
    ]))
    print(f'  a CamVid-size tree: {CAMVID}')
    print(f'  a VOC tree: {VOC}')
    for i, stage in enumerate(stages, 1):
        together = ' (side by side)' if len(stage) > 1 else ''
        print(f'plan: stage {i}{together}')
        for job in stage:
            work_dir = osp.join(scratch, 'work_dirs', job.name)
            print(f'  [{job.name}] ' + ' '.join(
                shlex.quote(c) for c in train_command(job, work_dir, python)))
    print('time plan (seconds, on 16 cores and one H100/H200):')
    rows = list(INSTALL_PLAN) + [('data', DATA_PLAN_S)] + [(' + '.join(
        job.name for job in stage), max(job.planned_s for job in stage))
                                                           for stage in stages]
    for step, seconds in rows:
        print(f'  {seconds:5d}  {step}')
    total = planned_seconds(stages)
    print(f'  {total:5d}  total ({total / 60:.1f} min; runs still going at '
          f'{BUDGET_S / 60:.1f} min are stopped)')


# -- data ---------------------------------------------------------------------
@dataclass
class Sample:
    """One generated image and its label.

    Args:
        image (str): The image's path (``.png`` or ``.jpg``).
        label (str): The label's path (``.png``).
        size (tuple[int, int]): (width, height).
        num_classes (int): Classes drawn (0 .. num_classes - 1).
        seed (int): Seed of its random scene.
        ignore_edges (bool): Whether the classes' borders are 255.
    """

    image: str
    label: str
    size: Tuple[int, int]
    num_classes: int
    seed: int
    ignore_edges: bool = False


def write_sample(sample: Sample) -> None:
    """Draw and save one sample: rectangles of random classes over a
    class-0 background, each class its own colour plus noise."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(sample.seed)
    w, h = sample.size
    label = np.zeros((h, w), np.uint8)
    for _ in range(6):
        x0, x1 = sorted(rng.integers(0, w, 2))
        y0, y1 = sorted(rng.integers(0, h, 2))
        label[y0:y1 + 1, x0:x1 + 1] = rng.integers(1, sample.num_classes)
    colours = np.random.default_rng(sample.num_classes).integers(
        20, 236, (sample.num_classes, 3))
    image = (colours[label] + rng.integers(-20, 21,
                                           (h, w, 3))).astype(np.uint8)
    if sample.ignore_edges:
        edges = np.zeros(label.shape, bool)
        edges[1:] |= label[1:] != label[:-1]
        edges[:, 1:] |= label[:, 1:] != label[:, :-1]
        label[edges] = 255
    for array, path in ((image, sample.image), (label, sample.label)):
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(array).save(path, compress_level=1)


def write_list(path: str, names: Sequence[str]) -> None:
    """Write one name a line."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(name + '\n' for name in names)


def camvid_tree(root: str, num_train: int, num_val: int, size: Tuple[int, int],
                num_labeled: int) -> List[Sample]:
    """Write the lists of a tree in CamVid's SegNet layout (``train.txt``,
    ``val.txt``, split 1 of 1/8 in ``splits/split1/``); its samples go to
    ``train/``, ``trainannot/``, ``val/``, ``valannot/``, 11 classes and
    void (11) in the labels.

    Returns:
        list[Sample]: The samples to write.
    """
    samples = []
    for split, count in (('train', num_train), ('val', num_val)):
        names = [f'{split}_{i:04d}' for i in range(count)]
        samples += [
            Sample(
                osp.join(root, split, name + '.png'),
                osp.join(root, split + 'annot', name + '.png'), size, 12,
                len(samples) + i) for i, name in enumerate(names)
        ]
        write_list(osp.join(root, split + '.txt'), names)
    train = [f'train_{i:04d}' for i in range(num_train)]
    split_dir = osp.join(root, 'splits', 'split1')
    write_list(osp.join(split_dir, 'labeled_1-8.txt'), train[:num_labeled])
    write_list(osp.join(split_dir, 'unlabeled_1-8.txt'), train[num_labeled:])
    return samples


def voc_tree(root: str, num_labeled: int, num_unlabeled: int, num_val: int,
             size: Tuple[int, int]) -> List[Sample]:
    """Write the lists of a tree in the layout of ``data/VOCdevkit/VOC2012``
    as the paper protocol reads it (split 1 of 1/20 in ``splits/split1/``,
    ``ImageSets/Segmentation/val.txt``); its samples go to ``JPEGImages/``
    and ``SegmentationClassAug/``, 21 classes, 255 on the classes' borders,
    landscape and portrait images.

    Returns:
        list[Sample]: The samples to write.
    """
    names = [
        f'2008_{i:06d}' for i in range(num_labeled + num_unlabeled + num_val)
    ]
    train, val = names[:-num_val], names[-num_val:]
    write_list(
        osp.join(root, 'splits/split1/labeled_1-20.txt'), train[:num_labeled])
    write_list(
        osp.join(root, 'splits/split1/unlabeled_1-20.txt'),
        train[num_labeled:])
    write_list(osp.join(root, 'ImageSets/Segmentation/val.txt'), val)
    return [
        Sample(
            osp.join(root, 'JPEGImages', name + '.jpg'),
            osp.join(root, 'SegmentationClassAug', name + '.png'),
            size if i % 2 else size[::-1],
            21,
            i,
            ignore_edges=True) for i, name in enumerate(names)
    ]


def make_data(scratch: str) -> float:
    """Generate the three data sets, the samples on every core.

    Returns:
        float: The seconds it took.
    """
    start = time.monotonic()
    data = osp.join(scratch, 'data')
    synthetic = subprocess.Popen([
        sys.executable,
        osp.join(ROOT, 'tools', 'make_synthetic_data.py'), '--out',
        osp.join(data, 'synthetic')
    ],
                                 stdout=subprocess.DEVNULL)
    samples = camvid_tree(osp.join(data, 'camvid'), **CAMVID) + voc_tree(
        osp.join(data, 'voc'), **VOC)
    with ProcessPoolExecutor() as pool:
        list(pool.map(write_sample, samples, chunksize=8))
    if synthetic.wait():
        raise RuntimeError('tools/make_synthetic_data.py failed '
                           f'(exit {synthetic.returncode})')
    return time.monotonic() - start


# -- running ------------------------------------------------------------------
class Training:
    """A ``tools/train.py`` process whose output goes to a log file, the
    labeling lines timed as they arrive.

    Args:
        job (Job): The run.
        scratch (str): The check's folder (the working directory).
        threads (int): ``OMP_NUM_THREADS`` of the process.
        python (str): The Python that runs ``tools/train.py``.
    """

    def __init__(self, job: Job, scratch: str, threads: int,
                 python: str) -> None:
        self.job = job
        self.work_dir = osp.join(scratch, 'work_dirs', job.name)
        os.makedirs(self.work_dir, exist_ok=True)
        self.log = osp.join(scratch, 'logs', job.name + '.log')
        os.makedirs(osp.dirname(self.log), exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        env.setdefault('OMP_NUM_THREADS', str(threads))
        self.start = time.monotonic()
        self.process = subprocess.Popen(
            train_command(job, self.work_dir, python),
            cwd=scratch,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True)
        self.marks: List[Tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self) -> None:
        with open(self.log, 'w') as log:
            for line in self.process.stdout:
                log.write(line)
                if LABELING_START.search(line) or LABELING_END.search(line):
                    self.marks.append((time.monotonic(), line))

    def wait(self, deadline: float) -> Tuple[str, float]:
        """Wait for the process until ``deadline`` (monotonic), then stop
        its process group.

        Returns:
            tuple[str, float]: ``'ok'``, ``'failed (exit N)'`` or
            ``'stopped at the time limit'``, and its seconds.
        """
        timeout = min(deadline, self.start + self.job.timeout_s)
        try:
            code = self.process.wait(max(0., timeout - time.monotonic()))
            status = 'ok' if code == 0 else f'failed (exit {code})'
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            status = 'stopped at the time limit'
        self.reader.join()
        return status, time.monotonic() - self.start


def labeling_times(marks: Sequence[Tuple[float, str]]) -> List[dict]:
    """Each labeling pass's round, images and seconds, from the timed
    start and end lines of ``PseudoLabelHook`` and ``PseudoLabeler``."""
    passes, started = [], None
    for when, line in marks:
        start = LABELING_START.search(line)
        if start:
            started = (when, int(start.group(1)), int(start.group(2)))
        elif started is not None:
            seconds = when - started[0]
            passes.append(
                dict(
                    round=started[1],
                    images=started[2],
                    seconds=round(seconds, 3),
                    ms_per_image=round(1000 * seconds / started[2], 2)))
            started = None
    return passes


def read_scalars(work_dir: str) -> List[dict]:
    """The lines of the newest ``<timestamp>/vis_data/scalars.json``."""
    runs = sorted(
        d for d in os.listdir(work_dir)
        if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if not runs:
        return []
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as f:
        return [json.loads(line) for line in f if line.strip()]


def optim_wrapper(work_dir: str) -> Optional[str]:
    """The optimizer wrapper a run trained with (``AmpOptimWrapper`` for
    ``--amp`` on CUDA), from the config it saved in its work dir."""
    from mmengine.config import Config
    for name in sorted(os.listdir(work_dir)):
        if name.endswith('.py'):
            cfg = Config.fromfile(
                osp.join(work_dir, name), import_custom_modules=False)
            return cfg.optim_wrapper.get('type', 'OptimWrapper')
    return None


def training_metrics(work_dir: str) -> dict:
    """Speed, memory and scores of a run from its work dir.

    Returns:
        dict: ``optim_wrapper`` (:func:`optim_wrapper`), ``iters``
        (trained, from ``summary.json``), ``it_per_s``
        (1 / the median of MMEngine's per-iteration times of the training
        log lines after the first), ``peak_memory_mb`` (MMEngine's
        ``memory`` of those lines: the most GPU memory allocated while
        training), ``rounds`` (round, alpha,
        iters, score) and ``best`` (round, score); None where absent.
    """
    lines = [s for s in read_scalars(work_dir) if 'iter' in s]  # training
    times = [s['time'] for s in lines[1:]]
    memory = [s['memory'] for s in lines if 'memory' in s]
    summary_path = osp.join(work_dir, 'summary.json')
    summary = {}
    if osp.isfile(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
    rounds = [{k: r.get(k)
               for k in ('round', 'alpha', 'iters', 'score')}
              for r in summary.get('rounds', [])]
    best = summary.get('best')
    return dict(
        optim_wrapper=optim_wrapper(work_dir),
        iters=sum(r['iters'] or 0 for r in rounds) if rounds else None,
        it_per_s=round(1 / statistics.median(times), 2) if times else None,
        peak_memory_mb=max(memory) if memory else None,
        rounds=rounds,
        best=None if not best else dict(
            round=best.get('round'), score=best.get('score')))


def run_stage(stage: Sequence[Job], scratch: str, deadline: float, cores: int,
              python: str) -> List[dict]:
    """Train a stage's runs side by side; their results.

    Args:
        stage (Sequence[Job]): The runs.
        scratch (str): The check's folder.
        deadline (float): ``time.monotonic()`` at which runs are stopped.
        cores (int): CPU cores, shared equally.
        python (str): The Python of the runs.

    Returns:
        list[dict]: Per run, :func:`run_result`.
    """
    threads = max(1, cores // len(stage))
    trainings = [Training(job, scratch, threads, python) for job in stage]
    results = []
    for training in trainings:
        status, seconds = training.wait(deadline)
        results.append(
            run_result(
                training.job,
                status,
                log=training.log,
                side_by_side=len(stage) > 1,
                wall_s=round(seconds, 1),
                labeling=labeling_times(training.marks),
                **training_metrics(training.work_dir)))
    return results


def run_result(job: Job, status: str, **measured) -> dict:
    """A run's entry of the report: what it is, its status, what was
    measured (``log``, ``side_by_side``, ``wall_s``, ``labeling`` and the
    :func:`training_metrics`; None or empty when not measured)."""
    result = dict(
        name=job.name,
        config=job.config,
        precision='fp16 (--amp)' if job.amp else 'fp32',
        status=status,
        log=None,
        side_by_side=False,
        wall_s=None,
        labeling=[],
        optim_wrapper=None,
        iters=None,
        it_per_s=None,
        peak_memory_mb=None,
        rounds=[],
        best=None)
    result.update(measured)
    return result


# -- the report ---------------------------------------------------------------
def environment() -> dict:
    """Versions, the GPU and the cores of this machine."""
    import mmcv
    import mmengine
    import mmpretrain
    import torch
    from mmcv.ops import get_compiling_cuda_version

    import mmseg
    info = dict(
        python=sys.version.split()[0],
        torch=torch.__version__,
        cuda=torch.version.cuda,
        cudnn=torch.backends.cudnn.version(),
        mmcv=mmcv.__version__,
        mmcv_ops_cuda=get_compiling_cuda_version(),
        mmengine=mmengine.__version__,
        mmseg=mmseg.__version__,
        mmpretrain=mmpretrain.__version__,
        cores=os.cpu_count(),
        gpu=None)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info['gpu'] = dict(
            name=props.name,
            memory_gib=round(props.total_memory / 2**30, 1),
            capability='.'.join(map(str, torch.cuda.get_device_capability())))
    return info


def _cell(value, digits: int = 2) -> str:
    """A table cell: '-' for None, floats with ``digits`` decimals."""
    if value is None:
        return '-'
    return f'{value:.{digits}f}' if isinstance(value, float) else str(value)


def markdown(report: dict) -> str:
    """The report as markdown tables."""
    env, install = report['environment'], report.get('install') or {}
    gpu = env.get('gpu') or {}
    seconds = install.get('seconds', {})
    lines = [
        '# GPU check', '', '| | |', '|---|---|',
        f"| GPU | {gpu.get('name', 'none')} "
        f"({gpu.get('memory_gib', '-')} GiB, sm {gpu.get('capability', '-')})"
        f", {env.get('cores')} cores |",
        f"| Python, torch, CUDA, cuDNN | {env.get('python')}, "
        f"{env.get('torch')}, {env.get('cuda')}, {env.get('cudnn')} |",
        f"| mmcv (ops' CUDA), mmengine, mmseg, mmpretrain | "
        f"{env.get('mmcv')} ({env.get('mmcv_ops_cuda')}), "
        f"{env.get('mmengine')}, {env.get('mmseg')}, "
        f"{env.get('mmpretrain')} |",
        '| install (s) | ' + ', '.join(f'{k} {_cell(v, 0)}'
                                       for k, v in seconds.items()) + ' |',
        f"| mmcv's ops | {_cell(install.get('mmcv_ops'))} |",
        f"| compilers | {_cell(install.get('cxx'))}; nvcc: "
        f"{_cell(install.get('nvcc'))} |",
        f"| data generation (s) | {_cell(report.get('data_s'), 0)} |",
        f"| check (s, from the command's start) | "
        f"{_cell(report.get('total_s'), 0)} |", '',
        '| run | precision | optimizer wrapper | status | iterations | it/s | '
        'peak GPU memory (MB) | labeling (ms/image) | wall (s) | '
        'best (round) |', '|---|---|---|---|---|---|---|---|---|---|'
    ]
    for run in report['runs']:
        labeling = [p['ms_per_image'] for p in run['labeling']]
        best = run.get('best') or {}
        lines.append(
            f"| {run['name']}{' *' if run.get('side_by_side') else ''} | "
            f"{run['precision']} | {_cell(run['optim_wrapper'])} | "
            f"{run['status']} | {_cell(run['iters'])} | "
            f"{_cell(run['it_per_s'])} | {_cell(run['peak_memory_mb'])} | "
            f"{_cell(statistics.mean(labeling) if labeling else None)} | "
            f"{_cell(run['wall_s'], 0)} | {_cell(best.get('score'))} "
            f"({_cell(best.get('round'))}) |")
    lines += ['', '\\* trained side by side on the one GPU.']
    main = {
        r['precision']: r
        for r in report['runs'] if r['name'].startswith('main-')
    }
    if main:
        lines += [
            '', "## The main job's val mIoU per round", '',
            '| round | alpha | ' + ' | '.join(main) + ' |',
            '|---|---|' + '---|' * len(main)
        ]
        by_round = {}
        for precision, run in main.items():
            for r in run['rounds']:
                by_round.setdefault((r['round'], r['alpha']),
                                    {})[precision] = r['score']
        for (rnd, alpha), scores in sorted(by_round.items()):
            lines.append(f'| {rnd} | {_cell(alpha)} | ' +
                         ' | '.join(_cell(scores.get(p)) for p in main) + ' |')
    return '\n'.join(lines) + '\n'


def write_report(out: str, report: dict) -> None:
    """Write ``gpu_check.json`` and ``gpu_check.md`` into ``out``."""
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'gpu_check.json'), 'w') as f:
        json.dump(report, f, indent=2)
    with open(osp.join(out, 'gpu_check.md'), 'w') as f:
        f.write(markdown(report))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='folder of the report')
    parser.add_argument(
        '--scratch',
        required=True,
        help='folder of the data, work dirs and logs')
    parser.add_argument(
        '--install-json', help="the install's report from gpu_check.sh")
    parser.add_argument(
        '--started',
        type=float,
        default=time.time(),
        help='when the check started (seconds since the epoch; default '
        f'now): runs are stopped {BUDGET_S} s later')
    parser.add_argument(
        '--python',
        default=sys.executable,
        help='the Python of the runs (default: this one)')
    parser.add_argument(
        '--dry-run', action='store_true', help='print the plan only')
    args = parser.parse_args(argv)
    args.out, args.scratch = osp.abspath(args.out), osp.abspath(args.scratch)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Generate the data, train every run, write the report.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        int: The exit code: 0 when every run ended well, else 1.
    """
    args = parse_args(argv)
    stages = plan(args.scratch)
    if args.dry_run:
        print_plan(stages, args.scratch, args.python)
        return 0
    deadline = time.monotonic() + args.started + BUDGET_S - time.time()
    install = None
    if args.install_json:
        with open(args.install_json) as f:
            install = json.load(f)
    report = dict(
        environment=environment(),
        install=install,
        runs=[],
        planned_s=planned_seconds(stages))
    write_report(args.out, report)
    report['data_s'] = round(make_data(args.scratch), 1)
    for stage in stages:
        if deadline - time.monotonic() < MIN_STAGE_S:
            report['runs'] += [
                run_result(job, 'skipped: out of time') for job in stage
            ]
        else:
            report['runs'] += run_stage(stage, args.scratch, deadline,
                                        os.cpu_count() or 1, args.python)
        report['total_s'] = round(time.time() - args.started, 1)
        write_report(args.out, report)
    return int(any(run['status'] != 'ok' for run in report['runs']))


if __name__ == '__main__':
    sys.exit(main())
