# UniMatch on CamVid 1/8 (split 1) started from the split's supervised
# baseline instead of ImageNet weights, as DST-CBC's rounds start: the best
# checkpoint of baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_128x176
# trained by tools/train.py into its default work dir (another one:
# --cfg-options load_from=<its round_0_best.pth>), then 30 epochs over the
# unlabeled images (2,415 iterations of 4 labeled + 4 unlabeled + 4 CutMix
# sources, about the wall time of DST-CBC's five rounds on a CPU) with the
# UniMatch CamVid recipe's lr and a fresh poly decay, as each DST-CBC round
# restarts the baseline's lr.
_base_ = './unimatch_effnet-lite0-deeplabv3plus_1xb4+8_camvid-1-8_128x176.py'
load_from = ('work_dirs/baseline_effnet-lite0-deeplabv3plus_1xb8_camvid-1-8_'
             '128x176/round_0_best.pth')
train_cfg = dict(epochs=30)
