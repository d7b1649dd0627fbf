# Ablation "OW" (paper Table 5, VOC 1/20): DST-CBC (five rounds, class
# balanced, gamma 9) with the weight of a pseudo-labeled pixel taken from the
# labeling model instead of the model being trained: w = p_label(y) ** 9,
# where p_label(y) is the labeling model's max softmax probability, stored
# next to every pseudo label (16-bit PNG, resolution 1/65535) and fixed for
# the round. The unlabeled images' pipeline carries that confidence map
# through resize, crop and flip with the label. Start it from the 1/20
# baseline:
#   --cfg-options load_from=work_dirs/<baseline 1/20>/round_0_best.pth
_base_ = '../dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
model = dict(decode_head=dict(loss_decode=dict(weight_source='stored')))
custom_hooks = [
    dict(type='PseudoLabelHook', batch_size=1, store_confidence=True),
    dict(type='CurriculumReportHook')
]
# The training pipeline of voc12_aug_321x321.py, plus the confidence map.
pseudo_label_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadPseudoConfidence'),
    dict(
        type='RandomResize',
        scale=(2020, 505),
        ratio_range=(321 / 505, 1.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(321, 321)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputsWithConfidence')
]
train_dataloader = dict(
    dataset=dict(unlabeled=dict(pipeline=pseudo_label_pipeline)))
