"""A work dir of another config is refused, naming the settings that differ."""
import os

import pytest
from mmengine.config import Config

from dst_cbc.engine.run_dir import (MAX_NAMED, check_work_dir, config_settings,
                                    differing_settings)
from dst_cbc.utils import atomic_write_json, config_fingerprint


def test_differing_settings_are_dotted_keys_with_both_values():
    saved = dict(model=dict(a=1, b=[1, 2], c=dict(d='x')), train_cfg=None)
    current = dict(
        model=dict(a=2, b=[1, 3, 4], c=dict(d='x')), train_cfg=dict(alphas=[]))
    assert differing_settings(saved, current) == [
        'model.a: 1 -> 2',
        'model.b[1]: 2 -> 3',
        'model.b[2]: <unset> -> 4',
        'train_cfg: None -> <unset>',
        'train_cfg.alphas: <unset> -> []',
    ]
    assert differing_settings(saved, saved) == []


def _cfg(work_dir, **model):
    return Config(
        dict(
            work_dir=str(work_dir),
            model=dict(type='M', **model),
            train_cfg=dict(alphas=(0.5, 1.0))))


def _claim(cfg):
    atomic_write_json(
        os.path.join(cfg.work_dir, 'run.json'),
        dict(config=config_fingerprint(cfg), settings=config_settings(cfg)))


def test_check_work_dir_names_what_differs(tmp_path):
    check_work_dir(_cfg(tmp_path, gamma=3.0))  # no run.json yet: passes
    _claim(_cfg(tmp_path, gamma=3.0))
    check_work_dir(_cfg(tmp_path, gamma=3.0))  # the same config: passes
    with pytest.raises(ValueError) as e:
        check_work_dir(_cfg(tmp_path, gamma=5.0, depth=18))
    assert str(e.value) == (
        f'work_dir {tmp_path} holds a different run: its run.json was '
        'written for another config. Settings that differ (work dir -> '
        'now): model.depth: <unset> -> 18; model.gamma: 3.0 -> 5.0. '
        'Restore those settings to continue that run (--resume), or choose '
        'another --work-dir')


def test_check_work_dir_lists_at_most_max_named(tmp_path):
    _claim(_cfg(tmp_path))
    many = {f'k{i:02d}': i for i in range(MAX_NAMED + 3)}
    with pytest.raises(
            ValueError, match=r'model.k07: <unset> -> 7; and 3 '
            r'more\. Restore'):
        check_work_dir(_cfg(tmp_path, **many))


def test_check_work_dir_of_an_older_run_json(tmp_path):
    cfg = _cfg(tmp_path, gamma=3.0)
    atomic_write_json(str(tmp_path / 'run.json'), dict(config='0' * 64))
    with pytest.raises(
            ValueError,
            match=r'differ \(work dir -> now\): not '
            r'recorded \(an older run.json\)'):
        check_work_dir(cfg)
