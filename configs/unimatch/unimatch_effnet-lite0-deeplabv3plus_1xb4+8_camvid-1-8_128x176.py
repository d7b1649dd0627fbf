# UniMatch on CamVid at half resolution, the DST-CBC CamVid 1/8 lists (45
# labeled, 322 unlabeled images of split 1; another split:
# --cfg-options train_dataloader.dataset.split=2), EfficientNet-Lite0
# (ImageNet) + DeepLabV3+ on a CPU (../_base_/protocols/unimatch_camvid.py):
# 4 labeled + 4 unlabeled + 4 CutMix-source crops of 128 x 176 per
# iteration, 80 epochs over the unlabeled images (6,440 iterations),
# threshold 0.95, lr 0.005 (10x on the head), validation every 200
# iterations on the val list (the CamVid benchmark selects on valtiny).
_base_ = '../_base_/protocols/unimatch_camvid.py'
train_cfg = dict(epochs=80)
