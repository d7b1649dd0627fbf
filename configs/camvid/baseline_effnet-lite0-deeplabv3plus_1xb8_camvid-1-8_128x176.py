# The supervised baseline with an ImageNet-pretrained backbone:
# EfficientNet-Lite0 + DeepLabV3+ head on the 1/8 labeled list (45 images),
# 6,000 iterations of 8 crops, as long as the all-labels oracle (3,000 ended
# 1.7 val mIoU below them on splits 1 and 2), SGD with poly decay, encoder lr
# 0.005 and 10x on the head.
# It is round 0 of
# dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-1-8_128x176 (same data,
# model and recipe) without self-training rounds; its round_0_best.pth starts
# that config (train_cfg.baseline_checkpoint). Another split:
# --cfg-options train_dataloader.dataset.split=2
_base_ = [
    '../_base_/models/efficientnet-lite0_deeplabv3plus.py',
    '../_base_/datasets/camvid_semi.py', '../_base_/default_runtime.py',
    '../_base_/schedules/curriculum_camvid_effnet-lite0.py'
]
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
train_cfg = dict(alphas=(), baseline_iters=6000, val_interval=250)
custom_hooks = {{_base_.supervised_hooks}}
