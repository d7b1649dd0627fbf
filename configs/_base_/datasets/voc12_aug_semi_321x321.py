# PASCAL VOC 2012 + SBD, semi-supervised: the labeled and unlabeled lists of
# one ratio and split (written by tools/make_splits.py into
# data/VOCdevkit/VOC2012/splits/split{1,2,3}/). Each config sets the lists,
# e.g. 'splits/split{split}/labeled_1-106.txt'; `split` picks the shuffle:
#   --cfg-options train_dataloader.dataset.split=2
# Every batch is 4 labeled + 4 pseudo-labeled images (MixedBatchSampler;
# round 0 uses 8 labeled ones). Augmentation and validation as in
# voc12_aug_321x321.py.
_base_ = './voc12_aug_321x321.py'
train_images = dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug')
train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='MixedBatchSampler', shuffle=True),
    dataset=dict(
        type='SemiSegDataset',
        split=1,
        labeled=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            data_prefix=train_images,
            pipeline={{_base_.train_pipeline}}),
        unlabeled=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            data_prefix=train_images,
            pipeline={{_base_.train_pipeline}})))
