# Cityscapes (2,975 train, 500 val images, 19 classes) at half resolution,
# 512x1024, as in the paper. The data stay MMSeg's full-resolution layout
# (docs/data_preparation.md); the pipelines resize.
#
# The paper's augmentation with the aspect ratio kept: random resize to
# 257x513 .. 513x1025 (height x width), random 257x513 crop, flip p=0.5.
# Images are evaluated at 512x1024 and their predictions upsampled to the
# full-resolution labels (MMSeg's convention; the paper downsampled the
# labels instead).
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes'
crop_size = (257, 513)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(1025, 513),
        ratio_range=(257 / 513, 1.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    # Loaded after Resize: the labels stay at full resolution.
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
            img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        ann_file='train.txt',
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
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        ann_file='val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
