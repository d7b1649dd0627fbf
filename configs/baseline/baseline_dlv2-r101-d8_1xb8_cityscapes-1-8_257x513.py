# Supervised baseline: DeepLabV2-R101 (COCO init) on the 371 labeled images of
# Cityscapes at 512x1024 1/8, batches of 8. It is round 0 of the DST-CBC config
# (same data, schedule and length) without self-training rounds; its
# round_0_best.pth (named in summary.json) starts that config:
#   --cfg-options train_cfg.baseline_checkpoint=<that round_0_best.pth>
# Validation every 350 iterations, as the authors' baseline scripts.
# Split 1; split 2 or 3: --cfg-options train_dataloader.dataset.split=2
# Select models on valtiny (val stays the test set): --cfg-options
#   val_dataloader.dataset.ann_file=splits/valtiny.txt
# Paper protocol (the authors' code, docs/paper_configs.md):
#   baseline/paper/baseline_dlv2-r101-d8_1xb8_cityscapes-paper-1-8_257x513.py
_base_ = '../_base_/protocols/corrected_cityscapes.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-8.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-8.txt')))
# Round 0: the protocol's epochs for 1/8, none: the loop computes
# 60 * sqrt(N / n).
train_cfg = dict(
    alphas=(),
    val_interval=350,
    baseline_epochs=_base_.round0_epochs.get('1-8'))
