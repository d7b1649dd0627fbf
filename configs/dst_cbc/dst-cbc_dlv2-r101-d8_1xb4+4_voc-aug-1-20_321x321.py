# DST-CBC on PASCAL VOC 2012 aug, 1/20 labeled (530 of 10,582 images);
# everything else as the 1/106 config (gamma 9).
# Split 1; split 2 or 3: --cfg-options train_dataloader.dataset.split=2
# Select models on valtiny (val stays the test set): --cfg-options
#   val_dataloader.dataset.ann_file=splits/valtiny.txt
_base_ = './dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-106_321x321.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(
            ann_file='splits/split{split}/unlabeled_1-20.txt')))
# Round 0 lasts 30 * sqrt(20) = 134.2 epochs over the labeled images.
train_cfg = dict(baseline_epochs=134)
