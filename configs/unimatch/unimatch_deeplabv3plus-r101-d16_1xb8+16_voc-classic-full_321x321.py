# UniMatch on PASCAL VOC 2012, the authors' "classic" split 1464: all 1,464 of
# VOC's 1,464 finely labeled train images labeled, the other 9,118 of the
# 10,582 aug images unlabeled (paper_splits/unimatch/pascal/1464, written to
# splits/unimatch/1464/ by tools/make_unimatch_splits.py). The authors'
# protocol (../_base_/protocols/unimatch_voc.py): 8 labeled + 8 unlabeled + 8
# CutMix-source crops of 321 x 321 per iteration, 80 epochs over the unlabeled
# images (91,180 iterations), lr 1e-3 (10x on the head),
# threshold 0.95. The authors report 81.2 mIoU on val (their README,
# DeepLabV3+ R101, 4 GPUs).
_base_ = '../_base_/protocols/unimatch_voc.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/unimatch/1464/labeled.txt'),
        unlabeled=dict(ann_file='splits/unimatch/1464/unlabeled.txt')))
