# DST-CBC on Cityscapes at 512x1024, 1/30 labeled (99 of 2,975 images),
# DeepLabV2-R101 from COCO, one GPU x (4 labeled + 4 pseudo-labeled) images.
# Round 0 trains the supervised baseline (lr 2e-3); rounds 1-5 self-train
# with alpha = 0.2 .. 1.0, 12 epochs each, lr 4e-3, gamma 9.
# Split 1; split 2 or 3: --cfg-options train_dataloader.dataset.split=2
# Select models on valtiny (val stays the test set): --cfg-options
#   val_dataloader.dataset.ann_file=splits/valtiny.txt
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/cityscapes_semi_257x513.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/curriculum_cityscapes.py'
]
crop_size = (257, 513)
data_preprocessor = dict(size=crop_size)
# The 19-class model cannot use the COCO 21-class classifier: the converted
# weights hold the backbone only.
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=dict(checkpoint='pretrain/deeplabv2_r101-coco_cityscapes.pth'),
    decode_head=dict(num_classes=19, loss_decode=dict(gamma=9.0)))
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-30.txt'),
        unlabeled=dict(
            ann_file='splits/split{split}/unlabeled_1-30.txt')))
# Round 0 lasts 2 * 30 * sqrt(30) = 328.6 epochs over the labeled images.
train_cfg = dict(baseline_epochs=329, val_interval=1000)
