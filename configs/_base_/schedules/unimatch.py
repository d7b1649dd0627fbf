# UniMatch's schedule, the authors' (unimatch.py): SGD (momentum 0.9, weight
# decay 1e-4) with a poly decay (power 0.9) over the whole run, no warm-up.
# SemiIterBasedTrainLoop lasts `epochs` passes over the unlabeled images,
# counting `unlabeled_per_iter` of them per iteration (the protocols set it
# to half the sampler's num_pseudo: the other half are CutMix sources, as
# the authors count), so the PolyLR below (no `end`) spans the run. Every
# val_interval iterations: validation and an atomic checkpoint (the last
# kept, and the best by mIoU); report.md plots the loss terms and the
# confident-pixel ratio (TrainingCurvesHook, `report_hook`).
optimizer = dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, by_epoch=False)
]
val_interval = 2000
train_cfg = dict(
    type='SemiIterBasedTrainLoop', epochs=80, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=False,
        interval=val_interval,
        max_keep_ckpts=1,
        save_best='mIoU',
        rule='greater'),
    # SemiIterBasedTrainLoop sets the sampler's epoch itself.
    sampler_seed=None,
    visualization=dict(type='SegVisualizationHook'))
report_hook = dict(type='TrainingCurvesHook')
custom_hooks = [report_hook]
