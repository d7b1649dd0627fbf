# Ablation "DST" (paper Table 5, VOC 1/20): ST plus the dynamic loss
# (gamma 9). One round at alpha 1, 30 epochs over the unlabeled images.
# Start it from the split's 1/20 baseline (configs/baseline/):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
# Paper protocol (the authors' code, docs/paper_configs.md):
#   ablations/paper/dst_dlv2-r101-d8_1xb4+4_voc-aug-paper-1-20_321x321.py
_base_ = '../_base_/protocols/corrected_voc.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-20.txt')))
train_cfg = dict(
    alphas=(1.0, ),
    epochs_per_round=30,
    baseline_epochs=_base_.round0_epochs.get('1-20'))
