"""Backbones of DST-CBC's models: EfficientNet-Lite with ImageNet weights."""
from .efficientnet_lite import EfficientNetLite
from .efficientnet_lite_weights import (convert_efficientnet_lite,
                                        pretrained_weights)

__all__ = [
    'EfficientNetLite', 'convert_efficientnet_lite', 'pretrained_weights'
]
