"""Convert DeepLabV2-ResNet-101 weights to this project's model.

The paper (like AdvSemiSeg) starts from ``resnet101COCO-41f33a49.pth``, the
original Caffe DeepLabV2 model pretrained on MS-COCO, in the PyTorch layout
of ``Res_Deeplab``: ``conv1.weight``, ``bn1.*``,
``layer{1..4}.<block>.{conv1,conv2,conv3,bn1,bn2,bn3,downsample.0,
downsample.1}.*`` and the classifier ``layer5.conv2d_list.{0..3}.{weight,
bias}`` (21 classes). Files of DeepLab-ResNet-pytorch's ``MS_DeepLab`` carry
a ``Scale.`` prefix, which is removed.

It also takes the DST-CBC authors' own checkpoints (``voldemortX/DST-CBC``,
e.g. their published VOC 1/20 round-0 model, 61.68 mIoU): ``{'model':
state_dict, 'optimizer', 'lr_scheduler', 'amp'}`` as their
``save_checkpoint`` writes it, the model being torchvision's
``IntermediateLayerGetter`` ResNet-101 under ``backbone.*`` (with its 104
BatchNorm counters) and their ``DeepLabV2Head`` as
``classifier.0.convs.{0..3}.{weight,bias}``: 632 tensors.

The keys become ``backbone.*`` (MMSeg's ``ResNet``, same names) and
``decode_head.conv2d_list.*`` (``DLV2Head``); the BatchNorm counters the
2017 file lacks are added as 0 (a checkpoint's own are kept). The classifier
is kept only when it has ``--num-classes`` outputs (VOC: 21), as the
authors' conversion did; otherwise it is dropped and the head starts from
its own initialisation.

Example::

    python tools/convert_deeplabv2_coco.py resnet101COCO-41f33a49.pth \\
        pretrain/deeplabv2_r101-coco_voc.pth --num-classes 21
    python tools/convert_deeplabv2_coco.py resnet101COCO-41f33a49.pth \\
        pretrain/deeplabv2_r101-coco_cityscapes.pth --num-classes 19
    # the authors' round-0 model, to start DST-CBC from it
    # (train_cfg.baseline_checkpoint)
    python tools/convert_deeplabv2_coco.py fs_voc_20-1.pt \\
        pretrain/authors_voc-1-20-shuffle1_round0.pth --num-classes 21

The result is checked (every key and shape) against the model of both
protocols before it is written (to a temporary file renamed at the end):
``configs/_base_/models/deeplabv2_r101-d8.py`` (caffe-style ResNet, the
corrected protocol) and ``configs/_base_/protocols/paper_voc.py``
(torchvision's layout, into which the authors loaded these weights). The
two layouts differ in strides and dilations only, so one file serves both.
"""
import argparse
import os
import os.path as osp
import re
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Configs whose ``model`` the converted weights must fit exactly.
MODEL_CONFIGS = (
    osp.join(ROOT, 'configs', '_base_', 'models', 'deeplabv2_r101-d8.py'),
    osp.join(ROOT, 'configs', '_base_', 'protocols', 'paper_voc.py'),
)
#: Prefixes of the original layout's keys, removed: DeepLab-ResNet-pytorch's
#: ``MS_DeepLab`` and the authors' backbone (torchvision's names below it).
PREFIXES = ('Scale.', 'backbone.')
#: The authors' classifier (``classifier.0`` is their ``ASPP_V2``), renamed
#: to the original's.
AUTHORS_CLASSIFIER = 'classifier.0.convs.'
ORIGINAL_CLASSIFIER = 'layer5.conv2d_list.'
#: Keys under which a checkpoint file holds its state dict: MMEngine's, the
#: authors' ``save_checkpoint``.
WRAPPER_KEYS = ('state_dict', 'model')
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
BACKBONE_KEY = re.compile(r'^(conv1\.weight|bn1\.' + _BN +
                          r'|layer[1-4]\.\d+\.('
                          r'conv[123]\.weight|bn[123]\.' + _BN +
                          r'|downsample\.0\.weight|'
                          r'downsample\.1\.' + _BN + r'))$')
CLASSIFIER_KEY = re.compile(r'^layer5\.conv2d_list\.(\d+)\.(weight|bias)$')


def load_state_dict(path: str) -> Dict[str, Tensor]:
    """Read a state dict of tensors, without executing pickled code.

    A ``{'state_dict': ...}`` wrapper (MMEngine) or ``{'model': ...}``
    wrapper (the DST-CBC authors' checkpoints, whose optimizer, scheduler
    and amp states are ignored) is unwrapped.

    Args:
        path (str): The ``.pth`` file.

    Returns:
        dict[str, Tensor]: The tensors by key.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: It is not a readable, non-empty state dict of tensors.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises many types for bad files
        raise ValueError(f'{path}: not a readable PyTorch state dict '
                         f'({type(error).__name__}: {error})') from error
    for wrapper in WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f'{path}: expected a non-empty dict of tensors, '
                         f'got {type(obj).__name__}')
    return dict(obj)


def original_name(key: str) -> str:
    """The name of a key in the original ``Res_Deeplab`` layout.

    Args:
        key (str): A key of the original, ``MS_DeepLab`` (``Scale.``) or
            authors' (``backbone.``, ``classifier.0.convs.``) layout.

    Returns:
        str: The key without its layout's prefix, the authors' classifier
        renamed ``layer5.conv2d_list.*``.
    """
    if key.startswith(AUTHORS_CLASSIFIER):
        return ORIGINAL_CLASSIFIER + key[len(AUTHORS_CLASSIFIER):]
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def convert_state_dict(
        state_dict: Dict[str, Tensor],
        num_classes: int,
        source: str = 'state dict') -> Tuple[Dict[str, Tensor], bool]:
    """Rename the original DeepLabV2 keys to this project's model.

    Args:
        state_dict (dict[str, Tensor]): Weights in the original,
            ``MS_DeepLab`` or authors' layout (:func:`original_name`).
        num_classes (int): Classes of the target model; the classifier is
            kept only if it has this many outputs.
        source (str): Name of the weights' origin, for errors.

    Returns:
        tuple[dict[str, Tensor], bool]: The converted weights and whether
        the classifier was kept.

    Raises:
        ValueError: A key is not part of the DeepLabV2-ResNet-101 layout,
            a tensor is there in two layouts, or the classifier is missing
            or inconsistent.
    """
    if num_classes < 1:
        raise ValueError(f'--num-classes must be >= 1, got {num_classes}')
    backbone: Dict[str, Tensor] = {}
    classifier: Dict[str, Tensor] = {}
    unknown: List[str] = []
    sources: Dict[str, str] = {}
    for key, value in state_dict.items():
        name = original_name(key)
        if name in sources:
            raise ValueError(f'{source}: {sources[name]!r} and {key!r} are '
                             'the same tensor in two layouts')
        sources[name] = key
        if BACKBONE_KEY.match(name):
            backbone['backbone.' + name] = value
        elif CLASSIFIER_KEY.match(name):
            classifier['decode_head.' + name[len('layer5.'):]] = value
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(
            f'{source}: {len(unknown)} key(s) are not part of the '
            f'DeepLabV2-ResNet-101 layout, e.g. {unknown[:3]}')
    for key in [k for k in backbone if k.endswith('.running_mean')]:
        counter = key[:-len('running_mean')] + 'num_batches_tracked'
        backbone.setdefault(counter, torch.tensor(0, dtype=torch.long))
    out_channels = {
        v.shape[0]
        for k, v in classifier.items() if k.endswith('.weight')
    }
    if len(out_channels) != 1:
        raise ValueError(f'{source}: expected the classifier '
                         'layer5.conv2d_list.* (or classifier.0.convs.*) '
                         'with one number of classes, '
                         f'found {sorted(out_channels)}')
    keep = out_channels.pop() == num_classes
    return (dict(backbone, **classifier) if keep else backbone), keep


def check_against_model(state_dict: Dict[str, Tensor],
                        num_classes: int,
                        with_classifier: bool,
                        source: str,
                        config: str = MODEL_CONFIGS[0]) -> None:
    """Check the converted weights fit a configured DeepLabV2-R101.

    Args:
        state_dict (dict[str, Tensor]): Converted weights.
        num_classes (int): Classes of the model to compare with.
        with_classifier (bool): Whether the head's weights must be present.
        source (str): Name of the weights' origin, for errors.
        config (str): Config file whose ``model`` is built. Defaults to the
            corrected protocol's model.

    Raises:
        ValueError: Keys are missing or unexpected, or shapes differ.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import dst_cbc  # noqa: F401  (registers DynamicDLV2Head and DLV2Head)
    from mmseg.registry import MODELS

    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    cfg.model.decode_head.num_classes = num_classes
    expected = {
        k: tuple(v.shape)
        for k, v in MODELS.build(cfg.model).state_dict().items()
        if with_classifier or not k.startswith('decode_head.')
    }
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(
        k for k in set(expected) & set(state_dict)
        if tuple(state_dict[k].shape) != expected[k])
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f'{len(missing)} missing, e.g. {missing[:3]}')
        if unexpected:
            details.append(
                f'{len(unexpected)} unexpected, e.g. {unexpected[:3]}')
        if wrong:
            k = wrong[0]
            details.append(f'{len(wrong)} with another shape, e.g. {k}: '
                           f'{tuple(state_dict[k].shape)} instead of '
                           f'{expected[k]}')
        raise ValueError(f'{source}: the weights do not fit the model of '
                         f'{config}: ' + '; '.join(details))


def save_checkpoint(state_dict: Dict[str, Tensor], path: str,
                    meta: dict) -> None:
    """Write ``{'meta', 'state_dict'}`` to a temporary file, then rename it.

    Args:
        state_dict (dict[str, Tensor]): Weights to save.
        path (str): Destination (parent folders are created).
        meta (dict): Information stored with the weights.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(dict(meta=meta, state_dict=state_dict), f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'src',
        help='DeepLabV2 weights (.pth): the COCO model or an authors\' '
        'checkpoint')
    parser.add_argument('dst', help='converted checkpoint to write')
    parser.add_argument(
        '--num-classes',
        type=int,
        required=True,
        help='classes of the target model (VOC 21 keeps the COCO '
        'classifier, Cityscapes 19 drops it)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Tensor]:
    """Convert, check and write the weights; print what was done.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        dict[str, Tensor]: The converted weights.
    """
    args = parse_args(argv)
    converted, kept = convert_state_dict(
        load_state_dict(args.src), args.num_classes, source=args.src)
    for config in MODEL_CONFIGS:
        check_against_model(converted, args.num_classes, kept, args.src,
                            config)
    save_checkpoint(
        converted, args.dst,
        dict(
            source=osp.basename(args.src),
            num_classes=args.num_classes,
            classifier_kept=kept))
    head = ('with the COCO classifier' if kept else
            'without the COCO classifier (its class count differs from '
            f'{args.num_classes})')
    print(f'wrote {args.dst}: {len(converted)} tensors, {head}')
    return converted


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except (OSError, ValueError) as error:
        sys.exit(f'convert_deeplabv2_coco.py: error: {error}')
