# The supervised baseline of EfficientNet-Lite0 + DeepLabV3+ on the 1/16
# labeled list (22 images), the 1/8 baseline's recipe (6,000 iterations of 8
# crops, encoder lr 0.005, 10x on the head). Round 0 of
# dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-1-16_128x176.
_base_ = [
    '../_base_/models/efficientnet-lite0_deeplabv3plus.py',
    '../_base_/datasets/camvid_semi.py', '../_base_/default_runtime.py',
    '../_base_/schedules/curriculum_camvid_effnet-lite0.py'
]
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-16.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-16.txt')))
train_cfg = dict(alphas=(), baseline_iters=6000, val_interval=250)
custom_hooks = {{_base_.supervised_hooks}}
