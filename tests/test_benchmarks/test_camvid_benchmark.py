"""The CamVid benchmark's bookkeeping: table arithmetic and ablation rows."""
import argparse
import json
import os
import os.path as osp
import sys
import threading

import pytest

from benchmarks.camvid import run
from benchmarks.common import write_split_lists


def split_result(base, dst, selected_round=3):
    rounds = [dict(round=0, iters=0)
              ] + [dict(round=r, iters=600) for r in range(1, 6)]
    return dict(
        baseline=dict(
            mIoU=base, seconds=600., curve={
                1000: base - 1,
                2000: base
            }),
        dst_cbc=dict(
            mIoU=dst,
            selected_round=selected_round,
            seconds=420.,
            rounds=rounds))


def test_table_gain_share_of_oracle_and_gap_closed():
    results = dict(
        ratio=8,
        oracle=dict(
            mIoU=60., iters=6000, seconds=900., curve={
                3000: 58.,
                6000: 60.
            }),
        splits={
            1: split_result(50., 54.),
            2: split_result(40., 41.)
        })
    text = run.table(results)
    # split 1: +4.00, 54/60 = 90.0 %, (54 - 50) / (60 - 50) = 40 %,
    # (600 + 420) s = 17.0 min
    assert '| 1 | 60.00 | 50.00 | 54.00 (3) | +4.00 | 90.0 % | 40 % ' \
        '| 17.0 min |' in text
    # split 2: 41/60 = 68.3 %, 1/20 = 5 %
    assert '| 2 | 60.00 | 40.00 | 41.00 (3) | +1.00 | 68.3 % | 5 % ' in text
    assert 'mean gain over 2 split(s): +2.50 mIoU' in text
    assert 'oracle: 6000 iterations, 15.0 min' in text


def test_table_without_oracle_has_no_shares():
    text = run.table(dict(ratio=8, splits={1: split_result(50., 49.)}))
    assert '| 1 | - | 50.00 | 49.00 (3) | -1.00 | - | - |' in text


def test_ablation_rows_match_the_dst_cbc_run():
    from mmengine.config import Config
    variants = run.ablation_variants()
    assert list(variants) == list(
        run.ABLATIONS) == ['ST', 'DST', 'DST_C', 'OW', 'CutMix']
    cfgs = {}
    for name, variant in variants.items():
        cfgs[name] = Config.fromfile(run.config_path('fast-scnn', 'dst_cbc'))
        variant(cfgs[name])
    # ST and DST: one round at alpha 1 as long as the five rounds together
    for name in ('ST', 'DST'):
        assert cfgs[name].train_cfg.alphas == [1.0]
        assert cfgs[name].train_cfg.round_iters == 3000
    heads = lambda cfg: [cfg.model.decode_head] + list(  # noqa: E731
        cfg.model.auxiliary_head)
    # From epochs: 5 rounds of 6 passes become one round of 30.
    cfg = Config.fromfile(run.config_path('fast-scnn', 'dst_cbc'))
    cfg.train_cfg.round_iters = None
    variants['DST'](cfg)
    assert cfg.train_cfg.epochs_per_round == 30
    assert cfg.train_cfg.alphas == [1.0]
    assert [h.loss_decode.gamma for h in heads(cfgs['ST'])] == [0.0] * 3
    assert [h.loss_decode.gamma for h in heads(cfgs['DST'])] == [9.0] * 3
    assert run.hook_of(cfgs['DST_C'],
                       'PseudoLabelHook').class_balanced is False
    assert cfgs['DST_C'].train_cfg.alphas == (0.2, 0.4, 0.6, 0.8, 1.0)
    # OW: stored confidences written, loaded with the label and used
    ow = cfgs['OW']
    assert run.hook_of(ow, 'PseudoLabelHook').store_confidence is True
    assert {h.loss_decode.weight_source for h in heads(ow)} == {'stored'}
    types = [t['type'] for t in ow.train_dataloader.dataset.unlabeled.pipeline]
    assert types[:2] == ['CachedLoad', 'LoadPseudoConfidence']
    # CutMix: the batch augmentation in the model's preprocessor (its
    # normalisation kept), colour jitter before the unlabeled packing step
    cutmix = cfgs['CutMix']
    preprocessor = cutmix.model.data_preprocessor
    assert preprocessor.type == 'BatchAugSegDataPreProcessor'
    assert [a['type'] for a in preprocessor.batch_augments] == ['PseudoCutMix']
    assert preprocessor.size == cfgs['ST'].model.data_preprocessor.size
    unlabeled = [
        t['type'] for t in cutmix.train_dataloader.dataset.unlabeled.pipeline
    ]
    assert unlabeled[-2:] == ['PhotoMetricDistortion', 'PackSegInputs']
    labeled = [
        t['type'] for t in cutmix.train_dataloader.dataset.labeled.pipeline
    ]
    assert 'PhotoMetricDistortion' not in labeled
    assert types[-1] == 'PackSegInputsWithConfidence'
    assert [t['type'] for t in ow.train_dataloader.dataset.labeled.pipeline
            ][-1] == 'PackSegInputs'


def test_oracle_from_an_earlier_run_round_trips(tmp_path):
    oracle = dict(
        mIoU=53.8,
        iters=6000,
        seconds=912.,
        checkpoint='oracle/best.pth',
        curve={'6000': 53.8})
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(dict(ratio=8, oracle=oracle, splits={})))
    assert run.load_oracle(str(path), bench_args([])) == oracle


def test_oracle_from_stops_on_other_supervised_options(tmp_path):
    """An oracle trained with other ``--supervised-options`` is another
    model: ``--oracle-from`` names the file and both options."""
    path = tmp_path / 'results.json'
    path.write_text(
        json.dumps(
            dict(
                oracle=dict(mIoU=53.8),
                supervised_options={'train_cfg.baseline_iters': 1500})))
    with pytest.raises(
            ValueError,
            match=r"--oracle-from .*results.json: its supervised models "
            r"trained with --supervised-options "
            r"\{'train_cfg.baseline_iters': 1500\}, this run asks \{\}"):
        run.load_oracle(str(path), bench_args([]))
    assert run.load_oracle(
        str(path),
        bench_args(['--supervised-options',
                    'train_cfg.baseline_iters=1500'])) == dict(mIoU=53.8)


def test_oracle_from_names_the_file_at_fault(tmp_path):
    no_oracle = tmp_path / 'no_oracle.json'
    no_oracle.write_text(json.dumps(dict(ratio=8, splits={})))
    with pytest.raises(ValueError, match='no_oracle.json: it has no oracle'):
        run.load_oracle(str(no_oracle), bench_args([]))
    broken = tmp_path / 'broken.json'
    broken.write_text('{"oracle": ')
    with pytest.raises(ValueError, match='broken.json: cannot read it'):
        run.load_oracle(str(broken), bench_args([]))
    with pytest.raises(ValueError, match='missing.json: cannot read it'):
        run.load_oracle(str(tmp_path / 'missing.json'), bench_args([]))


def test_relative_out_and_data_root_become_absolute(tmp_path, monkeypatch):
    # The split lists are given to datasets whose data_root is the CamVid
    # folder: a relative --out would be resolved against it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr('sys.argv',
                        ['run.py', '--out', 'bench', '--data-root', 'camvid'])
    args = run.parse_args()
    assert args.out == str(tmp_path / 'bench')
    assert args.data_root == str(tmp_path / 'camvid')


def test_configs_read_the_split_lists_common_writes(fake_camvid, tmp_path):
    split_dir = str(tmp_path / 'splits')
    write_split_lists(str(fake_camvid), split_dir, [4, 8], num_splits=2)
    args = argparse.Namespace(
        model='fast-scnn', ratio=8, data_root=str(fake_camvid), jobs=1)
    bench = run.Benchmark(args, split_dir)
    cfg = bench.config('dst_cbc')
    train = cfg.train_dataloader.dataset
    for split in (1, 2):
        for half in (train.labeled, train.unlabeled):
            assert half.data_root == str(fake_camvid)
            assert osp.isfile(half.ann_file.replace('{split}', str(split)))
    assert cfg.val_dataloader.dataset.ann_file == osp.join(
        split_dir, 'valtiny.txt')
    assert cfg.test_dataloader.dataset.ann_file == 'val.txt'
    assert cfg.test_dataloader.dataset.data_root == str(fake_camvid)
    oracle = bench.config('oracle').train_dataloader.dataset
    assert oracle.labeled.ann_file == 'train.txt'
    assert oracle.labeled.data_root == str(fake_camvid)


def test_every_split_names_the_oracle_baseline_and_dst_cbc_models():
    oracle = dict(
        mIoU=53.8,
        checkpoint='oracle/best.pth',
        iters=6000,
        seconds=900.,
        curve={6000: 53.8})
    base = dict(mIoU=52.1, checkpoint='split1/baseline/best.pth')
    dst = dict(mIoU=52.8, checkpoint='split1/dst_cbc/round_1_best.pth')
    entry = run.split_entry(oracle, dict(baseline=base, dst_cbc=dst))
    assert entry['oracle'] == dict(mIoU=53.8, checkpoint='oracle/best.pth')
    assert entry['baseline'] is base and entry['dst_cbc'] is dst
    assert 'oracle' not in run.split_entry(None, dict(baseline=base))


@pytest.mark.parametrize('ratio', [8, 16])
def test_effnet_baselines_train_as_long_as_the_oracle(ratio):
    from mmengine.config import Config
    args = bench_args(['--ratio', str(ratio)])
    oracle = Config.fromfile(run.config_path('effnet-lite0', 'oracle'))
    assert args.baseline_iters == oracle.train_cfg.baseline_iters == 6000
    # DST-CBC's own round 0 is the same baseline
    dst_cbc = Config.fromfile(
        run.config_path('effnet-lite0', 'dst_cbc', ratio))
    assert dst_cbc.train_cfg.baseline_iters == 6000


def test_oracle_from_and_no_oracle_exclude_each_other(monkeypatch, capsys):
    monkeypatch.setattr(
        'sys.argv', ['run.py', '--no-oracle', '--oracle-from', 'results.json'])
    with pytest.raises(SystemExit):
        run.parse_args()
    assert 'not allowed with argument' in capsys.readouterr().err


@pytest.mark.parametrize('ratio, iters', [(8, 3000), (16, 3000), (4, 6000),
                                          (2, 6000)])
def test_baseline_length_follows_the_ratio(monkeypatch, ratio, iters):
    from mmengine.config import Config
    monkeypatch.setattr('sys.argv', ['run.py', '--ratio', str(ratio)])
    args = run.parse_args()
    assert args.baseline_iters == iters
    cfg = Config.fromfile(run.config_path('fast-scnn', 'baseline', ratio))
    cfg.merge_from_dict(run.supervised_options(args, baseline=True))
    assert cfg.train_cfg.baseline_iters == iters
    assert cfg.train_cfg.alphas == ()
    # the oracle keeps its config's length
    assert run.supervised_options(args, baseline=False) == {}


def test_baseline_iters_option_and_supervised_options_win(monkeypatch):
    monkeypatch.setattr('sys.argv', [
        'run.py', '--ratio', '4', '--baseline-iters', '4500',
        '--supervised-options', 'train_cfg.val_interval=500'
    ])
    args = run.parse_args()
    assert run.supervised_options(
        args, baseline=True) == {
            'train_cfg.baseline_iters': 4500,
            'train_cfg.val_interval': 500
        }
    assert run.supervised_options(
        args, baseline=False) == {
            'train_cfg.val_interval': 500
        }


@pytest.mark.parametrize('option, value', [('--baseline-iters', '0'),
                                           ('--jobs', '0')])
def test_counts_must_be_positive(monkeypatch, capsys, option, value):
    monkeypatch.setattr('sys.argv', ['run.py', option, value])
    with pytest.raises(SystemExit):
        run.parse_args()
    assert f'{option} must be >= 1, got 0' in capsys.readouterr().err


def test_every_model_has_its_three_configs():
    from mmengine.config import Config
    for model in run.MODELS:
        for kind in ('baseline', 'dst_cbc', 'oracle'):
            cfg = Config.fromfile(run.config_path(model, kind, 8))
            assert cfg.train_cfg.type == 'CurriculumTrainLoop'
            assert (cfg.train_cfg.alphas == ()) == (kind != 'dst_cbc')
        oracle = Config.fromfile(run.config_path(model, 'oracle'))
        assert oracle.train_dataloader.dataset.unlabeled is None
        assert oracle.train_dataloader.dataset.labeled.ann_file == 'train.txt'


def test_processes_split_the_cores_and_name_the_failing_log(
        monkeypatch, tmp_path):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(run.os, 'cpu_count', lambda: 8)
    assert run.Processes(2).env['OMP_NUM_THREADS'] == '4'
    assert run.Processes(16).env['OMP_NUM_THREADS'] == '1'
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    procs = run.Processes(2)
    assert procs.env['OMP_NUM_THREADS'] == '3'
    log = str(tmp_path / 'out.log')
    procs.run([
        sys.executable, '-c', 'import os; '
        'print(os.environ["OMP_NUM_THREADS"])'
    ], log)
    assert open(log).read() == '3\n'
    with pytest.raises(RuntimeError, match='exit 3.*out.log'):
        procs.run([sys.executable, '-c', 'raise SystemExit(3)'], log)


def test_train_writes_the_run_config_whole_before_training(tmp_path):
    """The config a training reads is written atomically (a stopped runner
    leaves no empty file) and loads back to the same settings."""
    from mmengine.config import Config

    calls = []

    class Processes:

        def run(self, cmd, log):
            calls.append(cmd)
            return 1.5

    bench = run.Benchmark.__new__(run.Benchmark)
    bench.processes = Processes()
    cfg = Config.fromfile(run.config_path('effnet-lite0', 'dst_cbc'))
    work_dir = str(tmp_path / 'row')
    assert bench.train(cfg, work_dir, {'train_cfg.round_iters': 7}) == 1.5
    path = osp.join(work_dir, 'benchmark_config.py')
    assert calls[0][-3:] == [path, '--work-dir', work_dir]
    assert Config.fromfile(path).train_cfg.round_iters == 7
    assert [f for f in os.listdir(work_dir)] == ['benchmark_config.py']


class RecordingBenchmark(run.Benchmark):
    """A benchmark whose trainings only record what they would train."""

    def __init__(self, args):
        self.args = args
        self.trained = []

    def supervised(self, name, split=None):
        self.trained.append(name)
        return dict(mIoU=40., checkpoint=f'{name}/best.pth', iters=3000)

    def dst_cbc(self, split, baseline, name='dst_cbc', variant=None):
        self.trained.append(f'split{split}/{name}')
        return dict(
            mIoU=45.,
            selected_round=1,
            rounds=[dict(round=0, iters=0),
                    dict(round=1, iters=600)])


def bench_args(argv):
    return run.parse_args(['--model', 'effnet-lite0'] + argv)


def test_split_trains_only_what_the_reused_entry_lacks():
    bench = RecordingBenchmark(bench_args([]))
    base = dict(mIoU=50., checkpoint='b.pth', iters=1500)
    dst = dict(mIoU=53., selected_round=5)
    reused = dict(baseline=base, dst_cbc=dst)
    assert bench.split(1, bench.baseline(1, reused), reused) == reused
    assert bench.trained == []
    reused = dict(baseline=base)
    entry = bench.split(2, bench.baseline(2, reused), reused)
    assert entry['baseline'] is base and entry['dst_cbc']['mIoU'] == 45.
    assert bench.trained == ['split2/dst_cbc']
    entry = bench.split(3, bench.baseline(3))
    assert entry['baseline']['checkpoint'] == 'split3/baseline/best.pth'
    assert bench.trained == [
        'split2/dst_cbc', 'split3/baseline', 'split3/dst_cbc'
    ]


def test_baselines_only_stops_after_the_baselines():
    bench = RecordingBenchmark(bench_args(['--baselines-only']))
    assert bench.split(1, bench.baseline(1)) == dict(
        baseline=dict(
            mIoU=40., checkpoint='split1/baseline/best.pth', iters=3000))
    assert bench.trained == ['split1/baseline']
    assert bench.oracle(None)['checkpoint'] == 'oracle/best.pth'
    results = dict(
        ratio=8,
        oracle=dict(mIoU=55., iters=3000, seconds=60., curve={3000: 55.}),
        splits={1: dict(baseline=dict(mIoU=50., seconds=120., curve={}))})
    text = run.table(results)
    assert '| 1 | 55.00 | 50.00 | - | - | - | - | 2.0 min |' in text
    assert 'mean gain' not in text and 'gap closed:' not in text


def test_baselines_only_excludes_the_ablation(capsys):
    with pytest.raises(SystemExit):
        bench_args(['--baselines-only', '--ablation', 'ST'])
    assert '--baselines-only trains no DST-CBC' in capsys.readouterr().err


def test_oracle_comes_from_the_reused_run_unless_told_otherwise(tmp_path):
    earlier = dict(splits={}, oracle=dict(mIoU=53.8, checkpoint='o.pth'))
    args = bench_args([])
    bench = RecordingBenchmark(args)
    assert bench.oracle(run.known_oracle(args, earlier))['mIoU'] == 53.8
    assert bench.oracle(run.known_oracle(args, dict(splits={})))['mIoU'] == 40.
    assert bench.trained == ['oracle']
    args = bench_args(['--no-oracle'])
    assert RecordingBenchmark(args).oracle(run.known_oracle(args,
                                                            earlier)) is None
    path = tmp_path / 'other.json'
    path.write_text(json.dumps(dict(oracle=dict(mIoU=60., checkpoint='x'))))
    args = bench_args(['--oracle-from', str(path)])
    assert RecordingBenchmark(args).oracle(run.known_oracle(
        args, earlier))['mIoU'] == 60.
    # A bad --oracle-from file stops the run before anything trains.
    args = bench_args(['--oracle-from', str(tmp_path / 'missing.json')])
    with pytest.raises(ValueError, match='missing.json: cannot read it'):
        run.known_oracle(args, earlier)


def test_ablation_trains_the_missing_rows_and_keeps_the_rest():
    bench = RecordingBenchmark(bench_args(['--ablation', 'ST', 'DST']))
    baseline = dict(checkpoint='b.pth')
    st = dict(mIoU=47.4, selected_round=0)
    ow = dict(mIoU=52.9, selected_round=3)
    rows = bench.ablation(baseline, dict(ST=st, OW=ow))
    assert bench.trained == ['split1/dst']
    assert rows['ST'] is st and rows['OW'] is ow and rows['DST']['mIoU'] == 45.
    assert set(rows) == {'ST', 'OW', 'DST'}
    assert RecordingBenchmark(bench_args([])).ablation(baseline, {}) == {}


def test_ablation_variant_applies_after_cfg_options(tmp_path):
    """ST's one round is as long as all the rounds --cfg-options set: 5
    rounds of 12 passes become one of 60, at alpha 1 and gamma 0 (applied
    the other way round, the options would cut it back to 12 passes)."""

    class Stop(Exception):
        pass

    class ConfigOnly(run.Benchmark):
        """Runs nothing: keeps the config it would train."""

        def train(self, cfg, work_dir, options):
            cfg.merge_from_dict(options)
            self.cfg = cfg
            raise Stop

    args = bench_args([
        '--out',
        str(tmp_path), '--cfg-options', 'train_cfg.round_iters=None',
        'train_cfg.epochs_per_round=12'
    ])
    bench = ConfigOnly(args, str(tmp_path / 'splits'))
    with pytest.raises(Stop):
        bench.dst_cbc(1, dict(checkpoint='b.pth'), 'st',
                      run.ablation_variants()['ST'])
    train_cfg = bench.cfg.train_cfg
    assert train_cfg.round_iters is None
    assert train_cfg.epochs_per_round == 60 and train_cfg.alphas == [1.0]
    assert bench.cfg.model.decode_head.loss_decode.gamma == 0.
    assert train_cfg.baseline_checkpoint == 'b.pth'
    with pytest.raises(Stop):
        bench.dst_cbc(1, dict(checkpoint='b.pth'))
    assert bench.cfg.train_cfg.epochs_per_round == 12
    assert bench.cfg.train_cfg.alphas == (0.2, 0.4, 0.6, 0.8, 1.0)


def test_reuse_round_trips_a_results_file_and_names_it_at_fault(tmp_path):
    args = bench_args(['--baseline-iters', '1500'])
    earlier = dict(
        model='effnet-lite0',
        ratio=8,
        main_seconds=4900.,
        splits={'1': dict(baseline=dict(iters=1500, mIoU=50.))})
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(earlier))
    assert run.load_reused(str(path), args) == dict(
        earlier, splits={1: dict(baseline=dict(iters=1500, mIoU=50.))})
    with pytest.raises(
            ValueError,
            match='results.json: its split 1 '
            'baseline trained 1500 iterations, this run asks '
            '3000'):
        run.load_reused(str(path), bench_args(['--baseline-iters', '3000']))
    with pytest.raises(
            ValueError,
            match='results.json: its run has '
            '--ratio 8, this one 16'):
        run.load_reused(str(path), bench_args(['--ratio', '16']))
    with pytest.raises(
            ValueError,
            match='its run has --model effnet-lite0, '
            'this one fast-scnn'):
        run.load_reused(str(path), run.parse_args([]))
    with pytest.raises(ValueError, match='missing.json: cannot read it'):
        run.load_reused(str(tmp_path / 'missing.json'), args)


def test_reuse_keeps_dst_cbc_only_if_it_had_the_same_cfg_options(tmp_path):
    """Rounds trained with other ``--cfg-options`` are not this run's: the
    oracle and baselines are kept, DST-CBC and the ablation train again.
    Other ``--supervised-options`` made other baselines: an error."""
    base = dict(iters=6000, mIoU=50.)
    earlier = dict(
        model='effnet-lite0',
        ratio=8,
        cfg_options={'train_cfg.round_iters': 600},
        supervised_options={},
        oracle=dict(mIoU=55.),
        splits={'1': dict(baseline=base, dst_cbc=dict(mIoU=53.))},
        ablation=dict(ST=dict(mIoU=47.)))
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(earlier))
    same = run.load_reused(
        str(path), bench_args(['--cfg-options', 'train_cfg.round_iters=600']))
    assert same['splits'][1]['dst_cbc'] == dict(mIoU=53.)
    assert same['ablation'] == earlier['ablation']
    other = run.load_reused(
        str(path),
        bench_args([
            '--cfg-options', 'train_cfg.round_iters=None',
            'train_cfg.epochs_per_round=12'
        ]))
    assert other['splits'] == {1: dict(baseline=base)}
    assert 'ablation' not in other and other['oracle'] == dict(mIoU=55.)
    # Tuples come back from JSON as lists and still match.
    earlier['cfg_options'] = {'train_cfg.alphas': [0.2, 0.4]}
    path.write_text(json.dumps(earlier))
    kept = run.load_reused(
        str(path), bench_args(['--cfg-options', 'train_cfg.alphas=(0.2,0.4)']))
    assert kept['splits'][1]['dst_cbc'] == dict(mIoU=53.)
    with pytest.raises(
            ValueError,
            match=r"--reuse .*results.json: its supervised models trained "
            r"with --supervised-options \{\}, this run asks "
            r"\{'optim_wrapper.optimizer.lr': 0.01\}"):
        run.load_reused(
            str(path),
            bench_args(
                ['--supervised-options', 'optim_wrapper.optimizer.lr=0.01']))


def test_main_with_everything_reused_trains_nothing_and_keeps_it_all(
        fake_camvid, tmp_path, monkeypatch):
    """A rerun with ``--reuse`` of a finished run trains nothing: its
    results, timings included, come back as they were."""
    out = tmp_path / 'out'
    base = dict(mIoU=50., seconds=60., iters=1500, curve={}, checkpoint='b')
    dst = dict(
        mIoU=53.,
        seconds=120.,
        selected_round=5,
        rounds=[dict(round=0, iters=0),
                dict(round=1, iters=600)],
        checkpoint='d')
    earlier = dict(
        ratio=8,
        model='effnet-lite0',
        oracle=dict(
            mIoU=54., iters=3000, seconds=90., curve={}, checkpoint='o'),
        splits={'1': dict(baseline=base, dst_cbc=dst)},
        ablation=dict(ST=dict(mIoU=47., selected_round=0)),
        main_seconds=300.,
        total_seconds=400.)
    path = tmp_path / 'earlier.json'
    path.write_text(json.dumps(earlier))
    monkeypatch.setattr(run, 'make_splits', lambda *a: str(tmp_path))
    monkeypatch.setattr(run, 'Benchmark',
                        lambda args, d: RecordingBenchmark(args))
    monkeypatch.setattr(run, 'plot', lambda results, p: None)
    monkeypatch.setattr(sys, 'argv', [
        'run.py', '--model', 'effnet-lite0', '--data-root',
        str(fake_camvid), '--out',
        str(out), '--splits', '1', '--reuse',
        str(path), '--baseline-iters', '1500', '--ablation', 'ST'
    ])
    run.main()
    results = json.loads((out / 'results.json').read_text())
    assert results['oracle'] == earlier['oracle']
    assert results['splits']['1'] == dict(
        earlier['splits']['1'], oracle=dict(mIoU=54., checkpoint='o'))
    assert results['ablation'] == earlier['ablation']
    assert results['reused'] == str(path)
    # Recorded, so that a later --reuse knows what DST-CBC trained with.
    assert results['cfg_options'] == results['supervised_options'] == {}
    assert results['main_seconds'] == pytest.approx(300., abs=5)
    assert results['total_seconds'] == pytest.approx(400., abs=5)


def test_main_trains_the_ablation_beside_dst_cbc(fake_camvid, tmp_path,
                                                 monkeypatch):
    """The ablation rows need only the first split's baseline: DST-CBC of
    that split does not end before an ablation row has started (it waits
    for one here, which would time out if the rows came after it)."""
    started = threading.Event()

    class Concurrent(RecordingBenchmark):

        def dst_cbc(self, split, baseline, name='dst_cbc', variant=None):
            if name == 'dst_cbc':
                assert started.wait(timeout=30), 'no ablation row started'
            else:
                started.set()
            assert baseline['checkpoint'] == f'split{split}/baseline/best.pth'
            return dict(
                super().dst_cbc(split, baseline, name, variant), seconds=1.)

        def supervised(self, name, split=None):
            return dict(super().supervised(name, split), seconds=1., curve={})

    benches = []
    monkeypatch.setattr(run, 'make_splits', lambda *a: str(tmp_path))
    monkeypatch.setattr(
        run, 'Benchmark',
        lambda args, d: benches.append(Concurrent(args)) or benches[-1])
    monkeypatch.setattr(run, 'plot', lambda results, p: None)
    monkeypatch.setattr(sys, 'argv', [
        'run.py', '--model', 'effnet-lite0', '--data-root',
        str(fake_camvid), '--out',
        str(tmp_path / 'out'), '--splits', '1', '2', '--no-oracle',
        '--ablation', 'ST', 'OW', '--jobs', '2'
    ])
    run.main()
    results = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert set(results['ablation']) == {'ST', 'OW'}
    assert set(results['splits']) == {'1', '2'}
    assert sorted(benches[0].trained) == [
        'split1/baseline', 'split1/dst_cbc', 'split1/ow', 'split1/st',
        'split2/baseline', 'split2/dst_cbc'
    ]
