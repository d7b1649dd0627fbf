# Strong augmentation of the pseudo-labeled half of a self-training batch
# (beyond the paper, as UniMatch): CutMix between the pseudo-labeled crops of
# a batch (PseudoCutMix, a batch augmentation of BatchAugSegDataPreProcessor;
# images, labels with their ignore pixels and stored confidences mixed by
# one box) and colour jitter of the pseudo-labeled images (MMSeg's
# PhotoMetricDistortion in the unlabeled pipeline). Labeled images are never
# touched. This file only defines names, so it sits beside any config in
# `_base_` and changes nothing until a config uses them:
#
#   _base_ = ['./dst-cbc_fast-scnn_1xb4+4_camvid-1-8_128x176.py',
#             '../_base_/strong_aug.py']
#   model = dict(data_preprocessor=_base_.strong_aug_preprocessor)
#   train_dataloader = dict(dataset=dict(unlabeled=dict(
#       pipeline=_base_.train_pipeline[:-1] +
#       [_base_.pseudo_colour_jitter, _base_.train_pipeline[-1]])))
#
# The first line swaps the model's SegDataPreProcessor (its mean, std, size
# are kept: dicts merge) for the one that runs PseudoCutMix, in training
# only. The second puts the jitter on the uint8 crop just before the
# pipeline's final packing step (PackSegInputs, or
# PackSegInputsWithConfidence in the OW ablation, whose pipeline is
# `_base_.pseudo_label_pipeline`). Pseudo-labeling builds its own pipeline,
# so it never sees the jitter.
pseudo_cutmix = dict(
    type='PseudoCutMix',
    prob=0.5,
    area_range=(0.02, 0.4),
    area_beta=(1.0, 1.0),
    aspect_range=(0.3, 1 / 0.3))
strong_aug_preprocessor = dict(
    type='BatchAugSegDataPreProcessor', batch_augments=[pseudo_cutmix])
pseudo_colour_jitter = dict(type='PhotoMetricDistortion')
