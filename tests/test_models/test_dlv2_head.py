"""Tests of the DeepLabV2 head: four dilated 3x3 convs, all summed."""
import pytest
import torch
import torch.nn as nn
from mmengine.structures import PixelData

from dst_cbc.models import DLV2Head
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def build_head(**kwargs) -> DLV2Head:
    cfg = dict(
        type='DLV2Head',
        in_channels=4,
        num_classes=3,
        in_index=3,
        input_transform=None,
        loss_decode=dict(type='CrossEntropyLoss'))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def features(channels: int = 4, size: tuple = (7, 9)) -> tuple:
    """Four backbone levels; only level 3 has ``channels`` channels."""
    torch.manual_seed(0)
    return tuple(
        torch.randn(2, channels if i == 3 else 1, *size) for i in range(4))


def test_structure_four_dilated_convs_with_bias_and_nothing_else():
    head = build_head()
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    assert [c.dilation for c in convs] == [(6, 6), (12, 12), (18, 18),
                                           (24, 24)]
    assert [c.padding for c in convs] == [(6, 6), (12, 12), (18, 18), (24, 24)]
    for conv in convs:
        assert conv.kernel_size == (3, 3)
        assert (conv.in_channels, conv.out_channels) == (4, 3)
        assert conv.bias is not None
    assert not hasattr(head, 'conv_seg')
    assert head.dropout is None
    assert sorted(head.state_dict()) == sorted(f'conv2d_list.{i}.{p}'
                                               for i in range(4)
                                               for p in ('weight', 'bias'))
    assert len(build_head(dilations=(1, 2)).conv2d_list) == 2


def test_output_shape():
    assert build_head()(features()).shape == (2, 3, 7, 9)


def test_every_branch_is_summed_with_its_own_dilation():
    # One input channel, class 0 only (classes 1, 2 have zero weights), a
    # single impulse of 1 at (25, 25) on a
    # 50x50 map. Branch k keeps only its top-left tap, set to k + 1, and a
    # zero bias: a top-left tap of dilation d reads the input at
    # (y - d, x - d), so branch k outputs k + 1 at (25 + d_k, 25 + d_k).
    # The sum therefore has exactly 1 at (31, 31), 2 at (37, 37),
    # 3 at (43, 43), 4 at (49, 49), and zeros elsewhere. (Summing only the
    # first two branches, as the original code did, would miss 3 and 4.)
    head = build_head(in_channels=1)
    with torch.no_grad():
        for k, conv in enumerate(head.conv2d_list):
            conv.weight.zero_()
            conv.weight[0, 0, 0, 0] = k + 1
            conv.bias.zero_()
    x = torch.zeros(1, 1, 50, 50)
    x[0, 0, 25, 25] = 1.0
    out = head((x, x, x, x))
    expected = torch.zeros(1, 3, 50, 50)
    for value, pos in zip((1, 2, 3, 4), (31, 37, 43, 49)):
        expected[0, 0, pos, pos] = value
    assert torch.equal(out, expected)


def test_biases_of_all_branches_are_summed():
    # Zero weights, bias of branch k = 10 ** k: every logit is
    # 1 + 10 + 100 + 1000 = 1111.
    head = build_head()
    with torch.no_grad():
        for k, conv in enumerate(head.conv2d_list):
            conv.weight.zero_()
            conv.bias.fill_(10.0**k)
    assert torch.equal(head(features()), torch.full((2, 3, 7, 9), 1111.0))


def test_init_is_normal_std_001_and_zero_bias():
    torch.manual_seed(0)
    head = build_head(in_channels=64, num_classes=8)
    head.init_weights()
    for conv in head.conv2d_list:
        # 8 * 64 * 9 = 4608 draws: the sample std is within a few % of 0.01.
        assert conv.weight.std().item() == pytest.approx(0.01, rel=0.05)
        assert conv.weight.mean().abs().item() < 1e-3
        assert torch.equal(conv.bias, torch.zeros(8))


def test_every_parameter_gets_a_gradient():
    head = build_head()
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 14, 18)))
        samples.append(sample)
    losses = head.loss(features(), samples, train_cfg=dict())
    losses['loss_ce'].backward()
    for name, param in head.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_multiple_select_is_rejected():
    with pytest.raises(ValueError, match='multiple_select'):
        build_head(
            in_channels=[4, 4],
            in_index=[2, 3],
            input_transform='multiple_select')


# -- the authors' two-branch sum (paper protocol) -----------------------------
def test_summed_branches_2_adds_only_dilations_6_and_12():
    # The impulse set-up of the four-branch test: branch k outputs k + 1 at
    # (25 + d_k, 25 + d_k). Summing the first two branches leaves exactly
    # 1 at (31, 31) and 2 at (37, 37); the 3 and 4 of dilations 18 and 24
    # are gone although their weights are set.
    head = build_head(in_channels=1, summed_branches=2)
    with torch.no_grad():
        for k, conv in enumerate(head.conv2d_list):
            conv.weight.zero_()
            conv.weight[0, 0, 0, 0] = k + 1
            conv.bias.zero_()
    x = torch.zeros(1, 1, 50, 50)
    x[0, 0, 25, 25] = 1.0
    expected = torch.zeros(1, 3, 50, 50)
    expected[0, 0, 31, 31] = 1
    expected[0, 0, 37, 37] = 2
    assert torch.equal(head((x, x, x, x)), expected)


def test_summed_branches_2_equals_branch_6_plus_branch_12():
    head = build_head(summed_branches=2)
    torch.manual_seed(1)
    head.init_weights()
    feats = features()
    x = feats[3]
    branch6, branch12 = head.conv2d_list[0], head.conv2d_list[1]
    assert (branch6.dilation, branch12.dilation) == ((6, 6), (12, 12))
    assert torch.allclose(head(feats), branch6(x) + branch12(x), atol=1e-6)
    # Zero biases 1 and 2, then biases 10 and 100 on the unused branches
    # change nothing: every logit stays 1 + 2 = 3 with zero weights.
    with torch.no_grad():
        for k, conv in enumerate(head.conv2d_list):
            conv.weight.zero_()
            conv.bias.fill_((1.0, 2.0, 10.0, 100.0)[k])
    assert torch.equal(head(feats), torch.full((2, 3, 7, 9), 3.0))


def test_unsummed_branches_get_no_gradient_but_keep_their_weights():
    head = build_head(summed_branches=2)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 14, 18)))
        samples.append(sample)
    losses = head.loss(features(), samples, train_cfg=dict())
    losses['loss_ce'].backward()
    for k, conv in enumerate(head.conv2d_list):
        for param in conv.parameters():
            if k < 2:
                assert param.requires_grad and param.grad.abs().sum() > 0
            else:
                assert not param.requires_grad and param.grad is None
    # All four branches stay in the state dict: DeepLabV2 weights load.
    assert sorted(head.state_dict()) == sorted(f'conv2d_list.{i}.{p}'
                                               for i in range(4)
                                               for p in ('weight', 'bias'))


@pytest.mark.parametrize('summed', [0, 5, 2.0, -1])
def test_bad_summed_branches_is_named(summed):
    with pytest.raises(ValueError, match='summed_branches'):
        build_head(summed_branches=summed)
