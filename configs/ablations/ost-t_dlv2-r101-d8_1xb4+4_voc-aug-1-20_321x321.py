# Ablation "OST-T" (paper Table 5, VOC 1/20): online self-training keeping
# only the pixels whose current confidence is above 0.9. Start it from the
# 1/20 baseline:
#   --cfg-options load_from=work_dirs/<baseline 1/20>/round_0_best.pth
_base_ = './ost_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
model = dict(decode_head=dict(loss_decode=dict(online_threshold=0.9)))
