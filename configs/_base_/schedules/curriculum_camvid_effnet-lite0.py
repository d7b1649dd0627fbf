# The CamVid curriculum of EfficientNet-Lite0 + DeepLabV3+: SGD at lr 0.005
# on the ImageNet-pretrained encoder and 10x on the head, in channels_last
# (ChannelsLastHook: a training step takes 0.76x the time of the contiguous
# layout here, fp32, one thread; benchmarks/amp measures it). Supervised
# configs (baselines, oracle) use `supervised_hooks` as their custom_hooks.
_base_ = './curriculum_camvid.py'
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)}))
custom_hooks = [
    _base_.pseudo_label_hook, _base_.report_hook,
    dict(type='ChannelsLastHook')
]
supervised_hooks = [_base_.report_hook, dict(type='ChannelsLastHook')]
