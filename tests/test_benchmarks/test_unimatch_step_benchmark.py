"""The UniMatch step benchmark: its bare PyTorch step computes UniMatch's
four terms, and a run writes the medians and ratios it prints."""
import copy
import json

import pytest
import torch

from benchmarks.unimatch import run


@pytest.fixture(scope='module')
def model_and_data():
    torch.manual_seed(0)
    model = run.build_model()
    data = model.data_preprocessor(run.make_batch(), training=True)
    return model, data


def test_bare_step_computes_the_same_four_terms(model_and_data):
    model, data = model_and_data
    assert run.check_same_terms(model, data) < 1e-5
    # the check works on copies: the model's weights are untouched
    before = copy.deepcopy(model.state_dict())
    run.check_same_terms(model, data)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_table_names_the_machine_and_the_ratios():
    results = dict(
        machine=dict(cpu='CPU', capability='AVX2', threads=1, torch='2'),
        omp_num_threads='1',
        batch='4 + 4 + 4',
        iters=3,
        max_term_difference=1.2e-7,
        median_seconds=dict(train_step=2.2, loss=2.0, bare=2.0),
        ratio_to_bare=dict(train_step=1.1, loss=1.0, bare=1.0))
    text = run.table(results)
    assert text.startswith('CPU (AVX2), 1 thread(s), torch 2. '
                           'OMP_NUM_THREADS=1; 4 + 4 + 4, 3 timed steps')
    assert '1.2e-07' in text
    assert [[cell.strip() for cell in line.split('|')[1:4]]
            for line in text.splitlines()
            if '`train_step`' in line] == [['`train_step`', '2.200', '1.10']]


@pytest.mark.slow
def test_a_run_writes_its_results(tmp_path):
    run.main(['--iters', '1', '--out', str(tmp_path)])
    results = json.loads((tmp_path / 'results.json').read_text())
    assert set(results['median_seconds']) == {'train_step', 'loss', 'bare'}
    assert results['ratio_to_bare']['bare'] == 1.0
    assert all(len(s) == 1 for s in results['seconds'].values())
    assert results['max_term_difference'] < 1e-5
    assert (tmp_path / 'results.md').read_text().startswith(
        results['machine']['cpu'])
