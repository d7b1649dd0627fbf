# DST-CBC on Cityscapes at 512x1024, 1/8 labeled (371 of 2,975 images);
# everything else as the 1/30 config.
# Split 1; split 2 or 3: --cfg-options train_dataloader.dataset.split=2
# Select models on valtiny (val stays the test set): --cfg-options
#   val_dataloader.dataset.ann_file=splits/valtiny.txt
_base_ = './dst-cbc_dlv2-r101-d8_1xb4+4_cityscapes-1-30_257x513.py'
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-8.txt'),
        unlabeled=dict(
            ann_file='splits/split{split}/unlabeled_1-8.txt')))
# Round 0 lasts 2 * 30 * sqrt(8) = 169.7 epochs over the labeled images.
train_cfg = dict(baseline_epochs=170)
