# UniMatch on CamVid at half resolution, the DST-CBC CamVid 1/16 lists (22
# labeled, 345 unlabeled images of split 1), EfficientNet-Lite0 (ImageNet) +
# DeepLabV3+ on a CPU (../_base_/protocols/unimatch_camvid.py): 4 labeled + 4
# unlabeled + 4 CutMix-source crops of 128 x 176 per iteration, 80 epochs
# over the unlabeled images (6,900 iterations), threshold 0.95, lr 0.005 (10x
# on the head), validation every 200 iterations.
_base_ = '../_base_/protocols/unimatch_camvid.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-16.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-16.txt')))
train_cfg = dict(epochs=80)
