"""The VOC and Cityscapes configs under both protocols (each corrected
config and its paper twin in the folder's paper/): their values, their
datasets in the documented layout, and the DeepLabV2-R101 on CPU.

Expected values are the paper's settings (docs/paper_configs.md) and the
authors' scripts, written here by hand, never read from the configs.
Datasets are built against a tiny fake tree in the layout the configs
expect (docs/data_preparation.md). The behaviour of each paper-protocol row
is pinned by tests/test_paper_protocol.py.
"""
import glob
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import dst_cbc  # noqa: F401
from mmseg.registry import DATASETS, MODELS, TRANSFORMS
from mmseg.structures import SegDataSample
from tests.helpers import fake_trees
from tests.helpers.configs import PROTOCOLS, config_path, paper_twin

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

VOC_N, CITY_N = 10582, 2975
DST_CBC_ALPHAS = (0.2, 0.4, 0.6, 0.8, 1.0)
# The authors' labeled counts (paper_splits/) per ratio.
VOC_LABELS = {106: 100, 50: 211, 20: 530, 8: 1322, 4: 2645}
CITY_LABELS = {30: 100, 8: 371, 4: 743}
# Round-0 epochs of the authors' scripts (fs_voc_all.sh, fs_city_all.sh).
VOC_PAPER_EPOCHS = {106: 300, 50: 212, 20: 134, 8: 85, 4: 60, 1: 30}
CITY_PAPER_EPOCHS = {30: 330, 8: 170, 4: 120, 1: 60}
# Validation interval of the authors' baseline scripts.
VOC_BASELINE_VAL = {106: 100, 50: 140, 20: 220, 8: 350, 4: 500}
CITY_BASELINE_VAL = {30: 100, 8: 350, 4: 500}
# Labeled images per ratio in the fake trees (distinct, so that a config
# reading another ratio's list is caught).
FAKE_VOC_LABELED = {106: 1, 50: 2, 20: 3, 8: 4, 4: 5}
FAKE_CITY_LABELED = {30: 1, 8: 2, 4: 3}
FAKE_VOC_TRAIN, FAKE_VOC_VAL = 12, 3
FAKE_CITY_TRAIN, FAKE_CITY_VAL = 8, 2


def _more_than_1000_labels(k):
    """Whether VOC 1/k has more than 1000 labels (1/8, 1/4: gamma 4)."""
    return VOC_LABELS[k] > 1000


def _expected():
    """The paper's settings of every config, by file name."""
    table = {}
    voc_row = dict(
        dataset='voc',
        num_classes=21,
        crop=(321, 321),
        lr=2e-3,
        st_lr=2e-3,
        epochs_per_round=6,
        alphas=DST_CBC_ALPHAS,
        class_balanced=True,
        online=False,
        online_threshold=0.0,
        stored_weights=False,
        base_epochs=30,
        images=VOC_N)
    city_row = dict(
        dataset='cityscapes',
        num_classes=19,
        crop=(257, 513),
        lr=2e-3,
        st_lr=4e-3,
        epochs_per_round=12,
        alphas=DST_CBC_ALPHAS,
        class_balanced=True,
        online=False,
        online_threshold=0.0,
        stored_weights=False,
        base_epochs=60,
        images=CITY_N)
    for k in VOC_LABELS:
        gamma = 4.0 if _more_than_1000_labels(k) else 9.0
        row = dict(
            voc_row,
            ratio=k,
            gamma=gamma,
            labels=VOC_LABELS[k],
            paper_epochs=VOC_PAPER_EPOCHS[k],
            val_interval=1000)
        name = f'dlv2-r101-d8_1xb4+4_voc-aug-1-{k}_321x321.py'
        table['dst_cbc/dst-cbc_' + name] = row
        table['baseline/baseline_' + name.replace('1xb4+4', '1xb8')] = dict(
            row, alphas=(), val_interval=VOC_BASELINE_VAL[k])
    for k in CITY_LABELS:
        row = dict(
            city_row,
            ratio=k,
            gamma=9.0,
            labels=CITY_LABELS[k],
            paper_epochs=CITY_PAPER_EPOCHS[k],
            val_interval=1000)
        name = f'dlv2-r101-d8_1xb4+4_cityscapes-1-{k}_257x513.py'
        table['dst_cbc/dst-cbc_' + name] = row
        table['baseline/baseline_' + name.replace('1xb4+4', '1xb8')] = dict(
            row, alphas=(), val_interval=CITY_BASELINE_VAL[k])
    table['baseline/baseline_dlv2-r101-d8_1xb8_voc-aug-full_321x321.py'] = \
        dict(voc_row, ratio=1, labels=VOC_N, alphas=(), gamma=9.0,
             paper_epochs=30, val_interval=1000,
             full_list='ImageSets/Segmentation/trainaug.txt')
    table['baseline/baseline_dlv2-r101-d8_1xb8_cityscapes-full_257x513.py'] = \
        dict(city_row, ratio=1, labels=CITY_N, alphas=(), gamma=9.0,
             paper_epochs=60, val_interval=1000, full_list='train.txt')
    vs20 = table['dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py']
    one_round = dict(alphas=(1.0, ), epochs_per_round=30)
    ablation = 'ablations/{}_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
    table[ablation.format('st')] = dict(vs20, gamma=0.0, **one_round)
    table[ablation.format('dst')] = dict(vs20, gamma=9.0, **one_round)
    table[ablation.format('dst-c')] = dict(vs20, class_balanced=False)
    table[ablation.format('ost')] = dict(
        vs20, gamma=0.0, online=True, **one_round)
    table[ablation.format('ost-t')] = dict(
        vs20, gamma=0.0, online=True, online_threshold=0.9, **one_round)
    # The authors' OW run is the DST-CBC curriculum with stored weights.
    table[ablation.format('ow')] = dict(vs20, stored_weights=True)
    beyond = 'dst_cbc/dst-cbc_{}_1xb4+4_voc-aug-1-20_321x321.py'
    table[beyond.format('deeplabv3plus-r101-d8')] = dict(vs20, head='DSASPP')
    table[beyond.format('dlv2-r101-v1c-d8')] = dict(vs20, backbone='V1c')
    table[beyond.format('convnext-t-upernet')] = dict(
        vs20, head='UPer', lr=1e-4, st_lr=1e-4, optimizer='AdamW')
    return table


EXPECTED = _expected()
PAPER_CONFIGS = sorted(EXPECTED)


def _paper_config_files(pattern=('*', '*.py')):
    """Every DST-CBC config under configs/ named after VOC or Cityscapes
    (the corrected ones; ``pattern=('*', 'paper', '*.py')``: their twins;
    configs/unimatch/ follows the UniMatch authors' protocol)."""
    return sorted(
        osp.relpath(path, osp.join(ROOT, 'configs'))
        for path in glob.glob(osp.join(ROOT, 'configs', *pattern))
        if '_base_' not in path and not osp.basename(path).startswith(
            'unimatch_') and ('_voc-' in osp.basename(path)
                              or '_cityscapes-' in osp.basename(path)))


_CFGS = {}


def load(name, protocol=None):
    """Parse a config once per test session and protocol (a deep copy each
    call): ``name`` itself for the corrected protocol (``None``), its twin
    in the folder's paper/ for ``'paper'``."""
    protocol = protocol or 'corrected'
    if (name, protocol) not in _CFGS:
        _CFGS[name, protocol] = Config.fromfile(config_path(name, protocol))
    return Config(_CFGS[name, protocol].to_dict())


def test_every_voc_and_cityscapes_config_has_expected_values():
    assert _paper_config_files() == PAPER_CONFIGS
    # ... under both protocols: every one has its paper twin, and only they
    # are in the paper/ folders.
    twins = _paper_config_files(('*', 'paper', '*.py'))
    assert twins == sorted(paper_twin(name) for name in PAPER_CONFIGS)


@pytest.mark.parametrize('protocol', PROTOCOLS)
@pytest.mark.parametrize('name', PAPER_CONFIGS)
def test_configs_inherit_only_base_files(name, protocol):
    """No sibling chains: the only base is the protocol's."""
    with open(config_path(name, protocol)) as f:
        text = f.read()
    dataset = EXPECTED[name]['dataset']
    up = '../../' if protocol == 'paper' else '../'
    assert (f"_base_ = '{up}_base_/protocols/{protocol}_{dataset}.py'" in text)
    assert text.count('_base_ = ') == 1
    if name.startswith('baseline/'):  # built from bases, nothing deleted
        assert '_delete_' not in text


@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_protocol_is_chosen_by_the_path(protocol, monkeypatch):
    name = 'dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
    assert load(name).protocol == 'corrected'  # the default
    assert load(name, protocol).protocol == protocol
    # The environment chooses nothing any more.
    monkeypatch.setenv('DST_CBC_PROTOCOL', 'paper')
    path = config_path(name, protocol)
    assert Config.fromfile(path).protocol == protocol
    with pytest.raises(ValueError, match="'bogus' is not one of"):
        load(name, 'bogus')


# -- hyperparameters ----------------------------------------------------------
@pytest.mark.parametrize('protocol', PROTOCOLS)
@pytest.mark.parametrize('name', PAPER_CONFIGS)
def test_hyperparameters_are_the_papers(name, protocol):
    exp = EXPECTED[name]
    cfg = load(name, protocol)
    opt = cfg.optim_wrapper.optimizer
    if exp.get('optimizer') == 'AdamW':
        assert opt.type == 'AdamW' and opt.lr == pytest.approx(1e-4)
    else:
        assert (opt.type, opt.momentum) == ('SGD', 0.9)
        assert opt.lr == pytest.approx(exp['lr'])
        assert opt.weight_decay == pytest.approx(5e-4)
    [poly] = cfg.param_scheduler
    assert (poly.type, poly.power, poly.eta_min,
            poly.by_epoch) == ('PolyLR', 0.9, 0.0, False)
    assert 'end' not in poly  # stretched over each round by the loop
    loader = cfg.train_dataloader
    assert loader.batch_size == 8
    head = cfg.model.decode_head
    assert head.num_classes == exp['num_classes']
    assert cfg.model.data_preprocessor.size == exp['crop']
    labeled = loader.dataset.labeled
    pipeline = {t.type: t for t in labeled.pipeline}
    assert pipeline['RandomCrop'].crop_size == exp['crop']
    assert pipeline['RandomCrop'].get('cat_max_ratio', 1.0) == 1.0
    assert pipeline['RandomFlip'].prob == 0.5
    # Aspect ratio kept (corrected) or height and width drawn independently
    # (paper): tests/test_paper_protocol.py draws from both.
    assert pipeline['RandomResize'].keep_ratio == (protocol == 'corrected')
    assert 'PhotoMetricDistortion' not in pipeline
    assert cfg.custom_imports['imports'] == ['dst_cbc']

    # Every model, the full-label one included, is the curriculum loop;
    # supervised ones have no self-training round.
    train_cfg = cfg.train_cfg
    assert train_cfg.type == 'CurriculumTrainLoop'
    assert tuple(train_cfg.alphas) == exp['alphas']
    assert train_cfg.val_interval == exp['val_interval']
    # Round 0: base_epochs * sqrt(N / n), computed by the loop from the
    # labeled count (corrected), or the authors' epochs (paper).
    assert train_cfg.base_epochs == exp['base_epochs']
    if protocol == 'corrected':
        assert train_cfg.baseline_epochs is None
        epochs = train_cfg.base_epochs * math.sqrt(
            exp['images'] / exp['labels'])
        assert abs(epochs - exp['base_epochs'] * math.sqrt(exp['ratio'])
                   ) <= 0.012 * epochs  # 1/30: 327.3 vs 328.6
    else:
        assert train_cfg.baseline_epochs == exp['paper_epochs']
    assert train_cfg.epochs_per_round == exp['epochs_per_round']
    assert opt.lr * train_cfg.get('round_lr_mult', 1.0) == pytest.approx(
        exp['st_lr'])
    assert loader.sampler.type == 'MixedBatchSampler'
    assert loader.sampler.get('num_pseudo', loader.batch_size // 2) == 4
    assert loader.dataset.type == 'SemiSegDataset'
    assert loader.dataset.split == 1
    if 'full_list' in exp:  # full supervision: no unlabeled set
        assert labeled.ann_file == exp['full_list']
        assert loader.dataset.unlabeled is None
        return
    assert labeled.ann_file == \
        f'splits/split{{split}}/labeled_1-{exp["ratio"]}.txt'
    assert loader.dataset.unlabeled.ann_file == \
        f'splits/split{{split}}/unlabeled_1-{exp["ratio"]}.txt'
    loss = head.loss_decode
    assert (loss.type, loss.gamma) == ('DynamicCrossEntropyLoss', exp['gamma'])
    assert loss.get('online', False) == exp['online']
    assert loss.get('online_threshold', 0.0) == exp['online_threshold']
    [hook] = [h for h in cfg.custom_hooks if h.type == 'PseudoLabelHook']
    assert hook.get('class_balanced', True) == exp['class_balanced']
    # OW: the labeling model's stored confidence, loaded with the pseudo
    # labels and moved with them, weights the pseudo-labeled pixels.
    stored = exp['stored_weights']
    assert loss.get('weight_source',
                    'current') == ('stored' if stored else 'current')
    assert hook.get('store_confidence', False) == stored
    steps = labeled.pipeline
    with_confidence = (
        steps[:2] + [dict(type='LoadPseudoConfidence')] + steps[2:-1] +
        [dict(type='PackSegInputsWithConfidence')])
    assert loader.dataset.unlabeled.pipeline == (
        with_confidence if stored else steps)
    voc = exp['dataset'] == 'voc'
    if protocol == 'paper':
        # Labeled at the training crop's size, labels stored at that size;
        # one size, so 8 images per pass.
        assert (hook.infer_scale, hook.store_at_infer_scale,
                hook.batch_size) == ((321, 321) if voc else
                                     (513, 257), True, 8)
    elif voc:  # labeled at their own (varying) size: one image per pass
        assert (hook.get('infer_scale'), hook.batch_size) == (None, 1)
    else:  # labeled at the 1024x512 training scale, 8 images per pass
        assert (hook.infer_scale, hook.batch_size) == ((1024, 512), 8)


@pytest.mark.parametrize('protocol', PROTOCOLS)
@pytest.mark.parametrize('name', PAPER_CONFIGS)
def test_model_is_deeplabv2_r101_from_coco(name, protocol):
    exp = EXPECTED[name]
    model = load(name, protocol).model
    head = model.decode_head
    dynamic_heads = dict(
        DSASPP='DynamicDepthwiseSeparableASPPHead', UPer='DynamicUPerHead')
    assert head.type == dynamic_heads.get(exp.get('head'), 'DynamicDLV2Head')
    if 'head' in exp or 'backbone' in exp:
        return  # beyond the paper; built by tests/test_configs.py
    backbone = model.backbone
    assert (backbone.type, backbone.depth) == ('ResNet', 101)
    assert tuple(backbone.strides) == (1, 2, 1, 1)
    assert tuple(backbone.dilations) == (1, 1, 2, 4)
    assert tuple(head.dilations) == (6, 12, 18, 24)
    if protocol == 'corrected':
        assert backbone.style == 'caffe'
        assert backbone.contract_dilation is False
        assert backbone.norm_eval and not backbone.norm_cfg.requires_grad
        assert head.get('summed_branches') is None
        assert head.align_corners is False
    else:  # torchvision layout, trained BN, two branches, align_corners
        assert (backbone.style, backbone.contract_dilation) == ('pytorch',
                                                                True)
        assert not backbone.norm_eval and backbone.norm_cfg.requires_grad
        assert head.summed_branches == 2
        assert head.align_corners is True
    pre = model.data_preprocessor
    assert pre.mean == [104.008, 116.669, 122.675] and pre.std == [1, 1, 1]
    assert not pre.bgr_to_rgb
    coco = ('pretrain/deeplabv2_r101-coco_voc.pth' if exp['dataset'] == 'voc'
            else 'pretrain/deeplabv2_r101-coco_cityscapes.pth')
    assert model.init_cfg == dict(type='Pretrained', checkpoint=coco)


# -- augmentation (corrected protocol) ----------------------------------------
def _random_resize(name, protocol=None):
    cfg = load(name, protocol)
    [resize] = [
        t for t in cfg.train_dataloader.dataset.labeled.pipeline
        if t.type == 'RandomResize'
    ]
    return TRANSFORMS.build(resize)


def test_voc_resize_keeps_aspect_and_spans_321_to_505():
    transform = _random_resize(
        'dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-106_321x321.py')
    np.random.seed(0)
    shorter = []
    for _ in range(40):
        out = transform(dict(img=np.zeros((375, 500, 3), np.uint8)))
        h, w = out['img'].shape[:2]
        shorter.append(h)
        assert abs(w / h - 500 / 375) < 0.01
    assert 321 <= min(shorter) and max(shorter) <= 505
    assert min(shorter) < 340 and max(shorter) > 485  # the range is used


def test_cityscapes_resize_spans_257x513_to_513x1025():
    transform = _random_resize(
        'dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_cityscapes-1-30_257x513.py')
    np.random.seed(0)
    heights = []
    for _ in range(20):
        out = transform(dict(img=np.zeros((1024, 2048, 3), np.uint8)))
        h, w = out['img'].shape[:2]
        heights.append(h)
        assert 257 <= h <= 513 and 513 <= w <= 1025
        assert abs(w / h - 2) < 0.01
    assert min(heights) < 280 and max(heights) > 490


# -- datasets -----------------------------------------------------------------
@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('voc') / 'VOCdevkit' / 'VOC2012')
    fake_trees.fake_voc(root, FAKE_VOC_TRAIN, FAKE_VOC_VAL, FAKE_VOC_LABELED)
    return root


@pytest.fixture(scope='module')
def city_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cityscapes'))
    fake_trees.fake_cityscapes(root, FAKE_CITY_TRAIN, FAKE_CITY_VAL,
                               FAKE_CITY_LABELED)
    return root


def _dataset_of(cfg):
    """'voc' or 'cityscapes', from the validation dataset type."""
    return ('voc' if cfg.val_dataloader.dataset.type == 'PascalVOCDataset' else
            'cityscapes')


def _point_at(cfg, voc_root, city_root):
    """Point every dataset of the config at the fake tree (unserialized
    data lists: MMEngine's serialization runs a slow gc.collect)."""
    root = voc_root if _dataset_of(cfg) == 'voc' else city_root
    train = cfg.train_dataloader.dataset
    for ds in (train.get('labeled'), train.get('unlabeled'), train,
               cfg.val_dataloader.dataset, cfg.test_dataloader.dataset):
        if ds is not None and 'data_root' in ds:
            ds.data_root = root
            ds.serialize_data = False


@pytest.mark.parametrize('protocol', PROTOCOLS)
@pytest.mark.parametrize('name', PAPER_CONFIGS)
def test_datasets_build_in_the_documented_layout(name, protocol, voc_root,
                                                 city_root):
    exp = EXPECTED[name]
    cfg = load(name, protocol)
    assert _dataset_of(cfg) == exp['dataset']
    _point_at(cfg, voc_root, city_root)
    init_default_scope('mmseg')
    train = DATASETS.build(cfg.train_dataloader.dataset)
    voc = exp['dataset'] == 'voc'
    num_train = FAKE_VOC_TRAIN if voc else FAKE_CITY_TRAIN
    if 'full_list' in exp:
        assert (train.num_labeled, train.num_unlabeled) == (num_train, 0)
    else:
        labeled = (FAKE_VOC_LABELED
                   if voc else FAKE_CITY_LABELED)[exp['ratio']]
        assert (train.num_labeled,
                train.num_unlabeled) == (labeled, num_train - labeled)
    sample = train[0]
    assert sample['data_samples'].metainfo['is_pseudo'] is False
    assert sample['inputs'].shape == (3, *exp['crop'])
    values = set(sample['data_samples'].gt_sem_seg.data.unique().tolist())
    assert values <= {0, exp['num_classes'] - 1, 255}
    assert len(train.metainfo['classes']) == exp['num_classes']

    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(val) == (FAKE_VOC_VAL if voc else FAKE_CITY_VAL)
    item = val[0]
    if protocol == 'paper':  # VOC padded to 505x505, Cityscapes 513x1025
        size = (505, 505) if voc else (513, 1025)
        assert item['inputs'].shape[1:] == size
        assert item['data_samples'].gt_sem_seg.shape == size
        assert item['data_samples'].ori_shape == size
    elif voc:  # evaluated at the image's own size
        assert item['inputs'].shape[1:] == (500, 375)
    else:  # run at 512x1024, evaluated on the full-resolution labels
        assert item['inputs'].shape[1:] == (512, 1024)


def test_split_and_valtiny_switches(voc_root, city_root):
    name = 'dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
    init_default_scope('mmseg')
    names = {}
    for split in (1, 2):
        cfg = load(name)
        _point_at(cfg, voc_root, city_root)
        # What `--cfg-options train_dataloader.dataset.split=2` does.
        cfg.merge_from_dict({'train_dataloader.dataset.split': split})
        train = DATASETS.build(cfg.train_dataloader.dataset)
        names[split] = [
            osp.basename(train.labeled.get_data_info(i)['img_path'])
            for i in range(train.num_labeled)
        ]
    train_names = [f'2008_{i:06d}.jpg' for i in range(FAKE_VOC_TRAIN)]
    assert names[1] == train_names[:3]
    assert names[2] == train_names[3:6]

    cfg = load(name)
    _point_at(cfg, voc_root, city_root)
    cfg.merge_from_dict(
        {'val_dataloader.dataset.ann_file': 'splits/valtiny.txt'})
    assert len(DATASETS.build(cfg.val_dataloader.dataset)) == 2
    # val stays the test set.
    assert len(DATASETS.build(cfg.test_dataloader.dataset)) == FAKE_VOC_VAL


def test_cityscapes_unlabeled_images_are_labeled_at_512x1024(city_root):
    cfg = load(
        'dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_cityscapes-1-30_257x513.py')
    [hook_cfg] = [h for h in cfg.custom_hooks if h.type == 'PseudoLabelHook']
    init_default_scope('mmseg')
    hook = dst_cbc.engine.PseudoLabelHook(
        **{k: v
           for k, v in hook_cfg.items() if k != 'type'})
    unlabeled = dict(
        cfg.train_dataloader.dataset.unlabeled,
        data_root=city_root,
        serialize_data=False,
        ann_file='splits/split1/unlabeled_1-30.txt',
        pipeline=hook.labeling_pipeline())
    dataset = DATASETS.build(unlabeled)
    assert dataset[0]['inputs'].shape == (3, 512, 1024)


# -- the model on CPU ---------------------------------------------------------
@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_deeplabv2_r101_forward_backward_on_cpu(one_thread, protocol):
    cfg = load('dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-106_321x321.py',
               protocol)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    inputs = torch.randn(2, 3, 65, 65)
    # Output stride 8: 65 -> 33 (stem conv) -> 17 (max pool) -> 9 (layer2).
    with torch.no_grad():
        assert model(inputs, mode='tensor').shape == (2, 21, 9, 9)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 21, (1, 65, 65)))
        sample.set_metainfo(dict(is_pseudo=True, img_shape=(65, 65)))
        samples.append(sample)
    losses = model(inputs, samples, mode='loss')
    loss = losses['decode.loss_ce']
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    branches = model.decode_head.conv2d_list
    if protocol == 'corrected':
        assert branches[3].weight.grad.abs().sum() > 0
        assert model.backbone.bn1.weight.grad is None  # frozen BatchNorm
    else:  # dilations 18 and 24 unused; BatchNorm trained
        assert branches[1].weight.grad.abs().sum() > 0
        assert branches[3].weight.grad is None
        assert model.backbone.bn1.weight.grad.abs().sum() > 0
