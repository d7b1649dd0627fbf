# The supervised baseline of the CamVid benchmark: Fast-SCNN from scratch on
# the 1/8 labeled list of split 1 (45 images), plain MMSeg iteration-based
# training; its best checkpoint on the validation list is DST-CBC's round 0
# (`load_from`). Another split: --cfg-options
# train_dataloader.dataset.ann_file=<its labeled list>.
_base_ = ['./fast-scnn_8xb1_camvid-full_180x240.py']
train_dataloader = dict(
    dataset=dict(ann_file='data/camvid/splits/split1/labeled_1-8.txt'))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=3000,
         by_epoch=False)
]
train_cfg = dict(max_iters=3000)
