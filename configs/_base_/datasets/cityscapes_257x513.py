# Cityscapes (2,975 train, 500 val images, 19 classes) at half resolution,
# 512x1024, as in the paper. The data stay MMSeg's full-resolution layout
# (docs/data_preparation.md); the pipelines resize. Training reads a labeled
# and an unlabeled list of one ratio and split (tools/make_splits.py writes
# splits/split{1,2,3}/); each config sets them, e.g.
# 'splits/split{split}/labeled_1-30.txt', and `split` picks the shuffle:
# --cfg-options train_dataloader.dataset.split=2. Full supervision lists
# train.txt as labeled and no unlabeled set. Every batch is 4 labeled + 4
# pseudo-labeled images (MixedBatchSampler; supervised rounds use 8 labeled
# ones).
#
# Corrected protocol (the paper protocol's changes are in
# ../protocols/paper_cityscapes.py): random resize keeping the aspect ratio
# to 257x513 .. 513x1025 (height x width), random 257x513 crop, flip p=0.5;
# evaluation at 512x1024 with the prediction upsampled to the
# full-resolution labels (MMSeg's convention).
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
train_images = dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')
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
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        ann_file='val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
