# The generated synthetic dataset (tools/make_synthetic_data.py),
# semi-supervised:
# a labeled list and an unlabeled list of the train images, validation on val.
dataset_type = 'SyntheticShapesDataset'
data_root = 'data/synthetic'
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(64, 64),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_images = dict(img_path='img_dir/train', seg_map_path='ann_dir/train')
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
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
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        ann_file='val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
