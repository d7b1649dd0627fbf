"""The labeler benchmark and Algorithm 1, its oracle (tests/helpers).

No wall time is asserted; only what the benchmark relies on: Algorithm 1
computes the hand-worked thresholds and labels, ours labels (nearly) the
pixels it labels, our threshold state does not grow with the pixels while
Algorithm 1's does, and the profiled stages partition a run.
"""
import time

import numpy as np
import pytest
import torch

from benchmarks.labeler import run as bench
from dst_cbc.pseudo_labels import PseudoLabeler, label_files
from mmseg.registry import DATASETS
from tests.helpers import algorithm1


def probability_logits(p1: np.ndarray) -> torch.Tensor:
    """(2, H, W) logits whose softmax is ``(1 - p1, p1)``."""
    p1 = torch.as_tensor(p1, dtype=torch.float64)
    return torch.log(torch.stack([1 - p1, p1])).float()


def test_algorithm1_thresholds_by_hand():
    # class 0: sorted 0.5 .. 0.9; class 1: 0.3, 0.4; class 2: no sample
    state = [[np.float32([0.9, 0.5]),
              np.float32([0.7, 0.6, 0.8])], [np.float32([0.3, 0.4])], []]
    # alpha 0.4: class 0 keeps int(2.0) = 2 samples, above the 3rd largest;
    # class 1 keeps int(0.8) = 0: kept whole (t = 0), as the original does
    np.testing.assert_array_equal(
        algorithm1.thresholds(state, 0.4), np.float32([0.7, 0, 0]))
    # alpha 0.6: int(3.0) = 3 above 0.6, int(1.2) = 1 above 0.3
    np.testing.assert_array_equal(
        algorithm1.thresholds(state, 0.6), np.float32([0.6, 0.3, 0]))
    np.testing.assert_array_equal(
        algorithm1.thresholds(state, 1.0), np.zeros(3, np.float32))


def test_algorithm1_samples_every_16th_pixel_and_labels_by_hand():
    # pixel i of a 4x8 image has p(class 1) = 0.04 + 0.03 i: class 0 with
    # confidence 0.96 .. 0.51 for i <= 15, class 1 with 0.52 .. 0.97 after
    logits = probability_logits((0.04 + 0.03 * np.arange(32)).reshape(4, 8))
    state = algorithm1.new_state(2)
    algorithm1.update(state, logits)  # pixels 0 and 16
    np.testing.assert_allclose(np.concatenate(state[0]), [0.96], atol=1e-6)
    np.testing.assert_allclose(np.concatenate(state[1]), [0.52], atol=1e-6)
    every = algorithm1.new_state(2)
    algorithm1.update(every, logits, stride=1)
    assert [len(np.concatenate(s)) for s in every] == [16, 16]
    # keep class 0 above 0.92 (i = 0, 1) and class 1 above 0.6 (i >= 19)
    label = algorithm1.labels(logits, np.float32([0.92, 0.6]))
    assert label.dtype == np.uint8
    assert label.flatten().tolist() == [0, 0] + [255] * 17 + [1] * 13


@pytest.fixture(scope='module')
def labeling(tmp_path_factory):
    """A briefly trained model and 8 unlabeled synthetic images."""
    out = tmp_path_factory.mktemp('bench')
    data = bench.prepare_data(str(out / 'no_camvid'), str(out), 16, 32)
    assert data.kind == 'synthetic' and 'SYNTHETIC' in data.note
    model = bench.build_model(data.cfg.model, seed=0)
    bench.train_briefly(model, data.cfg, iters=10, seed=0)
    dataset_cfg = bench.labeling_dataset_cfg(data.cfg, num_images=8)
    return model, dataset_cfg, DATASETS.build(dataset_cfg), out


def test_ours_and_algorithm1_label_nearly_the_same_pixels(labeling):
    model, dataset_cfg, dataset, out = labeling
    paths = {
        name: label_files(dataset_cfg, str(out / name))
        for name in ('ours', 'paper', 'every')
    }
    labeler = PseudoLabeler(model.decode_head.num_classes, batch_size=8)
    ours = labeler.run(model, dataset, str(out / 'ours'), 0.2, paths['ours'])
    paper = algorithm1.run(model, dataset, paths['paper'], 0.2)
    every = algorithm1.run(model, dataset, paths['every'], 0.2, stride=1)
    assert every['pixels'] == paper['pixels'] == 8 * 32 * 32
    close = bench.agreement(ours, paths['ours'], every, paths['every'])
    # float16 rounding and ties only: thresholds within a few float16 steps
    # of u (2 ** -11 for u in [0.5, 1)), under 1 % of the pixels differ
    assert close['threshold_max_diff'] < 4e-3
    assert close['differing'] < 0.01 * close['pixels']
    assert close['class_changed'] == 0
    assert ours['coverage'] >= 0.2  # ours keeps at least alpha of a class
    sampled = bench.agreement(ours, paths['ours'], paper, paths['paper'])
    assert sampled['class_changed'] == 0 and sampled['pixels'] == 8 * 32 * 32


def test_profiled_stages_partition_a_run(labeling):
    model, dataset_cfg, dataset, out = labeling
    paths = label_files(dataset_cfg, str(out / 'staged'))
    labeler = PseudoLabeler(model.decode_head.num_classes, batch_size=4)
    ours = bench.stage_seconds(
        bench.OUR_STAGES,
        lambda: labeler.run(model, dataset, str(out / 'staged'), 0.2, paths))
    paper = bench.stage_seconds(
        bench.PAPER_STAGES, lambda: algorithm1.run(model, dataset, paths, 0.2))
    for stages, names in ((ours, bench.OUR_STAGES), (paper,
                                                     bench.PAPER_STAGES)):
        assert set(stages) == set(names) | {'rest', 'total'}
        assert all(stages[s] > 0 for s in names)
        assert sum(stages[s] for s in names) + stages['rest'] == (
            pytest.approx(stages['total']))
        assert stages['rest'] >= 0
    batches = bench.forward_batches(model, dataset, batch_size=4)
    # 8 images, batches of 4: the labeler's consecutive 4 + 4
    assert [tuple(inputs.shape)
            for inputs, _ in batches] == [(4, 3, 32, 32)] * 2


def test_function_seconds_counts_the_outermost_call():

    def nested(depth: int) -> None:
        time.sleep(0.02)
        if depth:
            nested(depth - 1)

    seconds = bench.function_seconds(lambda: nested(2), ['nested', 'absent'])
    # three nested calls: the outer one's time, not the sum of the three
    assert 0.06 <= seconds['nested'] <= seconds['total']
    assert seconds['absent'] == 0


def test_threshold_state_memory_flat_for_ours_linear_for_algorithm1():
    rows = bench.state_memory(5, (16, 16), num_images=2)
    assert [r['pixels'] for r in rows] == [512, 5120, 51200]
    # ours: one int64 histogram of 5 x 15361 bins, whatever the pixels
    assert {r['ours_bytes'] for r in rows} == {5 * 15361 * 8}
    # Algorithm 1: 4 bytes per 16 pixels, kept until the sort
    assert [r['reference_bytes'] for r in rows] == [128, 1280, 12800]
    assert rows[2]['reference_peak_bytes'] > (10 *
                                              rows[0]['reference_peak_bytes'])
