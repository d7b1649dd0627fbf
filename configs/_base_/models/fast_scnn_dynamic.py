# MMSeg's Fast-SCNN with every head trained by the dynamic self-training loss
# (the auxiliary heads too, with the same gamma), plain BN for CPU / one GPU.
# num_classes is CamVid's 11: another dataset overrides decode_head.num_classes
# and restates auxiliary_head (MMEngine replaces lists instead of merging
# them).
norm_cfg = dict(type='BN', requires_grad=True, momentum=0.01)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
gamma = 9.0
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='FastSCNN',
        downsample_dw_channels=(32, 48),
        global_in_channels=64,
        global_block_channels=(64, 96, 128),
        global_block_strides=(2, 2, 1),
        global_out_channels=128,
        higher_in_channels=64,
        lower_in_channels=128,
        fusion_out_channels=128,
        out_indices=(0, 1, 2),
        norm_cfg=norm_cfg,
        align_corners=False),
    decode_head=dict(
        type='DynamicDepthwiseSeparableFCNHead',
        in_channels=128,
        channels=128,
        concat_input=False,
        num_classes=11,
        in_index=-1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='DynamicCrossEntropyLoss', gamma=gamma)),
    auxiliary_head=[
        dict(
            type='DynamicFCNHead',
            in_channels=128,
            channels=32,
            num_convs=1,
            num_classes=11,
            in_index=-2,
            norm_cfg=norm_cfg,
            concat_input=False,
            align_corners=False,
            loss_decode=dict(
                type='DynamicCrossEntropyLoss', gamma=gamma, loss_weight=0.4)),
        dict(
            type='DynamicFCNHead',
            in_channels=64,
            channels=32,
            num_convs=1,
            num_classes=11,
            in_index=-3,
            norm_cfg=norm_cfg,
            concat_input=False,
            align_corners=False,
            loss_decode=dict(
                type='DynamicCrossEntropyLoss', gamma=gamma, loss_weight=0.4)),
    ],
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
