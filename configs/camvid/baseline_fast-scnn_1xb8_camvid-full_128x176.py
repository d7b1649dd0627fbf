# Supervised Fast-SCNN on every CamVid training label (367 images, the
# "oracle" of the CamVid benchmark), 6,000 iterations of 8 crops, the
# baseline's recipe otherwise.
_base_ = [
    '../_base_/models/fast_scnn_dynamic.py',
    '../_base_/datasets/camvid_semi.py', '../_base_/default_runtime.py',
    '../_base_/schedules/curriculum_camvid.py'
]
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5))
train_dataloader = dict(
    dataset=dict(labeled=dict(ann_file='train.txt'), unlabeled=None))
train_cfg = dict(alphas=(), baseline_iters=6000, val_interval=250)
custom_hooks = [dict(type='CurriculumReportHook')]
