# The corrected protocol on Cityscapes: DeepLabV2 as the paper defines it,
# on MMSeg's conventions. The Cityscapes configs of configs/*/ inherit it;
# their twins in configs/*/paper/ inherit ./paper_cityscapes.py (the
# authors' code) instead. Each difference is a row of docs/paper_configs.md.
_base_ = [
    '../models/deeplabv2_r101-d8.py', '../datasets/cityscapes_257x513.py',
    '../default_runtime.py', '../schedules/curriculum_cityscapes.py'
]
protocol = 'corrected'
crop_size = (257, 513)
data_preprocessor = dict(size=crop_size)
# The 19-class model cannot use the COCO 21-class classifier: the converted
# weights hold the backbone only.
model = dict(
    data_preprocessor=data_preprocessor,
    init_cfg=dict(checkpoint='pretrain/deeplabv2_r101-coco_cityscapes.pth'),
    decode_head=dict(num_classes=19))
# Round-0 epochs by labeled ratio: none set, the curriculum loop computes
# base_epochs * sqrt(N / n) from the labeled count n of the N images.
round0_epochs = dict()
