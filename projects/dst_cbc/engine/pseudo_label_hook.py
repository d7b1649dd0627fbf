"""Label the unlabeled images for a self-training round."""
from typing import List, Optional, Sequence

from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import DATASETS, HOOKS
from ..datasets.semi_dataset import unlabeled_dataset_cfg
from ..pseudo_labels import PseudoLabeler, PseudoLabels
from ..pseudo_labels.label_folder import (label_files, reusable_labels,
                                          round_folder, write_manifest)
from ..utils import config_fingerprint, file_sha256
from .precision import inference_autocast


@HOOKS.register_module()
class PseudoLabelHook(Hook):
    """Labels the unlabeled images at the start of each self-training round
    and switches the train dataloader to them.

    In :class:`~dst_cbc.engine.CurriculumTrainLoop`, a round is MMEngine's
    epoch: before round r >= 1 trains (``before_train_epoch``), the loop has
    loaded the best checkpoint so far into the model; the hook reads the
    round, its alpha and that checkpoint from the loop's public properties
    (``round``, ``alpha``, ``best``), and the model labels every unlabeled
    image of the run's config (``train_dataloader.dataset.unlabeled``) once,
    keeping per class the top ``alpha`` most confident pixels, into
    ``<work_dir>/<out_dir>/round_<r>/`` (:mod:`~dst_cbc.pseudo_labels.
    label_folder`), in the precision the run trains in (bf16 autocast with
    ``--amp`` on a CPU that supports it).

    Args:
        infer_scale (Sequence[int], optional): ``(width, height)`` to resize
            images to for labeling (the paper's 321x321 on VOC). Labels are
            still written at the image's own size unless
            ``store_at_infer_scale``. Defaults to None: label at the image's
            own size.
        store_at_infer_scale (bool): Write the labels at ``infer_scale``
            (the authors' code; ground truth is resized, nearest, for the
            statistics). Defaults to False.
        class_balanced (bool): One threshold per class (DST-CBC) or one
            global threshold (the DST-C ablation). Defaults to True.
        batch_size (int): Images per labeling forward pass. Defaults to 1.
        cache_images (bool): Decode (and resize) each unlabeled image once
            per process and reuse it in later rounds
            (:class:`~dst_cbc.datasets.CachedLoad`). Defaults to False.
        store_confidence (bool): Also store the labeling model's confidence
            of every pixel next to its pseudo label, for losses weighting
            pseudo-labeled pixels by it (the OW ablation; read back with
            :class:`~dst_cbc.datasets.LoadPseudoConfidence`). Recorded in
            the manifest, so a folder without confidences is not reused.
            Defaults to False.
        out_dir (str): Folder inside the work dir. Defaults to
            ``'pseudo_labels'``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 infer_scale: Optional[Sequence[int]] = None,
                 store_at_infer_scale: bool = False,
                 class_balanced: bool = True,
                 batch_size: int = 1,
                 cache_images: bool = False,
                 store_confidence: bool = False,
                 out_dir: str = 'pseudo_labels') -> None:
        if store_at_infer_scale and infer_scale is None:
            raise ValueError('PseudoLabelHook: store_at_infer_scale=True '
                             'needs infer_scale')
        self.infer_scale = None if infer_scale is None else tuple(infer_scale)
        self.store_at_infer_scale = store_at_infer_scale
        self.class_balanced = class_balanced
        self.batch_size = batch_size
        self.cache_images = cache_images
        self.store_confidence = store_confidence
        self.out_dir = out_dir

    def before_train(self, runner) -> None:
        """Refuse a train loop without rounds to label for."""
        loop = runner.train_loop
        if not all(hasattr(loop, name) for name in ('round', 'alpha', 'best')):
            raise TypeError(
                'PseudoLabelHook labels the rounds of a curriculum: it needs '
                "train_cfg type='CurriculumTrainLoop', got "
                f'{type(loop).__name__}')

    def before_train_epoch(self, runner) -> None:
        """Label round r >= 1 and train it on labeled + pseudo-labeled images.

        The train dataloader is rebuilt from the loop's config with the
        round's label folder (``dataset.pseudo_label_dir``).
        """
        loop = runner.train_loop
        if loop.round == 0:
            return
        labels = self.label_round(runner, loop.round, loop.alpha,
                                  loop.best.checkpoint)
        cfg = loop.dataloader_cfg
        cfg['dataset']['pseudo_label_dir'] = labels.folder
        loop.dataloader = runner.build_dataloader(cfg, seed=runner.seed)

    def labeling_pipeline(self) -> List[dict]:
        """The pipeline that loads an unlabeled image for labeling."""
        pipeline = [dict(type='LoadImageFromFile')]
        if self.infer_scale is not None:
            pipeline.append(
                dict(type='Resize', scale=self.infer_scale, keep_ratio=False))
        if self.store_at_infer_scale:
            pipeline.append(dict(type='ResetOriginalShape'))
        if self.cache_images:
            pipeline = [dict(type='CachedLoad', transforms=pipeline)]
        pipeline.append(dict(type='PackSegInputs'))
        return pipeline

    def label_round(self, runner, rnd: int, alpha: float,
                    checkpoint: str) -> PseudoLabels:
        """The pseudo labels of round ``rnd``, made by the model as it is.

        A round's folder carries a manifest (round, alpha, checkpoint used
        and its SHA-256, config fingerprint, ``store_confidence`` when set,
        thresholds, number of files, complete flag). A complete folder made
        by this run from the same checkpoint is reused (``--resume``); an
        incomplete or stale one is regenerated; one written for another
        config is refused.

        Args:
            runner (Runner): The runner; ``runner.model`` labels.
            rnd (int): The round, >= 1.
            alpha (float): Share of each class's pixels to keep.
            checkpoint (str): The checkpoint the model holds (recorded).

        Returns:
            PseudoLabels: The round's label folder and statistics.
        """
        folder = round_folder(runner.work_dir, self.out_dir, rnd)
        identity = dict(
            config=config_fingerprint(runner.cfg),
            round=rnd,
            alpha=alpha,
            checkpoint=checkpoint,
            checkpoint_sha256=file_sha256(checkpoint))
        if self.store_confidence:
            identity['store_confidence'] = True
        labels = reusable_labels(folder, identity)
        if labels is not None:
            print_log(
                f'round {rnd}: reusing the complete pseudo labels in '
                f'{folder}',
                logger='current')
            return labels
        barrier()  # every rank has read the old manifest before it changes
        if is_main_process():
            write_manifest(folder, dict(identity, complete=False))
        stats = self._label(runner, rnd, alpha, folder)
        if is_main_process():
            write_manifest(
                folder,
                dict(
                    identity,
                    thresholds=stats['thresholds'],
                    num_files=stats['num_images'],
                    complete=True))
        return PseudoLabels(folder, stats)

    def _label(self, runner, rnd: int, alpha: float, folder: str) -> dict:
        """Run the labeler over the run's unlabeled images into ``folder``."""
        unlabeled_cfg = unlabeled_dataset_cfg(
            runner.cfg.train_dataloader.dataset)
        dataset = DATASETS.build(
            dict(unlabeled_cfg, pipeline=self.labeling_pipeline()))
        print_log(
            f'round {rnd}: pseudo-labeling {len(dataset)} images '
            f'(alpha={alpha}) into {folder}',
            logger='current')
        labeler = PseudoLabeler(
            num_classes=len(dataset.metainfo['classes']),
            class_balanced=self.class_balanced,
            batch_size=self.batch_size,
            store_confidence=self.store_confidence,
            resize_gt=self.store_at_infer_scale)
        with inference_autocast(runner.optim_wrapper):
            return labeler.run(runner.model, dataset, folder, alpha,
                               label_files(unlabeled_cfg, folder))
