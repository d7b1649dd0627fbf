# The paper protocol (the authors' code, docs/paper_configs.md) of
# ../ost_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py:
# Ablation "OST" (paper Table 5, VOC 1/20): online self-training. The
# pseudo-labeled half of every batch is labeled by the argmax of the model
# being trained on that very batch (detached); plain cross-entropy, one
# round of 30 epochs. The round still writes alpha-1 pseudo labels first;
# only their IGNORE pixels (none but crop padding) are used.
# Start it from the split's 1/20 baseline (configs/baseline/paper/):
#   --cfg-options train_cfg.baseline_checkpoint=<its round_0_best.pth>
_base_ = '../../_base_/protocols/paper_voc.py'
model = dict(
    decode_head=dict(
        loss_decode=dict(gamma=0.0, online=True, online_threshold=0.0)))
train_dataloader = dict(
    dataset=dict(
        labeled=dict(ann_file='splits/split{split}/labeled_1-20.txt'),
        unlabeled=dict(ann_file='splits/split{split}/unlabeled_1-20.txt')))
train_cfg = dict(
    alphas=(1.0, ),
    epochs_per_round=30,
    baseline_epochs=_base_.round0_epochs.get('1-20'))
