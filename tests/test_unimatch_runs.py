"""The UniMatch configs train a few iterations on generated data: CamVid
(EfficientNet-Lite0, resumed mid-run to the same weights, bf16 autocast) and
VOC (DeepLabV3+ R101 at a tiny crop), with the report of the loss terms."""
import json
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint

import dst_cbc  # noqa: F401
from dst_cbc import cli
from dst_cbc.datasets import write_list
from dst_cbc.engine.precision import cpu_supports_bf16
from mmseg.registry import MODELS
from tests.helpers.dist_train import dist_train
from tests.helpers.fake_trees import fake_cityscapes, write_image, write_label

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs', 'unimatch')
CAMVID = osp.join(
    CONFIGS,
    'unimatch_effnet-lite0-deeplabv3plus_1xb4+8_camvid-1-8_128x176.py')
VOC = osp.join(
    CONFIGS, 'unimatch_deeplabv3plus-r101-d16_1xb8+16_voc-classic-1-16_'
    '321x321.py')
CITYSCAPES = osp.join(
    CONFIGS, 'unimatch_deeplabv3plus-r101-d16_1xb8+16_cityscapes-1-16_'
    '801x801.py')
TERMS = ('loss_x', 'loss_s1', 'loss_s2', 'loss_fp', 'confident_ratio')


@pytest.fixture(scope='module')
def camvid_root(tmp_path_factory):
    """CamVid's layout: 4 labeled train images, 8 more without labels,
    one val image."""
    root = str(tmp_path_factory.mktemp('camvid'))
    train = [f'f{i:03d}' for i in range(12)]
    for i, name in enumerate(train):
        write_image(osp.join(root, 'train', name + '.png'), (120, 90), i)
        if i < 4:
            write_label(
                osp.join(root, 'trainannot', name + '.png'), (120, 90), 11)
    write_image(osp.join(root, 'val', 'v000.png'), (120, 90), 99)
    write_label(osp.join(root, 'valannot', 'v000.png'), (120, 90), 11)
    write_list(osp.join(root, 'val.txt'), ['v000'])
    write_list(osp.join(root, 'splits/split1/labeled_1-8.txt'), train[:4])
    write_list(osp.join(root, 'splits/split1/unlabeled_1-8.txt'), train[4:])
    return root


def shrink(cfg, crop, scale):
    """Smaller crops, from images resized to ``scale``."""
    train = cfg.train_dataloader.dataset
    for half in (train.labeled, train.unlabeled):
        for t in half.pipeline:
            if t.type == 'RandomCrop':
                t.crop_size = crop
            if t.type == 'RandomResize':
                t.scale = scale
    cfg.model.data_preprocessor.size = crop


def camvid_cfg(root, work_dir, iters):
    """The CamVid 1/8 config on ``root``: 2 labeled + 4 unlabeled crops of
    64 x 64, ``iters`` iterations, validation and checkpoints every 2."""
    cfg = Config.fromfile(CAMVID)
    train = cfg.train_dataloader.dataset
    for half in (train.labeled, train.unlabeled):
        half.data_root = root
    cfg.val_dataloader.dataset.data_root = root
    cfg.test_dataloader = cfg.val_dataloader
    shrink(cfg, (64, 64), (120, 90))
    cfg.train_dataloader.batch_size = 6
    cfg.train_dataloader.sampler.num_pseudo = 4
    # 8 unlabeled images, 2 per iteration: an epoch is 4 iterations.
    cfg.train_cfg.update(
        epochs=iters / 4, unlabeled_per_iter=2, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=2, max_keep_ckpts=3)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    return cfg


class StopAfter(Hook):
    """Raise after iteration ``n`` (its checkpoint saved): a crash."""

    priority = 'LOWEST'

    def __init__(self, n):
        self.n = n

    def after_train_iter(self, runner, batch_idx, data_batch, outputs):
        if runner.iter + 1 == self.n:
            raise KeyboardInterrupt(f'stopped after iteration {self.n}')


def weights(path):
    return torch.load(
        path, map_location='cpu', weights_only=False)['state_dict']


def test_camvid_trains_reports_and_resumes_to_the_same_weights(
        camvid_root, tmp_path, one_thread):
    full = Runner.from_cfg(camvid_cfg(camvid_root, tmp_path / 'full', 4))
    assert full.train_loop.max_iters == 4
    full.train()
    work = tmp_path / 'full'
    report = json.loads((work / 'report.json').read_text())
    assert set(TERMS) <= set(report['ranges'])
    assert [v['iter'] for v in report['val']] == [2, 4]
    assert (work / 'plots' / 'losses.png').is_file()
    assert (work / 'run.json').is_file()
    for term in TERMS:
        assert len(full.message_hub.get_scalar(f'train/{term}').data[0]) == 4

    crashed = Runner.from_cfg(camvid_cfg(camvid_root, tmp_path / 'cut', 4))
    crashed.register_hook(StopAfter(2))
    with pytest.raises(KeyboardInterrupt):
        crashed.train()
    resumed_cfg = camvid_cfg(camvid_root, tmp_path / 'cut', 4)
    resumed_cfg.resume = True
    resumed = Runner.from_cfg(resumed_cfg)
    resumed.train()
    assert resumed.iter == 4
    ours = weights(tmp_path / 'cut' / 'iter_4.pth')
    theirs = weights(work / 'iter_4.pth')
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    report = json.loads((tmp_path / 'cut' / 'report.json').read_text())
    assert [v['iter'] for v in report['val']] == [2, 4]


@pytest.mark.slow  # 2 spawned processes
def test_camvid_trains_on_two_processes(camvid_root, tmp_path):
    """tools/dist_train.sh: 2 CPU processes share an epoch (each takes 2 of
    the 8 unlabeled images per iteration: 2 iterations, not 4) and rank 0
    writes the report."""
    cfg = camvid_cfg(camvid_root, tmp_path / 'work', 4)
    cfg.dump(str(tmp_path / 'unimatch.py'))
    proc = dist_train(
        str(tmp_path), 'unimatch.py', 2, env=dict(OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'Distributed training: True' in proc.stdout
    assert 'Iter(train) [2/2]' in proc.stdout
    report = json.loads((tmp_path / 'work' / 'report.json').read_text())
    assert [v['iter'] for v in report['val']] == [2]
    assert set(TERMS) <= set(report['ranges'])
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()


@pytest.mark.skipif(not cpu_supports_bf16(), reason='no bf16 on this CPU')
def test_camvid_trains_under_amp(camvid_root, tmp_path, one_thread):
    cfg = camvid_cfg(camvid_root, tmp_path, 1)
    cli.enable_amp(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert type(runner.optim_wrapper).__name__ == 'BF16OptimWrapper'
    for term in TERMS:
        value = runner.message_hub.get_scalar(f'train/{term}').current()
        assert torch.isfinite(torch.tensor(value))


def test_the_loop_needs_online_unlabeled_images(camvid_root, tmp_path):
    cfg = camvid_cfg(camvid_root, tmp_path, 1)
    cfg.train_dataloader.dataset.online = False
    with pytest.raises(ValueError, match='online=True'):
        Runner.from_cfg(cfg).train()


def two_iterations(cfg, root, work_dir, scale):
    """Train ``cfg`` (no pretrained weights) on ``root`` for 2 iterations of
    1 labeled + 2 unlabeled crops of 33 x 33 from images resized to
    ``scale``, validating after the second; the runner."""
    cfg.model.backbone.init_cfg = None
    shrink(cfg, (33, 33), scale)
    if cfg.model.test_cfg.get('mode') == 'slide':
        cfg.model.test_cfg.update(crop_size=(33, 33), stride=(22, 22))
    train_set = cfg.train_dataloader.dataset
    for dataset in (train_set.labeled, train_set.unlabeled,
                    cfg.val_dataloader.dataset):
        dataset.data_root = root
    cfg.test_dataloader = cfg.val_dataloader
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.batch_size = 3
    cfg.train_dataloader.sampler.num_pseudo = 2
    cfg.train_cfg.update(epochs=0.5, unlabeled_per_iter=1, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=10, save_best=None)
    cfg.work_dir = str(work_dir)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == runner.train_loop.max_iters == 2
    return runner


def test_voc_config_trains_two_iterations(tmp_path, one_thread):
    """DeepLabV3+ R101 (no pretrained weights) on 33 x 33 crops of a tiny
    VOC tree: 1 labeled + 2 unlabeled crops per iteration."""
    root = str(tmp_path / 'VOC2012')
    train = [f'2008_{i:06d}' for i in range(6)]
    for i, name in enumerate(train + ['2007_000000']):
        size = (50, 40) if i % 2 else (40, 50)
        write_image(osp.join(root, 'JPEGImages', name + '.jpg'), size, i)
        write_label(
            osp.join(root, 'SegmentationClassAug', name + '.png'), size, 21)
    write_label(
        osp.join(root, 'SegmentationClass', '2007_000000.png'),
        size,
        21,
        palette=True)
    write_list(
        osp.join(root, 'ImageSets/Segmentation/val.txt'), ['2007_000000'])
    write_list(osp.join(root, 'splits/unimatch/92/labeled.txt'), train[:2])
    write_list(osp.join(root, 'splits/unimatch/92/unlabeled.txt'), train[2:])
    runner = two_iterations(
        Config.fromfile(VOC), root, tmp_path / 'work', scale=(50, 50))
    for term in TERMS:
        assert len(runner.message_hub.get_scalar(f'train/{term}').data[0]) == 2
    assert (tmp_path / 'work' / 'report.md').is_file()


def test_cityscapes_config_trains_two_iterations(tmp_path, one_thread):
    """DeepLabV3+ R101, OHEM on the labeled crops, threshold 0,
    sliding-window validation, on a tiny Cityscapes tree of 64 x 32
    images."""
    root = str(tmp_path / 'cityscapes')
    train = fake_cityscapes(root, 6, 1, {}, size=(64, 32))['train']
    write_list(osp.join(root, 'splits/unimatch/1_16/labeled.txt'), train[:2])
    write_list(osp.join(root, 'splits/unimatch/1_16/unlabeled.txt'), train[2:])
    cfg = Config.fromfile(CITYSCAPES)
    assert cfg.model.decode_head.loss_decode.type == 'OhemCrossEntropyLoss'
    assert cfg.model.conf_thresh == 0.0
    assert cfg.model.test_cfg.mode == 'slide'
    runner = two_iterations(cfg, root, tmp_path / 'work', scale=(64, 32))
    for term in TERMS:
        values = runner.message_hub.get_scalar(f'train/{term}').data[0]
        assert len(values) == 2 and all(map(math.isfinite, values))
    # threshold 0: every pixel of the weak views is confident
    assert runner.message_hub.get_scalar(
        'train/confident_ratio').current() == 1.0
    report = json.loads((tmp_path / 'work' / 'report.json').read_text())
    assert [v['iter'] for v in report['val']] == [2]


def test_unimatch_from_baseline_loads_every_baseline_weight(tmp_path):
    """The from-baseline config loads the baseline config's checkpoint
    (its default work dir's round_0_best.pth): the same keys and shapes,
    so a strict load leaves no weight at its ImageNet or random init."""
    cfg = Config.fromfile(
        osp.join(
            CONFIGS, 'unimatch-from-baseline_effnet-lite0-deeplabv3plus_'
            '1xb4+8_camvid-1-8_128x176.py'))
    baseline = 'baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_128x176'
    assert cfg.load_from == f'work_dirs/{baseline}/round_0_best.pth'
    assert (cfg.model.type, cfg.train_cfg.epochs) == ('UniMatch', 30)
    base_cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'camvid', baseline + '.py'))
    for c in (cfg, base_cfg):
        c.model.backbone.init_cfg = None  # no ImageNet weights needed
    init_default_scope('mmseg')
    torch.manual_seed(0)
    trained = MODELS.build(base_cfg.model).state_dict()
    path = str(tmp_path / 'round_0_best.pth')
    torch.save(dict(state_dict=trained), path)
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, path, strict=True)
    loaded = model.state_dict()
    assert loaded.keys() == trained.keys()
    for key in trained:
        assert torch.equal(loaded[key], trained[key]), key
