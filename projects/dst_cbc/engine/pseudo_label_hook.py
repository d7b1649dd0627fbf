"""Label the unlabeled images when a self-training round starts."""
import copy
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import DATASETS, HOOKS
from ..pseudo_labels import PseudoLabeler


@HOOKS.register_module()
class PseudoLabelHook(Hook):
    """Ask the labeler for a round's pseudo labels at the round's start.

    Works with :class:`CurriculumTrainLoop`: before round r >= 1 trains, the
    current model (the best so far, just loaded by the loop) labels every
    unlabeled image once, keeping per class the top ``alpha_r`` most confident
    pixels, into ``<work_dir>/<out_dir>/round_<r>/``.

    Args:
        infer_scale (Sequence[int], optional): ``(width, height)`` to resize
            images to for labeling (the paper's 321x321 on VOC). Labels are
            still written at the image's own size. Defaults to None: label
            at the image's own size.
        class_balanced (bool): One threshold per class (DST-CBC) or one
            global threshold (the DST-C ablation). Defaults to True.
        batch_size (int): Images per labeling forward pass. Defaults to 1.
        out_dir (str): Folder inside the work dir. Defaults to
            ``'pseudo_labels'``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 infer_scale: Optional[Sequence[int]] = None,
                 class_balanced: bool = True,
                 batch_size: int = 1,
                 out_dir: str = 'pseudo_labels') -> None:
        self.infer_scale = None if infer_scale is None else tuple(infer_scale)
        self.class_balanced = class_balanced
        self.batch_size = batch_size
        self.out_dir = out_dir

    def labeling_pipeline(self) -> List[dict]:
        """The pipeline that loads an unlabeled image for labeling."""
        pipeline = [dict(type='LoadImageFromFile')]
        if self.infer_scale is not None:
            pipeline.append(
                dict(type='Resize', scale=self.infer_scale, keep_ratio=False))
        pipeline.append(dict(type='PackSegInputs'))
        return pipeline

    def before_train_epoch(self, runner) -> None:
        """Label the unlabeled images if a self-training round starts."""
        loop = runner.train_loop
        if getattr(loop, 'round', 0) == 0:
            return
        dataset_cfg = copy.deepcopy(loop.unlabeled_cfg)
        dataset_cfg['pipeline'] = self.labeling_pipeline()
        dataset = DATASETS.build(dataset_cfg)
        num_classes = len(dataset.metainfo['classes'])
        out = osp.join(runner.work_dir, self.out_dir, f'round_{loop.round}')
        print_log(
            f'round {loop.round}: pseudo-labeling {len(dataset)} images '
            f'(alpha={loop.alpha}) into {out}',
            logger='current')
        labeler = PseudoLabeler(
            num_classes=num_classes,
            class_balanced=self.class_balanced,
            batch_size=self.batch_size)
        stats = labeler.run(runner.model, dataset, out, loop.alpha)
        loop.set_pseudo_labels(out, stats)
