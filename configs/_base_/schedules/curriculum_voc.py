# The DST-CBC curriculum on PASCAL VOC: round 0 lasts
# base_epochs * sqrt(N / n) = 30 * sqrt(N / n) epochs over the n labeled of N
# training images (unless a config sets train_cfg.baseline_epochs), then 6
# epochs over the unlabeled images per self-training round, lr 2e-3
# throughout. Corrected protocol: unlabeled images are labeled at their own
# size, one image per forward pass (MMSeg's data preprocessor cannot batch
# test images of different sizes).
_base_ = './curriculum.py'
train_cfg = dict(epochs_per_round=6, base_epochs=30)
pseudo_label_hook = dict(_base_.pseudo_label_hook, batch_size=1)
custom_hooks = [pseudo_label_hook, _base_.report_hook]
