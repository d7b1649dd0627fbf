# Ablation "DST-C" (paper Table 5, VOC 1/20): the curriculum without class
# balance. Each round keeps the top-alpha most confident pixels under one
# global threshold instead of one threshold per class. Start it from the
# 1/20 baseline:
#   --cfg-options load_from=work_dirs/<baseline 1/20>/round_0_best.pth
_base_ = '../dst_cbc/dst-cbc_dlv2-r101-d8_1xb4+4_voc-aug-1-20_321x321.py'
custom_hooks = [
    dict(type='PseudoLabelHook', batch_size=1, class_balanced=False),
    dict(type='CurriculumReportHook')
]
