"""Models of DST-CBC: the dynamic self-training loss and the DeepLabV2 head."""
from .dlv2_head import DLV2Head
from .dynamic_loss import DynamicCrossEntropyLoss
from .dynamic_loss_head import (DynamicLossMixin, build_dynamic_loss_head,
                                dynamic_loss_head_class, pseudo_confidence_of,
                                pseudo_mask_of)

__all__ = [
    'DLV2Head', 'DynamicCrossEntropyLoss', 'DynamicLossMixin',
    'build_dynamic_loss_head', 'dynamic_loss_head_class',
    'pseudo_confidence_of', 'pseudo_mask_of'
]
