# The corrected protocol on PASCAL VOC 2012 aug: DeepLabV2 as the paper
# defines it, on MMSeg's conventions. The VOC configs of configs/*/ inherit
# it; their twins in configs/*/paper/ inherit ./paper_voc.py (the authors'
# code) instead. Each difference is a row of docs/paper_configs.md.
_base_ = [
    '../models/deeplabv2_r101-d8.py', '../datasets/voc12_aug_321x321.py',
    '../default_runtime.py', '../schedules/curriculum_voc.py'
]
protocol = 'corrected'
crop_size = (321, 321)
data_preprocessor = dict(size=crop_size)
# The VOC model keeps the COCO 21-class classifier.
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=dict(checkpoint='pretrain/deeplabv2_r101-coco_voc.pth'),
    decode_head=dict(num_classes=21))
# Round-0 epochs by labeled ratio: none set, the curriculum loop computes
# base_epochs * sqrt(N / n) from the labeled count n of the N images.
round0_epochs = dict()
