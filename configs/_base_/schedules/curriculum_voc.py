# The DST-CBC curriculum on PASCAL VOC: 6 epochs per self-training round,
# lr 2e-3 throughout. Unlabeled images are labeled at their own size (as the
# authors' later code; the paper resized them to 321x321, which distorts
# the aspect ratio our augmentation keeps), one image per forward pass:
# MMSeg's data preprocessor cannot batch test images of different sizes.
_base_ = './curriculum.py'
train_cfg = dict(epochs_per_round=6)
custom_hooks = [
    dict(type='PseudoLabelHook', batch_size=1),
    dict(type='CurriculumReportHook')
]
