# Ablation "DST" (paper Table 5) on CamVid 1/8 with EfficientNet-Lite0 +
# DeepLabV3+: ST with the dynamic loss (gamma 9): one round at alpha 1, as long
# as DST-CBC's five rounds together (5 x 12 = 60 passes over the unlabeled
# images, 4,860 iterations).
# The DST-CBC config's bases and values
# (../dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-1-8_128x176.py:
# restated, as inheriting it would pass the three levels of _base_ allowed),
# then what the ablation changes. Start it from the split's baseline
# (../baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_128x176.py):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
# or with python -m benchmarks.camvid.run --methods dst.
_base_ = [
    '../../_base_/models/efficientnet-lite0_deeplabv3plus.py',
    '../../_base_/datasets/camvid_semi.py', '../../_base_/default_runtime.py',
    '../../_base_/schedules/curriculum_camvid_effnet-lite0.py'
]
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
train_cfg = dict(baseline_iters=6000, alphas=(1.0, ), epochs_per_round=60)
