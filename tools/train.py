"""Train a segmentor, MMSeg-style; DST-CBC configs run the whole curriculum.

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
       [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

MMSeg's own ``tools/train.py`` runs the same configs with the same run
safety (the config's ``CurriculumRunner``); this script adds what it cannot
know: ``--amp`` on a CPU (bfloat16 autocast) and ``--launcher pytorch``
without CUDA (gloo).
"""
import argparse

import dst_cbc  # noqa: F401  (registers the extension's modules)
from dst_cbc.cli import (add_common_args, build_runner, destroy_process_group,
                         enable_amp, load_config)


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
    cfg.resume = args.resume
    build_runner(cfg).train()
    destroy_process_group()


if __name__ == '__main__':
    main()
