"""tools/reproduce_paper.py on a tiny fake VOC tree, on CPU: the layout
check, and the commands it wires up (run by a recording stand-in that
writes each run's summary.json as the curriculum loop does)."""
import argparse
import json
import os
import os.path as osp
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import convert_sync_batchnorm
from mmengine.registry import init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

from dst_cbc.cli import add_common_args, use_cpu_distributed
from mmseg.registry import MODELS
from tests.helpers import fake_trees
from tools import reproduce_paper

ROOT = Path(__file__).resolve().parents[2]
NUM_TRAIN = 12
LABELED = 3  # in each split of the fake tree


@pytest.fixture(scope='module')
def tool():
    return reproduce_paper


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working directory with data/VOCdevkit/VOC2012 and pretrain/."""
    data_root = tmp_path / 'data' / 'VOCdevkit' / 'VOC2012'
    fake_trees.fake_voc(str(data_root), NUM_TRAIN, 2, {20: LABELED})
    (tmp_path / 'pretrain').mkdir()
    (tmp_path / 'pretrain' / 'deeplabv2_r101-coco_voc.pth').write_bytes(b'')
    monkeypatch.chdir(tmp_path)
    return data_root


def test_a_complete_layout_passes(tool, workspace):
    assert tool.check_layout(str(workspace), 2, tool.PRETRAINED, True) == []
    # The fake lists are not the authors': refused unless asked for.
    [problem] = tool.check_layout(str(workspace), 2, tool.PRETRAINED)
    assert "labeled_1-20.txt is not the authors' list" in problem
    assert '20_labeled_1.txt' in problem  # split 2 is their shuffle 1


def test_a_missing_folder_is_named(tool, workspace, capsys):
    os.rename(workspace / 'SegmentationClassAug', workspace / 'elsewhere')
    assert tool.main(['--any-splits', '--dry-run']) == 1
    err = capsys.readouterr().err
    assert f'missing folder: {workspace / "SegmentationClassAug"}' in err
    assert 'voc_aug.py' in err
    assert tool.main(['--data-root', 'nowhere', '--dry-run']) == 1
    assert f'missing folder: {osp.abspath("nowhere")}' in \
        capsys.readouterr().err


def test_missing_files_are_named_with_their_list(tool, workspace, capsys):
    unlabeled = (workspace / 'splits/split2/unlabeled_1-20.txt').read_text()
    first = unlabeled.split()[0]
    os.remove(workspace / 'JPEGImages' / f'{first}.jpg')
    os.remove(workspace / 'splits' / 'split2' / 'labeled_1-20.txt')
    os.remove(workspace / 'SegmentationClassAug' / '2007_000001.png')
    os.remove(Path('pretrain') / 'deeplabv2_r101-coco_voc.pth')
    assert tool.main(['--any-splits']) == 1
    err = capsys.readouterr().err
    labeled = workspace / 'splits' / 'split2' / 'labeled_1-20.txt'
    assert f'missing file: {labeled} (tools/make_splits.py --paper voc)' \
        in err
    assert (f'1 of the {NUM_TRAIN - LABELED} images listed in '
            f'{workspace / "splits/split2/unlabeled_1-20.txt"} have no '
            f"JPEGImages/<name>.jpg, e.g. ['{first}']") in err
    # Val labels are read from SegmentationClassAug (paper protocol).
    assert ("1 of the 2 images listed in "
            f"{workspace / 'ImageSets/Segmentation/val.txt'} have no "
            "SegmentationClassAug/<name>.png, e.g. ['2007_000001']") in err
    assert 'missing file: pretrain/deeplabv2_r101-coco_voc.pth' in err
    assert len(err.strip().splitlines()) == 1 + 4


def test_iterations_and_wall_time_by_hand(tool):
    # 530 labeled, 10,052 unlabeled: baseline 134 epochs x ceil(530 / 8) =
    # 134 x 67; DST-CBC 5 rounds x 6 epochs x ceil(10052 / 4) = 30 x 2513;
    # ST 30 epochs x 2513.
    assert tool.iterations(tool.BASELINE, 530, 10052) == 8978
    assert tool.iterations(tool.DST_CBC, 530, 10052) == 75390
    assert tool.iterations(tool.ABLATIONS[0], 530, 10052) == 75390
    hours = tool.estimate_hours([tool.BASELINE, tool.DST_CBC], 530, 10052)
    # 84,368 iterations at 7 h per 77,000.
    assert hours['2080 Ti'] == pytest.approx(84368 * 7 / 77000)
    assert hours['current GPU'] == pytest.approx(hours['2080 Ti'] / 2.5)


def _fake_training(calls, scores):
    """A stand-in for subprocess.run: records the command and writes the
    run's summary.json with ``scores[method]`` per round."""

    def execute(command, check):
        assert check
        calls.append(command)
        work_dir = command[command.index('--work-dir') + 1]
        method = osp.basename(work_dir)
        rounds = [
            dict(
                round=r,
                score=s,
                checkpoint=osp.join(work_dir, f'round_{r}_best.pth'))
            for r, s in enumerate(scores[method])
        ]
        os.makedirs(work_dir, exist_ok=True)
        with open(osp.join(work_dir, 'summary.json'), 'w') as f:
            json.dump(dict(metric='mIoU', rounds=rounds, best=None), f)

    return execute


SCORES = {
    'baseline': [61.0],
    'dst-cbc': [61.1, 64.0, 66.0, 69.5, 68.0, 67.0],
    'st': [61.1, 65.0],
    'dst': [61.1, 68.0],
    'dst-c': [61.1, 62.0, 63.0, 64.0, 66.5, 66.0],
    'ow': [61.1, 62.0, 63.0, 64.0, 65.0, 65.5],
}


def _cfg_options(command):
    """The --cfg-options of a command, parsed as tools/train.py does."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--resume', action='store_true')
    add_common_args(parser)
    return parser.parse_args(command[2:])


def test_runs_baseline_then_each_method_from_it(tool, workspace, capsys):
    calls = []
    argv = [
        '--any-splits', '--ablations', '--cfg-options',
        'train_cfg.baseline_iters=2', 'train_cfg.round_iters=2'
    ]
    assert tool.main(argv, _fake_training(calls, SCORES)) == 0
    out = capsys.readouterr().out
    configs = [osp.relpath(c[2], ROOT) for c in calls]
    # The paper protocol's configs: the twins in each folder's paper/.
    name = 'dlv2-r101-d8_1xb4+4_voc-aug-paper-1-20_321x321.py'
    assert configs == [
        'configs/baseline/paper/baseline_' + name.replace('1xb4+4', '1xb8'),
        'configs/dst_cbc/paper/dst-cbc_' + name,
        'configs/ablations/paper/st_' + name,
        'configs/ablations/paper/dst_' + name,
        'configs/ablations/paper/dst-c_' + name,
        'configs/ablations/paper/ow_' + name
    ]
    work = Path('work_dirs/reproduce_voc-1-20').resolve()
    baseline_best = str(work / 'baseline' / 'round_0_best.pth')
    for i, command in enumerate(calls):
        assert Config.fromfile(command[2]).protocol == 'paper'
        assert command[1] == str(ROOT / 'tools' / 'train.py')
        args = _cfg_options(command)
        assert args.amp and not args.resume
        options = args.cfg_options
        assert options['train_dataloader.dataset.split'] == 2
        assert options['val_dataloader.dataset.data_root'] == str(workspace)
        assert options['train_cfg.baseline_iters'] == 2
        assert options.get('train_cfg.baseline_checkpoint') == (
            None if i == 0 else baseline_best)
    # Our best round of each run next to the paper's figures.
    assert '1/20, split 2 (the authors\' shuffle 1), paper protocol' in out
    for line in ('baseline    61.00         61.68               62.2',
                 'DST-CBC     69.50         70.33               69.3',
                 'ST          65.00         66.61                  -',
                 'DST         68.00         69.16                  -',
                 'DST-C       66.50         67.67                  -',
                 'OW          65.50         66.38                  -'):
        assert line in out
    assert 'Estimated wall time' in out
    # Everything is done: a second call trains nothing.
    again = []
    assert tool.main(argv, _fake_training(again, SCORES)) == 0
    assert again == []


def test_the_commands_configure_the_paper_protocol_run(tool, workspace):
    """What tools/train.py builds from the DST-CBC command: the paper
    protocol, the fake tree, split 2, the baseline to start from and the
    2-iteration rounds."""
    calls = []
    tool.main([
        '--any-splits', '--cfg-options', 'train_cfg.baseline_iters=2',
        'train_cfg.round_iters=2'
    ], _fake_training(calls, SCORES))
    args = _cfg_options(calls[1])
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    assert cfg.protocol == 'paper'
    train = cfg.train_dataloader.dataset
    assert train.split == 2
    assert train.labeled.data_root == train.unlabeled.data_root == str(
        workspace)
    assert cfg.test_dataloader.dataset.data_root == str(workspace)
    assert (cfg.train_cfg.baseline_iters, cfg.train_cfg.round_iters) == (2, 2)
    assert cfg.train_cfg.baseline_checkpoint.endswith(
        osp.join('baseline', 'round_0_best.pth'))
    assert cfg.model.decode_head.summed_branches == 2


def test_the_baseline_counts_its_round_0_only(tool, workspace, capsys):
    # --cfg-options reach every run: a baseline given self-training rounds
    # still reports (and hands on) its round 0.
    scores = dict(SCORES, baseline=[61.0, 64.0])
    calls = []
    tool.main(['--any-splits'], _fake_training(calls, scores))
    assert 'baseline    61.00' in capsys.readouterr().out
    assert _cfg_options(
        calls[1]).cfg_options['train_cfg.baseline_checkpoint'].endswith(
            'round_0_best.pth')


def test_two_gpus_halve_the_batch(tool, workspace):
    calls = []
    tool.main(['--any-splits', '--gpus', '2'], _fake_training(calls, SCORES))
    command = calls[0]
    assert command[:2] == ['bash', str(ROOT / 'tools' / 'dist_train.sh')]
    assert command[3] == '2'
    assert 'train_dataloader.batch_size=4' in command


def _resolved(command):
    """The config tools/train.py builds from a dist_train.sh command."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('gpus', type=int)
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--resume', action='store_true')
    add_common_args(parser)
    args = parser.parse_args(command[2:])
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    return args.gpus, cfg


@pytest.mark.parametrize('gpus', [2, 4])
def test_several_gpus_keep_batchnorm_statistics_of_8_images(
        tool, workspace, gpus):
    """The paper protocol trains BatchNorm on the batch of 8: on G GPUs
    each sees 8 / G images (4 + 4 split G ways in self-training), and
    every BatchNorm becomes a SyncBatchNorm over all of them."""
    calls = []
    tool.main(['--any-splits', '--gpus', str(gpus)],
              _fake_training(calls, SCORES))
    for command in calls:
        launched, cfg = _resolved(command)
        assert launched == gpus
        assert cfg.train_dataloader.batch_size * gpus == 8
        assert cfg.sync_bn == 'torch'
    # What MMEngine's Runner does to a launched run's model with it: every
    # BatchNorm of the backbone (the stem, three per bottleneck, one per
    # stage's downsample branch), trained, synchronized.
    init_default_scope('mmseg')
    model = convert_sync_batchnorm(MODELS.build(cfg.model), cfg.sync_bn)
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert len(norms) == 1 + 3 * (3 + 4 + 23 + 3) + 4
    assert all(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
    assert all(p.requires_grad for m in norms for p in m.parameters())


def test_cpu_processes_keep_their_own_batchnorm(monkeypatch):
    """SyncBatchNorm runs on GPUs only: a paper config launched on CPU
    processes (dist_train.sh without CUDA) drops sync_bn, with a word."""
    cfg = Config.fromfile(str(ROOT / reproduce_paper.DST_CBC.config))
    assert cfg.sync_bn == 'torch'
    cfg.launcher = 'pytorch'
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    use_cpu_distributed(cfg)
    assert cfg.sync_bn is None
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_the_corrected_protocol_sets_no_sync_bn():
    """Its BatchNorm is frozen (the COCO statistics): nothing to sync."""
    paper = Config.fromfile(str(ROOT / reproduce_paper.DST_CBC.config))
    corrected = Config.fromfile(
        str(ROOT / reproduce_paper.DST_CBC.config.replace(
            'paper/', '').replace('-paper', '')))
    assert paper.sync_bn == 'torch'
    assert corrected.get('sync_bn') is None


def test_dry_run_prints_and_trains_nothing(tool, workspace, capsys):
    calls = []
    assert tool.main(['--any-splits', '--dry-run'],
                     _fake_training(calls, SCORES)) == 0
    out = capsys.readouterr().out
    assert calls == []
    assert out.count('_voc-aug-paper-1-20_321x321.py') == 2
    assert 'train_cfg.baseline_checkpoint=' + str(
        Path('work_dirs/reproduce_voc-1-20/baseline/round_0_best.pth').resolve(
        )) in out
