# Supervised "full" baseline (the oracle): DeepLabV2-R101 (COCO init) on all
# 10,582 PASCAL VOC 2012 aug train images, batches of 8, 30 epochs: the
# curriculum loop without self-training rounds and without unlabeled images.
# The best checkpoint by val mIoU is round_0_best.pth (named in summary.json).
# With G GPUs keep the total batch of 8 (the length assumes it):
#   bash tools/dist_train.sh CONFIG 4 \
#       --cfg-options train_dataloader.batch_size=2
# Paper protocol (the authors' code, docs/paper_configs.md):
#   baseline/paper/baseline_dlv2-r101-d8_1xb8_voc-aug-paper-full_321x321.py
_base_ = '../_base_/protocols/corrected_voc.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='ImageSets/Segmentation/trainaug.txt'),
        unlabeled=None))
# 30 epochs (corrected: None, computed as 30 * sqrt(N / N) by the loop).
train_cfg = dict(alphas=(), baseline_epochs=_base_.round0_epochs.get('full'))
