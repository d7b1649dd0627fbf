"""CamVid at CPU scale: DST-CBC against the supervised baseline and the oracle.

Half-resolution CamVid (180x240 images, 128x176 training crops), with the
model ``--model`` names (:data:`MODELS`). For every split (1/8 labeled by
default, splits 1 and 2) it trains the supervised baseline on the labeled
list (the curriculum's round 0 alone, ``train_cfg.alphas=()``; its best
checkpoint on ``valtiny`` is the baseline), then DST-CBC from that checkpoint
(``train_cfg.baseline_checkpoint``: five self-training rounds follow). The
oracle is the same supervised recipe on every training label; it does not
depend on the split, so it runs once. Every model is selected on ``valtiny``
(one val image per class) as the paper does for realistic small-label runs;
every number reported is measured on the full ``val`` set (101 images), and
with ``--test-root`` on that set too. ``--ablation [ROW ...]`` adds the
paper's Table 5 rows (ST, DST, DST-C, OW) and strong augmentation of the
pseudo-labeled crops (CutMix) on the first split, each from that split's
baseline checkpoint; they start once that baseline is trained and share the
``--jobs`` slots with the other runs, so the main runs' wall time is the
benchmark's own only without ``--ablation``. ``--reuse RESULTS_JSON`` keeps
what an earlier run of the same model, ratio and baseline length trained
(oracle, baselines, and DST-CBC and ablation rows if they had the same
``--cfg-options``) and trains the rest; ``--baselines-only``
stops after the oracle and the baselines (with ``--baseline-iters``, a
convergence check). ``--jobs N`` runs up to N trainings or evaluations at
once, each a process of ``cores / N`` threads (unless ``OMP_NUM_THREADS`` is
set).

Usage::

    python -m benchmarks.camvid.run [--model effnet-lite0]
        [--data-root ../shared/data/camvid]
        [--out work_dirs/benchmarks/camvid] [--splits 1 2] [--ratio 8]
        [--no-oracle | --oracle-from RESULTS_JSON] [--reuse RESULTS_JSON]
        [--baselines-only] [--baseline-iters N]
        [--ablation [ST DST DST_C OW CutMix]] [--jobs 2] [--test-root DIR]
        [--cfg-options k=v ...] [--supervised-options k=v ...]

Writes ``<out>/results.json``, ``<out>/results.md`` and
``<out>/miou_per_round.png`` and prints the table.
"""
import argparse
import copy
import io
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
from mmengine.config import Config, DictAction

from benchmarks.common import (DEFAULT_DATA_ROOT, ROOT, point_config,
                               write_split_lists)
from dst_cbc.datasets import (class_presence, pick_valtiny, read_list,
                              write_list)
from dst_cbc.utils import atomic_write_bytes, atomic_write_json, read_json

CONFIG_DIR = osp.join(ROOT, 'configs', 'camvid')
#: Per model: its title and the config of the baseline (``{ratio}`` is the
#: labeled ratio, e.g. ``1-8``; the 1/8 config serves ratios without one),
#: of DST-CBC and of the oracle.
MODELS = {
    'fast-scnn':
    dict(
        title='Fast-SCNN from scratch',
        baseline='baseline_fast-scnn_1xb8_camvid-{ratio}_128x176.py',
        dst_cbc='dst-cbc_fast-scnn_1xb4+4_camvid-1-8_128x176.py',
        oracle='baseline_fast-scnn_1xb8_camvid-full_128x176.py'),
    'effnet-lite0':
    dict(
        title='EfficientNet-Lite0 (ImageNet) + DeepLabV3+',
        baseline='baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-{ratio}_'
        '128x176.py',
        dst_cbc='dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-{ratio}_'
        '128x176.py',
        oracle='baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-full_'
        '128x176.py'),
}
NUM_CLASSES = 11
#: Rows of the ablation: the paper's Table 5 and, beyond it, strong
#: augmentation of the pseudo-labeled half (``configs/_base_/strong_aug.py``).
ABLATIONS = ('ST', 'DST', 'DST_C', 'OW', 'CutMix')
STRONG_AUG = osp.join(ROOT, 'configs', '_base_', 'strong_aug.py')
#: The baseline's training curve: checkpoints at this many points.
CURVE_POINTS = 6


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', choices=sorted(MODELS), default='fast-scnn')
    parser.add_argument('--data-root', default=DEFAULT_DATA_ROOT)
    parser.add_argument(
        '--out', default=osp.join(ROOT, 'work_dirs', 'benchmarks', 'camvid'))
    parser.add_argument('--splits', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--ratio', type=int, default=8)
    oracle = parser.add_mutually_exclusive_group()
    oracle.add_argument('--no-oracle', action='store_true')
    oracle.add_argument(
        '--oracle-from',
        metavar='RESULTS_JSON',
        help='reuse the oracle of an earlier run (it trains on every '
        'label, so it depends on neither the ratio nor the split; it must '
        'have the same --supervised-options)')
    parser.add_argument(
        '--reuse',
        metavar='RESULTS_JSON',
        help='reuse the oracle, splits and ablation rows of an earlier run '
        'of the same model, ratio, baseline length and supervised options; '
        'train only what it lacks (e.g. more --ablation rows, or DST-CBC '
        'with other --cfg-options)')
    parser.add_argument(
        '--baselines-only',
        action='store_true',
        help='train and score the oracle and the baselines only (with '
        '--baseline-iters: check that they converge)')
    parser.add_argument(
        '--baseline-iters',
        type=int,
        help='iterations of the supervised baselines (default: the baseline '
        "config's for 1/8 and fewer labels, the oracle config's for more)")
    parser.add_argument(
        '--ablation',
        nargs='*',
        choices=ABLATIONS,
        help='train these variants of DST-CBC from the first split\'s '
        'baseline (no name: all of them)')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='trainings and evaluations run at once, each with '
        'cores / jobs threads')
    parser.add_argument(
        '--test-root',
        help='also score the selected models on this set (CamVid layout: '
        'test.txt, test/, testannot/)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='key=value options for every DST-CBC run')
    parser.add_argument(
        '--supervised-options',
        nargs='+',
        action=DictAction,
        default={},
        help='key=value options for the baselines and the oracle')
    args = parser.parse_args(argv)
    if args.ablation == []:
        args.ablation = list(ABLATIONS)
    if args.baselines_only and args.ablation:
        parser.error('--baselines-only trains no DST-CBC, so no --ablation')
    if args.jobs < 1:
        parser.error(f'--jobs must be >= 1, got {args.jobs}')
    if args.baseline_iters is None:
        args.baseline_iters = baseline_iters(args.model, args.ratio)
    elif args.baseline_iters < 1:
        parser.error(f'--baseline-iters must be >= 1, got '
                     f'{args.baseline_iters}')
    # The lists are joined to each dataset's data_root unless absolute.
    args.out = osp.abspath(args.out)
    args.data_root = osp.abspath(args.data_root)
    if args.test_root:
        args.test_root = osp.abspath(args.test_root)
    return args


def config_path(model: str, kind: str, ratio: int = 8) -> str:
    """The config of ``model``'s ``kind`` run (baseline, dst_cbc, oracle)."""
    name = MODELS[model][kind]
    path = osp.join(CONFIG_DIR, name.format(ratio=f'1-{ratio}'))
    if not osp.isfile(path):
        path = osp.join(CONFIG_DIR, name.format(ratio='1-8'))
    return path


def baseline_iters(model: str, ratio: int) -> int:
    """Default length of the 1/``ratio`` supervised baseline.

    1/8 and fewer labels: the baseline config's own length. More labels:
    the oracle config's length (at 1/4 the Fast-SCNN baseline still
    improved at the end of the 1/8 one).
    """
    kind = 'baseline' if ratio >= 8 else 'oracle'
    return Config.fromfile(config_path(model, kind,
                                       ratio)).train_cfg['baseline_iters']


def supervised_options(args, baseline: bool) -> Dict:
    """Options of a supervised run: a baseline's length, then the user's.

    A baseline trains ``args.baseline_iters`` iterations (its poly schedule
    spans the round); the oracle keeps its config's length.
    ``--supervised-options`` override both.
    """
    options = {
        'train_cfg.baseline_iters': args.baseline_iters
    } if baseline else {}
    options.update(args.supervised_options)
    return options


def make_splits(data_root: str, out: str, ratio: int, num_splits: int) -> str:
    """Write nested 1/8 and 1/4 (and 1/``ratio``) lists and valtiny.

    The lists go to ``out/splits/split<s>/{labeled,unlabeled}_1-<k>.txt``;
    each ratio's labeled list contains the smaller ratios' ones.
    """
    split_dir = osp.join(out, 'splits')
    write_split_lists(data_root, split_dir, sorted({4, 8, ratio}), num_splits)
    val_names = read_list(osp.join(data_root, 'val.txt'))
    presence = class_presence(
        osp.join(data_root, 'valannot'),
        val_names,
        '.png',
        label_map={11: 255})
    write_list(
        osp.join(split_dir, 'valtiny.txt'),
        pick_valtiny(presence, NUM_CLASSES))
    return split_dir


def read_results(path: str, option: str) -> Dict:
    """An earlier run's ``results.json``, given to ``option``.

    Raises:
        ValueError: If it cannot be read, naming the option and the file.
    """
    try:
        return read_json(path)
    except (OSError, ValueError) as e:
        raise ValueError(f'{option} {path}: cannot read it ({e})') from e


def _as_json(options: Dict) -> Dict:
    """``options`` as ``results.json`` stores them (tuples become lists)."""
    return json.loads(json.dumps(options))


def check_supervised_options(earlier: Dict, path: str, option: str,
                             args: argparse.Namespace) -> None:
    """Stop if ``earlier`` (``path``, given to ``option``) trained its
    supervised models with other ``--supervised-options`` than ``args``.

    Raises:
        ValueError: Naming the option, the file and both options.
    """
    stored = earlier.get('supervised_options', {})
    if stored != _as_json(args.supervised_options):
        raise ValueError(
            f'{option} {path}: its supervised models trained with '
            f'--supervised-options {stored}, this run asks '
            f'{args.supervised_options}')


def load_oracle(path: str, args: argparse.Namespace) -> Dict:
    """The oracle entry of an earlier run's ``results.json``.

    Raises:
        ValueError: If ``path`` cannot be read, has no oracle, or trained
            it with other ``--supervised-options``.
    """
    earlier = read_results(path, '--oracle-from')
    check_supervised_options(earlier, path, '--oracle-from', args)
    oracle = earlier.get('oracle')
    if not oracle:
        raise ValueError(f'--oracle-from {path}: it has no oracle entry '
                         '(was that run made with --no-oracle?)')
    return oracle


def select_on_valtiny(cfg: Config, split_dir: str) -> None:
    """Select a config's models on ``valtiny`` and test them on ``val``.

    Args:
        cfg (Config): A config pointed at the data by
            :func:`benchmarks.common.point_config`, changed in place.
        split_dir (str): The folder of ``valtiny.txt`` (absolute).
    """
    cfg.val_dataloader.dataset.ann_file = osp.join(split_dir, 'valtiny.txt')
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.test_dataloader.dataset.ann_file = 'val.txt'


class Processes:
    """Runs commands as processes, at most ``jobs`` at once.

    Each process gets ``OMP_NUM_THREADS = max(1, cores // jobs)`` unless
    the variable is set already.

    Args:
        jobs (int): Processes at once.
    """

    def __init__(self, jobs: int) -> None:
        self._slots = threading.Semaphore(jobs)
        self.env = dict(os.environ)
        self.env.setdefault('OMP_NUM_THREADS',
                            str(max(1, (os.cpu_count() or 1) // jobs)))

    def run(self, cmd: List[str], log: str) -> float:
        """Run ``cmd`` with its output in ``log``.

        Returns:
            float: Wall time in seconds.

        Raises:
            RuntimeError: If the command fails, naming its log.
        """
        with self._slots, open(log, 'w') as f:
            start = time.time()
            code = subprocess.run(
                cmd, stdout=f, stderr=subprocess.STDOUT,
                env=self.env).returncode
        if code:
            raise RuntimeError(f'{" ".join(cmd)} failed (exit {code}); see '
                               f'{log}')
        return time.time() - start


class Benchmark:
    """The benchmark's runs: each trains or evaluates through a process.

    Args:
        args (argparse.Namespace): The parsed arguments.
        split_dir (str): Folder of the split lists.
    """

    def __init__(self, args: argparse.Namespace, split_dir: str) -> None:
        self.args = args
        self.split_dir = split_dir
        self.processes = Processes(args.jobs)

    def config(self, kind: str) -> Config:
        """The model's ``kind`` config pointed at the benchmark's data."""
        cfg = Config.fromfile(
            config_path(self.args.model, kind, self.args.ratio))
        point_config(
            cfg,
            self.args.data_root,
            self.split_dir,
            self.args.ratio,
            split='{split}')
        select_on_valtiny(cfg, self.split_dir)
        return cfg

    def train(self, cfg: Config, work_dir: str, options: Dict) -> float:
        """Merge ``options``, dump ``cfg`` into ``work_dir``, train it.

        Returns:
            float: Wall time in seconds.
        """
        cfg.merge_from_dict(options)
        os.makedirs(work_dir, exist_ok=True)
        path = osp.join(work_dir, 'benchmark_config.py')
        # Whole or not at all: a stopped runner leaves no empty config.
        atomic_write_bytes(path, cfg.pretty_text.encode())
        cmd = [
            sys.executable,
            osp.join(ROOT, 'tools', 'train.py'), path, '--work-dir', work_dir
        ]
        return self.processes.run(cmd, osp.join(work_dir, 'train_stdout.log'))

    def evaluate(self,
                 work_dir: str,
                 checkpoint: str,
                 test_root: Optional[str] = None) -> float:
        """mIoU of ``checkpoint`` on val (or on ``test_root``)."""
        name = osp.splitext(osp.basename(checkpoint))[0]
        out = osp.join(work_dir, 'eval',
                       f'{name}_{"test" if test_root else "val"}.json')
        os.makedirs(osp.dirname(out), exist_ok=True)
        cmd = [
            sys.executable,
            osp.join(ROOT, 'benchmarks', 'camvid', 'evaluate.py'),
            osp.join(work_dir, 'benchmark_config.py'), checkpoint, out
        ] + (['--test-root', test_root] if test_root else [])
        self.processes.run(cmd, out[:-len('.json')] + '.log')
        return read_json(out)['mIoU']

    def scores(self, work_dir: str, checkpoint: str) -> Dict:
        """``mIoU`` on val and, with ``--test-root``, ``test_mIoU``."""
        scores = dict(mIoU=self.evaluate(work_dir, checkpoint))
        if self.args.test_root:
            scores['test_mIoU'] = self.evaluate(work_dir, checkpoint,
                                                self.args.test_root)
        return scores

    def supervised(self, name: str, split: Optional[int] = None) -> Dict:
        """A supervised model, selected on valtiny, evaluated on val.

        The oracle (``split`` None) trains on ``train.txt``, a baseline on
        the split's labeled list. Checkpoints at :data:`CURVE_POINTS` even
        steps are scored on val too, so ``curve`` shows how training went.
        """
        cfg = self.config('oracle' if split is None else 'baseline')
        options = supervised_options(self.args, split is not None)
        if split is not None:
            options['train_dataloader.dataset.split'] = split
        cfg.merge_from_dict(options)
        iters = cfg.train_cfg.baseline_iters
        step = max(1, iters // CURVE_POINTS)
        options = {
            'default_hooks.checkpoint.interval': step,
            'default_hooks.checkpoint.max_keep_ckpts': -1
        }
        work_dir = osp.join(self.args.out, name)
        seconds = self.train(cfg, work_dir, options)
        best = read_json(osp.join(work_dir, 'summary.json'))['best']
        with ThreadPoolExecutor(self.args.jobs) as pool:
            curve = dict(
                zip(
                    range(step, iters + 1, step),
                    pool.map(
                        lambda n: self.evaluate(
                            work_dir, osp.join(work_dir, f'iter_{n}.pth')),
                        range(step, iters + 1, step))))
        return dict(
            self.scores(work_dir, best['checkpoint']),
            valtiny_mIoU=best['score'],
            checkpoint=best['checkpoint'],
            iters=iters,
            curve=curve,
            seconds=seconds)

    def dst_cbc(self,
                split: int,
                baseline: Dict,
                name: str = 'dst_cbc',
                variant: Optional[Callable[[Config], None]] = None) -> Dict:
        """Self-training rounds from the baseline; each round's best on
        val."""
        cfg = self.config('dst_cbc')
        cfg.train_dataloader.dataset.split = split
        cfg.train_cfg.baseline_checkpoint = baseline['checkpoint']
        # The variant changes the rounds --cfg-options set (ST's one round
        # is as long as all of them), so it applies last.
        cfg.merge_from_dict(self.args.cfg_options)
        if variant is not None:
            variant(cfg)
        work_dir = osp.join(self.args.out, f'split{split}', name)
        seconds = self.train(cfg, work_dir, {})
        summary = read_json(osp.join(work_dir, 'summary.json'))
        with ThreadPoolExecutor(self.args.jobs) as pool:
            vals = list(
                pool.map(
                    lambda r: baseline['mIoU']
                    if r['round'] == 0 else self.evaluate(
                        work_dir, r['checkpoint']), summary['rounds']))
        rounds = [
            dict(r, valtiny_mIoU=r['score'], val_mIoU=val)
            for r, val in zip(summary['rounds'], vals)
        ]
        best = summary['best']
        result = dict(
            rounds=rounds,
            selected_round=best['round'],
            mIoU=vals[best['round']],
            checkpoint=best['checkpoint'],
            seconds=seconds)
        if self.args.test_root:
            result['test_mIoU'] = (
                baseline.get('test_mIoU')
                if best['round'] == 0 else self.evaluate(
                    work_dir, best['checkpoint'], self.args.test_root))
        return result

    def baseline(self, split: int, reused: Optional[Dict] = None) -> Dict:
        """A split's baseline: ``reused``'s (an earlier run's entry of the
        split) if it has one, else trained."""
        return (reused or {}).get('baseline') or self.supervised(
            f'split{split}/baseline', split)

    def split(self,
              split: int,
              baseline: Dict,
              reused: Optional[Dict] = None) -> Dict:
        """A split's entry: its baseline and DST-CBC from it (unless
        ``--baselines-only``; ``reused``'s DST-CBC is not trained again)."""
        entry = dict(baseline=baseline)
        if 'dst_cbc' in (reused or {}):
            entry['dst_cbc'] = reused['dst_cbc']
        elif not self.args.baselines_only:
            entry['dst_cbc'] = self.dst_cbc(split, baseline)
        return entry

    def oracle(self, known: Optional[Dict]) -> Optional[Dict]:
        """The oracle: none (``--no-oracle``), ``known`` (see
        :func:`known_oracle`), or trained."""
        if self.args.no_oracle:
            return None
        return known or self.supervised('oracle')

    def ablation(self, baseline: Dict, rows: Dict) -> Dict:
        """The ``--ablation`` rows from the first split's ``baseline``,
        besides ``rows`` (an earlier run's, kept and not trained again)."""
        todo = [name for name in self.args.ablation or () if name not in rows]
        if not todo:
            return dict(rows)
        split = self.args.splits[0]
        variants = ablation_variants()
        with ThreadPoolExecutor(len(todo)) as pool:
            futures = {
                name: pool.submit(self.dst_cbc, split, baseline, name.lower(),
                                  variants[name])
                for name in todo
            }
            return dict(rows, **{k: f.result() for k, f in futures.items()})


def load_reused(path: str, args: argparse.Namespace) -> Dict:
    """The results of an earlier run that ``--reuse`` builds on.

    Its DST-CBC runs and ablation rows are kept only if they trained with
    this run's ``--cfg-options``; with other options only its oracle and
    baselines are.

    Raises:
        ValueError: If ``path`` cannot be read, or its run had another
            model, ratio, baseline length or ``--supervised-options``; the
            message names the file.
    """
    earlier = read_results(path, '--reuse')
    for key in ('model', 'ratio'):
        if earlier.get(key) != getattr(args, key):
            raise ValueError(f'--reuse {path}: its run has --{key} '
                             f'{earlier.get(key)}, this one '
                             f'{getattr(args, key)}')
    check_supervised_options(earlier, path, '--reuse', args)
    splits = {int(s): entry for s, entry in earlier['splits'].items()}
    if earlier.get('cfg_options', {}) != _as_json(args.cfg_options):
        # Its DST-CBC runs answer other options: this run trains its own.
        splits = {
            s: dict(baseline=entry['baseline'])
            for s, entry in splits.items()
        }
        earlier = {k: v for k, v in earlier.items() if k != 'ablation'}
    for split, entry in splits.items():
        iters = entry['baseline']['iters']
        if iters != args.baseline_iters:
            raise ValueError(
                f'--reuse {path}: its split {split} baseline trained {iters} '
                f'iterations, this run asks {args.baseline_iters} '
                '(--baseline-iters)')
    return dict(earlier, splits=splits)


def known_oracle(args: argparse.Namespace, earlier: Dict) -> Optional[Dict]:
    """The oracle this run need not train: ``--oracle-from``'s, else the
    reused run's. Read before any training, so a bad file stops the run at
    once."""
    if args.oracle_from:
        return load_oracle(args.oracle_from, args)
    return earlier.get('oracle')


def split_entry(oracle: Optional[Dict], entry: Dict) -> Dict:
    """One split's results (baseline and DST-CBC), with the mIoU and
    checkpoint of the oracle.

    The oracle is trained once for all splits; its full record stays at the
    top of ``results.json``.
    """
    entry = {k: entry[k] for k in ('baseline', 'dst_cbc') if k in entry}
    if oracle:
        entry['oracle'] = dict(
            mIoU=oracle['mIoU'], checkpoint=oracle['checkpoint'])
    return entry


def table(results: Dict) -> str:
    """The benchmark's Markdown table (wall time: baseline + DST-CBC)."""
    oracle = results.get('oracle', {}).get('mIoU')
    lines = [
        '| split | oracle | baseline | DST-CBC (round) | gain | % of oracle '
        '| gap closed | wall time |', '|---|---|---|---|---|---|---|---|'
    ]
    for split, res in sorted(results['splits'].items()):
        lines.append(table_row(split, res, oracle))
    splits = [r for r in results['splits'].values() if 'dst_cbc' in r]
    if splits:
        gains = [r['dst_cbc']['mIoU'] - r['baseline']['mIoU'] for r in splits]
        lines.append(f'\nmean gain over {len(gains)} split(s): '
                     f'{sum(gains) / len(gains):+.2f} mIoU')
    if oracle is not None and splits:
        mean = [
            sum(r[k]['mIoU'] for r in splits) / len(splits)
            for k in ('baseline', 'dst_cbc')
        ]
        lines.append(f'mean gap closed: {gap_closed(*mean, oracle)}')
    if 'oracle' in results:
        res = results['oracle']
        curve = ', '.join(f'{k}: {v:.2f}' for k, v in res['curve'].items())
        lines.append(f'oracle: {res["iters"]} iterations, '
                     f'{res["seconds"] / 60:.1f} min; val mIoU by '
                     f'iteration {curve}')
    for split, res in sorted(results['splits'].items()):
        curve = ', '.join(f'{k}: {v:.2f}'
                          for k, v in res['baseline']['curve'].items())
        lines.append(f'baseline split {split}: val mIoU by iteration {curve}')
    for name, res in results.get('ablation', {}).items():
        lines.append(f'ablation {name}: {res["mIoU"]:.2f} (round '
                     f'{res["selected_round"]})')
    return '\n'.join(lines)


def table_row(split: int, res: Dict, oracle: Optional[float]) -> str:
    """A split's row; a split without DST-CBC (``--baselines-only``) shows
    its baseline alone."""
    base = res['baseline']['mIoU']
    seconds = res['baseline']['seconds']
    cells = [f'{base:.2f}'] + ['-'] * 4
    if 'dst_cbc' in res:
        dst = res['dst_cbc']['mIoU']
        seconds += res['dst_cbc']['seconds']
        cells[1:] = [
            f'{dst:.2f} ({res["dst_cbc"]["selected_round"]})',
            f'{dst - base:+.2f}',
            '-' if oracle is None else f'{100 * dst / oracle:.1f} %',
            gap_closed(base, dst, oracle)
        ]
    return (f'| {split} | {"-" if oracle is None else f"{oracle:.2f}"} | ' +
            ' | '.join(cells) + f' | {seconds / 60:.1f} min |')


def gap_closed(base: float, dst: float, oracle: Optional[float]) -> str:
    """Share of the baseline-to-oracle gap DST-CBC closed, as text."""
    if oracle is None or oracle <= base:
        return '-'
    return f'{100 * (dst - base) / (oracle - base):.0f} %'


def plot(results: Dict, path: str) -> None:
    """mIoU on val of each round's best checkpoint, per split."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for split, res in sorted(results['splits'].items()):
        rounds = res.get('dst_cbc', {}).get('rounds', [])
        line, = ax.plot([r['round'] for r in rounds],
                        [r['val_mIoU'] for r in rounds],
                        marker='o',
                        label=f'DST-CBC split {split}')
        ax.axhline(
            res['baseline']['mIoU'],
            color=line.get_color(),
            linestyle=':',
            label=f'baseline split {split}')
    if 'oracle' in results:
        ax.axhline(
            results['oracle']['mIoU'],
            color='k',
            linestyle='--',
            label='oracle (all labels)')
    ax.set_xlabel('round')
    ax.set_ylabel('val mIoU (%)')
    # two lines: the longer model titles do not fit one at this width
    ax.set_title(
        f'CamVid 1/{results["ratio"]} at 180x240\n{results["title"]}',
        fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _rounds_as_one(cfg: Config) -> None:
    """One round at alpha 1 as long as all of DST-CBC's rounds together.

    ``round_iters`` (or, without it, ``epochs_per_round``) times the number
    of rounds. Exact for whole epochs; with a fractional
    ``epochs_per_round`` the one round can be up to one iteration per round
    shorter, as each of the rounds rounds its length up on its own.
    """
    train_cfg = cfg.train_cfg
    rounds = len(train_cfg.alphas)
    if train_cfg.get('round_iters'):
        train_cfg.round_iters *= rounds
    else:
        train_cfg.epochs_per_round *= rounds
    train_cfg.alphas = [1.0]


def _no_gamma(cfg: Config) -> None:
    """Plain cross-entropy on pseudo labels: every head's gamma 0."""
    heads = [cfg.model.decode_head] + list(
        cfg.model.get('auxiliary_head') or [])
    for head in heads:
        head.loss_decode.gamma = 0.0


def hook_of(cfg: Config, hook_type: str) -> dict:
    """The one hook of type ``hook_type`` in ``cfg.custom_hooks``."""
    [hook] = [h for h in cfg.custom_hooks if h['type'] == hook_type]
    return hook


def _global_threshold(cfg: Config) -> None:
    """One confidence threshold for all classes (DST-C)."""
    hook_of(cfg, 'PseudoLabelHook').class_balanced = False


def _stored_weights(cfg: Config) -> None:
    """OW: pseudo pixels weighted by the labeling model's confidence."""
    hook_of(cfg, 'PseudoLabelHook').store_confidence = True
    for head in [cfg.model.decode_head] + list(
            cfg.model.get('auxiliary_head') or []):
        head.loss_decode.weight_source = 'stored'
    unlabeled = cfg.train_dataloader.dataset.unlabeled
    pipeline = list(unlabeled.pipeline)
    unlabeled.pipeline = pipeline[:1] + [
        dict(type='LoadPseudoConfidence')
    ] + pipeline[1:-1] + [dict(type='PackSegInputsWithConfidence')]


def _strong_aug(cfg: Config) -> None:
    """CutMix between pseudo-labeled crops and their colour jitter."""
    aug = Config.fromfile(STRONG_AUG)
    cfg.model.data_preprocessor.update(aug.strong_aug_preprocessor)
    unlabeled = cfg.train_dataloader.dataset.unlabeled
    pipeline = list(unlabeled.pipeline)
    unlabeled.pipeline = pipeline[:-1] + [aug.pseudo_colour_jitter
                                          ] + pipeline[-1:]


def ablation_variants() -> Dict[str, Callable[[Config], None]]:
    """The ablation's rows (:data:`ABLATIONS`), as changes of the DST-CBC
    config.

    ST and DST train one round at alpha 1 as long as all of DST-CBC's
    rounds together (ST without the dynamic weight: gamma 0); DST-C is the
    curriculum with one global threshold instead of one per class; OW
    weights pseudo-labeled pixels by the labeling model's stored confidence;
    CutMix is DST-CBC with strong augmentation of the pseudo-labeled crops.
    """

    def st(cfg: Config) -> None:
        _rounds_as_one(cfg)
        _no_gamma(cfg)

    return dict(
        ST=st,
        DST=_rounds_as_one,
        DST_C=_global_threshold,
        OW=_stored_weights,
        CutMix=_strong_aug)


def main() -> None:
    args = parse_args()
    if not osp.isfile(osp.join(args.data_root, 'train.txt')):
        raise FileNotFoundError(
            f'CamVid not found at {args.data_root} (train.txt missing); '
            'pass --data-root')
    earlier = load_reused(args.reuse, args) if args.reuse else dict(splits={})
    known = known_oracle(args, earlier)
    os.makedirs(args.out, exist_ok=True)
    split_dir = make_splits(args.data_root, args.out, args.ratio,
                            max(args.splits))
    bench = Benchmark(args, split_dir)
    results: Dict = dict(
        ratio=args.ratio,
        model=args.model,
        title=MODELS[args.model]['title'],
        jobs=args.jobs,
        cfg_options=args.cfg_options,
        supervised_options=args.supervised_options,
        splits={})
    if args.reuse:
        results['reused'] = args.reuse
    start = time.time()
    reused, rows = earlier['splits'], earlier.get('ablation', {})

    def split(s: int) -> Dict:
        return bench.split(s, baselines[s].result(), reused.get(s))

    def ablation_rows() -> Dict:
        return bench.ablation(baselines[args.splits[0]].result(), rows)

    # Threads wait on processes (at most --jobs at once) or on each other:
    # one per task, so none waits for a free thread.
    with ThreadPoolExecutor(2 * len(args.splits) + 2) as pool:
        oracle = pool.submit(bench.oracle, known)
        baselines = {
            s: pool.submit(bench.baseline, s, reused.get(s))
            for s in args.splits
        }
        # The splits do not need the oracle until their entries are made.
        splits = {s: pool.submit(split, s) for s in args.splits}
        # The ablation starts from the first baseline, beside DST-CBC.
        ablation = pool.submit(
            ablation_rows) if args.ablation or rows else None
        if oracle.result() is not None:
            results['oracle'] = oracle.result()
        for s, future in splits.items():
            results['splits'][s] = split_entry(
                results.get('oracle'), future.result())
        # Over this run and the one it reuses: what each trained.
        results['main_seconds'] = (
            earlier.get('main_seconds', 0.) + time.time() - start)
        atomic_write_json(osp.join(args.out, 'results.json'), results)
        if ablation is not None:
            results['ablation'] = ablation.result()
    results['total_seconds'] = (
        earlier.get('total_seconds', 0.) + time.time() - start)
    atomic_write_json(osp.join(args.out, 'results.json'), results)
    text = table(results)
    atomic_write_bytes(osp.join(args.out, 'results.md'), text.encode())
    plot(results, osp.join(args.out, 'miou_per_round.png'))
    print(text)
    print(f'wall time: {results["main_seconds"] / 60:.1f} min for oracle, '
          f'baselines and DST-CBC; {results["total_seconds"] / 60:.1f} min '
          f'in all{" (with the reused run)" if args.reuse else ""}; '
          f'results in {args.out}')


if __name__ == '__main__':
    main()
