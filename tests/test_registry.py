"""Every module of the extension is registered under the name configs use."""
import pytest

import dst_cbc  # noqa: F401
from mmseg.registry import (DATA_SAMPLERS, DATASETS, HOOKS, LOOPS, MODELS,
                            TRANSFORMS)

REGISTERED = [
    (MODELS, 'DynamicCrossEntropyLoss', 'dst_cbc.models.dynamic_loss'),
    (MODELS, 'DLV2Head', 'dst_cbc.models.dlv2_head'),
    (MODELS, 'DynamicLossHead', 'dst_cbc.models.dynamic_loss_head'),
    (DATASETS, 'SemiSegDataset', 'dst_cbc.datasets.semi_dataset'),
    (DATASETS, 'SyntheticShapesDataset', 'dst_cbc.datasets.synthetic'),
    (DATASETS, 'CamVidDataset', 'dst_cbc.datasets.camvid'),
    (DATA_SAMPLERS, 'MixedBatchSampler',
     'dst_cbc.datasets.mixed_batch_sampler'),
    (TRANSFORMS, 'LoadPseudoConfidence', 'dst_cbc.datasets.pseudo_confidence'),
    (TRANSFORMS, 'PackSegInputsWithConfidence',
     'dst_cbc.datasets.pseudo_confidence'),
    (LOOPS, 'CurriculumTrainLoop', 'dst_cbc.engine.curriculum_loop'),
    (HOOKS, 'PseudoLabelHook', 'dst_cbc.engine.pseudo_label_hook'),
    (HOOKS, 'ChannelsLastHook', 'dst_cbc.engine.channels_last_hook'),
    (MODELS, 'PseudoCutMix', 'dst_cbc.models.pseudo_cutmix'),
    (MODELS, 'BatchAugSegDataPreProcessor',
     'dst_cbc.models.batch_aug_data_preprocessor'),
    (MODELS, 'EfficientNetLite', 'dst_cbc.models.backbones.efficientnet_lite'),
    (TRANSFORMS, 'ResetOriginalShape', 'dst_cbc.datasets.original_shape'),
]


@pytest.mark.parametrize('registry,name,module', REGISTERED)
def test_registered_in_mmseg_scope(registry, name, module):
    assert registry.scope == 'mmseg'
    obj = registry.get(name)
    assert obj is not None, f'{name} is not registered'
    assert obj.__module__ == module


def test_dynamic_head_wraps_registered_heads():
    head = MODELS.build(
        dict(
            type='DynamicLossHead',
            base_type='DLV2Head',
            in_channels=8,
            channels=8,
            num_classes=3,
            dilations=(1, 2, 3, 4)))
    assert type(head).__name__ == 'DynamicDLV2Head'
    assert isinstance(head, MODELS.get('DLV2Head'))
