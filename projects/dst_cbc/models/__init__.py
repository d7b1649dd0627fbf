"""Models of DST-CBC: the dynamic loss, the decode heads that pass it the
pseudo flags, the DeepLabV2 head, the EfficientNet-Lite backbone and the
pseudo-label CutMix; UniMatch, its data preprocessor and the OHEM loss of
its Cityscapes configs."""
from .backbones import EfficientNetLite
from .batch_aug_data_preprocessor import BatchAugSegDataPreProcessor
from .dlv2_head import DLV2Head
from .dynamic_loss import DynamicCrossEntropyLoss
from .dynamic_loss_head import (
    DynamicASPPHead, DynamicDepthwiseSeparableASPPHead,
    DynamicDepthwiseSeparableFCNHead, DynamicDLV2Head, DynamicFCNHead,
    DynamicLossHead, DynamicUPerHead, check_dynamic_heads,
    pseudo_confidence_of, pseudo_mask_of)
from .ohem_loss import OhemCrossEntropyLoss
from .pseudo_cutmix import PseudoCutMix
from .unimatch import UniMatch
from .unimatch_data_preprocessor import UniMatchDataPreProcessor

__all__ = [
    'BatchAugSegDataPreProcessor', 'DLV2Head', 'DynamicASPPHead',
    'DynamicCrossEntropyLoss', 'DynamicDLV2Head',
    'DynamicDepthwiseSeparableASPPHead', 'DynamicDepthwiseSeparableFCNHead',
    'DynamicFCNHead', 'DynamicLossHead', 'DynamicUPerHead', 'EfficientNetLite',
    'OhemCrossEntropyLoss', 'PseudoCutMix', 'UniMatch',
    'UniMatchDataPreProcessor', 'check_dynamic_heads', 'pseudo_confidence_of',
    'pseudo_mask_of'
]
