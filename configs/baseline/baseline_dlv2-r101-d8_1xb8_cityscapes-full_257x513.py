# Supervised "full" baseline: DeepLabV2-R101 (COCO init) on all 2,975
# Cityscapes train images at 512x1024, batches of 8, 60 epochs (twice the
# VOC length, as the paper). Plain MMSeg training (IterBasedTrainLoop):
# there is no unlabeled image, so no split and no curriculum. The best
# checkpoint by val mIoU is kept (best_mIoU_iter_*.pth).
# With G GPUs keep the total batch of 8 (the length below assumes it):
#   bash tools/dist_train.sh CONFIG 4 \
#       --cfg-options train_dataloader.batch_size=2
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/cityscapes_257x513.py',
    '../_base_/default_runtime.py', '../_base_/schedules/supervised_poly.py'
]
crop_size = (257, 513)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=dict(checkpoint='pretrain/deeplabv2_r101-coco_cityscapes.pth'),
    decode_head=dict(num_classes=19))
# 60 epochs x ceil(2975 / 8) = 60 x 372 iterations.
train_cfg = dict(max_iters=22320, val_interval=1000)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=22320,
        by_epoch=False)
]
