"""Every module of the extension is registered under the name configs use."""
import re
from pathlib import Path

import pytest
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import init_default_scope

import dst_cbc  # noqa: F401
from mmseg.registry import (DATA_SAMPLERS, DATASETS, HOOKS, LOOPS,
                            MODEL_WRAPPERS, MODELS, OPTIM_WRAPPERS, RUNNERS,
                            TRANSFORMS)

REGISTERED = [
    (MODELS, 'DynamicCrossEntropyLoss', 'dst_cbc.models.dynamic_loss'),
    (MODELS, 'DLV2Head', 'dst_cbc.models.dlv2_head'),
    *[(MODELS, 'Dynamic' + base, 'dst_cbc.models.dynamic_loss_head')
      for base in ('DLV2Head', 'ASPPHead', 'DepthwiseSeparableASPPHead',
                   'UPerHead', 'FCNHead', 'DepthwiseSeparableFCNHead')],
    (DATASETS, 'SemiSegDataset', 'dst_cbc.datasets.semi_dataset'),
    (DATASETS, 'SyntheticShapesDataset', 'dst_cbc.datasets.synthetic'),
    (DATASETS, 'CamVidDataset', 'dst_cbc.datasets.camvid'),
    (DATA_SAMPLERS, 'MixedBatchSampler',
     'dst_cbc.datasets.mixed_batch_sampler'),
    (TRANSFORMS, 'LoadPseudoConfidence', 'dst_cbc.datasets.pseudo_confidence'),
    (TRANSFORMS, 'PackSegInputsWithConfidence',
     'dst_cbc.datasets.pseudo_confidence'),
    (LOOPS, 'CurriculumTrainLoop', 'dst_cbc.engine.loops'),
    (RUNNERS, 'CurriculumRunner', 'dst_cbc.engine.run_safety'),
    (HOOKS, 'PseudoLabelHook', 'dst_cbc.engine.pseudo_label_hook'),
    (HOOKS, 'ChannelsLastHook', 'dst_cbc.engine.precision'),
    (MODELS, 'PseudoCutMix', 'dst_cbc.models.pseudo_cutmix'),
    (MODELS, 'BatchAugSegDataPreProcessor',
     'dst_cbc.models.batch_aug_data_preprocessor'),
    (MODELS, 'EfficientNetLite', 'dst_cbc.models.backbones.efficientnet_lite'),
    (TRANSFORMS, 'ResetOriginalShape', 'dst_cbc.datasets.original_shape'),
    (TRANSFORMS, 'CachedLoad', 'dst_cbc.datasets.transforms'),
    (HOOKS, 'CurriculumReportHook', 'dst_cbc.engine.report'),
    (HOOKS, 'AtomicCheckpointHook', 'dst_cbc.engine.checkpoints'),
    (OPTIM_WRAPPERS, 'BF16OptimWrapper', 'dst_cbc.engine.precision'),
    (MODELS, 'UniMatch', 'dst_cbc.models.unimatch'),
    (MODELS, 'UniMatchDataPreProcessor',
     'dst_cbc.models.unimatch_data_preprocessor'),
    (MODELS, 'OhemCrossEntropyLoss', 'dst_cbc.models.ohem_loss'),
    (TRANSFORMS, 'StrongViews', 'dst_cbc.datasets.strong_views'),
    (TRANSFORMS, 'PackSegInputsWithViews', 'dst_cbc.datasets.strong_views'),
    (LOOPS, 'SemiIterBasedTrainLoop', 'dst_cbc.engine.loops'),
    (HOOKS, 'TrainingCurvesHook', 'dst_cbc.engine.report'),
]


@pytest.mark.parametrize('registry,name,module', REGISTERED)
def test_registered_in_mmseg_scope(registry, name, module):
    assert registry.scope == 'mmseg'
    obj = registry.get(name)
    assert obj is not None, f'{name} is not registered'
    assert obj.__module__ == module


#: Registered in MMEngine's own registry (Runner.wrap_model looks there).
MMENGINE_REGISTERED = [
    (MMENGINE_MODEL_WRAPPERS, 'ChannelsLastDistributedDataParallel',
     'dst_cbc.engine.precision')
]


@pytest.mark.parametrize('registry,name,module', MMENGINE_REGISTERED)
def test_registered_where_mmengine_looks(registry, name, module):
    """Runner.wrap_model takes ``MODEL_WRAPPERS.get(type)`` of MMEngine's
    registry under the mmseg scope (None before: the 2-process run of a
    channels_last config failed); MMSeg's registry builds it too."""
    init_default_scope('mmseg')
    assert registry.scope == 'mmengine'
    assert registry.get(name).__module__ == module
    assert MODEL_WRAPPERS.get(name) is registry.get(name)


def test_every_registered_class_is_listed():
    """The list above holds every name the package registers (read from the
    ``@REGISTRY.register_module(...)`` decorators of its sources)."""
    package = Path(dst_cbc.__file__).parent
    decorated = set()
    for path in package.rglob('*.py'):
        for named, cls in re.findall(
                r"@\w+\.register_module\((?:name='(\w+)')?\)\n"
                r'(?:class|def) (\w+)', path.read_text()):
            decorated.add(named or cls)
    assert decorated == {
        name
        for _, name, _ in REGISTERED + MMENGINE_REGISTERED
    }


def test_dynamic_head_subclasses_the_registered_head():
    head = MODELS.build(
        dict(
            type='DynamicDLV2Head',
            in_channels=8,
            channels=8,
            num_classes=3,
            dilations=(1, 2, 3, 4)))
    assert type(head).__name__ == 'DynamicDLV2Head'
    assert isinstance(head, MODELS.get('DLV2Head'))
