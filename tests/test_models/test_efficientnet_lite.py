"""Tests of the EfficientNet-Lite backbone and its ImageNet weights."""
import math
from typing import Dict, List

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn.bricks import Conv2dAdaptivePadding
from torch import Tensor

from dst_cbc.models.backbones import (EfficientNetLite,
                                      convert_efficientnet_lite,
                                      pretrained_weights)
from dst_cbc.models.backbones.efficientnet_lite import round_channels

# Blocks (counted over all stages) with stride 2 in EfficientNet-Lite0,
# from the TensorFlow definition: the first block of stages 2, 3, 4 and 6.
LITE0_STRIDE2_BLOCKS = (1, 3, 5, 11)
# Layer index of the last block of each stage of Lite0 (blocks 0, 2, 4, 7,
# 10, 14, 15 end stages 1..7).
LITE0_STAGE_ENDS = {0: 1, 2: 2, 4: 3, 7: 4, 10: 5, 14: 6, 15: 7}


def lite0_weights() -> Dict[str, Tensor]:
    """The packaged Lite0 weights, or skip the test if not installed."""
    try:
        path = pretrained_weights('lite0')
    except ImportError as e:
        pytest.skip(str(e))
    return torch.load(path, map_location='cpu')


def tf_same_pad(x: Tensor, kernel: int, stride: int) -> Tensor:
    """Pad ``x`` as TensorFlow's "same": output size ceil(in / stride),
    the odd pixel of padding at the bottom / right."""
    pads = []
    for size in (x.shape[3], x.shape[2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def reference_lite0(sd: Dict[str, Tensor], x: Tensor) -> List[Tensor]:
    """EfficientNet-Lite0 in plain torch on the raw EfficientNet-PyTorch
    state dict, read by its original keys.

    Every convolution is ``F.conv2d`` of the explicitly padded input
    (:func:`tf_same_pad`), every BN ``F.batch_norm`` with the running
    statistics and epsilon 1e-3, every activation ReLU6 (``clamp(0, 6)``).
    Strides come from ``LITE0_STRIDE2_BLOCKS``, the rest from the tensors:
    a block expands if it has ``_expand_conv``, its kernel is the depthwise
    weight's size, it adds its input when the stride is 1 and the channels
    match. Returns the stem output, the output of each stage and the head
    convolution's (9 tensors, as the backbone's layers).
    """

    def conv_bn(x, conv, bn, stride=1, groups=1, act=True):
        weight = sd[f'{conv}.weight']
        x = F.conv2d(
            tf_same_pad(x, weight.shape[-1], stride),
            weight,
            stride=stride,
            groups=groups)
        x = F.batch_norm(
            x,
            sd[f'{bn}.running_mean'],
            sd[f'{bn}.running_var'],
            sd[f'{bn}.weight'],
            sd[f'{bn}.bias'],
            training=False,
            eps=1e-3)
        return x.clamp(0, 6) if act else x

    x = conv_bn(x, '_conv_stem', '_bn0', stride=2)
    outs = [x]
    for n in range(16):
        b = f'_blocks.{n}'
        inp = x
        if f'{b}._expand_conv.weight' in sd:
            x = conv_bn(x, f'{b}._expand_conv', f'{b}._bn0')
        stride = 2 if n in LITE0_STRIDE2_BLOCKS else 1
        x = conv_bn(
            x,
            f'{b}._depthwise_conv',
            f'{b}._bn1',
            stride=stride,
            groups=x.shape[1])
        x = conv_bn(x, f'{b}._project_conv', f'{b}._bn2', act=False)
        if stride == 1 and x.shape == inp.shape:
            x = x + inp
        if n in LITE0_STAGE_ENDS:
            outs.append(x)
    outs.append(conv_bn(x, '_conv_head', '_bn1'))
    return outs


def test_same_padding_hand_computed():
    """k3 s2: 8 -> 4 outputs need (4 - 1) * 2 + 3 - 8 = 1 pixel, at the
    end; 7 -> 4 outputs need 2, one each side; k5 s2 on 8: 3, (1, 2)."""
    x8 = torch.zeros(1, 1, 8, 8)
    assert tf_same_pad(x8, 3, 2).shape[-2:] == (9, 9)
    conv = Conv2dAdaptivePadding(1, 1, 3, stride=2, bias=False)
    conv.weight.data.fill_(1.)
    # With ones everywhere, an output is the count of real (unpadded)
    # pixels under its window; padding (0, 1, 0, 1) leaves the last row
    # and column windows two pixels tall / wide.
    out = conv(torch.ones(1, 1, 8, 8))[0, 0]
    expected = torch.full((4, 4), 9.)
    expected[-1, :] = 6.
    expected[:, -1] = 6.
    expected[-1, -1] = 4.
    assert torch.equal(out, expected)
    # 7x7: padding (1, 1, 1, 1); first and last windows are two wide.
    out = conv(torch.ones(1, 1, 7, 7))[0, 0]
    edge = torch.tensor([2., 3., 3., 2.])
    assert torch.equal(out, edge[:, None] * edge[None, :])
    conv5 = Conv2dAdaptivePadding(1, 1, 5, stride=2, bias=False)
    conv5.weight.data.fill_(1.)
    out = conv5(torch.ones(1, 1, 8, 8))[0, 0, 0]
    # Padding (1, 2): windows cover real columns 0-3, 1-5, 3-7, 5-7.
    assert out.tolist() == [4. * 4, 4. * 5, 4. * 5, 4. * 3]


def test_round_channels_as_tensorflow():
    # Lite2 (width 1.1): 40 -> 44 -> 48, 112 -> 123.2 -> 120, 16 stays.
    assert [round_channels(c, 1.1) for c in (16, 24, 40, 80, 112, 192, 320)
            ] == [16, 24, 48, 88, 120, 208, 352]
    assert round_channels(40, 1.0) == 40


@pytest.mark.parametrize('arch,depths,channels', [
    ('lite0', [1, 2, 2, 3, 3, 4, 1], [16, 24, 40, 80, 112, 192, 320]),
    ('lite1', [1, 3, 3, 4, 4, 5, 1], [16, 24, 40, 80, 112, 192, 320]),
    ('lite2', [1, 3, 3, 4, 4, 5, 1], [16, 24, 48, 88, 120, 208, 352]),
])
def test_output_shapes_and_strides(arch, depths, channels):
    """Strides 2, 2, 4, 8, 16, 16, 32, 32, 32; sizes are ceil(in / stride)
    (TensorFlow "same"), here on a 36x52 input: 36 -> 18, 9, 5, 3, 2."""
    model = EfficientNetLite(arch, out_indices=range(9)).eval()
    assert model.stage_depths == depths
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 36, 52))
    strides = [2, 2, 4, 8, 16, 16, 32, 32, 32]
    assert [o.shape[1] for o in outs] == [32] + channels + [1280]
    assert model.layer_channels == [32] + channels + [1280]
    for out, stride in zip(outs, strides):
        assert tuple(out.shape[2:]) == (math.ceil(36 / stride),
                                        math.ceil(52 / stride))


def test_out_indices_select_layers():
    model = EfficientNetLite(out_indices=(3, 8)).eval()
    with torch.no_grad():
        c1, c5 = model(torch.randn(2, 3, 32, 32))
    assert c1.shape == (2, 40, 4, 4) and c5.shape == (2, 1280, 1, 1)


def test_bad_options_name_the_option():
    with pytest.raises(ValueError, match='arch'):
        EfficientNetLite('lite7')
    with pytest.raises(ValueError, match='out_indices'):
        EfficientNetLite(out_indices=(9, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        EfficientNetLite(frozen_stages=9)
    with pytest.raises(ValueError, match='lite3'):
        pretrained_weights('lite3')


def test_converted_weights_cover_every_key():
    """The packaged Lite0 state dict, converted, has exactly the backbone's
    keys and shapes (only the ImageNet classifier ``_fc`` is dropped)."""
    sd = lite0_weights()
    model = EfficientNetLite('lite0')
    converted = convert_efficientnet_lite(sd, model.stage_depths)
    expected = model.state_dict()
    assert set(converted) == set(expected)
    assert len(converted) == len(sd) - 2
    for key, value in converted.items():
        assert value.shape == expected[key].shape, key
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_init_weights_loads_the_installed_package():
    sd = lite0_weights()
    model = EfficientNetLite(
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0'))
    model.init_weights()
    assert torch.equal(model.layers[0].conv.weight, sd['_conv_stem.weight'])
    assert torch.equal(model.layers[2][1].depthwise_conv.bn.running_var,
                       sd['_blocks.2._bn1.running_var'])
    assert torch.equal(model.layers[8].conv.weight, sd['_conv_head.weight'])


def test_converter_rejects_keys_of_another_network():
    """A full EfficientNet has squeeze-excite layers: named in the error."""
    with pytest.raises(KeyError, match='_se_reduce'):
        convert_efficientnet_lite(
            {'_blocks.0._se_reduce.weight': torch.zeros(1)}, [1])
    with pytest.raises(KeyError, match='_blocks.1._bn0'):
        convert_efficientnet_lite({'_blocks.1._bn0.weight': torch.zeros(1)},
                                  [1])


def test_init_weights_error_names_the_file(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save({'conv1.weight': torch.zeros(1)}, path)
    model = EfficientNetLite(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match='other.pth'):
        model.init_weights()


def test_features_equal_plain_torch_reference():
    """All 9 layer outputs of the backbone with converted weights equal the
    plain-torch network of :func:`reference_lite0` on the raw weights, on an
    odd-sized input (37x50: padding is symmetric at some stride-2 layers
    and asymmetric at others)."""
    sd = lite0_weights()
    model = EfficientNetLite(out_indices=range(9)).eval()
    model.load_state_dict(convert_efficientnet_lite(sd, model.stage_depths))
    torch.manual_seed(0)
    x = torch.randn(2, 3, 37, 50)
    with torch.no_grad():
        outs = model(x)
        expected = reference_lite0(sd, x)
    assert len(outs) == len(expected) == 9
    for i, (out, ref) in enumerate(zip(outs, expected)):
        assert out.shape == ref.shape, i
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_frozen_stages_get_no_gradient_and_stay_in_eval():
    model = EfficientNetLite(out_indices=(8, ), frozen_stages=2)
    model.train()
    for i, layer in enumerate(model.layers):
        frozen = i <= 2
        assert all(p.requires_grad != frozen for p in layer.parameters())
        assert all(m.training != frozen for m in layer.modules())
    stats = model.layers[1][0].depthwise_conv.bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))[0].sum().backward()
    for i, layer in enumerate(model.layers):
        grads = [p.grad for p in layer.parameters()]
        if i <= 2:
            assert all(g is None for g in grads)
        else:
            assert all(g is not None for g in grads)
    assert torch.equal(model.layers[1][0].depthwise_conv.bn.running_mean,
                       stats)


def test_norm_eval_keeps_every_bn_in_eval_mode():
    model = EfficientNetLite(norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(bn.training for bn in bns)
    assert model.layers[3].training
    bn = model.layers[8].bn
    stats = bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(bn.running_mean, stats)


def test_bn_settings_follow_the_original():
    """TensorFlow's BN: epsilon 1e-3, decay 0.99 (PyTorch momentum 0.01)."""
    bns = [
        m for m in EfficientNetLite().modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert all(bn.eps == 1e-3 and bn.momentum == 0.01 for bn in bns)
    acts = [
        m for m in EfficientNetLite().modules()
        if isinstance(m, torch.nn.ReLU6)
    ]
    # stem + head + (expand + depthwise) per block, block 0 no expand.
    assert len(acts) == 2 + 2 * 16 - 1
