# The paper protocol (the authors' code, docs/paper_configs.md) of
# ../dst-cbc_deeplabv3plus-r101-d8_1xb4+4_voc-aug-1-20_321x321.py:
# Beyond the paper: DST-CBC with a DeepLabV3+ head (MMSeg's
# DepthwiseSeparableASPPHead with the dynamic loss) on the paper's
# caffe-style ResNet-101, VOC 1/20. The backbone starts from the converted
# COCO DeepLabV2 weights (backbone part only, no download); the head is
# trained from scratch. Everything else as the DeepLabV2 1/20 config; the
# paper protocol changes the backbone and the data as there, the head
# stays this one.
_base_ = '../../_base_/protocols/paper_voc.py'
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
        type='DynamicDepthwiseSeparableASPPHead',
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
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-20.txt')))
train_cfg = dict(baseline_epochs=_base_.round0_epochs.get('1-20'))
