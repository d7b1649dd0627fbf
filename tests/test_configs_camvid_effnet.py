"""The CamVid EfficientNet-Lite0 configs: names match contents, models
build, load the ImageNet weights and train."""
import ast
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import dst_cbc  # noqa: F401
from dst_cbc.engine.round_schedule import round_lengths
from dst_cbc.models.backbones import pretrained_weights
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'camvid', '*_effnet-lite0-*.py')))
NAME = re.compile(r'(baseline|dst-cbc)_effnet-lite0-(\w+)_1xb(8|4\+4)_'
                  r'camvid-(1-8|1-16|full)_128x176\.py$')


def base_files(path: str) -> list:
    """The ``_base_`` list of a config file, as written."""
    tree = ast.parse(open(path).read())
    (value, ) = [
        node.value for node in tree.body if isinstance(node, ast.Assign)
        and [t.id for t in node.targets] == ['_base_']
    ]
    return ast.literal_eval(value)


def load(name: str) -> Config:
    init_default_scope('mmseg')
    return Config.fromfile(osp.join(ROOT, 'configs', 'camvid', name))


def test_every_setting_has_its_config():
    names = {osp.basename(p) for p in CONFIGS}
    head = 'deeplabv3plus'
    expected = {
        f'baseline_effnet-lite0-{head}_1xb8_camvid-1-8_128x176.py',
        f'baseline_effnet-lite0-{head}_1xb8_camvid-1-16_128x176.py',
        f'baseline_effnet-lite0-{head}_1xb8_camvid-full_128x176.py',
        f'dst-cbc_effnet-lite0-{head}_1xb4+4_camvid-1-8_128x176.py',
        f'dst-cbc_effnet-lite0-{head}_1xb4+4_camvid-1-16_128x176.py',
    }
    assert names == expected


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_name_matches_contents(path):
    """Method, batch, labeled ratio and crop in the name are the config's;
    every base is a ``_base_`` file (no chains through sibling configs)."""
    method, _, batch, ratio = NAME.search(path).groups()
    cfg = Config.fromfile(path)
    assert all(b.startswith('../_base_/') for b in base_files(path))
    train = cfg.train_dataloader.dataset
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_cfg.type == 'CurriculumTrainLoop'
    if method == 'baseline':
        assert batch == '8' and tuple(cfg.train_cfg.alphas) == ()
    else:
        assert batch == '4+4'
        assert tuple(cfg.train_cfg.alphas) == (0.2, 0.4, 0.6, 0.8, 1.0)
        assert cfg.train_dataloader.sampler.get('num_pseudo') in (None, 4)
    if ratio == 'full':
        assert train.labeled.ann_file == 'train.txt'
        assert train.unlabeled is None
    else:
        assert train.labeled.ann_file.endswith(f'/labeled_{ratio}.txt')
        assert train.unlabeled.ann_file.endswith(f'/unlabeled_{ratio}.txt')
    crops = [
        t.crop_size for t in train.labeled.pipeline if t.type == 'RandomCrop'
    ]
    assert crops == [(128, 176)]
    assert cfg.model.data_preprocessor.size == (128, 176)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_recipe(path):
    """ImageNet preprocessing of the weights, encoder lr 0.005 with 10x on
    the head, the dynamic loss in DeepLabV3+'s head with the pseudo flags."""
    cfg = Config.fromfile(path)
    pre = cfg.model.data_preprocessor
    assert pre.mean == [127.] * 3 and pre.std == [128.] * 3
    assert pre.bgr_to_rgb
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='efficientnet-lite0')
    assert cfg.optim_wrapper.optimizer.lr == 0.005
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys == {
        'decode_head': dict(lr_mult=10.)
    }
    head = cfg.model.decode_head
    assert head.type == 'DynamicDepthwiseSeparableASPPHead'
    assert head.loss_decode.type == 'DynamicCrossEntropyLoss'


@pytest.mark.parametrize('ratio', ['1-8', '1-16'])
def test_dst_cbc_round_0_is_the_baseline(ratio):
    """DST-CBC trained from scratch repeats the baseline as its round 0:
    same model, optimizer, data and length."""
    base = load('baseline_effnet-lite0-deeplabv3plus_1xb8_'
                f'camvid-{ratio}_128x176.py')
    dst = load('dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_'
               f'camvid-{ratio}_128x176.py')
    assert base.model == dst.model
    assert base.optim_wrapper == dst.optim_wrapper
    assert base.train_dataloader == dst.train_dataloader
    assert base.train_cfg.baseline_iters == dst.train_cfg.baseline_iters


@pytest.mark.parametrize('ratio,labeled,iters', [('1-8', 45, 972),
                                                 ('1-16', 22, 1044)])
def test_rounds_are_twelve_passes(ratio, labeled, iters):
    """Every round is 12 passes over the unlabeled images, 4 of the 8 crops
    of a batch: 12 * ceil(322 / 4) = 12 * 81 = 972 iterations at 1/8,
    12 * ceil(345 / 4) = 12 * 87 = 1044 at 1/16; round 0 stays 6,000."""
    cfg = load(f'dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-{ratio}'
               '_128x176.py')
    batch_size = cfg.train_dataloader.batch_size
    assert batch_size == 8 and 'num_pseudo' not in cfg.train_dataloader.sampler
    lengths = round_lengths(
        labeled,
        367 - labeled,
        len(cfg.train_cfg.alphas),
        batch_size,
        batch_size // 2,
        baseline_iters=cfg.train_cfg.baseline_iters,
        round_iters=cfg.train_cfg.get('round_iters'),
        epochs_per_round=cfg.train_cfg.epochs_per_round)
    assert lengths == [6000] + [iters] * 5


def test_model_loads_imagenet_weights_and_trains():
    """The baseline's model: the backbone holds the packaged weights after
    init_weights; one SGD step on 2 small random images (64x88) updates
    backbone and head, the head at 10x the backbone's lr."""
    try:
        weights = torch.load(pretrained_weights('lite0'), map_location='cpu')
    except ImportError as e:
        pytest.skip(str(e))
    cfg = load(
        'baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_128x176.py')
    cfg.model.data_preprocessor.size = (64, 88)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert torch.equal(model.backbone.layers[0].conv.weight,
                       weights['_conv_stem.weight'])
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {
        group['lr']
        for group in optim.optimizer.param_groups if group['params']
    }
    assert lrs == {0.005, 0.05}
    torch.manual_seed(0)
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 88)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 11, (1, 64, 88)))
        samples.append(sample)
    data = model.data_preprocessor(
        dict(inputs=[torch.rand(3, 64, 88) * 255] * 2, data_samples=samples),
        True)
    model.train()
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    before = [p.detach().clone() for p in model.parameters()]
    optim.update_params(loss)
    changed = [
        name for (name, p), b in zip(model.named_parameters(), before)
        if not torch.equal(p, b)
    ]
    assert any(n.startswith('backbone.layers.0.') for n in changed)
    assert any(n.startswith('backbone.layers.8.') for n in changed)
    assert any(n.startswith('decode_head.c1_bottleneck.') for n in changed)
    assert any(n.startswith('decode_head.conv_seg.') for n in changed)
