# The default run: DST-CBC on the generated synthetic data, 1/8 labeled (split 1).
# Round 0 trains the supervised baseline; five rounds follow with
# alpha = 0.2 .. 1.0 and the dynamic loss (gamma 9). Runs on CPU.
_base_ = [
    '../_base_/models/dlv2_r18-mini.py', '../_base_/datasets/synthetic.py',
    '../_base_/default_runtime.py', '../_base_/schedules/curriculum.py'
]
crop_size = (64, 64)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
optimizer = dict(lr=0.02)
optim_wrapper = dict(optimizer=optimizer)
train_cfg = dict(epochs_per_round=6, val_interval=100)
default_hooks = dict(logger=dict(interval=20))
