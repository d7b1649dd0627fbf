"""PseudoLabelHook's manifest: reuse complete folders, refuse foreign ones."""
import json
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from dst_cbc.engine import PseudoLabelHook
from dst_cbc.pseudo_labels import PseudoLabels
from dst_cbc.utils import config_fingerprint, file_sha256


@pytest.fixture
def setup(tmp_path):
    checkpoint = tmp_path / 'round_0_best.pth'
    checkpoint.write_bytes(b'weights')
    cfg = Config(dict(model=dict(type='M'), train_cfg=dict(alphas=[0.5])))
    # model=None: the labeler must not run in these tests
    runner = SimpleNamespace(work_dir=str(tmp_path), cfg=cfg, model=None)
    folder = tmp_path / 'pseudo_labels' / 'round_1'
    folder.mkdir(parents=True)
    identity = dict(
        config=config_fingerprint(cfg),
        round=1,
        alpha=0.5,
        checkpoint=str(checkpoint),
        checkpoint_sha256=file_sha256(str(checkpoint)))
    return runner, str(checkpoint), folder, identity


def test_complete_folder_of_this_run_is_reused(setup):
    runner, checkpoint, folder, identity = setup
    stats = dict(coverage=0.5, thresholds=[0.9, None])
    (folder / 'stats.json').write_text(json.dumps(stats))
    (folder / 'manifest.json').write_text(
        json.dumps(dict(identity, complete=True, num_files=0)))
    labels = PseudoLabelHook().label_round(runner, 1, 0.5, checkpoint)
    assert labels == PseudoLabels(str(folder), stats)


def test_folder_of_another_config_is_refused(setup):
    runner, checkpoint, folder, identity = setup
    (folder / 'manifest.json').write_text(
        json.dumps(dict(identity, config='0' * 64, complete=True)))
    with pytest.raises(
            ValueError, match=f'{folder} holds pseudo labels of another run'):
        PseudoLabelHook().label_round(runner, 1, 0.5, checkpoint)


def test_fingerprint_ignores_work_dir_and_logging():
    a = Config(dict(model=dict(type='M'), work_dir='a', log_level='INFO'))
    b = Config(dict(model=dict(type='M'), work_dir='b', log_level='DEBUG'))
    c = Config(dict(model=dict(type='N'), work_dir='a', log_level='INFO'))
    assert config_fingerprint(a) == config_fingerprint(b)
    assert config_fingerprint(a) != config_fingerprint(c)


@pytest.mark.parametrize('infer_scale', [None, (3, 2)])
def test_cached_labeling_pipeline_gives_the_same_inputs(tmp_path, infer_scale):
    import mmcv
    import numpy as np
    from mmcv.transforms import Compose

    from dst_cbc.datasets import clear_load_cache
    from mmseg.registry import TRANSFORMS
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    path = str(tmp_path / 'a.png')
    mmcv.imwrite(img, path)
    outputs = []
    for cache in (False, True, True):
        hook = PseudoLabelHook(infer_scale=infer_scale, cache_images=cache)
        pipeline = hook.labeling_pipeline()
        assert (pipeline[0]['type'] == 'CachedLoad') == cache
        packed = Compose([TRANSFORMS.build(t) for t in pipeline])(
            dict(img_path=path, seg_fields=[]))
        outputs.append(packed['inputs'])
    clear_load_cache()
    expected = (4, 6) if infer_scale is None else (2, 3)
    assert tuple(outputs[0].shape[1:]) == expected
    for out in outputs[1:]:
        assert (out == outputs[0]).all()


def test_store_confidence_is_part_of_the_manifest(setup, monkeypatch):
    """A complete folder written without confidences is relabeled by a hook
    that stores them, and the new manifest records it; that folder is then
    reused."""
    runner, checkpoint, folder, identity = setup
    (folder / 'manifest.json').write_text(
        json.dumps(dict(identity, complete=True, num_files=0)))
    labeled = []
    stats = dict(
        coverage=0.5,
        thresholds=[0.9, None],
        num_images=2,
        store_confidence=True)

    def fake_label(hook, runner, rnd, alpha, out):
        labeled.append((hook.store_confidence, rnd, alpha, out))
        (folder / 'stats.json').write_text(json.dumps(stats))
        return stats

    monkeypatch.setattr(PseudoLabelHook, '_label', fake_label)
    hook = PseudoLabelHook(store_confidence=True)
    labels = hook.label_round(runner, 1, 0.5, checkpoint)
    assert labeled == [(True, 1, 0.5, str(folder))]
    manifest = json.loads((folder / 'manifest.json').read_text())
    assert manifest == dict(
        identity,
        store_confidence=True,
        thresholds=[0.9, None],
        num_files=2,
        complete=True)
    assert labels == PseudoLabels(str(folder), stats)

    assert hook.label_round(runner, 1, 0.5, checkpoint) == labels  # reused
    assert len(labeled) == 1


def test_store_at_infer_scale_makes_the_labeling_size_the_label_size(tmp_path):
    import mmcv
    import numpy as np
    from mmcv.transforms import Compose

    from mmseg.registry import TRANSFORMS
    path = str(tmp_path / 'a.png')
    mmcv.imwrite(np.zeros((4, 6, 3), np.uint8), path)
    hook = PseudoLabelHook(infer_scale=(3, 2), store_at_infer_scale=True)
    pipeline = Compose([TRANSFORMS.build(t) for t in hook.labeling_pipeline()])
    # the labeler returns logits, and writes labels, at ori_shape
    assert pipeline(dict(img_path=path))['data_samples'].ori_shape == (2, 3)
    plain = Compose([
        TRANSFORMS.build(t)
        for t in PseudoLabelHook(infer_scale=(3, 2)).labeling_pipeline()
    ])
    assert plain(dict(img_path=path))['data_samples'].ori_shape == (4, 6)
    with pytest.raises(ValueError, match='store_at_infer_scale=True needs'):
        PseudoLabelHook(store_at_infer_scale=True)


def _loop(rnd, checkpoint):
    """A curriculum loop as the hook reads it: public properties only."""
    return SimpleNamespace(
        round=rnd,
        alpha=None if rnd == 0 else 0.5,
        best=SimpleNamespace(checkpoint=checkpoint),
        dataloader_cfg=dict(dataset=dict(type='SemiSegDataset')),
        dataloader='the labeled-only dataloader')


def test_round_start_labels_and_switches_the_train_dataloader(
        setup, monkeypatch):
    runner, checkpoint, folder, identity = setup
    made = []
    monkeypatch.setattr(
        PseudoLabelHook, 'label_round',
        lambda hook, runner, rnd, alpha, ckpt: made.append(
            (rnd, alpha, ckpt)) or PseudoLabels(str(folder), {}))
    runner.seed = 7
    runner.build_dataloader = lambda cfg, seed: (cfg, seed)
    runner.train_loop = _loop(0, checkpoint)
    hook = PseudoLabelHook()
    hook.before_train(runner)
    hook.before_train_epoch(runner)  # round 0: supervised, nothing to label
    assert made == []
    assert runner.train_loop.dataloader == 'the labeled-only dataloader'
    runner.train_loop = _loop(1, checkpoint)
    hook.before_train_epoch(runner)
    assert made == [(1, 0.5, checkpoint)]
    assert runner.train_loop.dataloader == (dict(
        dataset=dict(type='SemiSegDataset', pseudo_label_dir=str(folder))), 7)


def test_a_loop_without_rounds_is_refused(setup):
    runner = setup[0]
    runner.train_loop = SimpleNamespace(max_iters=10)
    with pytest.raises(TypeError, match="needs train_cfg type='Curriculum"):
        PseudoLabelHook().before_train(runner)
