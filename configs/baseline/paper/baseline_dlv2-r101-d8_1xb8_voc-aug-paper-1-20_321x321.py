# The paper protocol (the authors' code, docs/paper_configs.md) of
# ../baseline_dlv2-r101-d8_1xb8_voc-aug-1-20_321x321.py:
# Supervised baseline: DeepLabV2-R101 (COCO init) on the 530 labeled images of
# PASCAL VOC 2012 aug 1/20, batches of 8. It is round 0 of the DST-CBC config
# (same data, schedule and length) without self-training rounds; its
# round_0_best.pth (named in summary.json) starts that config:
#   --cfg-options train_cfg.baseline_checkpoint=<that round_0_best.pth>
# Validation every 220 iterations, as the authors' baseline scripts.
# Split 1; split 2 or 3: --cfg-options train_dataloader.dataset.split=2
# Select models on valtiny (val stays the test set): --cfg-options
#   val_dataloader.dataset.ann_file=splits/valtiny.txt
_base_ = '../../_base_/protocols/paper_voc.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-20.txt')))
# Round 0: the protocol's epochs for 1/20 (the authors' scripts).
train_cfg = dict(
    alphas=(),
    val_interval=220,
    baseline_epochs=_base_.round0_epochs.get('1-20'))
