"""The performance benchmarks' core functions on tiny generated data.

``benchmarks/{labeler,train_step,round_profile}/run.py`` are imported as
modules; no wall time is asserted, only what the benchmarks rely on: the
reference Algorithm 1 computes the hand-worked thresholds and labels, it
labels (nearly) the pixels ours labels, our threshold state does not grow
with the pixels while the reference's does, the two step models compute the
same loss at gamma 0, and the round profile's timers see every call.
"""
import numpy as np
import pytest
import torch

from benchmarks.labeler import run as labeler
from benchmarks.round_profile import run as round_profile
from benchmarks.train_step import run as train_step
from dst_cbc.pseudo_labels import label_files
from mmseg.registry import DATASETS


@pytest.fixture(scope='module')
def bench_data(tmp_path_factory):
    """The synthetic fallback: 16 train images of 32x32, 2 labeled."""
    out = tmp_path_factory.mktemp('bench')
    data = labeler.prepare_data(str(out / 'no_camvid'), str(out), 16, 32)
    assert data.kind == 'synthetic' and 'SYNTHETIC' in data.note
    return data


def probability_logits(p1: np.ndarray) -> torch.Tensor:
    """(2, H, W) logits whose softmax is ``(1 - p1, p1)``."""
    p1 = torch.as_tensor(p1, dtype=torch.float64)
    return torch.log(torch.stack([1 - p1, p1])).float()


def test_reference_thresholds_by_hand():
    # class 0: sorted 0.5 .. 0.9; class 1: 0.3, 0.4; class 2: no sample
    state = [[np.float32([0.9, 0.5]),
              np.float32([0.7, 0.6, 0.8])], [np.float32([0.3, 0.4])], []]
    # alpha 0.4: class 0 keeps int(2.0) = 2 samples, above the 3rd largest;
    # class 1 keeps int(0.8) = 0: kept whole (t = 0), as the original does
    np.testing.assert_array_equal(
        labeler.reference_thresholds(state, 0.4), np.float32([0.7, 0, 0]))
    # alpha 0.6: int(3.0) = 3 above 0.6, int(1.2) = 1 above 0.3
    np.testing.assert_array_equal(
        labeler.reference_thresholds(state, 0.6), np.float32([0.6, 0.3, 0]))
    np.testing.assert_array_equal(
        labeler.reference_thresholds(state, 1.0), np.zeros(3, np.float32))


def test_reference_samples_every_16th_pixel_and_labels_by_hand():
    # pixel i of a 4x8 image has p(class 1) = 0.04 + 0.03 i: class 0 with
    # confidence 0.96 .. 0.51 for i <= 15, class 1 with 0.52 .. 0.97 after
    p1 = (0.04 + 0.03 * np.arange(32)).reshape(4, 8)
    logits = probability_logits(p1)
    state = labeler.new_reference_state(2)
    labeler.reference_update(state, logits)  # pixels 0 and 16
    np.testing.assert_allclose(np.concatenate(state[0]), [0.96], atol=1e-6)
    np.testing.assert_allclose(np.concatenate(state[1]), [0.52], atol=1e-6)

    every = labeler.new_reference_state(2)
    labeler.reference_update(every, logits, stride=1)
    assert [len(np.concatenate(s)) for s in every] == [16, 16]

    # keep class 0 above 0.92 (i = 0, 1) and class 1 above 0.6 (i >= 19)
    label = labeler.reference_labels(logits, np.float32([0.92, 0.6]))
    expected = [0, 0] + [255] * 17 + [1] * 13
    assert label.dtype == np.uint8
    assert label.flatten().tolist() == expected


def test_ours_and_reference_label_nearly_the_same_pixels(bench_data, tmp_path):
    cfg = bench_data.cfg
    model = labeler.build_model(cfg.model, seed=0)
    labeler.train_briefly(model, cfg, iters=10, seed=0)
    dataset_cfg = labeler.labeling_cfg(cfg, num_images=8)
    dataset = DATASETS.build(dataset_cfg)
    alpha = 0.2
    dirs = {name: str(tmp_path / name) for name in ('ours', 'paper', 'every')}
    paths = {k: label_files(dataset_cfg, d) for k, d in dirs.items()}
    assert [len(p) for p in paths.values()] == [8, 8, 8]
    timing = labeler.compare_labelers(model, dataset, dirs, paths, alpha, 8, 1)
    ours, paper = timing['outputs']['ours'], timing['outputs']['paper']
    every = labeler.run_reference(
        model, dataset, dirs['every'], paths['every'], alpha, stride=1)
    assert every['pixels'] == paper['pixels'] == 8 * 32 * 32
    # the model's time is inside each run's; only the reference's
    # test_step post-processes; the timers are removed after
    for name in ('ours', 'paper'):
        (total, ), (model_time, ) = (timing['seconds'][name],
                                     timing['model_seconds'][name])
        assert 0 < model_time['inference']
        assert model_time['inference'] + model_time['postprocess_result'] <= (
            total)
    assert timing['model_seconds']['ours'][0]['postprocess_result'] == 0
    assert timing['model_seconds']['paper'][0]['postprocess_result'] > 0
    assert 'inference' not in vars(model)

    close = labeler.agreement(ours, paths['ours'], every, paths['every'])
    # float16 rounding and ties only: thresholds within a few float16 steps
    # of u (2 ** -11 for u in [0.5, 1)), under 1 % of the pixels differ
    assert close['thresholds']['max'] < 4e-3
    assert close['labels']['fraction'] < 0.01
    assert close['labels']['class_changed'] == 0
    # ours keeps at least alpha of every class
    assert ours['coverage'] >= alpha

    sampled = labeler.agreement(ours, paths['ours'], paper, paths['paper'])
    assert sampled['labels']['class_changed'] == 0
    assert sampled['labels']['pixels'] == 8 * 32 * 32


def test_threshold_state_memory_flat_for_ours_linear_for_reference():
    rows = labeler.state_memory(5, (16, 16), num_images=2)
    assert [r['scale'] for r in rows] == [1, 10, 100]
    assert [r['pixels'] for r in rows] == [512, 5120, 51200]
    # ours: one int64 histogram of 5 x 15361 bins, whatever the pixels
    assert {r['ours_bytes'] for r in rows} == {5 * 15361 * 8}
    # reference: 4 bytes per 16 pixels, retained until the sort
    assert [r['reference_bytes'] for r in rows] == [128, 1280, 12800]
    assert rows[2]['reference_peak_bytes'] > (10 *
                                              rows[0]['reference_peak_bytes'])


def test_cached_load_toggles_only_the_loading_transforms(bench_data):
    pipeline = bench_data.cfg.train_dataloader.dataset.labeled.pipeline
    plain = train_step.with_cached_load(pipeline, False)
    cached = train_step.with_cached_load(pipeline, True)
    assert [t['type']
            for t in plain[:2]] == ['LoadImageFromFile', 'LoadAnnotations']
    assert cached[0]['type'] == 'CachedLoad'
    assert cached[0]['transforms'] == plain[:2]
    assert cached[1:] == plain[2:]
    assert train_step.with_cached_load(cached, False) == plain


def test_step_models_compute_the_same_loss_at_gamma_0(bench_data, tmp_path):
    cfg = bench_data.cfg
    label_dir = train_step.write_gt_pseudo_labels(cfg, str(tmp_path))
    loader = train_step.semi_loader(cfg, label_dir, 0, False, seed=0)
    batch = next(iter(loader))
    assert [s.metainfo['is_pseudo']
            for s in batch['data_samples']] == [False] * 4 + [True] * 4

    semi, plain = train_step.build_pair(cfg.model, seed=0)
    assert type(plain.decode_head).__name__ == 'DLV2Head'
    assert type(plain.decode_head.loss_decode).__name__ == 'CrossEntropyLoss'
    assert type(semi.decode_head).__name__ == 'DynamicDLV2Head'

    check = train_step.loss_check(cfg.model, batch, seed=0)
    gamma0 = check['gamma0']
    assert set(gamma0['semi']) == set(gamma0['plain']) == {'decode.loss_ce'}
    assert gamma0['semi']['decode.loss_ce'] == pytest.approx(
        gamma0['plain']['decode.loss_ce'], rel=1e-6)
    # the plain model's loss does not depend on gamma: same weights, batch
    configured = check['configured']
    assert configured['plain'] == pytest.approx(gamma0['plain'], rel=1e-6)
    # the dynamic loss (gamma 3) down-weights the pseudo-labeled pixels
    assert (configured['semi']['decode.loss_ce'] <
            configured['plain']['decode.loss_ce'])


def test_round_profile_times_every_call(bench_data, tmp_path):
    cfg = round_profile.profile_config(
        bench_data.cfg,
        str(tmp_path / 'work_dir'),
        baseline_iters=4,
        round_iters=3,
        val_interval=3,
        alpha=0.2,
        baseline_checkpoint=None,
        log_level='WARNING',
        seed=0)
    result = round_profile.run_profile(cfg)
    calls, seconds = result['calls'], result['seconds']
    assert set(seconds) == {'0', '1'}
    for rnd, iters, validations in (('0', 4, 2), ('1', 3, 1)):
        assert calls[rnd]['train_step'] == iters
        assert calls[rnd]['data'] == iters
        assert calls[rnd]['backward+optimizer'] == iters
        assert calls[rnd]['validation'] == validations
        # round 0 labels nothing; round 1 asks the hook once
        assert calls[rnd].get('labeling', 0) == int(rnd)
        assert calls[rnd]['report'] == 1
        # the timed categories fit in the round's wall time: other >= 0
        assert all(v >= -1e-9 for v in seconds[rnd].values())
    assert seconds['0'].get('labeling', 0) == 0
    assert seconds['1']['labeling'] > 0
    # round 1 loads round 0's best checkpoint
    assert calls['1']['checkpointing'] >= 2
    assert (seconds['0']['total'] + seconds['1']['total'] <=
            result['wall_seconds'])
