# UniMatch on PASCAL VOC 2012 under the authors' protocol (LiheYoung/
# UniMatch: configs/pascal.yaml, dataset/semi.py, unimatch.py). Training
# crops: the image's long side scaled by U(0.5, 2.0) (MMSeg's RandomResize to
# a 500 x 500 box: VOC's long side is 500), a random 321 x 321 crop padded by
# the data preprocessor (labels 255, unlabeled crops' ignore mask 255), flip
# p = 0.5. Unlabeled crops: the same weak view, no ground truth read, and two
# strong views (StrongViews: colour jitter p 0.8, grayscale p 0.2, blur p 0.5;
# CutMix p 0.5 drawn by UniMatchDataPreProcessor). A batch is 8 labeled + 16
# unlabeled crops (the second 8 are the first 8's CutMix sources): the
# authors' 4 GPUs x (2 + 2 + 2) on one device. 80 epochs of 8 unlabeled crops
# per iteration over the unlabeled list, SGD lr 1e-3 (10x on the head),
# confidence threshold 0.95, cross-entropy on the labeled crops. Evaluation
# on VOC val at each image's own size. The leaves choose the split
# (splits/unimatch/<name>/, tools/make_unimatch_splits.py).
_base_ = [
    '../models/deeplabv3plus_r101-d16_unimatch.py',
    '../datasets/voc12_aug_321x321.py', '../default_runtime.py',
    '../schedules/unimatch.py'
]
protocol = 'unimatch'
crop_size = (321, 321)
weak_view = [
    dict(
        type='RandomResize',
        scale=(500, 500),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5)
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'), *weak_view,
    dict(type='PackSegInputs')
]
unlabeled_pipeline = [
    dict(type='LoadImageFromFile'), *weak_view,
    dict(type='StrongViews'),
    dict(type='PackSegInputsWithViews')
]
model = dict(data_preprocessor=dict(size=crop_size))
train_dataloader = dict(
    batch_size=24,
    sampler=dict(num_pseudo=16),
    dataset=dict(
        online=True,
        labeled=dict(pipeline=train_pipeline),
        unlabeled=dict(
            data_prefix=dict(_delete_=True, img_path='JPEGImages'),
            pipeline=unlabeled_pipeline)))
optim_wrapper = dict(
    optimizer=dict(lr=0.001),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)}))
train_cfg = dict(epochs=80, unlabeled_per_iter=8)
