# A miniature DeepLabV2 for CPU-scale runs: ResNet-18 V1c at quarter width,
# output stride 8 (dilated last stages), and the four-branch DeepLabV2 head
# trained with the dynamic self-training loss. Dilations are scaled down to
# the small feature maps of 64x64 images.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(3, ),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='DynamicDLV2Head',
        in_channels=128,
        in_index=0,
        dilations=(1, 2, 3, 4),
        num_classes=5,
        align_corners=False,
        loss_decode=dict(type='DynamicCrossEntropyLoss', gamma=9.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
