# The paper protocol (the authors' code, docs/paper_configs.md) of
# ../dst-c_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py:
# Ablation "DST-C" (paper Table 5, VOC 1/20): the curriculum without class
# balance. Each round keeps the top-alpha most confident pixels under one
# global threshold instead of one threshold per class.
# Start it from the split's 1/20 baseline (configs/baseline/paper/):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
_base_ = '../../_base_/protocols/paper_voc.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-20.txt')))
train_cfg = dict(baseline_epochs=_base_.round0_epochs.get('1-20'))
# The protocol's labeling hook with one global threshold.
pseudo_label_hook = dict(_base_.pseudo_label_hook, class_balanced=False)
custom_hooks = [pseudo_label_hook, _base_.report_hook]
