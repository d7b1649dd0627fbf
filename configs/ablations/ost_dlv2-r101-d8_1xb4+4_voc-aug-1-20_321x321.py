# Ablation "OST" (paper Table 5, VOC 1/20): online self-training. The
# pseudo-labeled half of every batch is labeled by the argmax of the model
# being trained on that very batch (detached); plain cross-entropy, one
# round of 30 epochs. The round still writes alpha-1 pseudo labels first;
# only their IGNORE pixels (none but crop padding) are used. Start it from
# the 1/20 baseline:
#   --cfg-options load_from=work_dirs/<baseline 1/20>/round_0_best.pth
_base_ = '../dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
model = dict(
    decode_head=dict(
        loss_decode=dict(gamma=0.0, online=True, online_threshold=0.0)))
train_cfg = dict(alphas=(1.0, ), epochs_per_round=30)
