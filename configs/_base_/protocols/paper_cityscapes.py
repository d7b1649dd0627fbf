# The paper protocol on Cityscapes: what the authors' code
# (voldemortX/DST-CBC, branch dst-cbc) did to produce the paper's tables,
# chosen with DST_CBC_PROTOCOL=paper (see ./corrected_cityscapes.py). One
# block per row of the table in docs/paper_configs.md; everything else is
# the corrected protocol.
_base_ = './corrected_cityscapes.py'
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
# Random resize drawing the height in [257, 513] and the width in
# [513, 1025] independently (the aspect ratio is not kept), then the
# 257x513 crop and the flip.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=[(513, 257), (1025, 513)],
        ratio_range=None,
        keep_ratio=False),
    dict(type='RandomCrop', crop_size=(257, 513)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    dataset=dict(
        labeled=dict(pipeline=train_pipeline),
        unlabeled=dict(pipeline=train_pipeline)))
# Evaluation: image and labels (nearest) resized to 513x1025; predictions
# stay at that size.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1025, 513), keep_ratio=False),
    dict(type='ResetOriginalShape'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# Labeling: unlabeled images resized to 257x513, labels stored at 257x513.
pseudo_label_hook = dict(
    _base_.pseudo_label_hook,
    batch_size=8,
    infer_scale=(513, 257),
    store_at_infer_scale=True)
custom_hooks = [pseudo_label_hook, _base_.report_hook]
# Round-0 epochs by labeled ratio: the authors' scripts (fs_city_all.sh).
round0_epochs = {'1-30': 330, '1-8': 170, '1-4': 120, 'full': 60}
