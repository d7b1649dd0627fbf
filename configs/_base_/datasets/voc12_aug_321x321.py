# PASCAL VOC 2012 + SBD ("aug"): 10,582 train_aug images, 1,449 val images,
# 21 classes, prepared with MMSeg's voc_aug.py (docs/data_preparation.md),
# in the loaders of ./semi_seg.py. Full supervision lists trainaug.txt.
#
# Corrected protocol (the paper protocol's changes are in
# ../protocols/paper_voc.py): random resize keeping the aspect ratio, the
# shorter side uniform in [321, 505] (`scale=(2020, 505)` makes it
# 505 * ratio for any image up to 4:1; VOC images are at most 500x500),
# random 321x321 crop, flip p=0.5; evaluation at the image's own size on
# VOC's own val labels.
_base_ = './semi_seg.py'
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
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
