# The CamVid curriculum of Fast-SCNN trained from scratch: SGD at lr 0.05
# (weight decay 4e-5, Fast-SCNN's). Supervised configs (baselines, oracle)
# use `supervised_hooks` as their custom_hooks.
_base_ = './curriculum_camvid.py'
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5))
supervised_hooks = [_base_.report_hook]
