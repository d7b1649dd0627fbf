"""Score a checkpoint on a run config's test set and write the metrics.

Used by the CamVid benchmark to evaluate in a process of its own (so that
``--jobs`` evaluations run side by side)::

    python benchmarks/camvid/evaluate.py CONFIG CHECKPOINT OUT_JSON
        [--test-root DIR]

``--test-root`` scores on another set in the CamVid layout instead:
``DIR/test.txt`` lists the names, images in ``DIR/test``, labels in
``DIR/testannot``.
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

import dst_cbc  # noqa: F401  (registers the extension's modules)
from dst_cbc.utils import atomic_write_json


def test_set(cfg: Config, test_root: str) -> None:
    """Point the config's test set at a CamVid-layout folder.

    Args:
        cfg (Config): The run config, changed in place.
        test_root (str): Folder with ``test.txt``, ``test/`` and
            ``testannot/``.

    Raises:
        FileNotFoundError: Naming the first missing part of the layout.
    """
    for part in ('test.txt', 'test', 'testannot'):
        if not osp.exists(osp.join(test_root, part)):
            raise FileNotFoundError(
                f'--test-root {test_root}: {part} is missing (expected the '
                'CamVid layout: test.txt, test/, testannot/)')
    dataset = cfg.test_dataloader.dataset
    dataset.data_root = osp.abspath(test_root)
    dataset.data_prefix = dict(img_path='test', seg_map_path='testannot')
    dataset.ann_file = 'test.txt'


def evaluate(config: str,
             checkpoint: str,
             out: str,
             test_root: str = None) -> dict:
    """Test ``checkpoint`` with ``config`` and write the metrics to ``out``.

    Returns:
        dict: The metrics (``mIoU``, ``aAcc``, ...).
    """
    cfg = Config.fromfile(config)
    if test_root:
        test_set(cfg, test_root)
    cfg.work_dir = osp.join(osp.dirname(out), 'eval_logs')
    cfg.load_from = checkpoint
    cfg.log_level = 'WARNING'
    metrics = {k: float(v) for k, v in Runner.from_cfg(cfg).test().items()}
    atomic_write_json(out, metrics)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--test-root')
    args = parser.parse_args()
    evaluate(args.config, args.checkpoint, args.out, args.test_root)


if __name__ == '__main__':
    main()
