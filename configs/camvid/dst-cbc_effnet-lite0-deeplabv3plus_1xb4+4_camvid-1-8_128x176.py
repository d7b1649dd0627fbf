# DST-CBC on CamVid at half resolution with an ImageNet-pretrained
# EfficientNet-Lite0 + DeepLabV3+ head: round 0 is the supervised baseline on
# the 1/8 labeled list (45 images, 6,000 iterations of 8 crops), then 5
# rounds (alpha 0.2 .. 1.0) of 12 passes over the unlabeled images (the
# paper's Cityscapes setting; 972 iterations of 4 labeled + 4 pseudo-labeled
# crops), gamma 9, each round restarting at the baseline's lr (encoder 0.005,
# 10x on the head) with a fresh poly decay. Start from a trained baseline
# (baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_128x176) with
# --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>.
_base_ = [
    '../_base_/models/efficientnet-lite0_deeplabv3plus.py',
    '../_base_/datasets/camvid_semi.py', '../_base_/default_runtime.py',
    '../_base_/schedules/curriculum_camvid_effnet-lite0.py'
]
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
train_cfg = dict(baseline_iters=6000, epochs_per_round=12)
