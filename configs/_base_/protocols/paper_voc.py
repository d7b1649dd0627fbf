# The paper protocol on PASCAL VOC 2012 aug: what the authors' code
# (voldemortX/DST-CBC, branch dst-cbc) did to produce the paper's tables.
# The configs of configs/*/paper/ inherit it (their corrected twins one
# folder up inherit ./corrected_voc.py). The model rows are ./paper.py's;
# below, one block per data or labeling row of the table in
# docs/paper_configs.md; everything else is the corrected protocol.
_base_ = [
    './paper.py', '../datasets/voc12_aug_321x321.py', '../default_runtime.py',
    '../schedules/curriculum_voc.py'
]
crop_size = (321, 321)
data_preprocessor = dict(size=crop_size)
# The VOC model keeps the COCO 21-class classifier.
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=dict(checkpoint='pretrain/deeplabv2_r101-coco_voc.pth'),
    decode_head=dict(num_classes=21))
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
train_set = dict(pipeline=train_pipeline)
train_dataloader = dict(dataset=dict(labeled=train_set, unlabeled=train_set))
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
