# Supervised baseline: DeepLabV2-R101 (COCO init) on the 2645 labeled images of
# PASCAL VOC 2012 aug 1/4, batches of 8. It is round 0 of the DST-CBC config
# (same data, schedule and length) without self-training rounds (the
# pseudo-label hook has nothing to do in round 0), so its
# round_0_best.pth starts that config: --cfg-options load_from=<it>.
# Validation every 500 iterations, as the authors' baseline scripts.
# Split 1; split 2 or 3: --cfg-options train_dataloader.dataset.split=2
# Select models on valtiny (val stays the test set): --cfg-options
#   val_dataloader.dataset.ann_file=splits/valtiny.txt
_base_ = '../dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-4_321x321.py'
train_cfg = dict(alphas=(), val_interval=500)
