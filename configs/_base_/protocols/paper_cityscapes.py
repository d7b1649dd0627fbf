# The paper protocol on Cityscapes: what the authors' code
# (voldemortX/DST-CBC, branch dst-cbc) did to produce the paper's tables.
# The configs of configs/*/paper/ inherit it (their corrected twins one
# folder up inherit ./corrected_cityscapes.py). The model rows are
# ./paper.py's; below, one block per data or labeling row of the table in
# docs/paper_configs.md; everything else is the corrected protocol.
_base_ = [
    './paper.py', '../datasets/cityscapes_257x513.py', '../default_runtime.py',
    '../schedules/curriculum_cityscapes.py'
]
crop_size = (257, 513)
data_preprocessor = dict(size=crop_size)
# The 19-class model cannot use the COCO 21-class classifier: the converted
# weights hold the backbone only.
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=dict(checkpoint='pretrain/deeplabv2_r101-coco_cityscapes.pth'),
    decode_head=dict(num_classes=19))
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
train_set = dict(pipeline=train_pipeline)
train_dataloader = dict(dataset=dict(labeled=train_set, unlabeled=train_set))
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
