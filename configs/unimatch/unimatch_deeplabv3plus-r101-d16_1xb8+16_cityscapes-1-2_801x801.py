# UniMatch on Cityscapes, the authors' split 1/2: 1,488 of the 2,975
# train images labeled, the other 1,487 unlabeled
# (paper_splits/unimatch/cityscapes/1_2, written to splits/unimatch/1_2/
# by tools/make_unimatch_splits.py). The authors' protocol
# (../_base_/protocols/unimatch_cityscapes.py): 8 labeled + 8 unlabeled + 8
# CutMix-source crops of 801 x 801 per iteration, 240 epochs over the
# unlabeled images (44,610 iterations), lr 5e-3, threshold 0,
# OHEM on the labeled crops, sliding-window evaluation at full resolution. The
# authors report 79.5 mIoU on val (their README, DeepLabV3+ R101).
_base_ = '../_base_/protocols/unimatch_cityscapes.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/unimatch/1_2/labeled.txt'),
        unlabeled=dict(ann_file='splits/unimatch/1_2/unlabeled.txt')))
