# UniMatch on Cityscapes under the authors' protocol (LiheYoung/UniMatch:
# configs/cityscapes.yaml, dataset/semi.py, unimatch.py, supervised.py's
# evaluation). Training crops of the full-resolution images: scaled by
# U(0.5, 2.0), a random 801 x 801 crop, flip p = 0.5; unlabeled crops get two
# strong views as on VOC (../protocols/unimatch_voc.py). A batch is 8 labeled
# + 16 unlabeled crops (the authors' 4 GPUs x (2 + 2 + 2)). 240 epochs of 8
# unlabeled crops per iteration, SGD lr 5e-3 (no head multiplier),
# confidence threshold 0 (every pseudo label counts), and OHEM on the
# labeled crops: the cross-entropy of the pixels whose class probability is
# below 0.7, at least 200,000 per 2 crops (800,000 per batch), averaged over
# them. Evaluation at full resolution in 801 x 801 windows, stride 534 (the
# authors' sliding window). Model selection on val; the leaves choose the
# split (splits/unimatch/<name>/, tools/make_unimatch_splits.py).
_base_ = [
    '../models/deeplabv3plus_r101-d16_unimatch.py',
    '../datasets/cityscapes_257x513.py', '../default_runtime.py',
    '../schedules/unimatch.py'
]
protocol = 'unimatch'
crop_size = (801, 801)
weak_view = [
    dict(
        type='RandomResize',
        scale=(2048, 1024),
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
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
model = dict(
    conf_thresh=0.0,
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(
        num_classes=19,
        loss_decode=dict(
            _delete_=True,
            type='OhemCrossEntropyLoss',
            thres=0.7,
            min_kept=800000)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(534, 534)))
train_dataloader = dict(
    batch_size=24,
    sampler=dict(num_pseudo=16),
    dataset=dict(
        online=True,
        labeled=dict(pipeline=train_pipeline),
        unlabeled=dict(
            data_prefix=dict(_delete_=True, img_path='leftImg8bit/train'),
            pipeline=unlabeled_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.005))
train_cfg = dict(epochs=240, unlabeled_per_iter=8)
