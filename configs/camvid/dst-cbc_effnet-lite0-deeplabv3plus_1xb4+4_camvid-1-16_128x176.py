# DST-CBC with EfficientNet-Lite0 + DeepLabV3+ on the 1/16 labeled list of
# CamVid (22 images; 345 unlabeled): the 1/8 config's rounds (5 rounds of 12
# passes over the unlabeled images, 1,044 iterations of 4 labeled + 4
# pseudo-labeled crops, gamma 9, the baseline's lr). Start from
# baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-16_128x176 with
# --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>.
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
train_cfg = dict(baseline_iters=6000, epochs_per_round=12)
