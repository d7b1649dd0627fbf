# Ablation "DST-C" (paper Table 5) on CamVid 1/8 with EfficientNet-Lite0 +
# DeepLabV3+: the curriculum without class balance: each round keeps the
# top-alpha most confident pixels under one global threshold instead of one
# threshold per class.
# The DST-CBC config's bases and values
# (../dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-1-8_128x176.py:
# restated, as inheriting it would pass the three levels of _base_ allowed),
# then what the ablation changes. Start it from the split's baseline
# (../baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_128x176.py):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
# or with python -m benchmarks.camvid.run --methods dst-c.
_base_ = [
    '../../_base_/models/efficientnet-lite0_deeplabv3plus.py',
    '../../_base_/datasets/camvid_semi.py', '../../_base_/default_runtime.py',
    '../../_base_/schedules/curriculum_camvid_effnet-lite0.py'
]
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
train_cfg = dict(baseline_iters=6000, epochs_per_round=12)
# The labeling hook with one global threshold.
pseudo_label_hook = dict(_base_.pseudo_label_hook, class_balanced=False)
custom_hooks = [
    pseudo_label_hook, _base_.report_hook,
    dict(type='ChannelsLastHook')
]
