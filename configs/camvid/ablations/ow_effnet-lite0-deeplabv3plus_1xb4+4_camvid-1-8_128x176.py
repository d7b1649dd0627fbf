# Ablation "OW" (paper Table 5) on CamVid 1/8 with EfficientNet-Lite0 +
# DeepLabV3+: DST-CBC with the weight of a pseudo-labeled pixel taken from the
# labeling model (its max softmax probability, stored next to every pseudo
# label) instead of the model being trained.
# The DST-CBC config's bases and values
# (../dst-cbc_effnet-lite0-deeplabv3plus_1xb4+4_camvid-1-8_128x176.py:
# restated, as inheriting it would pass the three levels of _base_ allowed),
# then what the ablation changes. Start it from the split's baseline
# (../baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_128x176.py):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
# or with python -m benchmarks.camvid.run --methods ow.
_base_ = [
    '../../_base_/models/efficientnet-lite0_deeplabv3plus.py',
    '../../_base_/datasets/camvid_semi.py', '../../_base_/default_runtime.py',
    '../../_base_/schedules/curriculum_camvid_effnet-lite0.py'
]
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    decode_head=dict(loss_decode=dict(weight_source='stored')))
# The training pipeline, plus the stored confidence (CamVid's first
# transform, CachedLoad, loads the image and the label).
pseudo_label_pipeline = (
    _base_.train_pipeline[:1] + [dict(type='LoadPseudoConfidence')] +
    _base_.train_pipeline[1:-1] + [dict(type='PackSegInputsWithConfidence')])
train_dataloader = dict(
    dataset=dict(unlabeled=dict(pipeline=pseudo_label_pipeline)))
train_cfg = dict(baseline_iters=6000, epochs_per_round=12)
# The labeling hook, storing the confidences.
pseudo_label_hook = dict(_base_.pseudo_label_hook, store_confidence=True)
custom_hooks = [
    pseudo_label_hook, _base_.report_hook,
    dict(type='ChannelsLastHook')
]
