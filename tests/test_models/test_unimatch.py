"""UniMatch's loss: the four terms against a hand computation, the feature
perturbation confined to its stream, the CutMix of the strong views, the
eval-mode CutMix sources, bfloat16 autocast, and EncoderDecoder's test
behaviour; the OHEM loss of the Cityscapes configs."""
import math

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import dst_cbc  # noqa: F401
from dst_cbc.models import OhemCrossEntropyLoss
from dst_cbc.models.unimatch import (Targets, UnlabeledBatch,
                                     confident_targets, masked_cross_entropy)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

NUM_CLASSES = 3


def model_cfg(**kwargs):
    """A tiny UniMatch: ResNetV1c-18 of 4 base channels, an FCN head
    without normalisation (so only the backbone has BatchNorm)."""
    return dict(
        type='UniMatch',
        data_preprocessor=dict(type='UniMatchDataPreProcessor', size=(16, 16)),
        backbone=dict(
            type='ResNetV1c',
            depth=18,
            base_channels=4,
            stem_channels=4,
            out_indices=(0, 1, 2, 3),
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 2)),
        decode_head=dict(
            type='FCNHead',
            in_channels=32,
            in_index=3,
            channels=8,
            num_convs=1,
            concat_input=False,
            dropout_ratio=0.0,
            num_classes=NUM_CLASSES,
            norm_cfg=None,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)),
        test_cfg=ConfigDict(mode='whole'),
        **kwargs)


def build(**kwargs):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(model_cfg(**kwargs))


# -- the loss against a hand computation --------------------------------------
def softmax(logits):
    exps = [math.exp(v) for v in logits]
    return [e / sum(exps) for e in exps]


def pixel(logits, n, y, x):
    """The class logits of pixel (y, x) of image n, as a list."""
    return logits[n, :, y, x].tolist()


def hand_targets(logits, ignore):
    """Per pixel (label, confidence, ignore) of image 0, by hand."""
    out = {}
    for y in range(2):
        for x in range(2):
            p = softmax(pixel(logits, 0, y, x))
            out[y, x] = (p.index(max(p)), max(p), int(ignore[y, x]))
    return out


def hand_term(logits, targets, threshold):
    """Sum of -log p(label) over confident, non-ignored pixels, divided
    by the non-ignored ones."""
    total, valid = 0.0, 0
    for (y, x), (label, confidence, ignore) in targets.items():
        if ignore == 255:
            continue
        valid += 1
        if confidence >= threshold:
            total -= math.log(softmax(pixel(logits, 0, y, x))[label])
    return total / valid


def unlabeled_sample(ignore, boxes):
    sample = SegDataSample()
    sample.set_metainfo(dict(is_pseudo=True, img_shape=(2, 2)))
    sample.strong_views = torch.zeros(2, 3, 2, 2)
    sample.ignore_mask = torch.tensor(ignore, dtype=torch.uint8)
    sample.cutmix_boxes = torch.tensor(boxes, dtype=torch.bool)
    return sample


def test_loss_is_the_authors_formula_by_hand():
    """One labeled crop, one unlabeled crop and its source, 2 x 2 pixels,
    3 classes, threshold 0.6: the forward passes are replaced by fixed
    logits; everything after them is computed by hand."""
    model = build(conf_thresh=0.6)
    g = torch.Generator().manual_seed(3)

    def logits():
        return torch.randn(1, NUM_CLASSES, 2, 2, generator=g) * 2

    labeled_logits, weak, fp, mix, s1, s2 = (logits() for _ in range(6))
    model.forward_weak = lambda x: (torch.cat([labeled_logits, weak]),
                                    torch.cat([logits(), fp]))
    model.mix_targets = lambda w, ignore: confident_targets(mix, ignore)
    model.forward_strong = lambda batch: [s1, s2]

    labeled = SegDataSample(
        gt_sem_seg=PixelData(data=torch.tensor([[[0, 2], [255, 1]]])))
    labeled.set_metainfo(dict(is_pseudo=False, img_shape=(2, 2)))
    main_ignore = [[0, 0], [0, 255]]
    mix_ignore = [[255, 0], [0, 0]]
    box1 = [[True, True], [False, False]]  # view 1: the top row is mixed
    box2 = [[False, False], [False, False]]  # view 2: no box
    samples = [
        labeled,
        unlabeled_sample(main_ignore, [box1, box2]),
        unlabeled_sample(mix_ignore, [box2, box2])
    ]
    losses = model.loss(torch.zeros(3, 3, 2, 2), samples)

    # loss_x: the mean cross-entropy of the 3 labeled pixels.
    label = {(0, 0): 0, (0, 1): 2, (1, 1): 1}
    loss_x = -sum(
        math.log(softmax(pixel(labeled_logits, 0, y, x))[c])
        for (y, x), c in label.items()) / 3
    own = hand_targets(weak, torch.tensor(main_ignore))
    source = hand_targets(mix, torch.tensor(mix_ignore))
    mixed = {k: source[k] if box1[k[0]][k[1]] else own[k] for k in own}
    assert any(c < 0.6 for _, c, _ in own.values())  # the mask matters
    expected = dict(
        loss_x=0.5 * loss_x,
        loss_s1=0.125 * hand_term(s1, mixed, 0.6),
        loss_s2=0.125 * hand_term(s2, own, 0.6),
        loss_fp=0.25 * hand_term(fp, own, 0.6))
    for key, value in expected.items():
        assert losses[key].item() == pytest.approx(value, rel=1e-5), key
    # Confident share of the weak view's 3 non-ignored pixels.
    confident = sum(c >= 0.6 and i != 255 for _, c, i in own.values())
    assert losses['confident_ratio'].item() == pytest.approx(confident / 3)
    total, log = model.parse_losses(losses)
    assert total.item() == pytest.approx(sum(expected.values()), rel=1e-5)
    assert 'confident_ratio' in log and 'acc_seg' in log


def test_masked_cross_entropy_divides_by_the_non_ignored_pixels():
    logits = torch.zeros(1, 2, 1, 4)  # every pixel at -log(1/2)
    targets = Targets(
        label=torch.zeros(1, 1, 4, dtype=torch.long),
        confidence=torch.tensor([[[0.9, 0.1, 0.9, 0.9]]]),
        ignore=torch.tensor([[[0, 0, 0, 255]]], dtype=torch.uint8))
    # 2 confident, non-ignored pixels over 3 non-ignored ones.
    assert masked_cross_entropy(logits, targets, 0.5).item() == (
        pytest.approx(2 * math.log(2) / 3))
    # Threshold 0 (Cityscapes): every non-ignored pixel.
    assert masked_cross_entropy(logits, targets, 0.0).item() == (
        pytest.approx(math.log(2)))


# -- the streams --------------------------------------------------------------
def recording_head(model):
    """Record the decode head's inputs and the model's mode at each call."""
    calls = []
    forward = model.decode_head.forward

    def record(inputs):
        calls.append(([f.clone() for f in inputs], model.training))
        return forward(inputs)

    model.decode_head.forward = record
    return calls


def test_feature_perturbation_only_in_its_stream():
    model = build(fp_dropout=0.5)
    model.train()
    x = torch.randn(4, 3, 16, 16)
    torch.manual_seed(1)
    feats = model.extract_feat(x)
    calls = recording_head(model)
    clean, perturbed = model.forward_weak(x)
    (inputs, _), = calls
    dropped = 0
    for f, both in zip(feats, inputs):
        assert torch.equal(both[:4], f)  # the weak stream reads clean
        kept = both[4:] != 0
        per_channel = kept.flatten(2).any(2)
        # Whole channels dropped, the others scaled by 1 / (1 - 0.5).
        assert torch.allclose(both[4:], 2 * f * per_channel[..., None, None])
        dropped += int((~per_channel).sum())
    assert dropped > 0
    # The head has no BatchNorm here: its clean half is the plain forward.
    assert torch.allclose(clean, model.decode_head.forward(feats))
    assert not torch.allclose(clean, perturbed)


def test_strong_views_get_the_source_inside_their_box():
    model = build()
    seen = []
    extract = model.extract_feat
    model.extract_feat = lambda x: seen.append(x) or extract(x)
    strong = torch.rand(2, 2, 3, 16, 16)
    mix_strong = torch.rand(2, 2, 3, 16, 16)
    boxes = torch.zeros(2, 2, 16, 16, dtype=torch.bool)
    boxes[0, 0, 2:6, 3:9] = True
    boxes[1, 1, :, 8:] = True
    batch = UnlabeledBatch(None, strong, None, boxes, None, mix_strong, None)
    logits = model.forward_strong(batch)
    assert len(logits) == 2 and logits[0].shape == (2, NUM_CLASSES, 16, 16)
    (views, ) = seen  # both views in one forward: view 1 then view 2
    for v in range(2):
        expected = torch.where(boxes[:, v, None], mix_strong[:, v], strong[:,
                                                                           v])
        assert torch.equal(views[2 * v:2 * v + 2], expected)
    assert not torch.equal(views[0], strong[0, 0])
    assert torch.equal(views[1], strong[1, 0])


def test_sources_are_predicted_in_eval_mode_without_gradients():
    model = build()
    model.train()
    calls = recording_head(model)
    running = model.backbone.stem[1].running_mean.clone()
    targets = model.mix_targets(
        torch.randn(2, 3, 16, 16), torch.zeros(2, 16, 16, dtype=torch.uint8))
    assert [training for _, training in calls] == [False]
    assert model.training and model.backbone.training
    assert torch.equal(model.backbone.stem[1].running_mean, running)
    assert targets.label.shape == targets.confidence.shape == (2, 16, 16)
    assert not targets.confidence.requires_grad
    assert targets.confidence.dtype == torch.float32


def training_batch(model, num_labeled=2, num_unlabeled=4):
    """A preprocessed batch of random crops through the model's data
    preprocessor."""
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for i in range(num_labeled + num_unlabeled):
        inputs.append(torch.randint(0, 256, (3, 16, 16), generator=g))
        sample = SegDataSample()
        sample.set_metainfo(
            dict(is_pseudo=i >= num_labeled, img_shape=(16, 16)))
        if i < num_labeled:
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, NUM_CLASSES, (1, 16, 16), generator=g))
        else:
            sample.strong_views = torch.randint(
                0, 256, (2, 3, 16, 16), generator=g, dtype=torch.uint8)
        samples.append(sample)
    data = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), training=True)
    return data['inputs'], data['data_samples']


def test_loss_in_bfloat16_autocast_keeps_float32_terms():
    model = build(conf_thresh=0.0)
    model.train()
    inputs, samples = training_batch(model)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model.loss(inputs, samples)
    for key in ('loss_x', 'loss_s1', 'loss_s2', 'loss_fp'):
        assert losses[key].dtype == torch.float32
        assert torch.isfinite(losses[key]) and losses[key] > 0
    # Threshold 0: every non-ignored pixel is confident.
    assert losses['confident_ratio'].item() == 1.0
    total, _ = model.parse_losses(losses)
    total.backward()
    assert all(p.grad is not None for p in model.decode_head.parameters())


def test_tested_as_an_encoder_decoder():
    model = build()
    cfg = model_cfg()
    cfg['type'] = 'EncoderDecoder'
    cfg['data_preprocessor']['type'] = 'SegDataPreProcessor'
    plain = MODELS.build(cfg)
    plain.load_state_dict(model.state_dict())
    model.eval()
    plain.eval()
    x = torch.randn(1, 3, 16, 16)
    sample = SegDataSample()
    sample.set_metainfo(
        dict(img_shape=(16, 16), ori_shape=(16, 16), pad_shape=(16, 16)))
    with torch.no_grad():
        ours = model.predict(x, [sample.clone()])[0].seg_logits.data
        theirs = plain.predict(x, [sample.clone()])[0].seg_logits.data
        assert torch.equal(ours, theirs)
        assert torch.equal(model(x, mode='tensor'), plain(x, mode='tensor'))


def test_bad_batches_and_options_are_refused():
    model = build()
    inputs, samples = training_batch(model, num_unlabeled=3)
    with pytest.raises(ValueError, match='even number'):
        model.loss(inputs, samples)
    inputs, samples = training_batch(model, num_labeled=2, num_unlabeled=0)
    with pytest.raises(ValueError, match='labeled crops'):
        model.loss(inputs, samples)
    with pytest.raises(ValueError, match='loss_weights'):
        build(loss_weights=dict(x=1.0))
    init_default_scope('mmseg')
    cfg = model_cfg()
    cfg['auxiliary_head'] = dict(cfg['decode_head'])
    with pytest.raises(ValueError, match='auxiliary_head'):
        MODELS.build(cfg)


# -- OhemCrossEntropyLoss -----------------------------------------------------
def test_ohem_averages_over_the_kept_pixels():
    # Probabilities of the true class: sigmoid(d) with d = the logit gap.
    gaps = torch.tensor([3.0, 0.5, -1.0, 2.0])
    logits = torch.stack([gaps, torch.zeros(4)]).view(1, 2, 1, 4)
    label = torch.tensor([[[0, 0, 0, 255]]])
    prob = torch.sigmoid(gaps)  # 0.95, 0.62, 0.27 (and an ignored one)
    ce = -torch.log(prob)
    loss = OhemCrossEntropyLoss(thres=0.7, min_kept=1)
    # Kept: below max(0.7, 2nd smallest) = 0.7, i.e. the 0.62 and 0.27.
    assert loss(logits, label).item() == pytest.approx(
        ce[1:3].mean().item(), rel=1e-5)
    # min_kept 2 raises the bar to the 3rd smallest: 0.95 (strictly below).
    assert OhemCrossEntropyLoss(
        thres=0.7, min_kept=2)(logits, label).item() == pytest.approx(
            ce[1:3].mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match='sampler'):
        loss(logits, label, weight=torch.ones(1, 1, 4))
    # As a decode head's loss_decode.
    init_default_scope('mmseg')
    head = MODELS.build(
        dict(
            type='FCNHead',
            in_channels=4,
            channels=4,
            num_convs=1,
            concat_input=False,
            num_classes=2,
            loss_decode=dict(type='OhemCrossEntropyLoss', min_kept=1)))
    sample = SegDataSample(
        gt_sem_seg=PixelData(data=torch.zeros(1, 4, 4, dtype=torch.long)))
    losses = head.loss_by_feat(torch.randn(1, 2, 4, 4), [sample])
    assert torch.isfinite(losses['loss_ohem'])
