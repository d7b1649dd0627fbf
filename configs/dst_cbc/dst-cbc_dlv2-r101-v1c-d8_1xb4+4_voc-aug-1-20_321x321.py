# DST-CBC with the DeepLabV2 head on an ImageNet-pretrained ResNet-101 V1c
# (MMSeg's usual backbone: deep 3x3 stem, PyTorch-style strides), the
# alternative to the paper's COCO initialisation, VOC 1/20. Opt-in: the
# ImageNet weights open-mmlab://resnet101_v1c are downloaded when training
# starts. V1c expects RGB input with ImageNet mean/std; BatchNorm is frozen
# (corrected protocol) or trained (its paper twin in ./paper/) as in the
# DeepLabV2 configs.
_base_ = '../_base_/protocols/corrected_voc.py'
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=None,
    backbone=dict(
        type='ResNetV1c',
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')))
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-20.txt')))
train_cfg = dict(baseline_epochs=_base_.round0_epochs.get('1-20'))
