"""The mixed-precision benchmark's core functions, on tiny inputs.

No wall time is asserted; only what the benchmark relies on: the batch is
half pseudo-labeled, the step variants train (bf16 under autocast,
channels_last spreading from the weights) and the ratios are the ratios of
the medians.
"""
import pytest
import torch

from benchmarks.amp import run as amp_bench
from dst_cbc.engine.precision import cpu_supports_bf16


def test_random_batch_is_half_pseudo_labeled():
    batch = amp_bench.random_batch((4, 6), 4, 3, seed=0)
    assert [s.metainfo['is_pseudo']
            for s in batch['data_samples']] == [False, False, True, True]
    assert all(x.shape == (3, 4, 6) and x.dtype == torch.uint8
               for x in batch['inputs'])
    labels = torch.stack([s.gt_sem_seg.data for s in batch['data_samples']])
    assert labels.min() >= 0 and labels.max() <= 2
    again = amp_bench.random_batch((4, 6), 4, 3, seed=0)
    assert torch.equal(batch['inputs'][3], again['inputs'][3])


@pytest.mark.skipif(not cpu_supports_bf16(), reason='no bf16 on this CPU')
def test_step_times_of_the_four_variants():
    spec = amp_bench.ModelSpec('DLV2-R18-mini',
                               amp_bench.base_model('dlv2_r18-mini.py'),
                               (32, 32), 2, 3)
    step = amp_bench.step_times(spec, repeats=3, warmup=1, seed=0)
    assert set(step['seconds']) == set(amp_bench.VARIANTS)
    assert all(len(s) == 3 for s in step['seconds'].values())
    median = step['median']
    assert median['fp32'] == sorted(step['seconds']['fp32'])[1]
    assert step['bf16_vs_fp32'] == median['bf16'] / median['fp32']
    assert step['cl_vs_contiguous_bf16'] == median['bf16_cl'] / median['bf16']
    assert step['cl_propagates'] is True


def test_base_model_applies_overrides():
    model = amp_bench.base_model('deeplabv2_r101-d8.py', init_cfg=None)()
    assert model['init_cfg'] is None
    assert model['backbone']['depth'] == 101
