"""Argument handling shared by ``tools/train.py`` and ``tools/test.py``.

Both tools take MMSegmentation's arguments; this module builds the config the
way MMSeg's tools do, so that the two stay interchangeable with MMSeg's own.
"""
import argparse
import logging
import os
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmseg.registry import RUNNERS
from .engine.precision import (ChannelsLastDistributedDataParallel,
                               ChannelsLastHook, cpu_supports_bf16)

MIXED_PRECISION_WRAPPERS = ('AmpOptimWrapper', 'BF16OptimWrapper')


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
    if args.launcher != 'none':
        use_channels_last_ddp(cfg)
    if args.launcher != 'none' and not torch.cuda.is_available():
        use_cpu_distributed(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The config's runner, as MMSeg's tools build it: ``runner_type``
    (``CurriculumRunner`` in this project's configs), else ``Runner``.

    Args:
        cfg (Config): The config of :func:`load_config`.

    Returns:
        Runner: The runner, built.
    """
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def destroy_process_group() -> None:
    """Destroy the default process group, if any, after a finished run.

    MMEngine leaves it to the process's exit, where gloo's worker threads
    can still hold tensors while the interpreter is torn down: the process
    then aborts ("terminate called without an active exception", SIGABRT)
    and a finished multi-process run exits with an error. Call it only
    after success: after an error another rank may be in a collective.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def use_channels_last_ddp(cfg: Config) -> None:
    """Wrap a model of a config with ``ChannelsLastHook`` in
    ``ChannelsLastDistributedDataParallel``.

    DDP must see the model in channels_last from the start (the hook runs
    after the model is wrapped); other wrapper settings are kept.

    Args:
        cfg (Config): The config of a launched (distributed) run; changed
            in place.

    Raises:
        ValueError: If the config has the hook and another wrapper type.
    """
    hooks = [hook.get('type') for hook in cfg.get('custom_hooks', None) or []]
    if ChannelsLastHook.__name__ not in hooks:
        return
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    channels_last_ddp = ChannelsLastDistributedDataParallel.__name__
    wrapper_type = wrapper.get('type', 'MMDistributedDataParallel')
    if wrapper_type not in ('MMDistributedDataParallel', channels_last_ddp):
        raise ValueError('ChannelsLastHook under a launcher needs '
                         f'model_wrapper_cfg.type="{channels_last_ddp}", but '
                         f'the config has "{wrapper_type}"')
    wrapper['type'] = channels_last_ddp
    cfg.model_wrapper_cfg = wrapper


def use_cpu_distributed(cfg: Config) -> None:
    """Let a ``--launcher pytorch`` run work on CPUs (tests, CPU clusters).

    NCCL needs GPUs, and mmengine's ``init_dist`` and DDP wrapper pin each
    process to the GPU of its local rank. Without CUDA this starts the gloo
    process group itself (from the ``RANK``/``WORLD_SIZE``/``MASTER_*``
    variables that ``torch.distributed.run`` sets), so the runner skips its
    own initialisation, and wraps the model in a device-less DDP. A
    config's ``sync_bn`` is dropped: SyncBatchNorm runs on GPUs only.

    Args:
        cfg (Config): The config (``cfg.launcher`` is the launcher); changed
            in place.
    """
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'--launcher {cfg.launcher} needs CUDA devices; '
                           'on CPUs use --launcher pytorch '
                           '(tools/dist_train.sh)')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False)
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if cfg.get('sync_bn') is not None:
        print_log(
            'SyncBatchNorm runs on GPUs only: on CPU processes each keeps '
            f'its own BatchNorm statistics (sync_bn={cfg.sync_bn!r} '
            'ignored).',
            logger='current',
            level=logging.WARNING)
        cfg.sync_bn = None
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')


def enable_amp(cfg: Config) -> None:
    """Switch the config's optimizer wrapper to mixed precision.

    With CUDA, MMEngine's ``AmpOptimWrapper`` (float16, dynamic loss
    scaling); on a CPU with bfloat16 support (:func:`cpu_supports_bf16`),
    :class:`BF16OptimWrapper` (bfloat16 autocast, no scaler). On a CPU
    without it a warning is printed and training stays in full precision,
    so the same command runs everywhere.

    Args:
        cfg (Config): The config to change in place.

    Raises:
        ValueError: If the config's wrapper is neither ``OptimWrapper`` nor
            already a mixed-precision one.
    """
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper in MIXED_PRECISION_WRAPPERS:
        print_log(
            f'--amp: the config already uses {wrapper}.',
            logger='current',
            level=logging.WARNING)
        return
    if wrapper != 'OptimWrapper':
        raise ValueError('--amp works with optim_wrapper.type="OptimWrapper", '
                         f'but the config has "{wrapper}"')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    elif cpu_supports_bf16():
        cfg.optim_wrapper.type = 'BF16OptimWrapper'
        print_log(
            '--amp on a CPU: training under bfloat16 autocast.',
            logger='current')
    else:
        print_log(
            '--amp asks for mixed precision, which needs a CUDA device or a '
            'CPU with bfloat16 support; neither is here, so training runs '
            'in full precision.',
            logger='current',
            level=logging.WARNING)
