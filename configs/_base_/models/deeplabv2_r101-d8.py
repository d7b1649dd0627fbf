# DeepLabV2-ResNet-101 as the paper defines it (the original Caffe
# DeepLabV2), the corrected protocol's model: caffe-style ResNet-101 (7x7
# stem, stride in the first 1x1 conv of a block), dilations 2 and 4 in the
# last two stages (output stride 8, every block of a stage dilated:
# contract_dilation=False), frozen BatchNorm, and the four-branch DLV2Head
# (dilations 6/12/18/24, all summed) trained with the dynamic self-training
# loss. The paper protocol changes it to the authors' code
# (../protocols/paper_voc.py).
#
# The COCO-pretrained weights of the paper use Caffe's input convention:
# BGR, 0..255, mean (104.008, 116.669, 122.675), no std. Convert them once
# with tools/convert_deeplabv2_coco.py (see docs/paper_configs.md); the file
# below is loaded by `init_cfg` when training starts. Its name is set per
# dataset by the configs (VOC keeps the COCO 21-class classifier).
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[104.008, 116.669, 122.675],
    std=[1.0, 1.0, 1.0],
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    init_cfg=dict(
        type='Pretrained', checkpoint='pretrain/deeplabv2_r101-coco_voc.pth'),
    backbone=dict(
        type='ResNet',
        depth=101,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        style='caffe',
        contract_dilation=False,
        norm_cfg=norm_cfg,
        norm_eval=True),
    decode_head=dict(
        type='DynamicDLV2Head',
        in_channels=2048,
        in_index=0,
        dilations=(6, 12, 18, 24),
        num_classes=21,
        align_corners=False,
        loss_decode=dict(type='DynamicCrossEntropyLoss', gamma=9.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
