# UniMatch on CamVid at CPU scale, beside the DST-CBC CamVid configs (same
# data, splits, crops and recipe): EfficientNet-Lite0 (ImageNet) + MMSeg's
# DeepLabV3+ head with a plain cross-entropy on the labeled crops, UniMatch
# with threshold 0.95 and the authors' loss weights. Crops of 128 x 176 from
# the ~180 x 240 image randomly resized by 0.75 .. 1.5, flip p = 0.5; the
# unlabeled crops read no ground truth and get two strong views
# (StrongViews, CutMix by UniMatchDataPreProcessor). A batch is 4 labeled + 8
# unlabeled crops (the second 4 are the first 4's CutMix sources), SGD lr
# 0.005 (10x on the head, weight decay 5e-4, as the DST-CBC CamVid
# recipe), poly decay over `epochs` passes of 4 unlabeled crops per
# iteration over the unlabeled list, validation and a checkpoint every 200
# iterations, channels_last. The leaves choose the labeled ratio.
_base_ = [
    '../models/efficientnet-lite0_deeplabv3plus.py',
    '../datasets/camvid_semi.py', '../default_runtime.py',
    '../schedules/unimatch.py'
]
protocol = 'unimatch'
randomness = dict(seed=0)
model = dict(
    type='UniMatch',
    conf_thresh=0.95,
    fp_dropout=0.5,
    data_preprocessor=dict(
        type='UniMatchDataPreProcessor', size={{_base_.crop_size}}),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        loss_decode=dict(
            _delete_=True,
            type='CrossEntropyLoss',
            avg_non_ignore=True,
            loss_weight=1.0)))
unlabeled_pipeline = [
    dict(type='CachedLoad', transforms=[dict(type='LoadImageFromFile')]),
    dict(
        type='RandomResize',
        scale=(240, 180),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='RandomFlip', prob=0.5),
    dict(type='StrongViews'),
    dict(type='PackSegInputsWithViews')
]
train_dataloader = dict(
    batch_size=12,
    sampler=dict(num_pseudo=8),
    dataset=dict(
        online=True,
        unlabeled=dict(
            data_prefix=dict(_delete_=True, img_path='train'),
            pipeline=unlabeled_pipeline)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)}))
train_cfg = dict(unlabeled_per_iter=4, val_interval=200)
default_hooks = dict(checkpoint=dict(interval=200))
custom_hooks = [_base_.report_hook, dict(type='ChannelsLastHook')]
