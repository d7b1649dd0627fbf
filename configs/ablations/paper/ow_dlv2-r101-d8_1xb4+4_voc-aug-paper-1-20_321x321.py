# The paper protocol (the authors' code, docs/paper_configs.md) of
# ../ow_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py:
# Ablation "OW" (paper Table 5, VOC 1/20): DST-CBC (five rounds, class
# balanced, gamma 9) with the weight of a pseudo-labeled pixel taken from the
# labeling model instead of the model being trained: w = p_label(y) ** 9,
# where p_label(y) is the labeling model's max softmax probability, stored
# next to every pseudo label (16-bit PNG, resolution 1/65535) and fixed for
# the round. The unlabeled images' pipeline carries that confidence map
# through resize, crop and flip with the label.
# Start it from the split's 1/20 baseline (configs/baseline/paper/):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
_base_ = '../../_base_/protocols/paper_voc.py'
model = dict(decode_head=dict(loss_decode=dict(weight_source='stored')))
# The protocol's training pipeline, plus the confidence map.
pseudo_label_pipeline = (
    _base_.train_pipeline[:2] + [dict(type='LoadPseudoConfidence')] +
    _base_.train_pipeline[2:-1] + [dict(type='PackSegInputsWithConfidence')])
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(
            ann_file='splits/split{split}/unlabeled_1-20.txt',
            pipeline=pseudo_label_pipeline)))
train_cfg = dict(baseline_epochs=_base_.round0_epochs.get('1-20'))
# The protocol's labeling hook, storing the confidences.
pseudo_label_hook = dict(_base_.pseudo_label_hook, store_confidence=True)
custom_hooks = [pseudo_label_hook, _base_.report_hook]
