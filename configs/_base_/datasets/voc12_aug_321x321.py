# PASCAL VOC 2012 + SBD ("aug"): 10,582 train_aug images, 1,449 val images,
# 21 classes, prepared with MMSeg's voc_aug.py (docs/data_preparation.md).
# Training reads a labeled and an unlabeled list of one ratio and split
# (tools/make_splits.py writes splits/split{1,2,3}/); each config sets them,
# e.g. 'splits/split{split}/labeled_1-20.txt', and `split` picks the
# shuffle: --cfg-options train_dataloader.dataset.split=2. Full supervision
# lists trainaug.txt as labeled and no unlabeled set. Every batch is 4
# labeled + 4 pseudo-labeled images (MixedBatchSampler; supervised rounds
# use 8 labeled ones).
#
# Corrected protocol (the paper protocol's changes are in
# ../protocols/paper_voc.py): random resize keeping the aspect ratio, the
# shorter side uniform in [321, 505] (`scale=(2020, 505)` makes it
# 505 * ratio for any image up to 4:1; VOC images are at most 500x500),
# random 321x321 crop, flip p=0.5; evaluation at the image's own size on
# VOC's own val labels.
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
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_images = dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug')
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='MixedBatchSampler', shuffle=True),
    dataset=dict(
        type='SemiSegDataset',
        split=1,
        labeled=dict(
            type=dataset_type,
            data_root=data_root,
            data_prefix=train_images,
            pipeline=train_pipeline),
        unlabeled=dict(
            type=dataset_type,
            data_root=data_root,
            data_prefix=train_images,
            pipeline=train_pipeline)))
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
