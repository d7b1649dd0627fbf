# The paper protocol (the authors' code, docs/paper_configs.md) of
# ../dst-cbc_dlv2-r101-d8_1xb4+4_cityscapes-1-4_257x513.py:
# DST-CBC on Cityscapes at 512x1024, 1/4 labeled (743 of 2,975 images),
# DeepLabV2-R101 from COCO, one GPU x (4 labeled + 4 pseudo-labeled) images.
# Round 0 trains the supervised baseline; rounds 1-5 self-train with alpha =
# 0.2 .. 1.0 (12 epochs over the unlabeled images each, lr 4e-3), gamma 9. To
# start from a trained baseline instead (round 0 skipped), add
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
# Split 1; split 2 or 3: --cfg-options train_dataloader.dataset.split=2
# Select models on valtiny (val stays the test set): --cfg-options
#   val_dataloader.dataset.ann_file=splits/valtiny.txt
_base_ = '../../_base_/protocols/paper_cityscapes.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-4.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-4.txt')))
# Round 0: the protocol's epochs for 1/4 (the authors' scripts).
train_cfg = dict(baseline_epochs=_base_.round0_epochs.get('1-4'))
