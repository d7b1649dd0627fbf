"""Pseudo-labeling and sampling under DDP on CPUs (2 gloo processes)."""
import filecmp
import json
import os
import os.path as osp
import re

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.helpers.dist_train import dist_train, free_port

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'dst_cbc',
                  'dst-cbc_dlv2-r18-mini_1xb4+4_synthetic-1-8_64x64.py')

pytestmark = pytest.mark.slow  # 2 spawned processes per run


def _label_and_sample(rank: int, world_size: int, port: int, data_root: str,
                      weights: str, out_dir: str) -> None:
    """Label the unlabeled set on this rank's shard; dump sampler indices."""
    if world_size > 1:
        dist.init_process_group(
            'gloo',
            init_method=f'tcp://127.0.0.1:{port}',
            rank=rank,
            world_size=world_size)
    torch.set_num_threads(1)
    import dst_cbc  # noqa: F401
    from dst_cbc.datasets import MixedBatchSampler, SemiSegDataset
    from dst_cbc.pseudo_labels import PseudoLabeler, label_files
    from mmseg.registry import DATASETS, MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(CONFIG)
    for half in ('labeled', 'unlabeled'):
        cfg.train_dataloader.dataset[half].data_root = data_root
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(weights))
    unlabeled = dict(cfg.train_dataloader.dataset.unlabeled)
    unlabeled['ann_file'] = unlabeled['ann_file'].replace('{split}', '1')
    unlabeled['pipeline'] = [
        dict(type='LoadImageFromFile'),
        dict(type='PackSegInputs')
    ]
    dataset = DATASETS.build(unlabeled)
    folder = osp.join(out_dir, 'labels')
    stats = PseudoLabeler(
        num_classes=5, batch_size=3).run(model, dataset, folder, 0.4,
                                         label_files(unlabeled, folder))
    semi = SemiSegDataset(
        cfg.train_dataloader.dataset.labeled,
        cfg.train_dataloader.dataset.unlabeled,
        pseudo_label_dir=osp.join(out_dir, 'labels'),
        split=1)
    sampler = MixedBatchSampler(semi, batch_size=4, seed=3)
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(
            dict(
                indices=list(sampler),
                thresholds=stats['thresholds'],
                num_labeled=semi.num_labeled,
                num_unlabeled=semi.num_unlabeled), f)
    if world_size > 1:
        dist.barrier()
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    import dst_cbc  # noqa: F401
    from dst_cbc.datasets import nested_splits, write_list
    from mmseg.registry import MODELS
    from tools.make_synthetic_data import generate_synthetic_dataset
    tmp = tmp_path_factory.mktemp('ddp')
    data_root = str(tmp / 'data')
    generate_synthetic_dataset(data_root, num_train=26, num_val=2, size=32)
    names = open(osp.join(data_root, 'train.txt')).read().split()
    lab, unlab = nested_splits(names, [8], num_splits=1)[1][8]
    write_list(osp.join(data_root, 'splits/split1/labeled_1-8.txt'), lab)
    write_list(osp.join(data_root, 'splits/split1/unlabeled_1-8.txt'), unlab)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    weights = str(tmp / 'weights.pth')
    torch.save(model.state_dict(), weights)
    single, double = str(tmp / 'one'), str(tmp / 'two')
    _label_and_sample(0, 1, 0, data_root, weights, single)
    mp.spawn(
        _label_and_sample,
        nprocs=2,
        args=(2, free_port(), data_root, weights, double))
    return single, double, len(unlab)


def test_two_processes_write_the_same_labels_as_one(runs):
    single, double, num_unlabeled = runs
    one = json.load(open(osp.join(single, 'rank0.json')))
    for rank in (0, 1):
        two = json.load(open(osp.join(double, f'rank{rank}.json')))
        assert two['thresholds'] == one['thresholds']
    files = sorted(
        f for f in os.listdir(osp.join(single, 'labels'))
        if f.endswith('.png'))
    assert len(files) == num_unlabeled
    assert sorted(
        f for f in os.listdir(osp.join(double, 'labels'))
        if f.endswith('.png')) == files
    match, mismatch, errors = filecmp.cmpfiles(
        osp.join(single, 'labels'),
        osp.join(double, 'labels'),
        files,
        shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(files)
    stats_one = json.load(open(osp.join(single, 'labels', 'stats.json')))
    stats_two = json.load(open(osp.join(double, 'labels', 'stats.json')))
    assert stats_two == stats_one


def test_ranks_sample_disjoint_slices_covering_the_unlabeled_set(runs):
    single, double, num_unlabeled = runs
    ranks = [
        json.load(open(osp.join(double, f'rank{r}.json'))) for r in (0, 1)
    ]
    n_l = ranks[0]['num_labeled']
    assert ranks[0]['num_unlabeled'] == num_unlabeled
    unlabeled = [[i for i in r['indices'] if i >= n_l] for r in ranks]
    # 23 unlabeled over 2 ranks x 2 per batch: ceil(23 / 4) = 6 batches per
    # rank, 24 slots, so exactly one image is drawn twice (padding)
    assert len(unlabeled[0]) == len(unlabeled[1]) == 12
    covered = set(unlabeled[0]) | set(unlabeled[1])
    assert covered == set(range(n_l, n_l + num_unlabeled))
    assert len(set(unlabeled[0]) & set(unlabeled[1])) <= 1


def test_dist_train_runs_the_curriculum_on_two_processes(
        tmp_path, tiny_synthetic):
    """tools/dist_train.sh: baseline + one round on 2 CPU processes."""
    data_root = tiny_synthetic(
        str(tmp_path / 'data' / 'synthetic'), num_train=24, num_val=4)
    proc = dist_train(
        str(tmp_path), CONFIG, 2, [
            '--work-dir', 'work', '--cfg-options',
            'train_cfg.baseline_iters=4', 'train_cfg.round_iters=2',
            'train_cfg.val_interval=2', 'train_cfg.alphas=[1.0]'
        ])
    assert proc.returncode == 0, proc.stdout[-3000:]
    summary = json.load(open(tmp_path / 'work' / 'summary.json'))
    assert [r['round'] for r in summary['rounds']] == [0, 1]
    assert summary['rounds'][1]['coverage'] == 1.0
    labels = tmp_path / 'work' / 'pseudo_labels' / 'round_1'
    unlabeled = open(osp.join(data_root,
                              'splits/split1/unlabeled_1-8.txt')).read()
    # each of the 21 unlabeled images labeled once, by one of the 2 ranks
    assert sorted(p.name for p in labels.glob('*.png')) == sorted(
        name + '.png' for name in unlabeled.split())
    # the runner's environment banner: a distributed run of 2 processes
    assert 'Distributed training: True' in proc.stdout
    assert 'GPU number: 2' in proc.stdout


# Round 0: iterations 1-6, round 1: 7-10; validation every 2 iterations of a
# round, periodic checkpoints every 3. The best rounds are picked by the mean
# confidence, which follows the BatchNorm statistics closely.
KILLABLE = f"""
_base_ = [{CONFIG!r}]
custom_imports = dict(imports=['dst_cbc', 'kill_hook', 'confidence_metric'],
                      allow_failed_imports=False)
randomness = dict(seed=0)
train_cfg = dict(alphas=(1.0, ), baseline_iters=6, round_iters=4,
                 val_interval=2, metric='confidence')
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='MeanConfidenceMetric')]
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', interval=3),
    logger=dict(interval=1))
custom_hooks = [dict(type='PseudoLabelHook', batch_size=8),
                dict(type='KillHook')]
"""


def _dist_train(cwd, work_dir, kill=None, resume=False):
    """tools/dist_train.sh on 2 CPU processes of one thread each."""
    return dist_train(
        cwd,
        'killable.py',
        2, ['--work-dir', work_dir] + (['--resume'] if resume else []),
        env=dict(
            OMP_NUM_THREADS='1',
            PYTHONPATH=osp.join(ROOT, 'tests', 'helpers'),
            DST_CBC_TEST_KILL=kill))


def test_two_process_resume_after_kill_repeats_the_scores(
        tmp_path, tiny_synthetic):
    """Killed after iteration 10 (last checkpoint: iteration 9 or 10),
    resumed: every validation score equals the uninterrupted run's, as every
    rank validates rank 0's model (the one checkpoints hold)."""
    tiny_synthetic(
        str(tmp_path / 'data' / 'synthetic'), num_train=24, num_val=4)
    (tmp_path / 'killable.py').write_text(KILLABLE)
    clean = _dist_train(str(tmp_path), 'clean')
    assert clean.returncode == 0, clean.stdout[-3000:]
    killed = _dist_train(str(tmp_path), 'killed', kill='iter:10')
    assert killed.returncode != 0, killed.stdout[-3000:]
    # killed where asked: after iteration 10, before its validation
    assert 'Iter(train) [10/10]' in killed.stdout, killed.stdout[-3000:]
    assert 'Signal 9 (SIGKILL)' in killed.stdout, killed.stdout[-3000:]
    assert not (tmp_path / 'killed' / 'summary.json').exists() or len(
        json.load(open(tmp_path / 'killed' / 'summary.json'))['rounds']) < 2
    resumed = _dist_train(str(tmp_path), 'killed', resume=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    # from iter_9.pth, or from iter_10.pth (the last iteration's checkpoint)
    # when rank 0 saved it before the other rank's kill stopped it
    assert re.search('resuming round 1 at iteration [34]/4',
                     resumed.stdout), resumed.stdout[-3000:]
    scores = [[
        r['score']
        for r in json.load(open(tmp_path / w / 'summary.json'))['rounds']
    ] for w in ('clean', 'killed')]
    assert len(scores[0]) == 2 and scores[1] == scores[0]
    # every validation, also those that are not a round's best: the last
    # one (iteration 10) is the first after the resume
    clean_scores = _validation_scores(clean.stdout)
    assert len(clean_scores) == 5
    assert _validation_scores(killed.stdout) == clean_scores[:4]
    assert _validation_scores(resumed.stdout) == clean_scores[4:]


def _validation_scores(log):
    """The mean confidence of every validation a training log shows."""
    return re.findall(r'Iter\(val\) \[\d+/\d+\].*confidence: ([\d.]+)', log)
