# CamVid (SegNet layout: train/, trainannot/, val/, valannot/, train.txt,
# val.txt),
# at half resolution (180x240), semi-supervised. Split lists come from
# tools/make_splits.py --out-dir data/camvid/splits; like every list they are
# read relative to `data_root`.
dataset_type = 'CamVidDataset'
data_root = 'data/camvid'
# Training crops of 128x176 from the randomly resized ~180x240 image: a
# Fast-SCNN step on 8 crops took 0.16 s against 0.29 s on whole 180x240
# images (2 cores, same run); evaluation and labeling see whole images.
crop_size = (128, 176)
# CachedLoad decodes each PNG once per process (CamVid fits in memory): with
# num_workers=0, the fastest setting on 2 CPU cores, decoding is otherwise a
# quarter of a training step.
train_pipeline = [
    dict(
        type='CachedLoad',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations')
        ]),
    dict(
        type='RandomResize',
        scale=(240, 180),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(
        type='CachedLoad',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(240, 180), keep_ratio=True),
            dict(type='LoadAnnotations')
        ]),
    dict(type='PackSegInputs')
]
train_images = dict(img_path='train', seg_map_path='trainannot')
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='MixedBatchSampler', shuffle=True),
    dataset=dict(
        type='SemiSegDataset',
        split=1,
        labeled=dict(
            type=dataset_type,
            data_root=data_root,
            data_prefix=train_images,
            ann_file='splits/split{split}/labeled_1-8.txt',
            pipeline=train_pipeline),
        unlabeled=dict(
            type=dataset_type,
            data_root=data_root,
            data_prefix=train_images,
            ann_file='splits/split{split}/unlabeled_1-8.txt',
            pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val', seg_map_path='valannot'),
        ann_file='val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
