"""Label the unlabeled images when a self-training round starts."""
import copy
import json
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import DATASETS, HOOKS
from ..pseudo_labels import PseudoLabeler
from ..utils import atomic_write_json, config_fingerprint, file_sha256

MANIFEST = 'manifest.json'


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
                 class_balanced: bool = True,
                 batch_size: int = 1,
                 cache_images: bool = False,
                 store_confidence: bool = False,
                 out_dir: str = 'pseudo_labels') -> None:
        self.infer_scale = None if infer_scale is None else tuple(infer_scale)
        self.class_balanced = class_balanced
        self.batch_size = batch_size
        self.cache_images = cache_images
        self.store_confidence = store_confidence
        self.out_dir = out_dir

    def labeling_pipeline(self) -> List[dict]:
        """The pipeline that loads an unlabeled image for labeling."""
        pipeline = [dict(type='LoadImageFromFile')]
        if self.infer_scale is not None:
            pipeline.append(
                dict(type='Resize', scale=self.infer_scale, keep_ratio=False))
        if self.cache_images:
            pipeline = [dict(type='CachedLoad', transforms=pipeline)]
        pipeline.append(dict(type='PackSegInputs'))
        return pipeline

    def before_train_epoch(self, runner) -> None:
        """Label the unlabeled images if a self-training round starts.

        A round's folder carries ``manifest.json`` (round, alpha, checkpoint
        used and its SHA-256, config fingerprint, ``store_confidence`` when
        set, thresholds, number of files, complete flag). A complete folder
        made by this run from the same checkpoint is reused (``--resume``);
        an incomplete or stale one is regenerated; one written for another
        config is refused.
        """
        loop = runner.train_loop
        if getattr(loop, 'round', 0) == 0:
            return
        out = osp.join(runner.work_dir, self.out_dir, f'round_{loop.round}')
        checkpoint = loop.best['checkpoint']
        identity = dict(
            config=config_fingerprint(runner.cfg),
            round=loop.round,
            alpha=loop.alpha,
            checkpoint=checkpoint,
            checkpoint_sha256=file_sha256(checkpoint))
        if self.store_confidence:
            identity['store_confidence'] = True
        manifest = _read_manifest(out)
        if manifest is not None and manifest.get('config') != identity['config']:
            raise ValueError(
                f'{out} holds pseudo labels of another run or config (its '
                'manifest.json has another config fingerprint); use another '
                '--work-dir or delete that folder')
        if manifest is not None and manifest.get('complete') and all(
                manifest.get(k) == v for k, v in identity.items()):
            print_log(f'round {loop.round}: reusing the complete pseudo '
                      f'labels in {out}', logger='current')
            with open(osp.join(out, 'stats.json')) as f:
                loop.set_pseudo_labels(out, json.load(f))
            return
        barrier()  # every rank has read the old manifest before it changes
        if is_main_process():
            atomic_write_json(
                osp.join(out, MANIFEST), dict(identity, complete=False))
        stats = self._label(runner, loop, out)
        if is_main_process():
            atomic_write_json(
                osp.join(out, MANIFEST),
                dict(identity, thresholds=stats['thresholds'],
                     num_files=stats['num_images'], complete=True))
        loop.set_pseudo_labels(out, stats)

    def _label(self, runner, loop, out: str) -> dict:
        """Run the labeler over the unlabeled images into ``out``."""
        dataset_cfg = copy.deepcopy(loop.unlabeled_cfg)
        dataset_cfg['pipeline'] = self.labeling_pipeline()
        dataset = DATASETS.build(dataset_cfg)
        num_classes = len(dataset.metainfo['classes'])
        print_log(
            f'round {loop.round}: pseudo-labeling {len(dataset)} images '
            f'(alpha={loop.alpha}) into {out}',
            logger='current')
        labeler = PseudoLabeler(
            num_classes=num_classes,
            class_balanced=self.class_balanced,
            batch_size=self.batch_size,
            store_confidence=self.store_confidence)
        return labeler.run(runner.model, dataset, out, loop.alpha)


def _read_manifest(folder: str) -> Optional[dict]:
    """The folder's manifest, or None when it has none."""
    path = osp.join(folder, MANIFEST)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)
