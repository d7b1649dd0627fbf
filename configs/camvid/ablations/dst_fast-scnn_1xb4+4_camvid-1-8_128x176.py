# Ablation "DST" (paper Table 5) on CamVid 1/8 with Fast-SCNN: ST with the
# dynamic loss (gamma 9): one round at alpha 1, as long as DST-CBC's five
# rounds together (5 x 600 = 3,000 iterations).
# The DST-CBC config's bases and values
# (../dst-cbc_fast-scnn_1xb4+4_camvid-1-8_128x176.py: restated, as inheriting
# it would pass the three levels of _base_ allowed), then what the ablation
# changes. Start it from the split's baseline
# (../baseline_fast-scnn_1xb8_camvid-1-8_128x176.py):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
# or with python -m benchmarks.camvid.run --methods dst.
_base_ = [
    '../../_base_/models/fast_scnn_dynamic.py',
    '../../_base_/datasets/camvid_semi.py', '../../_base_/default_runtime.py',
    '../../_base_/schedules/curriculum_camvid_fast-scnn.py'
]
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
train_cfg = dict(
    baseline_iters=3000, alphas=(1.0, ), round_iters=3000, round_lr_mult=0.2)
