"""Models of DST-CBC: the dynamic loss, its head wrapper, the DeepLabV2 head,
the EfficientNet-Lite backbone and the pseudo-label CutMix."""
from .backbones import EfficientNetLite
from .batch_aug_data_preprocessor import BatchAugSegDataPreProcessor
from .dlv2_head import DLV2Head
from .dynamic_loss import DynamicCrossEntropyLoss
from .dynamic_loss_head import (DynamicLossMixin, build_dynamic_loss_head,
                                dynamic_loss_head_class, pseudo_confidence_of,
                                pseudo_mask_of)
from .pseudo_cutmix import PseudoCutMix

__all__ = [
    'BatchAugSegDataPreProcessor', 'DLV2Head', 'DynamicCrossEntropyLoss',
    'DynamicLossMixin', 'EfficientNetLite', 'PseudoCutMix',
    'build_dynamic_loss_head', 'dynamic_loss_head_class',
    'pseudo_confidence_of', 'pseudo_mask_of'
]
