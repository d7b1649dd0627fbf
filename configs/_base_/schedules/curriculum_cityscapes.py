# The DST-CBC curriculum on Cityscapes: round 0 lasts twice the VOC length,
# base_epochs * sqrt(N / n) = 60 * sqrt(N / n) epochs over the n labeled of N
# training images (unless a config sets train_cfg.baseline_epochs), then 12
# epochs per self-training round (VOC: 6) with the learning rate doubled to
# 4e-3 (round 0 keeps 2e-3). Corrected protocol: unlabeled images are
# labeled at the training resolution, 1024x512 (the labels are written at
# the image's own size).
_base_ = './curriculum.py'
train_cfg = dict(epochs_per_round=12, base_epochs=60, round_lr_mult=2.0)
pseudo_label_hook = dict(
    _base_.pseudo_label_hook, batch_size=8, infer_scale=(1024, 512))
custom_hooks = [pseudo_label_hook, _base_.report_hook]
