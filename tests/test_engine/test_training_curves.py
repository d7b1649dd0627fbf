"""TrainingCurvesHook's numbers: per-range means, smoothing, the report
from a message hub's history, validations kept across a resume."""
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.logging import MessageHub

from dst_cbc.engine.report import TrainingCurvesHook, range_means, smooth


def test_range_means_and_smooth():
    values = np.arange(1.0, 8.0)  # iterations 1..7
    assert range_means(values, 3) == [
        dict(first=1, last=3, mean=2.0),
        dict(first=4, last=6, mean=5.0),
        dict(first=7, last=7, mean=7.0)
    ]
    assert smooth(values, 2).tolist() == [1.0, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5]


def test_report_from_the_history(tmp_path):
    hub = MessageHub(f'training_curves_{tmp_path.name}')
    for i in range(20):
        hub.update_scalar('train/loss', 1.0 + i)
        hub.update_scalar('train/loss_x', 0.5)
        hub.update_scalar('train/confident_ratio', i / 20)
    runner = SimpleNamespace(message_hub=hub, work_dir=str(tmp_path), iter=10)
    hook = TrainingCurvesHook(num_rows=4)
    hook.after_val_epoch(runner, dict(mIoU=40.0))  # not training: ignored
    hook.before_train(runner)
    hook.after_val_epoch(runner, dict(mIoU=40.0))
    runner.iter = 20
    hook.after_val_epoch(runner, dict(mIoU=45.5))
    report = hook.build_report(runner)
    assert [v['iter'] for v in report['val']] == [10, 20]
    assert report['best'] == dict(iter=20, score=45.5)
    assert set(report['ranges']) == {'loss', 'loss_x', 'confident_ratio'}
    assert report['ranges']['loss'][0] == dict(first=1, last=5, mean=3.0)
    last = report['ranges']['confident_ratio'][-1]  # iterations 16..20
    assert last['first'] == 16 and last['mean'] == pytest.approx(0.85)
    hook.after_train(runner)
    text = (tmp_path / 'report.md').read_text()
    assert 'Best validation mIoU: 45.50 at iteration 20' in text
    for name in ('losses.png', 'confident_ratio.png', 'val.png'):
        assert (tmp_path / 'plots' / name).stat().st_size > 0
