"""Datasets, split tools, the semi-supervised wrapper and its sampler."""
from .camvid import CamVidDataset, use_test_root
from .mixed_batch_sampler import MixedBatchSampler, endless_batches
from .original_shape import ResetOriginalShape
from .pseudo_confidence import (LoadPseudoConfidence,
                                PackSegInputsWithConfidence)
from .semi_dataset import SemiSegDataset, unlabeled_dataset_cfg
from .splits import (class_presence, labeled_count, nested_splits,
                     pick_valtiny, read_list, write_list, write_splits)
from .strong_views import PackSegInputsWithViews, StrongViews
from .synthetic import SyntheticShapesDataset
from .transforms import CachedLoad, clear_load_cache

__all__ = [
    'CachedLoad', 'CamVidDataset', 'LoadPseudoConfidence', 'MixedBatchSampler',
    'PackSegInputsWithConfidence', 'PackSegInputsWithViews',
    'ResetOriginalShape', 'SemiSegDataset', 'StrongViews',
    'SyntheticShapesDataset', 'class_presence', 'clear_load_cache',
    'endless_batches', 'labeled_count', 'nested_splits', 'pick_valtiny',
    'read_list', 'unlabeled_dataset_cfg', 'use_test_root', 'write_list',
    'write_splits'
]
