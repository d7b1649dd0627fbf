# UniMatch on PASCAL VOC 2012 aug, the authors' "blended" split 1/16:
# 662 of the 10,582 aug images labeled (VOC and SBD labels), the other
# 9,920 unlabeled (paper_splits/unimatch/pascal/1_16, written to
# splits/unimatch/1_16/ by tools/make_unimatch_splits.py). The authors'
# protocol (../_base_/protocols/unimatch_voc.py): 8 labeled + 8 unlabeled + 8
# CutMix-source crops of 321 x 321 per iteration, 80 epochs over the unlabeled
# images (99,200 iterations), lr 1e-3 (10x on the head),
# threshold 0.95. The authors' logs (training-logs/, crop 321, DeepLabV3+
# R101) reach 77.0 mIoU on val (mean of 3 runs' best).
_base_ = '../_base_/protocols/unimatch_voc.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/unimatch/1_16/labeled.txt'),
        unlabeled=dict(ann_file='splits/unimatch/1_16/unlabeled.txt')))
