# DST-CBC on CamVid at half resolution with Fast-SCNN trained from scratch:
# round 0 is the supervised baseline on the 1/8 labeled list (45 images),
# then 5 rounds (alpha 0.2 .. 1.0) of 4 labeled + 4 pseudo-labeled images.
_base_ = [
    '../_base_/models/fast_scnn_dynamic.py',
    '../_base_/datasets/camvid_semi.py', '../_base_/default_runtime.py',
    '../_base_/schedules/curriculum.py'
]
data_preprocessor = dict(size={{_base_.crop_size}})
model = dict(data_preprocessor=data_preprocessor)
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5)
optim_wrapper = dict(optimizer=optimizer)
train_cfg = dict(
    baseline_iters=3000, round_iters=600, val_interval=200,
    round_lr_mult=0.2)
# Label at the training scale (the model never saw full-resolution objects),
# decoding each unlabeled image once for all rounds.
custom_hooks = [
    dict(
        type='PseudoLabelHook',
        batch_size=8,
        infer_scale=(240, 180),
        cache_images=True),
    dict(type='CurriculumReportHook')
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=100000))
