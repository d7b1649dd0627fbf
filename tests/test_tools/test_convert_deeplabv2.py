"""Tests of tools/convert_deeplabv2_coco.py on a synthetic state dict with the
original DeepLabV2-ResNet-101 layout (AdvSemiSeg's ``Res_Deeplab``)."""
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torchvision
from mmengine.config import Config
from mmengine.model import initialize
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import dst_cbc  # noqa: F401
from mmseg.registry import MODELS
from tools import convert_deeplabv2_coco

ROOT = Path(__file__).resolve().parents[2]
MODEL_CFG = ROOT / 'configs' / '_base_' / 'models' / 'deeplabv2_r101-d8.py'
CITY_CFG = (
    ROOT / 'configs' / 'dst_cbc' /
    'dst-cbc_dlv2-r101-d8_1xb4+4_cityscapes-1-30_257x513.py')
V3PLUS_CFG = (
    ROOT / 'configs' / 'dst_cbc' /
    'dst-cbc_deeplabv3plus-r101-d8_1xb4+4_voc-aug-1-20_321x321.py')
# The paper protocol's model: torchvision's ResNet layout.
PAPER_CFG = ROOT / 'configs' / '_base_' / 'protocols' / 'paper_voc.py'
PAPER_DST_CBC_CFG = (
    ROOT / 'configs' / 'dst_cbc' / 'paper' /
    'dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-paper-1-20_321x321.py')
BN = ('weight', 'bias', 'running_mean', 'running_var')


def original_layout(num_classes=21):
    """Keys and shapes of the original DeepLabV2-ResNet-101, written from
    its definition: 7x7 stem, Bottleneck blocks (3, 4, 23, 3) of widths
    64..512 (x4 out), a downsample branch in every stage's first block, and
    four 3x3 classifier convolutions with bias from 2048 channels. The
    BatchNorm counters are absent, as in the 2017 file."""
    layout = [('conv1.weight', (64, 3, 7, 7))]
    layout += [(f'bn1.{n}', (64, )) for n in BN]
    inplanes = 64
    for stage, (blocks, planes) in enumerate(
            zip((3, 4, 23, 3), (64, 128, 256, 512)), 1):
        for b in range(blocks):
            p = f'layer{stage}.{b}.'
            cin = inplanes if b == 0 else planes * 4
            layout.append((p + 'conv1.weight', (planes, cin, 1, 1)))
            layout += [(p + f'bn1.{n}', (planes, )) for n in BN]
            layout.append((p + 'conv2.weight', (planes, planes, 3, 3)))
            layout += [(p + f'bn2.{n}', (planes, )) for n in BN]
            layout.append((p + 'conv3.weight', (planes * 4, planes, 1, 1)))
            layout += [(p + f'bn3.{n}', (planes * 4, )) for n in BN]
            if b == 0:
                layout.append(
                    (p + 'downsample.0.weight', (planes * 4, cin, 1, 1)))
                layout += [(p + f'downsample.1.{n}', (planes * 4, ))
                           for n in BN]
        inplanes = planes * 4
    for i in range(4):
        layout.append(
            (f'layer5.conv2d_list.{i}.weight', (num_classes, 2048, 3, 3)))
        layout.append((f'layer5.conv2d_list.{i}.bias', (num_classes, )))
    return layout


def authors_layout(num_classes=21):
    """Keys and shapes of the DST-CBC authors' model (``deeplab_v2`` of
    voldemortX/DST-CBC, branch dst-cbc): torchvision's ResNet-101 with
    ``replace_stride_with_dilation=[False, True, True]`` under
    ``backbone.`` (their ``IntermediateLayerGetter`` keeps conv1 .. layer4,
    BatchNorm counters included, and drops fc), and their
    ``DeepLabV2Head``: ``classifier.0`` is an ``ASPP_V2`` whose ``convs``
    are four 3x3 convolutions with bias from 2048 channels."""
    resnet = torchvision.models.resnet101(
        replace_stride_with_dilation=[False, True, True])
    layout = [('backbone.' + k, tuple(v.shape))
              for k, v in resnet.state_dict().items()
              if not k.startswith('fc.')]
    for i in range(4):
        layout.append(
            (f'classifier.0.convs.{i}.weight', (num_classes, 2048, 3, 3)))
        layout.append((f'classifier.0.convs.{i}.bias', (num_classes, )))
    return layout


@pytest.fixture(scope='module')
def tool():
    return convert_deeplabv2_coco


@pytest.fixture(scope='module')
def original():
    """Every tensor filled with its own index, so a wrong mapping shows."""
    return OrderedDict((key, torch.full(shape, float(i)))
                       for i, (key, shape) in enumerate(original_layout()))


def build_model(num_classes, config=MODEL_CFG):
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(config))
    cfg.model.decode_head.num_classes = num_classes
    return MODELS.build(cfg.model)


def test_layout_is_the_528_tensors_of_the_coco_file():
    # The authors' conversion reports "528 pascal voc shapes matched".
    assert len(original_layout()) == 528


def test_converted_weights_load_strictly_onto_the_right_parameters(
        tool, original):
    converted, kept = tool.convert_state_dict(original, num_classes=21)
    assert kept
    model = build_model(21)
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    state = model.state_dict()
    for i, key in enumerate(original):
        if key.startswith('layer5.'):
            ours = 'decode_head.' + key[len('layer5.'):]
        else:
            ours = 'backbone.' + key
        assert torch.all(state[ours] == i), key
    # A few by attribute, to pin the module structure itself.
    index = {key: i for i, key in enumerate(original)}
    backbone, head = model.backbone, model.decode_head
    assert torch.all(
        backbone.layer3[22].conv2.weight == index['layer3.22.conv2.weight'])
    assert torch.all(backbone.layer1[0].downsample[1].running_var ==
                     index['layer1.0.downsample.1.running_var'])
    assert torch.all(
        head.conv2d_list[3].bias == index['layer5.conv2d_list.3.bias'])
    # The counters the 2017 file lacks are added as 0: 104 BatchNorms.
    counters = [k for k in converted if k.endswith('num_batches_tracked')]
    assert len(counters) == 104
    assert all(converted[k].item() == 0 for k in counters)
    assert len(converted) == 528 + 104


@pytest.mark.parametrize('num_classes', [21, 19])
def test_converted_weights_load_into_the_paper_layout(tool, original,
                                                      num_classes):
    # The authors loaded the COCO weights into torchvision's ResNet
    # (stride on the 3x3 conv, contracted first dilated blocks): same keys
    # and shapes, so no key is missing or unexpected.
    converted, kept = tool.convert_state_dict(original, num_classes)
    assert kept == (num_classes == 21)
    tool.check_against_model(converted, num_classes, kept, 'coco.pth',
                             str(PAPER_CFG))
    model = build_model(num_classes, PAPER_CFG)
    assert model.backbone.layer2[0].conv2.stride == (2, 2)
    assert model.backbone.layer3[0].conv2.dilation == (1, 1)
    result = model.load_state_dict(converted, strict=kept)
    assert not result.missing_keys if kept else all(
        k.startswith('decode_head.') for k in result.missing_keys)
    assert not result.unexpected_keys
    index = {key: i for i, key in enumerate(original)}
    assert torch.all(model.backbone.layer3[0].conv2.weight ==
                     index['layer3.0.conv2.weight'])
    assert torch.all(model.backbone.layer4[0].downsample[0].weight ==
                     index['layer4.0.downsample.0.weight'])
    if kept:  # the two summed branches and the two frozen ones
        for i, conv in enumerate(model.decode_head.conv2d_list):
            assert torch.all(
                conv.weight == index[f'layer5.conv2d_list.{i}.weight'])


def test_the_model_is_the_original_architecture():
    model = build_model(21)
    b = model.backbone
    assert b.conv1.kernel_size == (7, 7) and b.conv1.stride == (2, 2)
    # caffe style: the stride is in the first 1x1 convolution of a block.
    assert b.layer2[0].conv1.stride == (2, 2)
    assert b.layer2[0].conv2.stride == (1, 1)
    # Output stride 8: no stride in the last two stages, every block of
    # stage 3 dilated by 2 and of stage 4 by 4 (no contracted first block).
    assert all(blk.conv2.dilation == (2, 2) for blk in b.layer3)
    assert all(blk.conv2.dilation == (4, 4) for blk in b.layer4)
    assert b.layer3[0].conv1.stride == b.layer4[0].conv1.stride == (1, 1)
    # Frozen BatchNorm: no trainable affine parameters, eval mode in train.
    bns = [m for m in b.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 104
    assert not any(p.requires_grad for m in bns for p in m.parameters())
    model.train()
    assert not any(m.training for m in bns)
    assert [c.dilation for c in model.decode_head.conv2d_list] == [(6, 6),
                                                                   (12, 12),
                                                                   (18, 18),
                                                                   (24, 24)]


def test_cli_drops_the_classifier_for_cityscapes_and_the_config_loads_it(
        tool, original, tmp_path):
    # The MS_DeepLab layout: every key prefixed with 'Scale.', saved in the
    # legacy (non-zip) format of the 2017 file.
    src = tmp_path / 'coco.pth'
    torch.save(
        OrderedDict(('Scale.' + k, v) for k, v in original.items()),
        src,
        _use_new_zipfile_serialization=False)
    out_dir = tmp_path / 'pretrain'
    dst = out_dir / 'deeplabv2_r101-coco_cityscapes.pth'
    converted = tool.main([str(src), str(dst), '--num-classes', '19'])
    assert sorted(p.name for p in out_dir.iterdir()) == [dst.name]
    assert not any(k.startswith('decode_head.') for k in converted)
    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    assert checkpoint['meta'] == dict(
        source='coco.pth', num_classes=19, classifier_kept=False)

    # The Cityscapes config's init_cfg loads it: backbone from COCO, head
    # untouched.
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(CITY_CFG))
    assert cfg.model.init_cfg.type == 'Pretrained'
    cfg.model.init_cfg.checkpoint = str(dst)
    model = MODELS.build(cfg.model)
    head_before = model.decode_head.conv2d_list[0].weight.detach().clone()
    initialize(model, cfg.model.init_cfg)
    index = {key: i for i, key in enumerate(original)}
    conv3 = model.backbone.layer4[2].conv3.weight
    assert torch.all(conv3 == index['layer4.2.conv3.weight'])
    assert torch.all(model.backbone.bn1.bias == index['bn1.bias'])
    assert torch.equal(model.decode_head.conv2d_list[0].weight, head_before)

    # The DeepLabV3+ config takes the backbone part of the same file.
    cfg = Config.fromfile(str(V3PLUS_CFG))
    assert cfg.model.init_cfg is None
    init_cfg = cfg.model.backbone.init_cfg
    assert (init_cfg.type, init_cfg.prefix) == ('Pretrained', 'backbone.')
    init_cfg.checkpoint = str(dst)
    model = MODELS.build(cfg.model)
    initialize(model.backbone, init_cfg)
    conv3 = model.backbone.layer4[2].conv3.weight
    assert torch.all(conv3 == index['layer4.2.conv3.weight'])


def test_bad_inputs_raise_errors_naming_the_file(tool, original, tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        tool.load_state_dict(str(missing))
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='notes.pth'):
        tool.load_state_dict(str(text))

    with pytest.raises(ValueError, match=r'src\.pth.*fc\.weight'):
        tool.convert_state_dict(
            dict(original, **{'fc.weight': torch.zeros(1)}),
            21,
            source='src.pth')
    no_head = {k: v for k, v in original.items() if 'layer5' not in k}
    with pytest.raises(ValueError, match='classifier'):
        tool.convert_state_dict(no_head, 21)

    wrong = dict(original)
    wrong['layer4.2.conv3.weight'] = torch.zeros(2048, 512, 3, 3)
    converted, kept = tool.convert_state_dict(wrong, 21)
    with pytest.raises(ValueError, match=r'src\.pth.*layer4\.2\.conv3'):
        tool.check_against_model(converted, 21, kept, 'src.pth')
    with pytest.raises(ValueError, match=r'paper_voc\.py.*layer4\.2\.conv3'):
        tool.check_against_model(converted, 21, kept, 'src.pth',
                                 str(PAPER_CFG))

    # A failed conversion writes nothing.
    src = tmp_path / 'short.pth'
    torch.save({k: original[k] for k in list(original)[:10]}, src)
    dst = tmp_path / 'out' / 'converted.pth'
    with pytest.raises(ValueError, match='short.pth'):
        tool.main([str(src), str(dst), '--num-classes', '21'])
    assert not dst.parent.exists()


# -- the authors' checkpoints -------------------------------------------------
def test_authors_layout_is_their_632_keys():
    # 528 tensors of the COCO file in their names, plus the 104 BatchNorm
    # counters their convert_coco_resnet101.py reports as extra.
    layout = dict(authors_layout())
    assert len(layout) == 632
    assert sum(k.endswith('num_batches_tracked') for k in layout) == 104
    assert sorted(k for k in layout if not k.startswith('backbone.')) == [
        f'classifier.0.convs.{i}.{p}' for i in range(4)
        for p in ('bias', 'weight')
    ]


def authors_checkpoint(path):
    """Write a checkpoint as the authors' ``save_checkpoint`` does (torch
    1.2's legacy format): every tensor filled with its index, trained
    BatchNorm counters, and the optimizer, poly scheduler and apex amp
    states of a mixed-precision run."""
    model = OrderedDict(
        (key, torch.full(shape, float(i), dtype=torch.float32
                         ) if shape else torch.tensor(8978, dtype=torch.long))
        for i, (key, shape) in enumerate(authors_layout()))
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = torch.optim.SGD([param], lr=2e-3, momentum=0.9)
    param.sum().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda x: (1 - x / 8978)**0.9)
    torch.save(
        dict(
            model=model,
            optimizer=optimizer.state_dict(),
            lr_scheduler=scheduler.state_dict(),
            amp=OrderedDict(
                loss_scaler0=dict(loss_scale=65536.0, unskipped=12))),
        path,
        _use_new_zipfile_serialization=False)
    return model


def test_the_authors_round_0_model_starts_a_paper_protocol_run(tool, tmp_path):
    src, dst = tmp_path / 'fs_voc_20-1.pt', tmp_path / 'round0.pth'
    theirs = authors_checkpoint(src)
    converted = tool.main([str(src), str(dst), '--num-classes', '21'])
    assert len(converted) == 632
    # Their trained counters are kept, not reset to 0.
    counters = [k for k in converted if k.endswith('num_batches_tracked')]
    assert len(counters) == 104
    assert all(converted[k].item() == 8978 for k in counters)
    # What train_cfg.baseline_checkpoint loads: every tensor of the paper
    # protocol's model, from the tensor of the same role.
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(str(PAPER_DST_CBC_CFG)).model)
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    index = {key: i for i, key in enumerate(theirs)}
    state = model.state_dict()
    for key in theirs:
        if key.startswith('classifier.'):
            ours = 'decode_head.conv2d_list.' + key[len('classifier.0.'
                                                        'convs.'):]
        else:
            ours = key
        if not key.endswith('num_batches_tracked'):
            assert torch.all(state[ours] == index[key]), key
    assert torch.all(model.decode_head.conv2d_list[1].bias ==
                     index['classifier.0.convs.1.bias'])
    assert torch.all(model.backbone.layer3[22].bn2.running_var ==
                     index['backbone.layer3.22.bn2.running_var'])


def test_a_tensor_in_two_layouts_is_refused(tool, original):
    both = dict(original)
    both['backbone.conv1.weight'] = original['conv1.weight']
    with pytest.raises(
            ValueError,
            match=r"theirs\.pt: 'conv1\.weight' and 'backbone\.conv1\.weight'"
    ):
        tool.convert_state_dict(both, 21, source='theirs.pt')
