"""What each row of the paper protocol does (docs/paper_configs.md), with
numbers worked out by hand, against the corrected protocol where it helps.

The paper protocol's configs are the twins in configs/*/paper/ of the
corrected ones; every value below is written from the authors' code as
listed in docs/paper_configs.md (Every difference between the protocols),
never read from the configs.
"""
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from torch.nn.modules.batchnorm import _BatchNorm

import dst_cbc  # noqa: F401
from dst_cbc.datasets.original_shape import ResetOriginalShape
from mmseg.evaluation import IoUMetric
from mmseg.models.utils import resize
from mmseg.registry import DATASETS, MODELS, TRANSFORMS
from mmseg.structures import SegDataSample
from tests.helpers import fake_trees
from tests.helpers.configs import config_path

VOC = 'dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
CITY = 'dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_cityscapes-1-30_257x513.py'


def load(name, protocol):
    """The config under ``protocol`` ('paper': its twin in paper/, or
    'corrected')."""
    return Config.fromfile(config_path(name, protocol))


@pytest.fixture(scope='module')
def models(one_thread):
    """The VOC DeepLabV2-R101 of both protocols, built once (random init)."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return {
        p: MODELS.build(load(VOC, p).model)
        for p in ('paper', 'corrected')
    }


# -- classifier: dilations 6 and 12 only --------------------------------------
def test_classifier_sums_branches_6_and_12_and_18_24_get_no_gradient(models):
    head = models['paper'].decode_head
    branches = head.conv2d_list
    assert [b.dilation for b in branches] == [(6, 6), (12, 12), (18, 18),
                                              (24, 24)]
    torch.manual_seed(0)
    x = torch.randn(1, 2048, 3, 3, requires_grad=False)
    # On a 3x3 map, dilations >= 3 only see padding: each branch is its
    # centre tap plus its bias. Set the biases to 1, 2, 4, 8: the paper
    # head's logits differ from branch(6) + branch(12) by nothing, and
    # from the four-branch sum by the 4 + 8 (plus the taps) of 18 and 24.
    with torch.no_grad():
        for bias, branch in zip((1.0, 2.0, 4.0, 8.0), branches):
            branch.bias.fill_(bias)
        out = head.forward((x, ))
        expected = branches[0](x) + branches[1](x)
        everything = expected + branches[2](x) + branches[3](x)
    assert torch.allclose(out, expected, atol=1e-5)
    assert not torch.allclose(out, everything, atol=1.0)
    out = head.forward((x, ))
    out.sum().backward()
    assert branches[0].weight.grad.abs().sum() > 0
    assert branches[1].bias.grad.abs().sum() > 0
    for branch in branches[2:]:
        assert branch.weight.grad is None and branch.bias.grad is None
    head.zero_grad(set_to_none=True)
    # The corrected head sums all four.
    corrected = models['corrected'].decode_head.conv2d_list
    assert all(b.weight.requires_grad for b in corrected)


# -- trainable BatchNorm ------------------------------------------------------
def test_batchnorm_trains_and_is_in_the_optimizer_with_decay(models):
    model = models['paper']
    model.train()
    bns = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
    # The stem, three per bottleneck, one per stage's downsample branch.
    assert len(bns) == 1 + 3 * (3 + 4 + 23 + 3) + 4
    assert all(bn.training for bn in bns)
    assert all(p.requires_grad for bn in bns for p in bn.parameters())
    cfg = load(VOC, 'paper')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = {
        id(p): g
        for g in wrapper.optimizer.param_groups for p in g['params']
    }
    for bn in bns:
        for param in (bn.weight, bn.bias):
            assert groups[id(param)]['weight_decay'] == pytest.approx(5e-4)
    # Batch statistics: one forward in train mode moves the stem's running
    # mean to 0.9 * before + 0.1 * the batch mean of conv1's output.
    bn1, conv1 = model.backbone.bn1, model.backbone.conv1
    before = bn1.running_mean.clone()
    x = torch.randn(2, 3, 33, 33)
    with torch.no_grad():
        batch_mean = conv1(x).mean(dim=(0, 2, 3))
        model.backbone(x)
    assert torch.allclose(
        bn1.running_mean, 0.9 * before + 0.1 * batch_mean, atol=1e-5)


def test_corrected_batchnorm_stays_frozen(models):
    model = models['corrected']
    model.train()
    bns = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
    assert not any(bn.training for bn in bns)
    assert not any(p.requires_grad for bn in bns for p in bn.parameters())
    before = model.backbone.bn1.running_mean.clone()
    with torch.no_grad():
        model.backbone(torch.randn(2, 3, 33, 33))
    assert torch.equal(model.backbone.bn1.running_mean, before)


# -- torchvision ResNet layout ------------------------------------------------
def test_resnet_layout_is_torchvisions(models):
    net = models['paper'].backbone
    # Stride on the 3x3 conv (torchvision), not on the first 1x1 (Caffe).
    assert (net.layer2[0].conv1.stride, net.layer2[0].conv2.stride) == ((1, 1),
                                                                        (2, 2))
    # replace_stride_with_dilation=[False, True, True]: a stage's first
    # block keeps the previous dilation.
    assert net.layer3[0].conv2.dilation == (1, 1)
    assert net.layer3[0].conv2.padding == (1, 1)
    assert all(b.conv2.dilation == (2, 2) for b in list(net.layer3)[1:])
    assert net.layer4[0].conv2.dilation == (2, 2)
    assert all(b.conv2.dilation == (4, 4) for b in list(net.layer4)[1:])
    assert all(b.conv2.stride == (1, 1) for b in net.layer3)
    assert net.layer3[0].downsample[0].stride == (1, 1)
    caffe = models['corrected'].backbone
    assert (caffe.layer2[0].conv1.stride,
            caffe.layer2[0].conv2.stride) == ((2, 2), (1, 1))
    assert caffe.layer3[0].conv2.dilation == (2, 2)
    assert caffe.layer4[0].conv2.dilation == (4, 4)
    # Output stride 8 either way: 65 -> 33 (7x7 conv, stride 2) -> 17 (max
    # pool) -> 9 (layer2).
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 65, 65))[0].shape == (1, 2048, 9, 9)


# -- independent height and width ---------------------------------------------
def _resize_of(name):
    cfg = load(name, 'paper')
    [resize_cfg] = [
        t for t in cfg.train_dataloader.dataset.labeled.pipeline
        if t.type == 'RandomResize'
    ]
    init_default_scope('mmseg')
    return TRANSFORMS.build(resize_cfg)


@pytest.mark.parametrize('name, heights, widths', [
    (VOC, (321, 505), (321, 505)),
    (CITY, (257, 513), (513, 1025)),
])
def test_resize_draws_height_and_width_independently(name, heights, widths):
    transform = _resize_of(name)
    np.random.seed(0)
    draws = 2000
    sizes = np.array([
        transform(dict(img=np.zeros((20, 30, 3), np.uint8)))['img'].shape[:2]
        for _ in range(draws)
    ])
    h, w = sizes[:, 0], sizes[:, 1]
    for values, (low, high) in ((h, heights), (w, widths)):
        assert low <= values.min() and values.max() <= high
        span = high - low
        # Uniform integers on [low, high]: mean (low + high) / 2, standard
        # deviation of the mean span / sqrt(12 * draws); 5 of them allowed.
        assert abs(values.mean() -
                   (low + high) / 2) < 5 * span / math.sqrt(12 * draws)
        assert values.min() < low + span / 50 and values.max() > high - \
            span / 50
    # Independent: correlation about 0 (standard error 1 / sqrt(2000)).
    assert abs(np.corrcoef(h, w)[0, 1]) < 4 / math.sqrt(draws)
    # The aspect ratio is not kept: w / h spreads over its whole range.
    ratio = w / h
    assert ratio.min() < widths[0] / heights[1] * 1.1
    assert ratio.max() > widths[1] / heights[0] * 0.9


def test_resize_brings_a_label_of_another_size_to_the_image_size():
    # A pseudo label stored at 321x321 and its 500x375 image end at the
    # same drawn size (as in the authors' code), so they can be cropped
    # together.
    transform = _resize_of(VOC)
    np.random.seed(1)
    for _ in range(5):
        out = transform(
            dict(
                img=np.zeros((500, 375, 3), np.uint8),
                gt_seg_map=np.zeros((321, 321), np.uint8),
                seg_fields=['gt_seg_map']))
        assert out['img'].shape[:2] == out['gt_seg_map'].shape


# -- align_corners=True -------------------------------------------------------
def test_logits_are_upsampled_with_align_corners(models):
    # Logits [0, 3] upsampled from width 2 to 4: the corner-aligned grid
    # reads them at 0, 1/3, 2/3, 1 -> [0, 1, 2, 3]; the half-pixel grid at
    # -1/4, 1/4, 3/4, 5/4 (clamped) -> [0, 0.75, 2.25, 3].
    logits = torch.tensor([0.0, 3.0]).view(1, 1, 1, 2)
    expected = {
        'paper': [0.0, 1.0, 2.0, 3.0],
        'corrected': [0.0, 0.75, 2.25, 3.0]
    }
    for protocol, values in expected.items():
        model = models[protocol]
        assert model.align_corners == (protocol == 'paper')
        up = resize(
            logits,
            size=(1, 4),
            mode='bilinear',
            align_corners=model.align_corners)
        assert torch.allclose(up.flatten(), torch.tensor(values))
    # The training loss: logit z of class 0 as above, 0 for class 1, -100
    # (e^-100 is nothing) for class 2, every pixel labeled 1: the loss is
    # the mean of softplus(z) = log(1 + e^z) over the four upsampled pixels.
    for protocol, values in expected.items():
        head_cfg = load(VOC, protocol).model.decode_head
        head = MODELS.build(dict(head_cfg, num_classes=3, in_channels=1))
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.ones(1, 1, 4).long())
        others = [torch.zeros(1, 1, 1, 2), torch.full((1, 1, 1, 2), -100.0)]
        seg_logits = torch.cat([logits] + others, dim=1)
        loss = head.loss_by_feat(seg_logits, [sample])['loss_ce']
        by_hand = sum(math.log1p(math.exp(v)) for v in values) / 4
        assert loss.item() == pytest.approx(by_hand, rel=1e-5)


# -- evaluation: VOC zero-padded to 505x505, Cityscapes at 513x1025 -----------
@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('voc') / 'VOCdevkit' / 'VOC2012')
    fake_trees.fake_voc(root, 4, 2, {20: 2})
    return root


@pytest.fixture(scope='module')
def city_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cityscapes'))
    fake_trees.fake_cityscapes(root, 4, 1, {30: 2})
    return root


def _val_dataset(name, protocol, data_root):
    cfg = load(name, protocol).val_dataloader.dataset
    cfg.data_root = data_root
    cfg.serialize_data = False
    init_default_scope('mmseg')
    return DATASETS.build(cfg)


def test_voc_evaluation_pads_to_505_and_ignores_the_padding(models, voc_root):
    dataset = _val_dataset(VOC, 'paper', voc_root)
    assert dataset.data_prefix['seg_map_path'].endswith('SegmentationClassAug')
    item = dataset[0]  # a 375-wide, 500-high image (fake_trees)
    sample, img = item['data_samples'], item['inputs']
    assert img.shape == (3, 505, 505)
    assert sample.ori_shape == sample.img_shape == (505, 505)
    label = sample.gt_sem_seg.data[0]
    # Padded at the bottom and the right: image 0 (black), label ignore.
    assert torch.all(img[:, 500:] == 0) and torch.all(img[:, :, 375:] == 0)
    assert torch.all(label[500:] == 255) and torch.all(label[:, 375:] == 255)
    assert int((label == 0).sum()) == 250 * 375
    assert int((label == 20).sum()) == 250 * 187
    # The prediction comes back at 505x505: predict class 0 everywhere,
    # padding included. Class 0: IoU 93,750 / (93,750 + 46,750), class 20:
    # 0; the padded pixels count for nothing.
    logits = torch.zeros(1, 21, 505, 505)
    logits[:, 0] = 1.0
    [result] = models['paper'].postprocess_result(logits, [sample])
    assert result.pred_sem_seg.shape == (505, 505)
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dataset.metainfo
    metric.process([], [result.to_dict()])
    miou = metric.compute_metrics(metric.results)['mIoU']
    assert miou == pytest.approx(100 * (93750 / 140500 + 0) / 2, abs=0.01)


def test_voc_corrected_evaluation_keeps_the_size(voc_root):
    dataset = _val_dataset(VOC, 'corrected', voc_root)
    assert dataset.data_prefix['seg_map_path'].endswith('SegmentationClass')
    assert dataset[0]['inputs'].shape == (3, 500, 375)


def test_cityscapes_evaluation_resizes_image_and_labels_to_513x1025(city_root):
    item = _val_dataset(CITY, 'paper', city_root)[0]
    sample = item['data_samples']
    assert item['inputs'].shape == (3, 513, 1025)
    assert sample.ori_shape == (513, 1025)
    label = sample.gt_sem_seg.data[0]
    assert label.shape == (513, 1025)
    # Nearest neighbour: still the label's values only.
    assert set(label.unique().tolist()) == {0, 18, 255}
    # The corrected protocol keeps the full-resolution labels (here the
    # fake tree's 512x1024).
    corrected = _val_dataset(CITY, 'corrected', city_root)[0]
    assert corrected['data_samples'].gt_sem_seg.shape == (512, 1024)


# -- labeling at 321x321 / 257x513, labels stored at that size ----------------
def test_labeling_pipeline_makes_the_infer_size_the_original_size(voc_root):
    # What PseudoLabelHook(infer_scale=(321, 321), store_at_infer_scale=True)
    # is to load: the labeler returns logits, and stores labels, at
    # ori_shape, so 321x321 whatever the image's size.
    cfg = load(VOC, 'paper')
    unlabeled = dict(
        cfg.train_dataloader.dataset.unlabeled,
        data_root=voc_root,
        serialize_data=False,
        ann_file='splits/split1/unlabeled_1-20.txt',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(321, 321), keep_ratio=False),
            dict(type='ResetOriginalShape'),
            dict(type='PackSegInputs')
        ])
    init_default_scope('mmseg')
    sample = DATASETS.build(unlabeled)[0]
    assert sample['inputs'].shape == (3, 321, 321)
    assert sample['data_samples'].ori_shape == (321, 321)


def test_reset_original_shape_refuses_a_label_left_behind():
    results = dict(
        img=np.zeros((505, 505, 3), np.uint8),
        gt_seg_map=np.zeros((500, 375), np.uint8),
        ori_shape=(500, 375),
        img_path='a.jpg')
    with pytest.raises(ValueError, match=r'a.jpg has shape \(500, 375\)'):
        ResetOriginalShape()(results)


_HOOK = dst_cbc.engine.PseudoLabelHook


@pytest.mark.parametrize('name, size', [(VOC, (321, 321)), (CITY, (257, 513))])
def test_hook_labels_at_the_training_crop_size(name, size, voc_root,
                                               city_root):
    cfg = load(name, 'paper')
    [hook_cfg] = [h for h in cfg.custom_hooks if h.type == 'PseudoLabelHook']
    hook = _HOOK(**{k: v for k, v in hook_cfg.items() if k != 'type'})
    root = voc_root if name == VOC else city_root
    unlabeled = dict(
        cfg.train_dataloader.dataset.unlabeled,
        data_root=root,
        serialize_data=False,
        ann_file=cfg.train_dataloader.dataset.unlabeled.ann_file.replace(
            '{split}', '1'),
        pipeline=hook.labeling_pipeline())
    init_default_scope('mmseg')
    sample = DATASETS.build(unlabeled)[0]
    assert sample['data_samples'].ori_shape == size
