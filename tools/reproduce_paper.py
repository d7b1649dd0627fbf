"""Reproduce the paper's PASCAL VOC 1/20 experiment under the paper protocol.

Trains the 1/20 supervised baseline, then DST-CBC from it (and, with
``--ablations``, the ST, DST, DST-C and OW rows of Table 5 from the same
baseline), each as ``tools/train.py`` on its paper-protocol config (the
twins in ``configs/*/paper/``), and prints the results next to the paper's::

    python tools/reproduce_paper.py [--ablations] [--gpus 2]

The data layout is checked first (docs/data_preparation.md: VOC aug with the
authors' lists written by ``tools/make_splits.py --paper voc``, the COCO
weights converted by ``tools/convert_deeplabv2_coco.py``); every missing
folder or file is named. Runs are kept in ``--work-dir/<method>``; a run
whose ``summary.json`` is complete is not trained again, an interrupted one
resumes. ``--dry-run`` prints the commands only.

The paper's Table 5 (ablations, "random split 1") was trained by the
authors' scripts on their shuffle 1 (``20_labeled_1.txt``), which is
``split=2`` here: the default of ``--split``.
"""
import argparse
import json
import math
import os.path as osp
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
RATIO = 20
AUTHORS_LISTS = osp.join(ROOT, 'paper_splits', 'PASCAL_VOC_2012')
PRETRAINED = 'pretrain/deeplabv2_r101-coco_voc.pth'
#: The paper's mIoU (%) on VOC val, 1/20: Table 5 (split 1) and Table 3
#: (mean of the three splits).
PAPER_SPLIT = {
    'baseline': 61.68,
    'ST': 66.61,
    'DST': 69.16,
    'DST-C': 67.67,
    'DST-CBC': 70.33,
    'OW': 66.38
}
PAPER_MEAN = {'baseline': 62.2, 'DST-CBC': 69.3}
#: Seconds per training iteration on one RTX 2080 Ti, labeling and
#: validation included: the authors' "about 7 hours" for a 5-round VOC run
#: (about 77,000 iterations of batch 8).
SECONDS_PER_ITER_2080TI = 7 * 3600 / 77000
#: Assumed speed-up of a current GPU (A100, RTX 4090) over a 2080 Ti for
#: mixed-precision ResNet-101 training. An assumption, not a measurement.
MODERN_GPU_SPEEDUP = 2.5


@dataclass
class Run:
    """One training of the reproduction.

    Args:
        method (str): Row of the table (``'baseline'``, ``'DST-CBC'``...).
        config (str): Config path relative to the repository.
        rounds (int): Rounds its complete ``summary.json`` lists.
        from_baseline (bool): Whether it starts from the baseline's
            ``round_0_best.pth``.
    """

    method: str
    config: str
    rounds: int
    from_baseline: bool = True

    @property
    def folder(self) -> str:
        """str: Its work dir inside ``--work-dir``."""
        return self.method.lower()


#: The paper protocol's configs: the twins in each folder's ``paper/``.
NAME = 'dlv2-r101-d8_1xb4+4_voc-aug-paper-1-20_321x321.py'
BASELINE = Run(
    'baseline',
    'configs/baseline/paper/baseline_' + NAME.replace('1xb4+4', '1xb8'),
    1,
    from_baseline=False)
DST_CBC = Run('DST-CBC', 'configs/dst_cbc/paper/dst-cbc_' + NAME, 6)
ABLATIONS = [
    Run('ST', 'configs/ablations/paper/st_' + NAME, 2),
    Run('DST', 'configs/ablations/paper/dst_' + NAME, 2),
    Run('DST-C', 'configs/ablations/paper/dst-c_' + NAME, 6),
    Run('OW', 'configs/ablations/paper/ow_' + NAME, 6),
]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--data-root',
        default='data/VOCdevkit/VOC2012',
        help='the prepared VOC2012 folder')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/reproduce_voc-1-20',
        help='folder of the runs (one sub-folder each)')
    parser.add_argument(
        '--split',
        type=int,
        choices=(1, 2, 3),
        default=2,
        help="split (the authors' shuffle split - 1); "
        "default 2, their Table 5's")
    parser.add_argument(
        '--ablations',
        action='store_true',
        help='also train ST, DST, DST-C and OW (Table 5)')
    parser.add_argument(
        '--gpus',
        type=int,
        choices=(1, 2, 4),
        default=1,
        help='GPUs per run (a total batch of 8; the paper protocol '
        'synchronizes BatchNorm across them)')
    parser.add_argument(
        '--any-splits',
        action='store_true',
        help="accept split lists that are not the authors' "
        '(the figures are then not the same experiment)')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='check the data and print the commands only')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='passed on to every run, e.g. shorter rounds')
    args = parser.parse_args(argv)
    args.data_root = osp.abspath(args.data_root)
    args.work_dir = osp.abspath(args.work_dir)
    return args


# -- the data layout ----------------------------------------------------------
def _list_problems(data_root: str, list_file: str, checks: Dict[str, str],
                   hint: str) -> List[str]:
    """Problems of one name list: missing, or files it names missing.

    Args:
        data_root (str): The VOC2012 folder.
        list_file (str): The list, relative to ``data_root``.
        checks (dict[str, str]): Folder -> suffix every name needs a file in.
        hint (str): How to make the list, for the message.

    Returns:
        list[str]: One message per problem.
    """
    path = osp.join(data_root, list_file)
    if not osp.isfile(path):
        return [f'missing file: {path} ({hint})']
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    problems = []
    for folder, suffix in checks.items():
        absent = [
            n for n in names
            if not osp.isfile(osp.join(data_root, folder, n + suffix))
        ]
        if absent:
            problems.append(
                f'{len(absent)} of the {len(names)} images listed in {path} '
                f'have no {folder}/<name>{suffix}, e.g. {absent[:3]}')
    return problems


def check_layout(data_root: str,
                 split: int,
                 pretrained: str,
                 any_splits: bool = False) -> List[str]:
    """Everything missing for the reproduction, one message each.

    Args:
        data_root (str): The VOC2012 folder.
        split (int): The split trained (1..3).
        pretrained (str): The converted COCO weights.
        any_splits (bool): Accept lists that are not the authors'.

    Returns:
        list[str]: The problems; empty when the data are ready.
    """
    if not osp.isdir(data_root):
        return [f'missing folder: {data_root} (docs/data_preparation.md)']
    problems = [
        f'missing folder: {osp.join(data_root, folder)} ({hint})'
        for folder, hint in (('JPEGImages', 'VOCtrainval_11-May-2012.tar'),
                             ('SegmentationClassAug',
                              "MMSeg's voc_aug.py and the label "
                              'copies of docs/data_preparation.md'))
        if not osp.isdir(osp.join(data_root, folder))
    ]
    if problems:
        return problems
    image, label = {'JPEGImages': '.jpg'}, {'SegmentationClassAug': '.png'}
    make = 'tools/make_splits.py --paper voc'
    lists = {
        f'splits/split{split}/{kind}_1-{RATIO}.txt': (checks, make)
        for kind, checks in (('labeled', dict(image, **label)), ('unlabeled',
                                                                 image))
    }
    # The paper protocol evaluates on SegmentationClassAug.
    lists['ImageSets/Segmentation/val.txt'] = (
        dict(image, **label), 'VOCtrainval_11-May-2012.tar; val labels '
        'copied into SegmentationClassAug')
    for list_file, (checks, hint) in lists.items():
        problems += _list_problems(data_root, list_file, checks, hint)
    labeled = osp.join(data_root, f'splits/split{split}/labeled_1-{RATIO}.txt')
    theirs = osp.join(AUTHORS_LISTS, f'{RATIO}_labeled_{split - 1}.txt')
    if not any_splits and osp.isfile(
            labeled) and _read(labeled) != _read(theirs):
        problems.append(f'{labeled} is not the authors\' list {theirs}: '
                        f'write it with {make} (or pass --any-splits)')
    if not osp.isfile(pretrained):
        problems.append(f'missing file: {pretrained} (the COCO weights, '
                        'tools/convert_deeplabv2_coco.py --num-classes 21)')
    return problems


def _read(path: str) -> List[str]:
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


# -- the runs -----------------------------------------------------------------
def planned_runs(ablations: bool) -> List[Run]:
    """The runs in training order (the baseline first)."""
    return [BASELINE, DST_CBC] + (ABLATIONS if ablations else [])


def train_command(run: Run, args: argparse.Namespace,
                  baseline_checkpoint: Optional[str]) -> List[str]:
    """The ``tools/train.py`` (or ``tools/dist_train.sh``) command of a run.

    Args:
        run (Run): The run.
        args (argparse.Namespace): The options of this tool.
        baseline_checkpoint (str, optional): The baseline's best checkpoint
            for runs that start from it.

    Returns:
        list[str]: The command, to run from the folder that holds
        ``pretrain/`` (as every config).
    """
    work_dir = osp.join(args.work_dir, run.folder)
    config = osp.join(ROOT, run.config)
    if args.gpus == 1:
        command = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config]
    else:
        command = [
            'bash',
            osp.join(ROOT, 'tools', 'dist_train.sh'), config,
            str(args.gpus)
        ]
    command += ['--work-dir', work_dir, '--amp']
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        command.append('--resume')
    root = args.data_root
    options = [f'train_dataloader.dataset.split={args.split}'] + [
        f'{key}.data_root={root}'
        for key in ('train_dataloader.dataset.labeled',
                    'train_dataloader.dataset.unlabeled',
                    'val_dataloader.dataset', 'test_dataloader.dataset')
    ]
    if args.gpus > 1:
        options.append(f'train_dataloader.batch_size={8 // args.gpus}')
    if run.from_baseline:
        options.append(f'train_cfg.baseline_checkpoint={baseline_checkpoint}')
    return command + ['--cfg-options'] + options + list(args.cfg_options)


def read_summary(work_dir: str) -> Optional[dict]:
    """A run's ``summary.json``, or None before its first round ends."""
    path = osp.join(work_dir, 'summary.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def round_score(entry: dict) -> Optional[float]:
    """The validation score (mIoU, %) of one ``summary.json`` round."""
    return entry['score']


def run_score(run: Run, summary: dict) -> Optional[float]:
    """A run's result: round 0 for the baseline (what the other runs start
    from), else its best round, the loaded baseline included (the authors
    kept their best checkpoint across rounds)."""
    rounds = summary['rounds']
    if not run.from_baseline:
        rounds = [r for r in rounds if r['round'] == 0]
    scores = [round_score(r) for r in rounds]
    scores = [s for s in scores if s is not None]
    return max(scores) if scores else None


def baseline_checkpoint(summary: dict) -> str:
    """The best checkpoint of a baseline run (its round 0)."""
    [round_0] = [r for r in summary['rounds'] if r['round'] == 0]
    if not round_0.get('checkpoint'):
        raise RuntimeError('the baseline run recorded no checkpoint: was it '
                           'validated?')
    return round_0['checkpoint']


# -- time and results ---------------------------------------------------------
def iterations(run: Run, num_labeled: int, num_unlabeled: int) -> int:
    """Training iterations of a run at batch 8 (4 + 4 in self-training):
    134 epochs of the labeled images for the baseline (the paper
    protocol's), 6 epochs of the unlabeled ones per round, 30 for the
    one-round ST and DST."""
    if not run.from_baseline:
        return 134 * math.ceil(num_labeled / 8)
    epochs = 30 if run.rounds == 2 else 6 * (run.rounds - 1)
    return epochs * math.ceil(num_unlabeled / 4)


def estimate_hours(runs: Sequence[Run], num_labeled: int,
                   num_unlabeled: int) -> Dict[str, float]:
    """Wall-time estimate in hours on a 2080 Ti and on a current GPU."""
    total = sum(iterations(r, num_labeled, num_unlabeled) for r in runs)
    hours = total * SECONDS_PER_ITER_2080TI / 3600
    return {'2080 Ti': hours, 'current GPU': hours / MODERN_GPU_SPEEDUP}


def format_table(scores: Dict[str, Optional[float]], split: int) -> str:
    """Our scores next to the paper's figures."""
    lines = [
        f'PASCAL VOC 2012 aug 1/20, split {split} (the authors\' shuffle '
        f'{split - 1}), paper protocol, mIoU (%) on val',
        f'{"method":<9} {"ours":>7} {"paper split 1":>13} '
        f'{"paper 3-split mean":>18}'
    ]
    for method, score in scores.items():
        ours = '-' if score is None else f'{score:.2f}'
        mean = PAPER_MEAN.get(method)
        lines.append(f'{method:<9} {ours:>7} {PAPER_SPLIT[method]:>13.2f} '
                     f'{"-" if mean is None else f"{mean:.1f}":>18}')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None,
         execute: Callable[..., object] = subprocess.run) -> int:
    """Check the data, train the runs, print the table.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
        execute (callable): Runs a command: ``execute(command,
            check=True)``, as :func:`subprocess.run`.

    Returns:
        int: The exit code (0, or 1 when the data are not ready).
    """
    args = parse_args(argv)
    problems = check_layout(args.data_root, args.split, PRETRAINED,
                            args.any_splits)
    if problems:
        print(
            'The data are not ready for the reproduction:\n' +
            '\n'.join(f'  - {p}' for p in problems),
            file=sys.stderr)
        return 1
    runs = planned_runs(args.ablations)
    split_dir = osp.join(args.data_root, f'splits/split{args.split}')
    sizes = [
        len(_read(osp.join(split_dir, f'{kind}_1-{RATIO}.txt')))
        for kind in ('labeled', 'unlabeled')
    ]
    hours = estimate_hours(runs, *sizes)
    print(f'{len(runs)} runs: {", ".join(r.method for r in runs)}. '
          f'Estimated wall time: {hours["current GPU"]:.1f} h on one current '
          f'GPU ({hours["2080 Ti"]:.1f} h on the 2080 Ti of the paper; an '
          'estimate scaled from the authors\' 7 h per DST-CBC run).')
    scores, checkpoint = {}, None
    for run in runs:
        work_dir = osp.join(args.work_dir, run.folder)
        summary = read_summary(work_dir)
        if summary is None or len(summary['rounds']) < run.rounds:
            command = train_command(run, args, checkpoint)
            print(
                f'[{run.method}] ' + ' '.join(shlex.quote(c) for c in command),
                flush=True)
            if args.dry_run:
                if run is BASELINE:
                    checkpoint = osp.join(work_dir, 'round_0_best.pth')
                continue
            execute(command, check=True)
            summary = read_summary(work_dir)
        scores[run.method] = run_score(run, summary)
        if run is BASELINE:
            checkpoint = baseline_checkpoint(summary)
    if not args.dry_run:
        print(format_table(scores, args.split))
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as error:
        sys.exit(f'reproduce_paper.py: a run failed ({error.returncode}): '
                 f'{" ".join(error.cmd)}')
    except (OSError, ValueError, RuntimeError) as error:
        sys.exit(f'reproduce_paper.py: error: {error}')
