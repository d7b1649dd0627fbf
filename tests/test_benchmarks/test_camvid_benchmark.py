"""The CamVid benchmark: its configs, its bookkeeping and its tables."""
import json
import os
import os.path as osp
import re
import sys
import threading
import time

import pytest
from mmengine.config import Config

from benchmarks.camvid import run

#: What each ablation changes in the model's DST-CBC config (flattened
#: keys), and nothing else.
ABLATION_CHANGES = {
    'st': {'train_cfg.alphas', 'train_cfg.<length>', 'loss_decode.gamma'},
    'dst': {'train_cfg.alphas', 'train_cfg.<length>'},
    'dst-c': {'pseudo_label_hook.class_balanced'},
    'ow': {
        'pseudo_label_hook.store_confidence', 'loss_decode.weight_source',
        'unlabeled.pipeline'
    },
    'dst-cbc-cutmix': {'data_preprocessor', 'unlabeled.pipeline'},
}


def flat(value, prefix=''):
    """``{dotted key: leaf}`` of a config's values."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value,
                    (list, tuple)) and any(isinstance(v, dict) for v in value):
        items = ((f'[{i}]', v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out = {}
    for key, item in items:
        out.update(flat(item, f'{prefix}.{key}' if prefix else key))
    return out


def changed(method, model):
    """What ``method``'s config changes in the DST-CBC config, as
    :data:`ABLATION_CHANGES` names it."""
    base = flat(Config.fromfile(run.config_path(model, 'dst-cbc')).to_dict())
    cfg = Config.fromfile(run.config_path(model, method)).to_dict()
    # names the config defines for its own use, outside the run's settings
    for name in ('pseudo_label_pipeline', 'pseudo_cutmix',
                 'strong_aug_preprocessor', 'pseudo_colour_jitter'):
        cfg.pop(name, None)
    cfg = flat(cfg)
    names = set()
    for key in set(base) | set(cfg):
        if base.get(key, '-') == cfg.get(key, '-'):
            continue
        if key.startswith('custom_hooks.[0]'):
            key = 'pseudo_label_hook' + key[len('custom_hooks.[0]'):]
        for part in ('loss_decode.gamma', 'loss_decode.weight_source',
                     'unlabeled.pipeline', 'data_preprocessor'):
            if part in key:
                key = part
        if key in ('train_cfg.round_iters', 'train_cfg.epochs_per_round'):
            key = 'train_cfg.<length>'
        names.add(key)
    return names


@pytest.mark.parametrize('model', sorted(run.MODELS))
@pytest.mark.parametrize('method', sorted(ABLATION_CHANGES))
def test_ablation_is_dst_cbc_but_for_its_change(method, model):
    assert changed(method, model) == ABLATION_CHANGES[method]


@pytest.mark.parametrize('model', sorted(run.MODELS))
def test_ablation_values(model):
    cfgs = {m: Config.fromfile(run.config_path(model, m)) for m in run.METHODS}
    heads = lambda cfg: [cfg.model.decode_head] + list(  # noqa: E731
        cfg.model.get('auxiliary_head') or [])
    dst_cbc = cfgs['dst-cbc'].train_cfg
    length = 'round_iters' if dst_cbc.get('round_iters') else (
        'epochs_per_round')
    # ST and DST: one round at alpha 1, as long as the five together
    for name in ('st', 'dst'):
        assert cfgs[name].train_cfg.alphas == (1.0, )
        assert cfgs[name].train_cfg[length] == 5 * dst_cbc[length]
    assert {h.loss_decode.gamma for h in heads(cfgs['st'])} == {0.0}
    assert {h.loss_decode.gamma for h in heads(cfgs['dst'])} == {9.0}
    assert cfgs['dst-c'].pseudo_label_hook.class_balanced is False
    ow = cfgs['ow']
    assert ow.pseudo_label_hook.store_confidence is True
    assert {h.loss_decode.weight_source for h in heads(ow)} == {'stored'}
    types = [t['type'] for t in ow.train_dataloader.dataset.unlabeled.pipeline]
    assert types[:2] == ['CachedLoad', 'LoadPseudoConfidence']
    assert types[-1] == 'PackSegInputsWithConfidence'
    cutmix = cfgs['dst-cbc-cutmix']
    preprocessor = cutmix.model.data_preprocessor
    assert preprocessor.type == 'BatchAugSegDataPreProcessor'
    assert preprocessor.size == cfgs['dst-cbc'].model.data_preprocessor.size
    unlabeled = cutmix.train_dataloader.dataset.unlabeled.pipeline
    assert [t['type'] for t in unlabeled[-2:]
            ] == ['PhotoMetricDistortion', 'PackSegInputs']


def test_config_paths_fall_back_to_the_1_8_configs():
    path = run.config_path('fast-scnn', 'dst-cbc', 4)
    assert path.endswith('dst-cbc_fast-scnn_1xb4+4_camvid-1-8_128x176.py')
    assert run.config_path('effnet-lite0', 'baseline', 16).endswith(
        'baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-16_128x176.py')
    assert osp.basename(run.config_path('effnet-lite0', 'st')) == (
        'st_effnet-lite0-deeplabv3plus_1xb4+4_camvid-1-8_128x176.py')
    assert osp.isfile(run.config_path('fast-scnn', 'oracle'))
    assert run.config_path('effnet-lite0', 'unimatch', 16).endswith(
        'unimatch/unimatch_effnet-lite0-deeplabv3plus_1xb4+8_camvid-1-16_'
        '128x176.py')
    assert run.config_path('effnet-lite0', 'unimatch-from-baseline',
                           16).endswith(
                               'unimatch/unimatch-from-baseline_effnet-lite0-'
                               'deeplabv3plus_1xb4+8_camvid-1-8_128x176.py')
    with pytest.raises(
            FileNotFoundError, match='no config of unimatch for '
            'fast-scnn'):
        run.config_path('fast-scnn', 'unimatch')


def test_curve_points_fall_on_saved_checkpoints():
    # 6440 / 6 / 200 = 5.4 -> every 1000 iterations, and the last one
    assert run.curve_points(6440,
                            200) == [1000, 2000, 3000, 4000, 5000, 6000, 6440]
    assert run.curve_points(6900, 200) == [1200, 2400, 3600, 4800, 6000, 6900]
    assert run.curve_points(150, 200) == [150]


def test_training_seconds_sum_the_attempts_logs(tmp_path):

    def log(stamp, lines):
        os.makedirs(tmp_path / stamp)
        (tmp_path / stamp / f'{stamp}.log').write_text(''.join(
            f'{t} - mmengine - INFO - x\n  continued\n' for t in lines))

    log('20261207_235900', ['2026/12/07 23:59:00', '2026/12/08 00:01:30'])
    log('20261208_090000', ['2026/12/08 09:00:00', '2026/12/08 09:00:10'])
    (tmp_path / 'eval').mkdir()
    (tmp_path / 'eval' / 'iter_6_val.log').write_text(
        '2026/12/08 10:00:00 - mmengine - INFO - x\n'
        '2026/12/08 11:00:00 - mmengine - INFO - x\n')
    # 150 s across midnight + 10 s; the evaluation's log is not training
    assert run.training_seconds(str(tmp_path)) == 160.


@pytest.mark.parametrize('model, ratio, iters', [('fast-scnn', 8, 3000),
                                                 ('fast-scnn', 4, 6000),
                                                 ('effnet-lite0', 8, 6000),
                                                 ('effnet-lite0', 16, 6000)])
def test_baseline_length_follows_the_ratio(model, ratio, iters):
    args = run.parse_args(['--model', model, '--ratio', str(ratio)])
    assert args.baseline_iters == iters


def test_paths_become_absolute_and_counts_positive(tmp_path, monkeypatch,
                                                   capsys):
    monkeypatch.chdir(tmp_path)
    args = run.parse_args(['--out', 'bench', '--data-root', 'camvid'])
    assert args.out == str(tmp_path / 'bench')
    assert args.data_root == str(tmp_path / 'camvid')
    assert args.test_root is None
    # the data root's test split is the default test set
    (tmp_path / 'camvid').mkdir()
    (tmp_path / 'camvid' / 'test.txt').write_text('a\n')
    args = run.parse_args(['--data-root', 'camvid'])
    assert args.test_root == str(tmp_path / 'camvid')
    args = run.parse_args(['--data-root', 'camvid', '--test-root', 'other'])
    assert args.test_root == str(tmp_path / 'other')
    with pytest.raises(SystemExit):
        run.parse_args(['--jobs', '0'])
    assert '--jobs must be >= 1, got 0' in capsys.readouterr().err


def test_processes_split_the_cores_and_name_the_failing_log(
        monkeypatch, tmp_path):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(run.os, 'cpu_count', lambda: 8)
    assert run.Processes(2).env['OMP_NUM_THREADS'] == '4'
    assert run.Processes(16).env['OMP_NUM_THREADS'] == '1'
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    procs = run.Processes(2)
    log = str(tmp_path / 'out.log')
    procs.run([
        sys.executable, '-c', 'import os; '
        'print(os.environ["OMP_NUM_THREADS"])'
    ], log)
    assert open(log).read() == '3\n'
    with pytest.raises(RuntimeError, match='exit 3.*out.log'):
        procs.run([sys.executable, '-c', 'raise SystemExit(3)'], log)


def test_a_free_slot_goes_to_evaluations_then_to_the_first_asker():
    """One slot, held: a training asks, then another, then an evaluation;
    on release the evaluation runs first, then the trainings in order."""
    procs = run.Processes(1)
    order, threads = [], []
    with procs._slot(1):
        for name, priority in (('train a', 1), ('train b', 1), ('eval', 0)):

            def take(name=name, priority=priority):
                with procs._slot(priority):
                    order.append(name)

            threads.append(threading.Thread(target=take))
            threads[-1].start()
            while len(procs._waiting) < len(threads):  # it is queued
                time.sleep(0.01)
    for thread in threads:
        thread.join(10)
    assert order == ['eval', 'train a', 'train b']


def test_a_finished_training_is_read_not_trained_again(tmp_path):
    """A work dir is named by the config's digest: the same config is
    trained once (an unfinished one resumed); another one gets a work dir
    of its own."""
    trained = []

    class Processes:
        env = dict(OMP_NUM_THREADS='1')

        def run(self, cmd, log):
            work_dir = cmd[cmd.index('--work-dir') + 1]
            trained.append(cmd)
            if len(trained) == 1:  # the first attempt is stopped
                raise RuntimeError('killed')
            stamp = f'20261207_00000{len(trained)}'
            os.makedirs(osp.join(work_dir, stamp))
            with open(osp.join(work_dir, stamp, stamp + '.log'), 'w') as f:
                f.write('2026/12/07 00:00:00 - mmengine - INFO - start\n'
                        '2026/12/07 00:01:30 - mmengine - INFO - end\n')
            return 1.5

    bench = run.Benchmark.__new__(run.Benchmark)
    bench.args = run.parse_args(['--out', str(tmp_path)])
    bench.processes = Processes()
    cfg = Config.fromfile(run.config_path('fast-scnn', 'dst-cbc'))
    with pytest.raises(RuntimeError, match='killed'):
        bench.train('split1/dst-cbc', cfg)
    first = bench.train('split1/dst-cbc', cfg)
    assert bench.train('split1/dst-cbc', cfg) == first
    assert [cmd[-1] for cmd in trained] == ['--resume', '--resume']
    assert trained[0] == trained[1]
    assert first['seconds'] == 90. and first['work_dir'] in trained[0]
    assert [m['threads'] for m in first['machines']] == [1]
    assert Config.fromfile(osp.join(first['work_dir'],
                                    'benchmark_config.py')).train_cfg == (
                                        cfg.train_cfg)
    cfg.merge_from_dict({'train_cfg.round_iters': 7})
    second = bench.train('split1/dst-cbc', cfg)
    assert second['work_dir'] != first['work_dir'] and len(trained) == 3


def test_a_checkpoint_is_scored_once_by_tools_test(tmp_path):
    calls = []

    class Processes:

        def run(self, cmd, log, priority=1):
            assert priority == 0  # evaluations go first
            with open(log, 'w'):  # as the real one, beside the results
                pass
            calls.append(cmd)
            out = cmd[cmd.index('--work-dir') + 1]
            os.makedirs(f'{out}/20261207_000000')
            with open(f'{out}/20261207_000000/20261207_000000.json', 'w') as f:
                f.write('{"aAcc": 80.0, "mIoU": 52.11}\n')
            return 1.

    bench = run.Benchmark.__new__(run.Benchmark)
    bench.processes = Processes()
    work_dir = str(tmp_path / 'run')
    assert bench.evaluate(work_dir, f'{work_dir}/iter_6.pth') == 52.11
    assert bench.evaluate(work_dir, f'{work_dir}/iter_6.pth') == 52.11
    [cmd] = calls
    assert cmd[1].endswith('tools/test.py') and '--test-root' not in cmd
    bench.evaluate(work_dir, f'{work_dir}/iter_6.pth', test_root='/set')
    assert calls[1][-2:] == ['--test-root', '/set']


class Recording(run.Benchmark):
    """Trains nothing: records what it would train, from which baseline."""

    def __init__(self, args):
        self.args = args
        self.trained = []

    def supervised(self, split=None):
        name = 'oracle' if split is None else f'split{split}/baseline'
        self.trained.append(name)
        return dict(mIoU=40. + (split or 10), checkpoint=name, seconds=60.)

    def self_training(self, split, method, baseline):
        self.trained.append(f'{baseline["checkpoint"]} -> {method}')
        return dict(mIoU=baseline['mIoU'] + 1, selected_round=1, seconds=60.)

    def online(self, split, method, baseline=None):
        start = f'{baseline["checkpoint"]} -> ' if baseline else ''
        self.trained.append(f'{start}split{split}/{method}')
        return dict(mIoU=50. + split, kept_iteration=200, seconds=60.)


def test_every_method_trains_from_its_splits_baseline():
    args = run.parse_args([
        '--splits', '1', '2', '--methods', 'dst-cbc', 'unimatch', 'st',
        'unimatch-from-baseline', '--no-oracle', '--model', 'effnet-lite0'
    ])
    bench = Recording(args)
    bench.processes = run.Processes(1)
    results = run.run_benchmark(args, bench)
    assert sorted(bench.trained) == [
        'split1/baseline', 'split1/baseline -> dst-cbc',
        'split1/baseline -> split1/unimatch-from-baseline',
        'split1/baseline -> st', 'split1/unimatch', 'split2/baseline',
        'split2/baseline -> dst-cbc',
        'split2/baseline -> split2/unimatch-from-baseline',
        'split2/baseline -> st', 'split2/unimatch'
    ]
    # the first split's online run is queued first (the longest)
    assert bench.trained[0] == 'split1/unimatch'
    assert 'oracle' not in results
    assert results['splits'][2]['st']['mIoU'] == 43.
    assert results['splits'][2]['unimatch']['mIoU'] == 52.
    assert results['machine']['threads'] >= 1


def test_online_run_keeps_its_best_validation(tmp_path):
    """UniMatch: the checkpoint of the best valtiny score is scored on val
    and test; the curve reads the checkpoints of :func:`curve_points`."""
    work_dir = tmp_path / 'split1' / 'unimatch-x'
    work_dir.mkdir(parents=True)
    report = dict(
        val=[
            dict(iter=200, score=40.),
            dict(iter=400, score=45.),
            dict(iter=450, score=44.)
        ],
        best=dict(iter=400, score=45.))
    (work_dir / 'report.json').write_text(json.dumps(report))
    (work_dir / 'best_mIoU_iter_400.pth').write_bytes(b'')
    bench = run.Benchmark.__new__(run.Benchmark)
    bench.args = run.parse_args([
        '--model', 'effnet-lite0', '--out',
        str(tmp_path), '--test-root', '/test'
    ])
    bench.split_dir = str(tmp_path / 'splits')
    trained, scored = [], []

    def train(name, cfg):
        trained.append((name, cfg))
        return dict(work_dir=str(work_dir), seconds=7., machines=[])

    def evaluate(work_dir, checkpoint, test_root=None):
        scored.append((osp.basename(checkpoint), test_root))
        return 50. if test_root else 60.

    bench.train, bench.evaluate = train, evaluate
    bench.map = lambda fn, items: [fn(i) for i in items]
    result = bench.online(1, 'unimatch')
    [(name, cfg)] = trained
    assert name == 'split1/unimatch' and cfg.model.type == 'UniMatch'
    assert cfg.default_hooks.checkpoint.interval == cfg.train_cfg.val_interval
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == -1
    assert cfg.val_dataloader.dataset.ann_file.endswith('valtiny.txt')
    assert cfg.train_dataloader.dataset.labeled.ann_file.endswith(
        'splits/split{split}/labeled_1-8.txt')
    assert result['checkpoint'].endswith('best_mIoU_iter_400.pth')
    assert (result['mIoU'], result['test_mIoU']) == (60., 50.)
    assert (result['kept_iteration'], result['valtiny_mIoU']) == (400, 45.)
    assert result['iters'] == 450
    assert result['curve'] == {200: 60., 400: 60., 450: 60.}
    assert ('best_mIoU_iter_400.pth', '/test') in scored
    assert ('iter_450.pth', None) in scored
    assert cfg.load_from is None  # ImageNet weights (the backbone's init)
    # from the split's baseline: its checkpoint loaded, 30 epochs
    bench.online(2, 'unimatch-from-baseline', dict(checkpoint='/b/best.pth'))
    name, cfg = trained[-1]
    assert name == 'split2/unimatch-from-baseline'
    assert cfg.load_from == '/b/best.pth'
    assert cfg.train_dataloader.dataset.split == 2
    assert (cfg.model.type, cfg.train_cfg.epochs) == ('UniMatch', 30)


def test_table_val_test_gain_gap_closed_and_wall_time(tmp_path):
    rounds = [dict(round=0, val_mIoU=50., valtiny_mIoU=51.)]
    results = dict(
        machine=dict(cpu='CPU', capability='AVX2', threads=1, torch='2'),
        ratio=8,
        title='Model',
        methods=['dst-cbc', 'unimatch', 'unimatch-from-baseline'],
        oracle=dict(mIoU=60., test_mIoU=55., seconds=900., curve={6000: 60.}),
        splits={
            split: {
                'baseline':
                dict(
                    mIoU=base,
                    test_mIoU=base - 5,
                    seconds=600.,
                    iters=3000,
                    curve={3000: base},
                    machines=[
                        dict(cpu=cpu, capability='AVX2', threads=1, torch='2')
                    ]),
                'dst-cbc':
                dict(
                    mIoU=dst,
                    test_mIoU=dst - 5,
                    selected_round=3,
                    seconds=420.,
                    rounds=rounds),
                'unimatch':
                dict(
                    mIoU=uni,
                    test_mIoU=uni - 6,
                    kept_iteration=400,
                    seconds=3000.,
                    curve={400: uni}),
                'unimatch-from-baseline':
                dict(
                    mIoU=base,
                    test_mIoU=base - 5,
                    kept_iteration=200,
                    seconds=1200.,
                    curve={200: base})
            }
            for split, base, dst, uni, cpu in ((1, 50., 54., 58., 'A'),
                                               (2, 40., 41., 50., 'B'))
        })
    run.plot(results, str(tmp_path / 'miou.png'))
    assert (tmp_path / 'miou.png').read_bytes()[:4] == b'\x89PNG'
    text = re.sub(' +', ' ', run.table(results))
    # split 1 on test: 45 -> 49, +4.00, 4 / (55 - 45) = 40 %, (600 + 420) s
    assert ('| 1 | dst-cbc | 50.00 / 45.00 | 54.00 / 49.00 (round 3) | '
            '+4.00 | 40 % | 17 min |') in text
    # UniMatch alone: 3000 s; test 45 -> 52, 7 / 10 = 70 %
    assert ('| 1 | unimatch | 50.00 / 45.00 | 58.00 / 52.00 (iter 400) | '
            '+7.00 | 70 % | 50 min |') in text
    # from the baseline: (600 + 1200) s
    assert ('| 1 | unimatch-from-baseline | 50.00 / 45.00 | 50.00 / 45.00 '
            '(iter 200) | +0.00 | 0 % | 30 min |') in text
    assert ('| 2 | dst-cbc | 40.00 / 35.00 | 41.00 / 36.00 (round 3) | '
            '+1.00 |') in text
    # means on test 40 -> 42.5 (gap (55 - 40): 17 %), on val 45 -> 47.5
    # (gap (60 - 45): 17 %); UniMatch test 40 -> 48: 53 %
    assert (
        'dst-cbc, mean of the splits: test 40.00 -> 42.50 (+2.50, gap '
        'closed 17 %); val 45.00 -> 47.50 (+2.50, gap closed 17 %)') in text
    assert 'unimatch, mean of the splits: test 40.00 -> 48.00 (+8.00, gap '\
        'closed 53 %)' in text
    assert 'split 1, unimatch, val by iteration: 400: 58.00' in text
    # every CPU a run recorded
    assert text.startswith('CamVid 1/8, Model. gain and gap closed: on test.'
                           ' A (AVX2), 1 thread(s), torch 2. B (AVX2)')
    # without a test set: on val
    for entry in results['splits'].values():
        for result in entry.values():
            del result['test_mIoU']
    text = re.sub(' +', ' ', run.table(results))
    assert text.startswith('CamVid 1/8, Model. gain and gap closed: on val.')
    assert ('| 1 | dst-cbc | 50.00 / - | 54.00 / - (round 3) | +4.00 | 40 % |'
            ) in text
