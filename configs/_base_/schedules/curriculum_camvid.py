# The curriculum on CamVid at CPU scale: validation every 200 iterations (on
# the list the config's val_dataloader names; the benchmark selects on
# valtiny), labeling at the training scale with each unlabeled image decoded
# once for all rounds, and no periodic checkpoint beyond the round ends.
_base_ = './curriculum.py'
randomness = dict(seed=0)
train_cfg = dict(val_interval=200)
pseudo_label_hook = dict(
    _base_.pseudo_label_hook,
    batch_size=8,
    infer_scale=(240, 180),
    cache_images=True)
custom_hooks = [pseudo_label_hook, _base_.report_hook]
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=100000))
