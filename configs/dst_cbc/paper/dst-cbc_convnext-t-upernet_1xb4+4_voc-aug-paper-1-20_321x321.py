# The paper protocol (the authors' code, docs/paper_configs.md) of
# ../dst-cbc_convnext-t-upernet_1xb4+4_voc-aug-1-20_321x321.py:
# Beyond the paper: DST-CBC on a ConvNeXt-T backbone from mmpretrain with
# MMSeg's UPerHead trained by the dynamic loss (DynamicUPerHead), VOC 1/20,
# AdamW with stage-wise learning-rate decay as MMSeg's ConvNeXt recipe.
# Nothing is downloaded by default (random init, for trying the pipeline);
# for real runs start from ImageNet weights with a child config:
#   model = dict(backbone=dict(init_cfg=dict(type='Pretrained',
#       prefix='backbone.', checkpoint='https://download.openmmlab.com/'
#       'mmclassification/v0/convnext/downstream/'
#       'convnext-tiny_3rdparty_32xb128-noema_in1k_20220301-795e9634.pth')))
# The data, lists and curriculum are those of the DeepLabV2 1/20 config
# (the paper protocol changes only the data here).
_base_ = '../../_base_/protocols/paper_voc.py'
crop_size = (321, 321)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    _delete_=True,
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmpretrain.ConvNeXt',
        arch='tiny',
        out_indices=[0, 1, 2, 3],
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        gap_before_final_norm=False,
        init_cfg=None),
    decode_head=dict(
        type='DynamicUPerHead',
        in_channels=[96, 192, 384, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='DynamicCrossEntropyLoss', gamma=9.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
adamw = dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05)
optimizer = dict(_delete_=True, **adamw)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=adamw,
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=6))
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-20.txt')))
train_cfg = dict(baseline_epochs=_base_.round0_epochs.get('1-20'))
