"""The training-step benchmark's two models, its loaders and its timer."""
import pytest

from benchmarks.train_step import run as bench


@pytest.fixture(scope='module')
def cfg(tmp_path_factory):
    """The synthetic fallback's config: 16 train images of 32x32."""
    out = tmp_path_factory.mktemp('bench')
    return bench.prepare_data(str(out / 'no_camvid'), str(out), 16, 32).cfg


def test_cached_load_toggles_only_the_loading_transforms(cfg):
    pipeline = cfg.train_dataloader.dataset.labeled.pipeline
    plain = bench.with_cached_load(pipeline, False)
    cached = bench.with_cached_load(pipeline, True)
    assert [t['type']
            for t in plain[:2]] == ['LoadImageFromFile', 'LoadAnnotations']
    assert cached[0] == dict(type='CachedLoad', transforms=plain[:2])
    assert cached[1:] == plain[2:]
    assert bench.with_cached_load(cached, False) == plain


def test_step_models_compute_the_same_loss_at_gamma_0(cfg, tmp_path):
    label_dir = bench.write_gt_pseudo_labels(cfg, str(tmp_path))
    batch = next(iter(bench.semi_loader(cfg, label_dir, 0, False, seed=0)))
    assert [s.metainfo['is_pseudo']
            for s in batch['data_samples']] == [False] * 4 + [True] * 4
    semi, plain = bench.build_pair(cfg.model, seed=0)
    assert type(plain.decode_head).__name__ == 'DLV2Head'
    assert type(plain.decode_head.loss_decode).__name__ == 'CrossEntropyLoss'
    assert type(semi.decode_head).__name__ == 'DynamicDLV2Head'
    check = bench.loss_check(cfg.model, batch, seed=0)
    gamma0 = check['gamma0']
    assert set(gamma0['semi']) == set(gamma0['plain']) == {'decode.loss_ce'}
    assert check[
        'gamma0_max_abs_diff'] < 1e-6 * gamma0['plain']['decode.loss_ce']
    # the plain loss does not depend on gamma; the dynamic loss (gamma 3)
    # down-weights the pseudo-labeled pixels
    configured = check['configured']
    assert configured['plain'] == pytest.approx(gamma0['plain'], rel=1e-6)
    assert (configured['semi']['decode.loss_ce'] <
            configured['plain']['decode.loss_ce'])


def test_step_comparison_times_both_sides(cfg, tmp_path):
    label_dir = bench.write_gt_pseudo_labels(cfg, str(tmp_path))
    steps = bench.step_comparison(cfg, label_dir, iters=2, warmup=1, seed=0)
    for side in ('semi', 'plain'):
        assert len(steps[side]['data']) == len(steps[side]['step']) == 2
        assert min(steps[side]['step']) > 0
    assert steps['step_ratio'] > 0 and steps['iteration_ratio'] > 0
