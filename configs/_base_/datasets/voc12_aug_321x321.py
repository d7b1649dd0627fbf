# PASCAL VOC 2012 + SBD ("aug"): 10,582 train_aug images, 1,449 val images,
# 21 classes, prepared with MMSeg's voc_aug.py (docs/data_preparation.md).
# Supervised training on all of train_aug; the semi-supervised split lists
# are in voc12_aug_semi_321x321.py.
#
# The paper's augmentation with the aspect ratio kept: random resize so that
# the shorter side is uniform in [321, 505] (the original drew height and
# width independently in [321, 505]), random 321x321 crop, flip p=0.5.
# `scale=(2020, 505)` makes the shorter side 505 * ratio for any image up to
# 4:1 (VOC images are at most 500x500).
dataset_type = 'PascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (321, 321)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2020, 505),
        ratio_range=(321 / 505, 1.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
# Evaluated at the image's own size, as in the paper.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/trainaug.txt',
        pipeline=train_pipeline))
# Model selection on `valtiny` (val stays the test set):
#   --cfg-options val_dataloader.dataset.ann_file=splits/valtiny.txt
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
