# Beyond the paper: DST-CBC with a DeepLabV3+ head (MMSeg's
# DepthwiseSeparableASPPHead wrapped by DynamicLossHead) on the paper's
# caffe-style ResNet-101, VOC 1/20. The backbone starts from the converted
# COCO DeepLabV2 weights (backbone part only, no download); the head is
# trained from scratch. Everything else as the DeepLabV2 1/20 config.
_base_ = './dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    init_cfg=None,
    backbone=dict(
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='pretrain/deeplabv2_r101-coco_voc.pth',
            prefix='backbone.')),
    decode_head=dict(
        _delete_=True,
        type='DynamicLossHead',
        base_type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='DynamicCrossEntropyLoss', gamma=9.0)))
