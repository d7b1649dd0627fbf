# Supervised Fast-SCNN on CamVid at half resolution with every training label
# (the "oracle" of the CamVid benchmark): plain MMSeg iteration-based training.
_base_ = ['./dst-cbc_fast-scnn_4+4xb1_camvid-1-8_180x240.py']
train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='CamVidDataset',
        data_root={{_base_.data_root}},
        data_prefix={{_base_.train_images}},
        ann_file='train.txt',
        pipeline={{_base_.train_pipeline}}))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=6000,
         by_epoch=False)
]
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=6000,
    val_interval=250)
# The model is the best checkpoint on the validation list (valtiny in the
# benchmark); the ones kept every 1000 iterations show the training curve.
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=1000, max_keep_ckpts=-1, save_best='mIoU',
        rule='greater'))
custom_hooks = []
