"""Train a segmentor, MMSeg-style; DST-CBC configs run the whole curriculum.

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
       [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse

from mmengine.runner import Runner

import dst_cbc  # noqa: F401  (registers the extension's modules)
from dst_cbc.cli import add_common_args, enable_amp, load_config
from dst_cbc.engine.checkpoints import resume_point
from dst_cbc.engine.run_dir import check_work_dir
from dst_cbc.engine.work_dir_lock import check_unlocked
from mmseg.registry import RUNNERS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training: float16 with '
        'loss scaling on CUDA, bfloat16 autocast on a CPU that supports it '
        '(else a warning and float32)')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    if args.amp:
        enable_amp(cfg)
    # refusals first: building the runner writes into the work dir
    check_unlocked(cfg.work_dir)
    check_work_dir(cfg)
    cfg.resume = False
    if args.resume:
        # continue this run from a checkpoint that exists and verifies;
        # load_from only seeds a run's start
        checkpoint = resume_point(cfg.work_dir)
        if checkpoint is not None:
            cfg.resume, cfg.load_from = True, checkpoint
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
