# The semi-supervised data of the GPU configs (PASCAL VOC, Cityscapes), the
# part that does not depend on the dataset: ./voc12_aug_321x321.py and
# ./cityscapes_257x513.py fill it with their dataset, images and pipelines.
# Training reads a labeled and an unlabeled list of one ratio and split
# (tools/make_splits.py writes splits/split{1,2,3}/); each config sets them,
# e.g. 'splits/split{split}/labeled_1-20.txt', and `split` picks the shuffle:
# --cfg-options train_dataloader.dataset.split=2. Full supervision lists
# every training image as labeled and no unlabeled set. Every batch is 4
# labeled + 4 pseudo-labeled images (MixedBatchSampler; supervised rounds
# use 8 labeled ones), loaded by 4 pinned, persistent workers per GPU.
# Model selection on `valtiny` (val stays the test set):
#   --cfg-options val_dataloader.dataset.ann_file=splits/valtiny.txt
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='MixedBatchSampler', shuffle=True),
    dataset=dict(type='SemiSegDataset', split=1))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
