"""Argument handling shared by ``tools/train.py`` and ``tools/test.py``.

Both tools take MMSegmentation's arguments; this module builds the config the
way MMSeg's tools do, so that the two stay interchangeable with MMSeg's own.
"""
import argparse
import logging
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments that MMSeg's train and test tools share.

    Args:
        parser (argparse.ArgumentParser): The parser to extend.
    """
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.run passes --local-rank (older launchers --local_rank)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Load the config named by ``args.config`` and apply the common options.

    The work dir is chosen as MMSeg does: ``--work-dir`` > the config's
    ``work_dir`` > ``./work_dirs/<config name>``.

    Args:
        args (argparse.Namespace): Parsed arguments of :func:`add_common_args`
            plus ``config``.

    Returns:
        Config: The config, ready for ``Runner.from_cfg``.
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def enable_amp(cfg: Config) -> None:
    """Switch the config's optimizer wrapper to MMEngine's AMP wrapper.

    Mixed precision needs a CUDA device; without one a warning is printed and
    training stays in full precision, so the same command runs everywhere.

    Args:
        cfg (Config): The config to change in place.
    """
    if not torch.cuda.is_available():
        print_log(
            '--amp asks for mixed precision, which needs a CUDA device; '
            'none is visible, so training runs in full precision.',
            logger='current',
            level=logging.WARNING)
        return
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.',
                  logger='current', level=logging.WARNING)
        return
    if wrapper != 'OptimWrapper':
        raise ValueError('--amp works with optim_wrapper.type="OptimWrapper", '
                         f'but the config has "{wrapper}"')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'
