"""Test (and evaluate) a segmentor, MMSeg-style.

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
       [--show] [--show-dir DIR] [--tta] [--test-root DIR]
       [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

``--test-root DIR`` scores the checkpoint on a set of your own in the CamVid
layout (``DIR/test.txt``, images in ``DIR/test``, labels in
``DIR/testannot``) instead of the config's test set.

The config's runner runs the test (``CurriculumRunner``, as MMSeg's own
``tools/test.py`` builds it). Without ``--work-dir`` the test writes its
log to ``test/`` inside the work dir MMSeg would choose (the training's,
``./work_dirs/<config name>``): beside the training's files, never over
them, and also while that run trains (its work dir is locked and keeps its
own config and identity).
"""
import argparse
import os.path as osp

from mmengine.config import Config

from dst_cbc.cli import (add_common_args, build_runner, destroy_process_group,
                         load_config)
from dst_cbc.datasets import use_test_root


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='the directory to save output prediction for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved (inside the '
        'work_dir/timestamp folder)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation')
    parser.add_argument(
        '--test-root',
        help='test on this set instead of the config\'s (CamVid layout: '
        'test.txt, test/, testannot/)')
    add_common_args(parser)
    return parser.parse_args()


def enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Turn on the visualization hook for ``--show`` / ``--show-dir``."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError(
            '--show/--show-dir need default_hooks.visualization'
            ' (dict(type="SegVisualizationHook")) in the config')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    if args.work_dir is None:
        cfg.work_dir = osp.join(cfg.work_dir, 'test')
    cfg.load_from = args.checkpoint
    if args.test_root:
        use_test_root(cfg, args.test_root)
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    build_runner(cfg).test()
    destroy_process_group()


if __name__ == '__main__':
    main()
