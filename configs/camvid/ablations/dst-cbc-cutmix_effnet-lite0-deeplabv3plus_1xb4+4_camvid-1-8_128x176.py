# Ablation "DST-CBC + CutMix" on CamVid 1/8 with EfficientNet-Lite0 +
# DeepLabV3+, beyond the paper's Table 5: DST-CBC with strong augmentation of
# the pseudo-labeled half (../../_base_/strong_aug.py): CutMix between the
# pseudo-labeled crops and their colour jitter.
# The DST-CBC config's bases and values
# (../dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-1-8_128x176.py:
# restated, as inheriting it would pass the three levels of _base_ allowed),
# then what the ablation changes. Start it from the split's baseline
# (../baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_128x176.py):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
# or with python -m benchmarks.camvid.run --methods dst-cbc-cutmix.
_base_ = [
    '../../_base_/models/efficientnet-lite0_deeplabv3plus.py',
    '../../_base_/datasets/camvid_semi.py', '../../_base_/default_runtime.py',
    '../../_base_/schedules/curriculum_camvid_effnet-lite0.py',
    '../../_base_/strong_aug.py'
]
model = dict(
    data_preprocessor=dict(
        _base_.strong_aug_preprocessor, size={{_base_.crop_size}}))
train_dataloader = dict(
    dataset=dict(
        unlabeled=dict(
            pipeline=_base_.train_pipeline[:-1] +
            [_base_.pseudo_colour_jitter, _base_.train_pipeline[-1]])))
train_cfg = dict(baseline_iters=6000, epochs_per_round=12)
