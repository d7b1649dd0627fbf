# Ablation "DST" (paper Table 5, VOC 1/20): ST plus the dynamic loss
# (gamma 9). One round at alpha 1, 30 epochs over the unlabeled images.
# Start it from the 1/20 baseline:
#   --cfg-options load_from=work_dirs/<baseline 1/20>/round_0_best.pth
_base_ = '../dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
train_cfg = dict(alphas=(1.0, ), epochs_per_round=30)
