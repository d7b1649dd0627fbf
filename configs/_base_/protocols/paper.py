# The paper protocol's rows that hold for every dataset, all in the model:
# DeepLabV2-R101 (../models/deeplabv2_r101-d8.py) as the authors' code
# (voldemortX/DST-CBC, branch dst-cbc) built it. ./paper_voc.py and
# ./paper_cityscapes.py add their dataset's rows (resize, evaluation,
# labeling, round-0 epochs). One block per row of the table in
# docs/paper_configs.md.
_base_ = '../models/deeplabv2_r101-d8.py'
protocol = 'paper'
model = dict(
    backbone=dict(
        # torchvision's ResNet layout, into which the authors loaded the
        # COCO weights: stride on the 3x3 conv, first block of a dilated
        # stage at half its dilation (layer3[0]: 1, layer4[0]: 2).
        style='pytorch',
        contract_dilation=True,
        # Trained BatchNorm: batch statistics, weights in SGD with decay.
        norm_cfg=dict(requires_grad=True),
        norm_eval=False),
    decode_head=dict(
        # The classifier returned inside its loop: dilations 6 and 12 only.
        summed_branches=2,
        # align_corners=True for every upsampling of logits (training loss,
        # labeling, evaluation).
        align_corners=True))
# BatchNorm statistics of the whole batch of 8 on any number of GPUs:
# MMEngine's Runner converts every BatchNorm of a launched run
# (tools/dist_train.sh, --launcher) to torch's SyncBatchNorm, which on one GPU
# computes what BatchNorm does. Unlaunched runs keep BatchNorm; CPU processes,
# which SyncBatchNorm cannot run on, keep their own statistics (dst_cbc.cli).
sync_bn = 'torch'
