"""CamVid at CPU scale: DST-CBC against the supervised baseline and the oracle.

Fast-SCNN from scratch at half resolution (180x240). For every split (1/8
labeled by default, splits 1 and 2) it trains the supervised baseline on the
labeled list (plain MMSeg iteration-based training, ``--baseline-iters`` long
with a poly schedule to zero; the checkpoint best on ``valtiny`` is the
baseline), then DST-CBC from that checkpoint
(``load_from``: round 0 is the baseline, five self-training rounds follow).
The oracle is the same supervised recipe on every training label; it does not
depend on the split, so it runs once. Self-training rounds are selected on
``valtiny`` (one val image per class) as the paper does for realistic
small-label runs; every number reported is measured on the full ``val`` set
(101 images). ``--ablation`` adds the paper's Table 5 rows on the first split
(ST, DST, DST-C), each starting from that split's baseline checkpoint.

Usage::

    python benchmarks/camvid/run.py [--data-root ../shared/data/camvid]
        [--out work_dirs/benchmarks/camvid] [--splits 1 2] [--ratio 8]
        [--no-oracle | --oracle-from RESULTS_JSON] [--baseline-iters N]
        [--ablation]
        [--cfg-options k=v ...]

Writes ``<out>/results.json``, ``<out>/results.md`` and
``<out>/miou_per_round.png`` and prints the table.
"""
import argparse
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import dst_cbc  # noqa: E402,F401
from dst_cbc.datasets import (class_presence, nested_splits,  # noqa: E402
                              pick_valtiny, read_list, write_list)
from dst_cbc.utils import atomic_write_bytes, atomic_write_json  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DST_CONFIG = osp.join(ROOT, 'configs', 'camvid',
                      'dst-cbc_fast-scnn_4+4xb1_camvid-1-8_180x240.py')
ORACLE_CONFIG = osp.join(ROOT, 'configs', 'camvid',
                         'fast-scnn_8xb1_camvid-full_180x240.py')
BASELINE_CONFIG = osp.join(ROOT, 'configs', 'camvid',
                           'fast-scnn_8xb1_camvid-1-8_180x240.py')
NUM_CLASSES = 11


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--data-root',
        default=osp.join(osp.dirname(ROOT), 'shared', 'data', 'camvid'))
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
        'label, so it depends on neither the ratio nor the split)')
    parser.add_argument(
        '--baseline-iters',
        type=int,
        help='iterations of the supervised baselines (default: 3000 for '
        '1/8 and fewer labels, 6000 for more)')
    parser.add_argument('--ablation', action='store_true')
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
    args = parser.parse_args()
    if args.baseline_iters is None:
        args.baseline_iters = baseline_iters(args.ratio)
    elif args.baseline_iters < 1:
        parser.error(f'--baseline-iters must be >= 1, got '
                     f'{args.baseline_iters}')
    # The lists are joined to each dataset's data_root unless absolute.
    args.out = osp.abspath(args.out)
    args.data_root = osp.abspath(args.data_root)
    return args


def baseline_iters(ratio: int) -> int:
    """Default length of the 1/``ratio`` supervised baseline.

    1/8 and fewer labels: the baseline config's own length (45 labels are
    over-fitted well before it ends). More labels: the oracle config's
    length (at 1/4 the baseline still improved at the end of the 1/8 one).
    """
    config = BASELINE_CONFIG if ratio >= 8 else ORACLE_CONFIG
    return Config.fromfile(config).train_cfg.max_iters


def supervised_options(args, baseline: bool) -> Dict:
    """Options of a supervised run: a baseline's length, then the user's.

    A baseline trains ``args.baseline_iters`` iterations with its poly
    schedule stretched to them; the oracle keeps its config's length.
    ``--supervised-options`` override both.
    """
    options = {}
    if baseline:
        options = {
            'train_cfg.max_iters': args.baseline_iters,
            'param_scheduler.0.end': args.baseline_iters
        }
    options.update(args.supervised_options)
    return options


def make_splits(data_root: str, out: str, ratio: int,
                num_splits: int) -> str:
    """Write nested 1/8 and 1/4 (and 1/``ratio``) lists and valtiny.

    The lists go to ``out/splits/split<s>/{labeled,unlabeled}_1-<k>.txt``;
    each ratio's labeled list contains the smaller ratios' ones.
    """
    split_dir = osp.join(out, 'splits')
    names = read_list(osp.join(data_root, 'train.txt'))
    ratios = sorted({4, 8, ratio})
    for s, lists in nested_splits(names, ratios, num_splits).items():
        for k in ratios:
            labeled, unlabeled = lists[k]
            folder = osp.join(split_dir, f'split{s}')
            write_list(osp.join(folder, f'labeled_1-{k}.txt'), labeled)
            write_list(osp.join(folder, f'unlabeled_1-{k}.txt'), unlabeled)
    val_names = read_list(osp.join(data_root, 'val.txt'))
    presence = class_presence(
        osp.join(data_root, 'valannot'), val_names, '.png',
        label_map={11: 255})
    write_list(
        osp.join(split_dir, 'valtiny.txt'),
        pick_valtiny(presence, NUM_CLASSES))
    return split_dir


def load_oracle(path: str) -> Dict:
    """The oracle entry of an earlier run's ``results.json``."""
    try:
        with open(path) as f:
            oracle = json.load(f).get('oracle')
    except (OSError, ValueError) as e:
        raise ValueError(f'--oracle-from {path}: cannot read it ({e})') from e
    if not oracle:
        raise ValueError(f'--oracle-from {path}: it has no oracle entry '
                         '(was that run made with --no-oracle?)')
    return oracle


def point_config(cfg: Config, data_root: str, split_dir: str,
                 ratio: int) -> None:
    """Point a config's datasets at the data and the benchmark's lists."""
    train = cfg.train_dataloader.dataset
    halves = [train.labeled, train.unlabeled] if 'labeled' in train else []
    for half, kind in zip(halves, ('labeled', 'unlabeled')):
        half.data_root = data_root
        half.ann_file = osp.join(split_dir, 'split{split}',
                                 f'{kind}_1-{ratio}.txt')
    if not halves:
        train.data_root = data_root
    cfg.val_dataloader.dataset.data_root = data_root
    cfg.val_dataloader.dataset.ann_file = osp.join(split_dir, 'valtiny.txt')
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.test_dataloader.dataset.ann_file = 'val.txt'


def train(cfg: Config, work_dir: str, options: Dict) -> float:
    """Merge ``options``, dump ``cfg`` into ``work_dir``, run tools/train.py.

    Returns:
        float: Wall time in seconds.
    """
    cfg.merge_from_dict(options)
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'benchmark_config.py')
    cfg.dump(path)
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), path,
           '--work-dir', work_dir]
    start = time.time()
    with open(osp.join(work_dir, 'train_stdout.log'), 'w') as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.time() - start


def evaluate(work_dir: str, checkpoint: str) -> float:
    """mIoU of ``checkpoint`` on the full val set (the config's test set)."""
    cfg = Config.fromfile(osp.join(work_dir, 'benchmark_config.py'))
    cfg.work_dir = osp.join(work_dir, 'val_eval')
    cfg.load_from = checkpoint
    cfg.log_level = 'WARNING'
    return float(Runner.from_cfg(cfg).test()['mIoU'])


def run_supervised(args, split_dir: str, name: str,
                   ann_file: Optional[str] = None) -> Dict:
    """Supervised training, selected on valtiny, evaluated on val.

    The oracle trains on ``train.txt``, a baseline on ``ann_file`` (a
    labeled list). The model is the best checkpoint on valtiny (the rule
    DST-CBC's rounds follow); the checkpoints kept every
    ``checkpoint.interval`` iterations are evaluated on val too, so
    ``curve`` shows how training went.
    """
    cfg = Config.fromfile(BASELINE_CONFIG if ann_file else ORACLE_CONFIG)
    point_config(cfg, args.data_root, split_dir, args.ratio)
    if ann_file:
        cfg.train_dataloader.dataset.ann_file = ann_file
    work_dir = osp.join(args.out, name)
    seconds = train(cfg, work_dir,
                    supervised_options(args, ann_file is not None))
    curve = {
        int(f[len('iter_'):-len('.pth')]): evaluate(work_dir,
                                                      osp.join(work_dir, f))
        for f in os.listdir(work_dir)
        if f.startswith('iter_') and f.endswith('.pth')
    }
    (best, ) = [f for f in os.listdir(work_dir) if f.startswith('best_mIoU')]
    selected = int(best[len('best_mIoU_iter_'):-len('.pth')])
    checkpoint = osp.join(work_dir, best)
    miou = curve.get(selected)
    if miou is None:
        miou = curve[selected] = evaluate(work_dir, checkpoint)
    return dict(mIoU=miou, checkpoint=checkpoint, selected_iter=selected,
                iters=cfg.train_cfg.max_iters,
                curve=dict(sorted(curve.items())), seconds=seconds)


def run_dst_cbc(args, split_dir: str, split: int, baseline: Dict,
                name: str = 'dst_cbc', options: Optional[Dict] = None) -> Dict:
    """Self-training rounds from the baseline; each round's best on val."""
    cfg = Config.fromfile(DST_CONFIG)
    point_config(cfg, args.data_root, split_dir, args.ratio)
    cfg.train_dataloader.dataset.split = split
    cfg.load_from = baseline['checkpoint']
    work_dir = osp.join(args.out, f'split{split}', name)
    seconds = train(cfg, work_dir, dict(args.cfg_options, **(options or {})))
    with open(osp.join(work_dir, 'summary.json')) as f:
        summary = json.load(f)
    rounds = []
    for r in summary['rounds']:
        val = (baseline['mIoU'] if r['round'] == 0 else evaluate(
            work_dir, r['checkpoint']))
        rounds.append(dict(r, valtiny_mIoU=r['mIoU'], val_mIoU=val))
    best = summary['best']
    selected = [r for r in rounds if r['round'] == best['round']][0]
    return dict(rounds=rounds, selected_round=best['round'],
                mIoU=selected['val_mIoU'], checkpoint=best['checkpoint'],
                seconds=seconds)


def split_entry(oracle: Optional[Dict], baseline: Dict,
                dst_cbc: Dict) -> Dict:
    """One split's results, with the mIoU and checkpoint of the oracle.

    The oracle is trained once for all splits; its full record stays at the
    top of ``results.json``.
    """
    entry = dict(baseline=baseline, dst_cbc=dst_cbc)
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
        base = res['baseline']['mIoU']
        dst = res['dst_cbc']['mIoU']
        pct = '-' if oracle is None else f'{100 * dst / oracle:.1f} %'
        gap = ('-' if oracle is None or oracle <= base else
               f'{100 * (dst - base) / (oracle - base):.0f} %')
        seconds = res['baseline']['seconds'] + res['dst_cbc']['seconds']
        lines.append(
            f'| {split} | {"-" if oracle is None else f"{oracle:.2f}"} '
            f'| {base:.2f} | {dst:.2f} ({res["dst_cbc"]["selected_round"]}) '
            f'| {dst - base:+.2f} | {pct} | {gap} '
            f'| {seconds / 60:.1f} min |')
    gains = [r['dst_cbc']['mIoU'] - r['baseline']['mIoU']
             for r in results['splits'].values()]
    lines.append(f'\nmean gain over {len(gains)} split(s): '
                 f'{sum(gains) / len(gains):+.2f} mIoU')
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


def plot(results: Dict, path: str) -> None:
    """mIoU on val of each round's best checkpoint, per split."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for split, res in sorted(results['splits'].items()):
        rounds = res['dst_cbc']['rounds']
        line, = ax.plot([r['round'] for r in rounds],
                        [r['val_mIoU'] for r in rounds], marker='o',
                        label=f'DST-CBC split {split}')
        ax.axhline(res['baseline']['mIoU'], color=line.get_color(),
                   linestyle=':', label=f'baseline split {split}')
    if 'oracle' in results:
        ax.axhline(results['oracle']['mIoU'], color='k', linestyle='--',
                   label='oracle (all labels)')
    ax.set_xlabel('round')
    ax.set_ylabel('val mIoU (%)')
    ax.set_title(f'CamVid 1/{results["ratio"]}, Fast-SCNN, 180x240')
    ax.legend(fontsize=7)
    fig.tight_layout()
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def ablation_variants(dst: Dict) -> Dict[str, Dict]:
    """Options of the paper's Table 5 rows, from a DST-CBC run's shape.

    ST and DST train one round at alpha 1 as long as all of DST-CBC's
    rounds together (ST without the dynamic weight: gamma 0); DST-C is the
    curriculum with one global threshold instead of one per class.
    """
    rounds = dst['rounds'][1:]
    one_round = {
        'train_cfg.alphas': [1.0],
        'train_cfg.round_iters': sum(r['iters'] for r in rounds)
    }
    no_gamma = {'model.decode_head.loss_decode.gamma': 0.0}
    no_gamma.update({
        f'model.auxiliary_head.{i}.loss_decode.gamma': 0.0
        for i in range(2)
    })
    return dict(
        ST=dict(one_round, **no_gamma),
        DST=one_round,
        DST_C={'custom_hooks.0.class_balanced': False})


def main() -> None:
    args = parse_args()
    if not osp.isfile(osp.join(args.data_root, 'train.txt')):
        raise FileNotFoundError(
            f'CamVid not found at {args.data_root} (train.txt missing); '
            'pass --data-root')
    os.makedirs(args.out, exist_ok=True)
    split_dir = make_splits(args.data_root, args.out, args.ratio,
                            max(args.splits))
    results: Dict = dict(ratio=args.ratio, splits={})
    start = time.time()
    if args.oracle_from:
        results['oracle'] = load_oracle(args.oracle_from)
    elif not args.no_oracle:
        results['oracle'] = run_supervised(args, split_dir, 'oracle')
        atomic_write_json(osp.join(args.out, 'results.json'), results)
    for split in args.splits:
        labeled = osp.join(split_dir, f'split{split}',
                           f'labeled_1-{args.ratio}.txt')
        baseline = run_supervised(args, split_dir, f'split{split}/baseline',
                                  labeled)
        results['splits'][split] = split_entry(
            results.get('oracle'), baseline,
            run_dst_cbc(args, split_dir, split, baseline))
        atomic_write_json(osp.join(args.out, 'results.json'), results)
    results['main_seconds'] = time.time() - start
    if args.ablation:
        split = args.splits[0]
        res = results['splits'][split]
        results['ablation'] = {
            name: run_dst_cbc(args, split_dir, split, res['baseline'],
                              name.lower(), opts)
            for name, opts in ablation_variants(res['dst_cbc']).items()
        }
    results['total_seconds'] = time.time() - start
    atomic_write_json(osp.join(args.out, 'results.json'), results)
    text = table(results)
    atomic_write_bytes(osp.join(args.out, 'results.md'), text.encode())
    plot(results, osp.join(args.out, 'miou_per_round.png'))
    print(text)
    print(f'wall time: {results["main_seconds"] / 60:.1f} min for oracle, '
          f'baselines and DST-CBC; {results["total_seconds"] / 60:.1f} min '
          f'in all; results in {args.out}')


if __name__ == '__main__':
    main()
