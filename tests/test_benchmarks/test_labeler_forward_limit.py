"""The labeler benchmark's bare forward pass and its stage breakdown.

On the synthetic fallback (16 images of 32x32): the bare forward side runs
the same batches as our labeler, the stages of our run add up to its wall
time, and every timer is removed afterwards (a module's function restored).
"""
import pytest

from benchmarks.labeler import run as bench
from dst_cbc.pseudo_labels import label_files
from dst_cbc.pseudo_labels import labeler as labeler_module
from mmseg.registry import DATASETS


@pytest.fixture(scope='module')
def timing(tmp_path_factory):
    """Two interleaved runs of ours, the paper's and the bare forward."""
    out = tmp_path_factory.mktemp('bench')
    data = bench.prepare_data(str(out / 'no_camvid'), str(out), 16, 32)
    model = bench.build_model(data.cfg.model, seed=0)
    dataset_cfg = bench.labeling_cfg(data.cfg, num_images=6)
    dataset = DATASETS.build(dataset_cfg)
    dirs = {name: str(out / name) for name in ('ours', 'paper')}
    paths = {k: label_files(dataset_cfg, d) for k, d in dirs.items()}
    batches = bench.forward_batches(model, dataset, batch_size=4)
    result = bench.compare_labelers(model, dataset, dirs, paths, 0.2, 4, 2,
                                    batches)
    return model, batches, result


def test_bare_forward_gets_the_labelers_batches(timing):
    model, batches, result = timing
    # 6 images, batches of 4: the labeler's consecutive 4 + 2
    shapes = [tuple(inputs.shape) for inputs, _ in batches]
    assert shapes == [(4, 3, 32, 32), (2, 3, 32, 32)]
    assert len(batches[1][1]) == 2
    assert set(result['seconds']) == {'ours', 'paper', 'bare'}
    assert all(len(s) == 2 and min(s) > 0 for s in result['seconds'].values())


def test_stages_add_up_to_our_wall_time(timing):
    model, _, result = timing
    assert len(result['stage_seconds']) == 2
    for stage, model_time in zip(result['stage_seconds'],
                                 result['model_seconds']['ours']):
        assert set(stage) == set(
            bench.LABELER_METHODS) | {'preprocess', 'original_size_logits'}
        # nested: forward and preprocessing inside original_size_logits,
        # the ground truth inside _write_labels
        assert (stage['preprocess'] + model_time['inference'] <=
                stage['original_size_logits'])
        assert 0 < stage['_load_gt'] <= stage['_write_labels']
        assert stage['_store'] > 0 and stage['_load'] > 0
    results = dict(
        seconds=result['seconds'],
        stage_seconds=result['stage_seconds'],
        model_seconds=result['model_seconds'])
    breakdown = bench.stage_breakdown(results)
    assert len(breakdown) == 8
    # with every run's parts adding up to its total, so do the medians of
    # two runs (means)
    total = sum(seconds for _, seconds in breakdown)
    assert total == pytest.approx(sum(result['seconds']['ours']) / 2, rel=1e-9)


def test_timers_are_removed(timing):
    model, _, _ = timing
    assert 'inference' not in vars(model)
    assert 'forward' not in vars(model.data_preprocessor)
    func = labeler_module.original_size_logits
    assert func.__module__ == labeler_module.__name__
    assert not hasattr(func, '__wrapped__')


def test_method_seconds_restores_module_functions():
    original = labeler_module.original_size_logits
    with bench.method_seconds(labeler_module, ['original_size_logits']):
        assert labeler_module.original_size_logits is not original
    assert labeler_module.original_size_logits is original


def test_labeling_hook_overrides_reach_the_pipeline():
    cfg = bench.Config(
        dict(custom_hooks=[
            dict(type='PseudoLabelHook', batch_size=8, infer_scale=(24, 16))
        ]))
    plain = bench.labeling_hook(cfg)
    stored = bench.labeling_hook(cfg, store_at_infer_scale=True)
    assert plain.batch_size == stored.batch_size == 8
    types = [t['type'] for t in stored.labeling_pipeline()]
    assert types == [
        'LoadImageFromFile', 'Resize', 'ResetOriginalShape', 'PackSegInputs'
    ]
    assert 'ResetOriginalShape' not in [
        t['type'] for t in plain.labeling_pipeline()
    ]
