# Ablation "ST" (paper Table 5, VOC 1/20): plain self-training. One round
# with every pixel pseudo-labeled (alpha 1), plain cross-entropy (gamma 0),
# 30 epochs over the unlabeled images. Start it from the 1/20 baseline:
#   --cfg-options load_from=work_dirs/<baseline 1/20>/round_0_best.pth
_base_ = '../dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
model = dict(decode_head=dict(loss_decode=dict(gamma=0.0)))
train_cfg = dict(alphas=(1.0, ), epochs_per_round=30)
