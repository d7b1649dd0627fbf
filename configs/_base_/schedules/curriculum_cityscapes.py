# The DST-CBC curriculum on Cityscapes: 12 epochs per self-training round
# (VOC: 6) and the self-training learning rate doubled to 4e-3 (round 0
# keeps 2e-3). Unlabeled images are labeled at the training resolution,
# 1024x512 (the labels are written at the image's own size).
_base_ = './curriculum.py'
train_cfg = dict(epochs_per_round=12, round_lr_mult=2.0)
custom_hooks = [
    dict(type='PseudoLabelHook', batch_size=8, infer_scale=(1024, 512)),
    dict(type='CurriculumReportHook')
]
