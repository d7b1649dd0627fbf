# Supervised "full" baseline: DeepLabV2-R101 (COCO init) on all 10,582
# PASCAL VOC 2012 aug images, batches of 8, 30 epochs. Plain MMSeg training
# (IterBasedTrainLoop): there is no unlabeled image, so no split and no
# curriculum. The best checkpoint by val mIoU is kept (best_mIoU_iter_*.pth).
# With G GPUs keep the total batch of 8 (the length below assumes it):
#   bash tools/dist_train.sh CONFIG 4 \
#       --cfg-options train_dataloader.batch_size=2
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/voc12_aug_321x321.py',
    '../_base_/default_runtime.py', '../_base_/schedules/supervised_poly.py'
]
crop_size = (321, 321)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=dict(checkpoint='pretrain/deeplabv2_r101-coco_voc.pth'),
    decode_head=dict(num_classes=21))
# 30 epochs x ceil(10582 / 8) = 30 x 1323 iterations.
train_cfg = dict(max_iters=39690, val_interval=1000)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=39690,
        by_epoch=False)
]
