# Cityscapes (2,975 train, 500 val images, 19 classes) at half resolution,
# 512x1024, as in the paper, in the loaders of ./semi_seg.py. The data stay
# MMSeg's full-resolution layout (docs/data_preparation.md); the pipelines
# resize. Full supervision lists train.txt.
#
# Corrected protocol (the paper protocol's changes are in
# ../protocols/paper_cityscapes.py): random resize keeping the aspect ratio
# to 257x513 .. 513x1025 (height x width), random 257x513 crop, flip p=0.5;
# evaluation at 512x1024 with the prediction upsampled to the
# full-resolution labels (MMSeg's convention).
_base_ = './semi_seg.py'
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
# The labeled and the unlabeled half read the same images.
train_set = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=train_images,
    pipeline=train_pipeline)
train_dataloader = dict(dataset=dict(labeled=train_set, unlabeled=train_set))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        ann_file='val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
