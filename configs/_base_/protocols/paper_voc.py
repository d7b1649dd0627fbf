# The paper protocol on PASCAL VOC 2012 aug: what the authors' code
# (voldemortX/DST-CBC, branch dst-cbc) did to produce the paper's tables,
# chosen with DST_CBC_PROTOCOL=paper (see ./corrected_voc.py). One block per
# row of the table in docs/paper_configs.md; everything else is the
# corrected protocol.
_base_ = './corrected_voc.py'
protocol = 'paper'
model = dict(
    backbone=dict(
        # torchvision's ResNet layout, into which the authors loaded the
        # COCO weights: stride on the 3x3 conv, first block of a dilated
        # stage at half its dilation (layer3[0]: 1, layer4[0]: 2).
        style='pytorch',
        contract_dilation=True,
        # Trained BatchNorm: batch statistics, weights in SGD with decay.
        norm_cfg=dict(requires_grad=True),
        norm_eval=False),
    decode_head=dict(
        # The classifier returned inside its loop: dilations 6 and 12 only.
        summed_branches=2,
        # align_corners=True for every upsampling of logits (training loss,
        # labeling, evaluation).
        align_corners=True))
# Random resize drawing height and width independently in [321, 505]
# (the aspect ratio is not kept), then the 321x321 crop and the flip.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=[(321, 321), (505, 505)],
        ratio_range=None,
        keep_ratio=False),
    dict(type='RandomCrop', crop_size=(321, 321)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    dataset=dict(
        labeled=dict(pipeline=train_pipeline),
        unlabeled=dict(pipeline=train_pipeline)))
# Evaluation: the image zero-padded (pixel value 0, bottom and right) to
# 505x505, against the label padded with ignore (255), read from
# SegmentationClassAug; predictions stay at 505x505.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Pad', size=(505, 505), pad_val=dict(img=0, seg=255)),
    dict(type='ResetOriginalShape'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(
    dataset=dict(
        data_prefix=dict(seg_map_path='SegmentationClassAug'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Labeling: unlabeled images resized to 321x321 (the aspect ratio is not
# kept), labels stored at 321x321; of one size, so 8 images per pass.
pseudo_label_hook = dict(
    _base_.pseudo_label_hook,
    batch_size=8,
    infer_scale=(321, 321),
    store_at_infer_scale=True)
custom_hooks = [pseudo_label_hook, _base_.report_hook]
# Round-0 epochs by labeled ratio: the authors' scripts (fs_voc_all.sh).
round0_epochs = {
    '1-106': 300,
    '1-50': 212,
    '1-20': 134,
    '1-8': 85,
    '1-4': 60,
    'full': 30
}
