"""The OW ablation end to end on CPU: a tiny curriculum whose round stores
the labeling model's confidences and trains with them as weights."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import Runner
from PIL import Image

import dst_cbc  # noqa: F401
from dst_cbc.models import DynamicCrossEntropyLoss
from dst_cbc.pseudo_labels import confidence_file, decode_confidence

IGNORE = 255
GAMMA = 3.0


def ow_pipeline(pipeline):
    """The train pipeline with the confidence map loaded and packed."""
    types = [t['type'] for t in pipeline]
    assert types[:2] == ['LoadImageFromFile', 'LoadAnnotations']
    assert types[-1] == 'PackSegInputs'
    return (pipeline[:2] + [dict(type='LoadPseudoConfidence')] +
            pipeline[2:-1] + [dict(type='PackSegInputsWithConfidence')])


@pytest.fixture(scope='module')
def ow_run(tmp_path_factory, tiny_synthetic, tiny_cfg):
    """Round 0 (4 iterations) and one OW round (alpha 0.5, 4 iterations);
    every call of the loss is recorded."""
    tmp = tmp_path_factory.mktemp('ow')
    data_root = tiny_synthetic(
        str(tmp / 'data'), num_train=24, num_val=4, seed=3, ratio=4)
    cfg = tiny_cfg(
        data_root,
        tmp / 'work',
        ratio=4,
        alphas=[0.5],
        baseline_iters=4,
        round_iters=4,
        val_interval=4)
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.model.decode_head.loss_decode.update(
        gamma=GAMMA, weight_source='stored')
    cfg.custom_hooks = [
        dict(type='PseudoLabelHook', batch_size=8, store_confidence=True)
    ]
    unlabeled = cfg.train_dataloader.dataset.unlabeled
    unlabeled.pipeline = ow_pipeline(unlabeled.pipeline)

    calls = []
    forward = DynamicCrossEntropyLoss.forward

    def recording_forward(self, cls_score, label, **kwargs):
        value = forward(self, cls_score, label, **kwargs)
        # the head passes the batch's flags as keyword arguments
        mask = kwargs['pseudo_mask']
        confidence = kwargs['pseudo_confidence']
        calls.append(
            dict(
                logits=cls_score.detach().clone(),
                label=label.clone(),
                pseudo_mask=mask.clone(),
                confidence=None if confidence is None else confidence.clone(),
                value=value.detach().clone()))
        return value

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DynamicCrossEntropyLoss, 'forward', recording_forward)
        runner = Runner.from_cfg(cfg)
        runner.train()
    folder = osp.join(cfg.work_dir, 'pseudo_labels', 'round_1')
    return runner, calls, folder


def test_every_pseudo_label_has_its_stored_confidence(ow_run):
    runner, _, folder = ow_run
    with open(osp.join(folder, 'manifest.json')) as f:
        manifest = json.load(f)
    with open(osp.join(folder, 'stats.json')) as f:
        stats = json.load(f)
    assert manifest['complete'] and manifest['store_confidence'] is True
    assert stats['store_confidence'] is True and stats['num_images'] == 18
    unlabeled = runner.train_loop.dataloader.dataset.unlabeled
    for i in range(len(unlabeled)):
        label_file = unlabeled.get_data_info(i)['seg_map_path']
        assert osp.dirname(label_file) == osp.abspath(folder)
        label = np.asarray(Image.open(label_file))
        stored = np.asarray(Image.open(confidence_file(label_file)))
        assert stored.dtype == np.uint16 and stored.shape == label.shape


def test_round_losses_use_the_stored_confidences(ow_run):
    runner, calls, folder = ow_run
    assert len(calls) == 8  # one loss call per training iteration
    baseline, round_1 = calls[:4], calls[4:]
    for call in baseline:  # round 0: labeled images only
        assert not call['pseudo_mask'].any()
    with open(osp.join(folder, 'stats.json')) as f:
        thresholds = json.load(f)['thresholds']
    unlabeled = runner.train_loop.dataloader.dataset.unlabeled
    stored_values = np.unique(
        np.concatenate([
            decode_confidence(
                np.asarray(
                    Image.open(
                        confidence_file(
                            unlabeled.get_data_info(i)
                            ['seg_map_path'])))).ravel()
            for i in range(len(unlabeled))
        ]))
    differs = False
    for call in round_1:
        mask, label, confidence = (call['pseudo_mask'], call['label'],
                                   call['confidence'])
        assert mask.tolist() == [False] * 4 + [True] * 4
        # The value is the OW formula: CE weighted by stored ** gamma on the
        # pseudo-labeled images, 1 on the labeled ones.
        ce = F.cross_entropy(
            call['logits'], label, reduction='none', ignore_index=IGNORE)
        weight = torch.where(
            mask.view(-1, 1, 1), confidence**GAMMA, torch.ones_like(ce))
        expected = (weight * ce).sum() / (label != IGNORE).sum()
        torch.testing.assert_close(call['value'], expected)
        current = DynamicCrossEntropyLoss(gamma=GAMMA)(
            call['logits'], label, pseudo_mask=mask)
        differs |= not torch.allclose(current, call['value'])
        # Every weight of a pseudo-labeled pixel is a value from the stored
        # maps, moved with its label: at least its class's threshold.
        valid = mask.view(-1, 1, 1) & (label != IGNORE)
        values = confidence[valid].numpy()
        assert values.size > 0
        assert np.isin(values, stored_values).all()
        floor = torch.tensor([-1.0 if t is None else t for t in thresholds])
        assert (confidence[valid] >= floor[label[valid]] - 1e-3).all()
    assert differs  # the current model's weights would give other losses
