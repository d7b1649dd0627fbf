# Ablation "DST-CBC + CutMix" on CamVid 1/8 with Fast-SCNN, beyond the paper's
# Table 5: DST-CBC with strong augmentation of the pseudo-labeled half
# (../../_base_/strong_aug.py): CutMix between the pseudo-labeled crops and
# their colour jitter.
# The DST-CBC config's bases and values
# (../dst-cbc_fast-scnn_1xb4+4_camvid-1-8_128x176.py: restated, as inheriting
# it would pass the three levels of _base_ allowed), then what the ablation
# changes. Start it from the split's baseline
# (../baseline_fast-scnn_1xb8_camvid-1-8_128x176.py):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
# or with python -m benchmarks.camvid.run --methods dst-cbc-cutmix.
_base_ = [
    '../../_base_/models/fast_scnn_dynamic.py',
    '../../_base_/datasets/camvid_semi.py', '../../_base_/default_runtime.py',
    '../../_base_/schedules/curriculum_camvid_fast-scnn.py',
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
train_cfg = dict(baseline_iters=3000, round_iters=600, round_lr_mult=0.2)
