"""CamVid at CPU scale: DST-CBC, its ablations and UniMatch beside the
supervised baseline and oracle, scored on val and on the test split.

Half-resolution CamVid (180x240 images, 128x176 training crops) with the
``configs/camvid`` (and ``configs/unimatch``) configs of ``--model``. For
every split (1/8 labeled by default, splits 1 and 2) it trains the
supervised baseline (the baseline config: round 0 alone, its best
checkpoint on ``valtiny`` is the baseline), then every self-training
``--methods`` config from that checkpoint (``train_cfg.baseline_checkpoint``):
``dst-cbc`` is the model's DST-CBC config, the others are
``configs/camvid/ablations/<method>_*`` (the paper's Table 5: ``st``,
``dst``, ``dst-c``, ``ow``; ``dst-cbc-cutmix`` beyond it). ``unimatch``
trains the model's UniMatch config from ImageNet weights, as its authors
do, not from the baseline; ``unimatch-from-baseline`` starts UniMatch from
the split's baseline checkpoint (``load_from``) instead. Once for all
splits and ratios it trains the oracle, the supervised recipe on every
label. Every model is selected on ``valtiny`` (one val image per class);
every number reported is the full val set (101 images) and the test
split (233 images of other sequences: ``<data-root>/test.txt``, or
``--test-root``). Baselines, oracle and UniMatch are also scored on val at
about six points of their training (the curves of
``miou_1-<ratio>.png``).

Each training and evaluation is a process (``tools/train.py``,
``tools/test.py``), up to ``--jobs`` at once with ``cores / jobs`` threads
each unless ``OMP_NUM_THREADS`` is set. A training's work dir is named by
the run and a digest of its config; a finished one is read, not trained
again, and an unfinished one (the benchmark was stopped) resumes from its
last checkpoint: rerunning the same command with the same ``--out`` trains
only what is missing (another method, another ratio, the rest of a run).
A run's wall time is the sum of its attempts (from its logs); the CPUs of
its attempts are recorded beside it.

Usage::

    python -m benchmarks.camvid.run [--model effnet-lite0] [--data-root DIR]
        [--out DIR] [--splits 1 2] [--ratio 8] [--no-oracle]
        [--methods dst-cbc st dst dst-c ow dst-cbc-cutmix unimatch
                   unimatch-from-baseline]
        [--baseline-iters N] [--jobs 2] [--test-root DIR]
        [--cfg-options k=v ...] [--supervised-options k=v ...]

Writes ``<out>/results_1-<ratio>.json``, ``<out>/results_1-<ratio>.md`` and
``<out>/miou_1-<ratio>.png`` and prints the tables.
"""
import argparse
import copy
import glob
import hashlib
import heapq
import io
import itertools
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, List, Optional

from mmengine.config import Config, DictAction

from benchmarks.common import (DEFAULT_DATA_ROOT, ROOT, machine, machine_line,
                               point_config, write_split_lists)
from dst_cbc.datasets import (class_presence, pick_valtiny, read_list,
                              write_list)
from dst_cbc.engine.report import markdown_table
from dst_cbc.utils import atomic_write_bytes, atomic_write_json, read_json

CONFIG_DIR = osp.join(ROOT, 'configs')
#: Per model: its title and the model part of its config names.
MODELS = {
    'fast-scnn': ('Fast-SCNN from scratch', 'fast-scnn'),
    'effnet-lite0': ('EfficientNet-Lite0 (ImageNet) + DeepLabV3+',
                     'effnet-lite0-deeplabv3plus'),
}
#: Self-training methods: DST-CBC and the ablations' config prefixes.
METHODS = ('dst-cbc', 'st', 'dst', 'dst-c', 'ow', 'dst-cbc-cutmix')
#: Online methods: one training, kept at its best validation.
ONLINE = ('unimatch', 'unimatch-from-baseline')
#: The online methods that start from the split's baseline, not ImageNet.
FROM_BASELINE = ('unimatch-from-baseline', )
NUM_CLASSES = 11
#: The training curves: val scores at this many points of a run.
CURVE_POINTS = 6
#: A training's record of its attempts' machines, in its work dir.
MACHINES_JSON = 'benchmark_machines.json'
#: MMEngine's log line time stamp, e.g. ``2026/12/07 21:55:37``.
LOG_TIME = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - ')


def from_imagenet(method: str) -> bool:
    """Whether ``method`` trains from ImageNet weights, not a baseline."""
    return method in ONLINE and method not in FROM_BASELINE


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv``, else ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', choices=sorted(MODELS), default='fast-scnn')
    parser.add_argument('--data-root', default=DEFAULT_DATA_ROOT)
    parser.add_argument(
        '--out', default=osp.join(ROOT, 'work_dirs', 'benchmarks', 'camvid'))
    parser.add_argument('--splits', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--ratio', type=int, default=8)
    parser.add_argument('--no-oracle', action='store_true')
    parser.add_argument(
        '--methods', nargs='+', choices=METHODS + ONLINE, default=['dst-cbc'])
    parser.add_argument(
        '--baseline-iters',
        type=int,
        help='iterations of the supervised baselines (default: the baseline '
        "config's for 1/8 and fewer labels, the oracle config's for more)")
    parser.add_argument('--jobs', type=int, default=1)
    parser.add_argument(
        '--test-root',
        help='the test set (CamVid layout: test.txt, test/, testannot/); '
        'defaults to --data-root when it has test.txt')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='key=value options for every self-training run')
    parser.add_argument(
        '--supervised-options',
        nargs='+',
        action=DictAction,
        default={},
        help='key=value options for the baselines and the oracle')
    args = parser.parse_args(argv)
    for option in ('baseline_iters', 'jobs'):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f'--{option.replace("_", "-")} must be >= 1, got '
                         f'{value}')
    if args.baseline_iters is None:
        kind = 'baseline' if args.ratio >= 8 else 'oracle'
        args.baseline_iters = Config.fromfile(
            config_path(args.model, kind, args.ratio)).train_cfg.baseline_iters
    # The lists are joined to each dataset's data_root unless absolute.
    for option in ('out', 'data_root', 'test_root'):
        if getattr(args, option):
            setattr(args, option, osp.abspath(getattr(args, option)))
    if args.test_root is None and osp.isfile(
            osp.join(args.data_root, 'test.txt')):
        args.test_root = args.data_root
    return args


def config_path(model: str, method: str, ratio: int = 8) -> str:
    """The config of ``model``'s run ``method`` at 1/``ratio`` labels.

    ``method`` is ``'baseline'``, ``'oracle'`` or one of :data:`METHODS`
    and :data:`ONLINE`. Without a config of the ratio the 1/8 one serves
    (the runner points it at the ratio's lists).

    Raises:
        FileNotFoundError: If neither exists.
    """
    part = MODELS[model][1]
    names = {
        'baseline':
        'camvid/baseline_{part}_1xb8_camvid-{ratio}_128x176.py',
        'oracle':
        'camvid/baseline_{part}_1xb8_camvid-full_128x176.py',
        'dst-cbc':
        'camvid/dst-cbc_{part}_1xb4+4_camvid-{ratio}_128x176.py',
        'unimatch':
        'unimatch/unimatch_{part}_1xb4+8_camvid-{ratio}_128x176.py',
        'unimatch-from-baseline':
        'unimatch/unimatch-from-baseline_{part}_1xb4+8_camvid-{ratio}'
        '_128x176.py',
    }
    name = names.get(
        method, 'camvid/ablations/{method}_{part}_1xb4+4_camvid-{ratio}'
        '_128x176.py')
    for labels in (f'1-{ratio}', '1-8'):
        path = osp.join(CONFIG_DIR,
                        name.format(method=method, part=part, ratio=labels))
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'no config of {method} for {model}: {path}')


def make_splits(data_root: str, out: str, ratio: int, num_splits: int) -> str:
    """Write nested 1/16, 1/8 and 1/4 (and 1/``ratio``) lists and
    ``valtiny`` into ``out/splits``; return that folder."""
    split_dir = osp.join(out, 'splits')
    write_split_lists(data_root, split_dir, sorted({4, 8, 16, ratio}),
                      num_splits)
    presence = class_presence(
        osp.join(data_root, 'valannot'),
        read_list(osp.join(data_root, 'val.txt')),
        '.png',
        label_map={11: 255})
    write_list(
        osp.join(split_dir, 'valtiny.txt'),
        pick_valtiny(presence, NUM_CLASSES))
    return split_dir


def training_seconds(work_dir: str) -> float:
    """Wall seconds of a training over all its attempts: per MMEngine log
    (``<work_dir>/<time stamp>/<time stamp>.log``, one per attempt), its
    last time stamp minus its first."""
    total = 0.
    stamp = '[0-9]' * 8 + '_' + '[0-9]' * 6
    for path in glob.glob(osp.join(work_dir, stamp, stamp + '.log')):
        with open(path) as f:
            stamps = [m.group(1) for m in map(LOG_TIME.match, f) if m]
        if stamps:
            first, last = (
                time.mktime(time.strptime(t, '%Y/%m/%d %H:%M:%S'))
                for t in (stamps[0], stamps[-1]))
            total += last - first
    return total


class Processes:
    """Runs commands as processes, at most ``jobs`` at once, each with
    ``OMP_NUM_THREADS = max(1, cores // jobs)`` unless it is set.

    A free slot goes to the waiting command of the lowest ``priority``,
    then to the one that asked first: evaluations (priority 0) do not wait
    behind the trainings queued before them.

    Args:
        jobs (int): Processes at once.
    """

    def __init__(self, jobs: int) -> None:
        self._free = jobs
        self._waiting: List[tuple] = []
        self._tickets = itertools.count()
        self._changed = threading.Condition()
        self.env = dict(os.environ)
        self.env.setdefault('OMP_NUM_THREADS',
                            str(max(1, (os.cpu_count() or 1) // jobs)))

    @contextmanager
    def _slot(self, priority: int) -> Iterator[None]:
        """Hold a slot, taken in ``(priority, arrival)`` order."""
        with self._changed:
            ticket = (priority, next(self._tickets))
            heapq.heappush(self._waiting, ticket)
            self._changed.wait_for(
                lambda: self._free and self._waiting[0] == ticket)
            heapq.heappop(self._waiting)
            self._free -= 1
            self._changed.notify_all()  # the next may take another slot
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify_all()

    def run(self, cmd: List[str], log: str, priority: int = 1) -> float:
        """Run ``cmd`` with its output appended to ``log``; its wall
        seconds.

        Args:
            cmd (list[str]): The command.
            log (str): Its log file.
            priority (int): Its place in the queue: lower runs first.
                Defaults to 1 (a training; evaluations pass 0).

        Raises:
            RuntimeError: If the command fails, naming its log.
        """
        with self._slot(priority), open(log, 'a') as f:
            start = time.time()
            code = subprocess.run(
                cmd, stdout=f, stderr=subprocess.STDOUT,
                env=self.env).returncode
        if code:
            raise RuntimeError(f'{" ".join(cmd)} failed (exit {code}); see '
                               f'{log}')
        return time.time() - start


def curve_points(iters: int, interval: int) -> List[int]:
    """:data:`CURVE_POINTS` iterations of a run of ``iters`` at which a
    checkpoint is saved every ``interval``: even multiples of
    ``interval``, and the last iteration."""
    step = interval * max(1, round(iters / CURVE_POINTS / interval))
    points = list(range(step, iters + 1, step))[:CURVE_POINTS]
    return points if points and points[-1] == iters else points + [iters]


class Benchmark:
    """The benchmark's trainings and evaluations.

    Args:
        args (argparse.Namespace): The parsed arguments.
        split_dir (str): Folder of the split lists and ``valtiny.txt``.
    """

    def __init__(self, args: argparse.Namespace, split_dir: str) -> None:
        self.args = args
        self.split_dir = split_dir
        self.processes = Processes(args.jobs)

    def config(self, method: str, split: Optional[int] = None) -> Config:
        """``method``'s config on the benchmark's data and ``split``,
        selecting on ``valtiny`` and testing on ``val``."""
        cfg = Config.fromfile(
            config_path(self.args.model, method, self.args.ratio))
        point_config(cfg, self.args.data_root, self.split_dir, self.args.ratio,
                     '{split}')
        if split is not None:
            cfg.train_dataloader.dataset.split = split
        cfg.val_dataloader.dataset.ann_file = osp.join(self.split_dir,
                                                       'valtiny.txt')
        cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
        cfg.test_dataloader.dataset.ann_file = 'val.txt'
        return cfg

    def train(self, name: str, cfg: Config) -> Dict:
        """Train ``cfg`` in ``<out>/<name>-<digest>`` unless a finished run
        of the same config is there; an unfinished one resumes.

        Returns:
            dict: ``work_dir``, ``seconds`` (the training's wall time, all
            attempts) and ``machines`` (the CPU of each attempt).
        """
        text = cfg.pretty_text
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        work_dir = osp.join(self.args.out, f'{name}-{digest}')
        done = osp.join(work_dir, 'benchmark.json')
        machines = osp.join(work_dir, MACHINES_JSON)
        seen = read_json(machines) if osp.isfile(machines) else []
        if not osp.isfile(done):
            os.makedirs(work_dir, exist_ok=True)
            path = osp.join(work_dir, 'benchmark_config.py')
            atomic_write_bytes(path, text.encode())
            here = machine(int(self.processes.env['OMP_NUM_THREADS']))
            if here not in seen:
                seen = seen + [here]
                atomic_write_json(machines, seen)
            cmd = [
                sys.executable, f'{ROOT}/tools/train.py', path, '--work-dir',
                work_dir, '--resume'
            ]
            self.processes.run(cmd, f'{work_dir}/train.log')
            atomic_write_json(done, dict(seconds=training_seconds(work_dir)))
        return dict(
            work_dir=work_dir,
            seconds=read_json(done)['seconds'],
            machines=seen)

    def evaluate(self,
                 work_dir: str,
                 checkpoint: str,
                 test_root: Optional[str] = None) -> float:
        """mIoU of ``checkpoint`` on val (or on ``test_root``) by
        ``tools/test.py``, once: its metrics file is read after."""
        name = osp.splitext(osp.basename(checkpoint))[0]
        out = f'{work_dir}/eval/{name}_{"test" if test_root else "val"}'
        if not glob.glob(f'{out}/*/*.json'):
            os.makedirs(out, exist_ok=True)
            cmd = [
                sys.executable, f'{ROOT}/tools/test.py',
                f'{work_dir}/benchmark_config.py', checkpoint, '--work-dir',
                out
            ] + (['--test-root', test_root] if test_root else [])
            self.processes.run(cmd, f'{out}.log', priority=0)
        with open(sorted(glob.glob(f'{out}/*/*.json'))[-1]) as f:
            return json.loads(f.read().splitlines()[-1])['mIoU']

    def map(self, fn: Callable, items: Iterable) -> List:
        """``fn`` over ``items``, ``--jobs`` at a time."""
        with ThreadPoolExecutor(self.args.jobs) as pool:
            return list(pool.map(fn, items))

    def scores(self, work_dir: str, checkpoint: str) -> Dict:
        """``mIoU`` on val and, with a test set, ``test_mIoU``."""
        scores = dict(mIoU=self.evaluate(work_dir, checkpoint))
        if self.args.test_root:
            scores['test_mIoU'] = self.evaluate(work_dir, checkpoint,
                                                self.args.test_root)
        return scores

    def curve(self, work_dir: str, points: List[int]) -> Dict[int, float]:
        """val mIoU of the checkpoints ``iter_<n>.pth`` of ``points``."""
        return dict(
            zip(
                points,
                self.map(
                    lambda n: self.evaluate(
                        work_dir, f'{work_dir}/iter_{n}.pth'), points)))

    def supervised(self, split: Optional[int] = None) -> Dict:
        """The oracle (``split`` None) or a split's baseline, selected on
        valtiny; checkpoints at :data:`CURVE_POINTS` even steps are scored
        on val too (``curve``)."""
        cfg = self.config('oracle' if split is None else 'baseline', split)
        if split is not None:
            cfg.train_cfg.baseline_iters = self.args.baseline_iters
        cfg.merge_from_dict(self.args.supervised_options)
        iters = cfg.train_cfg.baseline_iters
        step = max(1, iters // CURVE_POINTS)
        cfg.merge_from_dict({
            'default_hooks.checkpoint.interval': step,
            'default_hooks.checkpoint.max_keep_ckpts': -1
        })
        run = self.train('oracle' if split is None else f'split{split}/base',
                         cfg)
        best = read_json(osp.join(run['work_dir'], 'summary.json'))['best']
        return dict(
            self.scores(run['work_dir'], best['checkpoint']),
            valtiny_mIoU=best['score'],
            checkpoint=best['checkpoint'],
            iters=iters,
            curve=self.curve(run['work_dir'],
                             list(range(step, iters + 1, step))),
            seconds=run['seconds'],
            machines=run['machines'])

    def self_training(self, split: int, method: str, baseline: Dict) -> Dict:
        """``method``'s rounds from the split's baseline, each round's best
        checkpoint scored on val."""
        cfg = self.config(method, split)
        cfg.train_cfg.baseline_checkpoint = baseline['checkpoint']
        cfg.merge_from_dict(self.args.cfg_options)
        run = self.train(f'split{split}/{method}', cfg)
        summary = read_json(osp.join(run['work_dir'], 'summary.json'))
        vals = self.map(
            lambda r: baseline['mIoU'] if r['round'] == 0 else self.evaluate(
                run['work_dir'], r['checkpoint']), summary['rounds'])
        rounds = [
            dict(
                round=r['round'],
                alpha=r['alpha'],
                valtiny_mIoU=r['score'],
                val_mIoU=val,
                pseudo_miou=r.get('pseudo_miou'))
            for r, val in zip(summary['rounds'], vals)
        ]
        kept = summary['best']['round']
        result = dict(
            rounds=rounds,
            selected_round=kept,
            mIoU=vals[kept],
            checkpoint=summary['best']['checkpoint'],
            seconds=run['seconds'],
            machines=run['machines'])
        if self.args.test_root:
            result['test_mIoU'] = baseline['test_mIoU'] if kept == 0 else (
                self.evaluate(run['work_dir'], result['checkpoint'],
                              self.args.test_root))
        return result

    def online(self,
               split: int,
               method: str,
               baseline: Optional[Dict] = None) -> Dict:
        """``method`` (UniMatch) on the split from ImageNet weights, or
        from ``baseline``'s checkpoint: its best validation on valtiny is
        kept; a checkpoint at every validation, :data:`CURVE_POINTS` of them
        scored on val (``curve``)."""
        cfg = self.config(method, split)
        if baseline is not None:
            cfg.load_from = baseline['checkpoint']
        interval = cfg.train_cfg.val_interval
        cfg.merge_from_dict({
            'default_hooks.checkpoint.interval': interval,
            'default_hooks.checkpoint.max_keep_ckpts': -1
        })
        run = self.train(f'split{split}/{method}', cfg)
        report = read_json(osp.join(run['work_dir'], 'report.json'))
        iters, best = report['val'][-1]['iter'], report['best']
        [checkpoint] = glob.glob(
            osp.join(run['work_dir'], f'best_*_iter_{best["iter"]}.pth'))
        return dict(
            self.scores(run['work_dir'], checkpoint),
            valtiny_mIoU=best['score'],
            kept_iteration=best['iter'],
            checkpoint=checkpoint,
            iters=iters,
            curve=self.curve(run['work_dir'], curve_points(iters, interval)),
            seconds=run['seconds'],
            machines=run['machines'])

    def method(self, split: int, method: str, baselines: Dict) -> Dict:
        """``method`` on ``split``: online (from ImageNet or from the
        split's baseline), or self-training from the split's baseline (a
        future in ``baselines``)."""
        if method in FROM_BASELINE:
            return self.online(split, method, baselines[split].result())
        if method in ONLINE:
            return self.online(split, method)
        return self.self_training(split, method, baselines[split].result())


def gap_closed(base: float, score: float, oracle: Optional[float]) -> str:
    """Share of the baseline-to-oracle gap a method closed, as text."""
    if oracle is None or oracle <= base:
        return '-'
    return f'{100 * (score - base) / (oracle - base):.0f} %'


def pair(result: Dict) -> str:
    """A result's ``val / test`` mIoU (``-`` for a missing test score)."""
    test = result.get('test_mIoU')
    return f'{result["mIoU"]:.2f} / ' + ('-'
                                         if test is None else f'{test:.2f}')


def kept(result: Dict) -> str:
    """What selection kept: the round, or the iteration."""
    if 'selected_round' in result:
        return f'round {result["selected_round"]}'
    return f'iter {result["kept_iteration"]}'


def mean_line(results: Dict, method: str) -> str:
    """``method``'s mean gain over the splits and the share of the
    baseline-to-oracle gap the means close, on test and on val."""
    entries = list(results['splits'].values())
    oracle = results.get('oracle', {})
    parts = []
    for key, name in (('test_mIoU', 'test'), ('mIoU', 'val')):
        if any(key not in e[k] for e in entries for k in ('baseline', method)):
            continue
        base, score = (
            sum(e[k][key] for e in entries) / len(entries)
            for k in ('baseline', method))
        parts.append(f'{name} {base:.2f} -> {score:.2f} ({score - base:+.2f}, '
                     f'gap closed {gap_closed(base, score, oracle.get(key))})')
    return f'{method}, mean of the splits: ' + '; '.join(parts)


def machines_line(results: Dict) -> str:
    """The CPUs the trainings ran on (each run records its attempts')."""
    runs = [results.get('oracle', {})
            ] + [r for e in results['splits'].values() for r in e.values()]
    seen = []
    for info in (m for r in runs for m in r.get('machines', [])):
        if info not in seen:
            seen.append(info)
    return ' '.join(machine_line(m) for m in seen or [results['machine']])


def curve_text(curve: Dict[int, float]) -> str:
    """A training curve as ``iteration: mIoU, ...``."""
    return ', '.join(f'{k}: {v:.2f}' for k, v in curve.items())


def table(results: Dict) -> str:
    """The benchmark's Markdown tables: every split and method (val / test
    mIoU, gains on test, wall time: baseline + the method, or the online
    method from ImageNet alone), the means, the rounds and the curves."""
    oracle = results.get('oracle', {})
    rows, lines = [], []
    for split, entry in sorted(results['splits'].items()):
        base = entry['baseline']
        for method in results['methods']:
            res = entry[method]
            key = 'test_mIoU' if 'test_mIoU' in res else 'mIoU'
            seconds = res['seconds'] + (0 if from_imagenet(method) else
                                        base['seconds'])
            rows.append([
                str(split), method,
                pair(base), f'{pair(res)} ({kept(res)})',
                f'{res[key] - base[key]:+.2f}',
                gap_closed(base[key], res[key],
                           oracle.get(key)), f'{seconds / 60:.0f} min'
            ])
            if 'rounds' in res:
                lines.append(f'split {split}, {method}, val (valtiny) by '
                             'round: ' + ', '.join(f'{r["val_mIoU"]:.2f} '
                                                   f'({r["valtiny_mIoU"]:.2f})'
                                                   for r in res['rounds']))
            else:
                lines.append(f'split {split}, {method}, val by iteration: ' +
                             curve_text(res['curve']))
        lines.append(f'split {split} baseline, val by iteration: ' +
                     curve_text(base['curve']))
    lines += [mean_line(results, method) for method in results['methods']]
    if oracle:
        lines.append(f'oracle: val / test {pair(oracle)}, '
                     f'{oracle["seconds"] / 60:.0f} min; val by iteration ' +
                     curve_text(oracle['curve']))
    header = [
        'split', 'method', 'baseline val / test', 'val / test (kept)', 'gain',
        'gap closed', 'wall time'
    ]
    tested = all('test_mIoU' in e['baseline']
                 for e in results['splits'].values())
    return '\n'.join([
        f'CamVid 1/{results["ratio"]}, {results["title"]}. gain and gap '
        f'closed: on {"test" if tested else "val"}. ' +
        machines_line(results), '',
        markdown_table(header, rows), ''
    ] + lines)


def plot(results: Dict, path: str) -> None:
    """Left: val mIoU of each round's best checkpoint per split and
    self-training method; right: val mIoU along the trainings of the
    baselines, the online methods (those from a baseline after its
    iterations) and the oracle."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (rounds_ax, iters_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for split, entry in sorted(results['splits'].items()):
        curves = dict(baseline=entry['baseline']['curve'])
        for method in results['methods']:
            if method in ONLINE:
                start = entry['baseline']['iters'] * (method in FROM_BASELINE)
                curves[method] = {
                    int(k) + start: v
                    for k, v in entry[method]['curve'].items()
                }
                continue
            rounds = entry[method]['rounds']
            rounds_ax.plot([r['round'] for r in rounds],
                           [r['val_mIoU'] for r in rounds],
                           marker='o',
                           label=f'{method}, split {split}')
        for name, curve in curves.items():
            iters_ax.plot([int(k) for k in curve],
                          list(curve.values()),
                          marker='.',
                          label=f'{name}, split {split}')
    if 'oracle' in results:
        curve = results['oracle']['curve']
        iters_ax.plot([int(k) for k in curve],
                      list(curve.values()),
                      color='k',
                      linestyle='--',
                      label='oracle')
        rounds_ax.axhline(
            results['oracle']['mIoU'],
            color='k',
            linestyle='--',
            label='oracle')
    rounds_ax.set_xlabel('round (0: the baseline)')
    iters_ax.set_xlabel('iteration')
    for ax in (rounds_ax, iters_ax):
        ax.set_ylabel('val mIoU (%)')
        ax.legend(fontsize=7)
    fig.suptitle(
        f'CamVid 1/{results["ratio"]} at 180x240, {results["title"]}',
        fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def run_benchmark(args: argparse.Namespace, bench: Benchmark) -> Dict:
    """Train and score everything the arguments ask for.

    Returns:
        dict: The results written to ``results_1-<ratio>.json``.
    """
    start = time.time()
    # Threads wait on processes (at most --jobs at once) or on each other:
    # one per task, so that none waits for a free thread. Submitted in this
    # order (trainings take free slots about so, evaluations first): the
    # first split's online runs (the longest), the oracle and the
    # baselines, the other online runs, then the self-training.
    tasks = 1 + len(args.splits) * (1 + len(args.methods))
    first = [(args.splits[0], m) for m in args.methods if from_imagenet(m)]
    with ThreadPoolExecutor(tasks) as pool:
        runs = {key: pool.submit(bench.online, *key) for key in first}
        oracle = None if args.no_oracle else pool.submit(bench.supervised)
        baselines = {s: pool.submit(bench.supervised, s) for s in args.splits}
        runs.update({(s, m): pool.submit(bench.method, s, m, baselines)
                     for s in args.splits for m in args.methods
                     if (s, m) not in first})
        splits = {
            s: dict(
                baseline=baselines[s].result(),
                **{m: runs[s, m].result()
                   for m in args.methods})
            for s in args.splits
        }
    results = dict(
        machine=machine(int(bench.processes.env['OMP_NUM_THREADS'])),
        model=args.model,
        title=MODELS[args.model][0],
        ratio=args.ratio,
        methods=args.methods,
        jobs=args.jobs,
        test_root=args.test_root,
        cfg_options=args.cfg_options,
        supervised_options=args.supervised_options,
        splits=splits,
        wall_seconds=time.time() - start)
    if oracle is not None:
        results['oracle'] = oracle.result()
    return results


def main() -> None:
    """Run the benchmark, write and print its tables."""
    args = parse_args()
    if not osp.isfile(osp.join(args.data_root, 'train.txt')):
        raise FileNotFoundError(
            f'CamVid not found at {args.data_root} (train.txt missing); '
            'pass --data-root')
    for method in args.methods:
        config_path(args.model, method, args.ratio)  # no config: fail now
    os.makedirs(args.out, exist_ok=True)
    split_dir = make_splits(args.data_root, args.out, args.ratio,
                            max(args.splits))
    results = run_benchmark(args, Benchmark(args, split_dir))
    ratio = f'1-{args.ratio}'
    atomic_write_json(osp.join(args.out, f'results_{ratio}.json'), results)
    text = table(results)
    atomic_write_bytes(
        osp.join(args.out, f'results_{ratio}.md'), text.encode())
    plot(results, osp.join(args.out, f'miou_{ratio}.png'))
    print(text)
    print(f'{results["wall_seconds"] / 60:.1f} min; results in {args.out}')


if __name__ == '__main__':
    main()
