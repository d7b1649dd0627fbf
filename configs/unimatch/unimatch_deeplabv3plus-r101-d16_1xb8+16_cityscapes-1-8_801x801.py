# UniMatch on Cityscapes, the authors' split 1/8: 372 of the 2,975
# train images labeled, the other 2,603 unlabeled
# (paper_splits/unimatch/cityscapes/1_8, written to splits/unimatch/1_8/
# by tools/make_unimatch_splits.py). The authors' protocol
# (../_base_/protocols/unimatch_cityscapes.py): 8 labeled + 8 unlabeled + 8
# CutMix-source crops of 801 x 801 per iteration, 240 epochs over the
# unlabeled images (78,090 iterations), lr 5e-3, threshold 0,
# OHEM on the labeled crops, sliding-window evaluation at full resolution. The
# authors report 77.9 mIoU on val (their README, DeepLabV3+ R101).
_base_ = '../_base_/protocols/unimatch_cityscapes.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/unimatch/1_8/labeled.txt'),
        unlabeled=dict(ann_file='splits/unimatch/1_8/unlabeled.txt')))
