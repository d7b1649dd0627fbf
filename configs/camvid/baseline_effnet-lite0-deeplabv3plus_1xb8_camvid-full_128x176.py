# Supervised EfficientNet-Lite0 + DeepLabV3+ on every CamVid training label
# (367 images, the "oracle" of the CamVid benchmark), 6,000 iterations of 8
# crops, the baselines' recipe otherwise (encoder lr 0.005, 10x on the head).
_base_ = [
    '../_base_/models/efficientnet-lite0_deeplabv3plus.py',
    '../_base_/datasets/camvid_semi.py', '../_base_/default_runtime.py',
    '../_base_/schedules/curriculum_camvid_effnet-lite0.py'
]
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
train_dataloader = dict(
    dataset=dict(labeled=dict(ann_file='train.txt'), unlabeled=None))
train_cfg = dict(alphas=(), baseline_iters=6000, val_interval=250)
custom_hooks = {{_base_.supervised_hooks}}
