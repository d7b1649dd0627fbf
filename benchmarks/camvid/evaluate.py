"""Score a checkpoint on a run config's test set and write the metrics.

Used by the CamVid benchmark to evaluate in a process of its own (so that
``--jobs`` evaluations run side by side)::

    python benchmarks/camvid/evaluate.py CONFIG CHECKPOINT OUT_JSON
        [--test-root DIR]

``--test-root`` scores on another set in the CamVid layout instead
(:func:`dst_cbc.datasets.use_test_root`): ``DIR/test.txt`` lists the names,
images in ``DIR/test``, labels in ``DIR/testannot``.
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from dst_cbc.datasets import use_test_root
from dst_cbc.utils import atomic_write_json


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
        use_test_root(cfg, test_root)
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
