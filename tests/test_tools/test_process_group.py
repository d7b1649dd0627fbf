"""The tools end a finished run by destroying the process group."""
import argparse
import importlib.util
import os.path as osp

import pytest
import torch.distributed as dist
from mmengine.config import Config

from dst_cbc import cli

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _Runner:
    """Records that its run saw the process group alive."""

    def __init__(self):
        self.ran = []

    def train(self):
        self.ran.append(('train', dist.is_initialized()))

    def test(self):
        self.ran.append(('test', dist.is_initialized()))


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_tools_destroy_the_process_group_after_a_finished_run(
        tmp_path, monkeypatch, tool):
    """tools/train.py and tools/test.py end a finished run by destroying
    the process group (gloo's threads could otherwise abort the exit)."""
    spec = importlib.util.spec_from_file_location(
        f'{tool}_tool', osp.join(ROOT, 'tools', f'{tool}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = argparse.Namespace(
        amp=False,
        resume=False,
        work_dir='w',
        checkpoint='c.pth',
        test_root=None,
        show=False,
        show_dir=None,
        tta=False,
        out=None)
    runner = _Runner()
    monkeypatch.setattr(module, 'parse_args', lambda: args)
    monkeypatch.setattr(module, 'load_config',
                        lambda _: Config(dict(work_dir='w')))
    monkeypatch.setattr(module, 'build_runner', lambda _: runner)
    dist.init_process_group(
        'gloo',
        init_method=f'file://{tmp_path / "store"}',
        rank=0,
        world_size=1)
    try:
        module.main()
    finally:
        initialized = dist.is_initialized()
        if initialized:
            dist.destroy_process_group()
    assert runner.ran == [(tool, True)] and not initialized


def test_destroying_no_process_group_does_nothing():
    assert not dist.is_initialized()
    cli.destroy_process_group()
    assert not dist.is_initialized()
