# UniMatch's model on PASCAL VOC and Cityscapes, the authors' (LiheYoung/
# UniMatch, model/semseg/deeplabv3plus.py): DeepLabV3+ on an ImageNet
# ResNet-101 with a deep stem (MMSeg's ResNetV1c and its
# open-mmlab://resnet101_v1c weights, downloaded by MMEngine when training
# starts), output stride 16 (the last stage dilated 2), ASPP rates 6/12/18,
# 256 channels, 48 low-level channels from the stride-4 stage, no dropout,
# bilinear resizing with align_corners=True (their crops, 321 and 801, are
# 16k + 1), SyncBN everywhere (MMEngine reverts it to BN in a one-process
# run). The head is MMSeg's DeepLabV3+ (DepthwiseSeparableASPPHead), whose
# ASPP and decoder convolutions are depthwise-separable where the authors'
# are plain. Inputs are RGB with ImageNet's mean and std, as theirs. The
# segmentor is UniMatch with the authors' loss weights and channel dropout
# 0.5; each dataset's protocol sets the threshold and the labeled loss.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='UniMatchDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='UniMatch',
    conf_thresh=0.95,
    fp_dropout=0.5,
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.0,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', avg_non_ignore=True, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
