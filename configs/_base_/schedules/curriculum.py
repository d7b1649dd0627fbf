# DST-CBC schedule: SGD + a poly schedule that restarts every round.
# The PolyLR below has no `end`: CurriculumTrainLoop stretches it over each
# round's iterations (round 0 and every self-training round).
optimizer = dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, by_epoch=False)
]
train_cfg = dict(
    type='CurriculumTrainLoop',
    alphas=(0.2, 0.4, 0.6, 0.8, 1.0),
    epochs_per_round=6,
    val_interval=1000,
    metric='mIoU')
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=False,
        interval=1000,
        max_keep_ckpts=1),
    # CurriculumTrainLoop sets the sampler's epoch itself.
    sampler_seed=None,
    visualization=dict(type='SegVisualizationHook'))
# The hooks by name: a config that changes the labeling hook writes
#   pseudo_label_hook = dict(_base_.pseudo_label_hook, class_balanced=False)
#   custom_hooks = [pseudo_label_hook, _base_.report_hook]
# (custom_hooks is a list: MMEngine replaces it, it does not merge it).
pseudo_label_hook = dict(type='PseudoLabelHook', batch_size=8)
report_hook = dict(type='CurriculumReportHook')
custom_hooks = [pseudo_label_hook, report_hook]
