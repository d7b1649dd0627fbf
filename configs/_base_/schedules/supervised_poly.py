# Plain supervised training (the "full" baselines): the paper's SGD and poly
# schedule over an IterBasedTrainLoop. Each config sets the length, e.g.
#   train_cfg = dict(max_iters=N)
#   param_scheduler = [dict(type='PolyLR', ..., end=N)]
# with N = epochs * ceil(num_images / 8) (a total batch of 8).
optimizer = dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
train_cfg = dict(type='IterBasedTrainLoop', val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=1000,
        max_keep_ckpts=1,
        save_best='mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
