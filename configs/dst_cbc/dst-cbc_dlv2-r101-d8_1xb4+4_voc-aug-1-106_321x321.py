# DST-CBC on PASCAL VOC 2012 aug, 1/106 labeled (99 of 10,582 images),
# DeepLabV2-R101 from COCO, one GPU x (4 labeled + 4 pseudo-labeled) images.
# Round 0 trains the supervised baseline; rounds 1-5 self-train with
# alpha = 0.2 .. 1.0 (6 epochs over the unlabeled images each), gamma 9.
# Split 1; split 2 or 3: --cfg-options train_dataloader.dataset.split=2
# Select models on valtiny (val stays the test set): --cfg-options
#   val_dataloader.dataset.ann_file=splits/valtiny.txt
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/voc12_aug_semi_321x321.py',
    '../_base_/default_runtime.py', '../_base_/schedules/curriculum_voc.py'
]
crop_size = (321, 321)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=dict(checkpoint='pretrain/deeplabv2_r101-coco_voc.pth'),
    decode_head=dict(num_classes=21, loss_decode=dict(gamma=9.0)))
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-106.txt'),
        unlabeled=dict(
            ann_file='splits/split{split}/unlabeled_1-106.txt')))
# Round 0 lasts 30 * sqrt(106) = 308.9 epochs over the labeled images.
train_cfg = dict(baseline_epochs=309, val_interval=1000)
