"""Offline class-balanced pseudo-labeling of an unlabeled set, one model pass.

Phase 1 runs the labeling model once over this rank's shard of the images,
keeps each image's argmax label (uint8) and uncertainty (float16) in memory
(beyond ``scratch_memory_mb``, in a scratch file) and accumulates a
per-class uncertainty histogram, summed over ranks. Phase 2 turns the
histogram into class-balanced thresholds, thresholds the stored labels,
writes them as 8-bit PNGs (IGNORE = ``ignore_index``) and
gathers statistics (coverage, thresholds and, when the images have ground
truth, the pseudo labels' IoU in percent).

With ``store_confidence=True`` (the paper's OW ablation) phase 1 also keeps
each pixel's confidence, the labeling model's max softmax probability, and
phase 2 writes it next to the label; every pixel gets its confidence, IGNORE
pixels included. The files and their encoding are those of
:mod:`.label_folder`.
"""
import os
import os.path as osp
import shutil
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.dataset import BaseDataset, pseudo_collate
from mmengine.dist import all_reduce, barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from torch import Tensor, nn

from mmseg.models.utils import resize
from ..utils import load_ground_truth
from .class_balanced import (NUM_BINS, apply_thresholds, bin_to_confidence,
                             check_alpha, thresholds_from_histogram,
                             uncertainty_bins, uncertainty_from_logits,
                             update_histogram)
from .label_folder import (SCRATCH_DIR, encode_confidence, write_label,
                           write_stats)


def original_size_logits(model: nn.Module, data: dict) -> List[Tensor]:
    """Each image's logits at its original size, without MMSeg's argmax.

    Gives the ``seg_logits`` of ``model.test_step(data)`` but skips the rest
    of MMSeg's ``postprocess_result``: the argmax over classes (and, for a
    one-class model, the sigmoid) and the ``SegDataSample`` results. Runs
    the data preprocessor in test mode and ``model.inference`` (whole or
    sliding window, as ``model.test_cfg`` says), then, as
    ``postprocess_result`` does, per image: crops the padding added by the
    preprocessor (``img_padding_size``, else ``padding_size``), undoes a
    ``flip`` and resizes bilinearly to ``ori_shape`` with the model's
    ``align_corners``.

    Args:
        model (nn.Module): An MMSeg segmentor (``data_preprocessor``,
            ``inference`` and ``align_corners``, e.g. ``EncoderDecoder``),
            possibly in a model wrapper such as MMDistributedDataParallel.
        data (dict): A collated batch (``inputs`` and ``data_samples``) of
            images of one size, e.g. from ``pseudo_collate``.

    Returns:
        list[Tensor]: One image's (C, H, W) logits per data sample, at its
        ``ori_shape`` (H, W), on the model's device.
    """
    if is_model_wrapper(model):
        model = model.module
    data = model.data_preprocessor(data, False)
    batch_img_metas = [sample.metainfo for sample in data['data_samples']]
    seg_logits = model.inference(data['inputs'], batch_img_metas)
    height, width = seg_logits.shape[2:]
    logits = []
    for i, img_meta in enumerate(batch_img_metas):
        left, right, top, bottom = img_meta.get(
            'img_padding_size', img_meta.get('padding_size', [0] * 4))
        i_logits = seg_logits[i:i + 1, :, top:height - bottom,
                              left:width - right]
        if img_meta.get('flip'):
            direction = img_meta.get('flip_direction')
            if direction not in ('horizontal', 'vertical'):
                raise ValueError(
                    f'flip_direction must be "horizontal" or "vertical", '
                    f'got {direction!r}')
            i_logits = i_logits.flip(
                dims=(3, ) if direction == 'horizontal' else (2, ))
        logits.append(
            resize(
                i_logits,
                size=img_meta['ori_shape'],
                mode='bilinear',
                align_corners=model.align_corners,
                warning=False).squeeze(0))
    return logits


def _ratio(num: float, den: float, scale: float = 1.0) -> Optional[float]:
    """``scale * num / den``, None when ``den`` is 0."""
    return scale * float(num) / float(den) if den else None


class Scratch:
    """Phase 1's per-image arrays until phase 2 takes them: in memory up
    to a budget, in ``.npz`` files of ``folder`` beyond it.

    Args:
        folder (str): Folder of the scratch files (exists).
        memory_mb (float): Megabytes kept in memory.
    """

    def __init__(self, folder: str, memory_mb: float) -> None:
        self.folder = folder
        self._budget = memory_mb * 2**20
        self._memory: Dict[int, Dict[str, np.ndarray]] = {}

    def _file(self, idx: int) -> str:
        return osp.join(self.folder, f'{idx}.npz')

    def put(self, idx: int, arrays: Dict[str, np.ndarray]) -> None:
        """Keep image ``idx``'s arrays."""
        size = sum(a.nbytes for a in arrays.values())
        if size <= self._budget:
            self._budget -= size
            self._memory[idx] = arrays
        else:
            np.savez(self._file(idx), **arrays)

    def pop(self, idx: int) -> Dict[str, np.ndarray]:
        """Hand back and forget image ``idx``'s arrays."""
        if idx in self._memory:
            arrays = self._memory.pop(idx)
            self._budget += sum(a.nbytes for a in arrays.values())
            return arrays
        with np.load(self._file(idx)) as stored:
            arrays = dict(stored)
        os.remove(self._file(idx))
        return arrays


class PseudoLabeler:
    """Writes one round's class-balanced pseudo labels with one model pass.

    Args:
        num_classes (int): Number of classes of the segmentor (2 .. 255).
        ignore_index (int): Label of discarded pixels, written to the PNGs;
            must fit in 8 bits and not be a class. Defaults to 255.
        class_balanced (bool): Per-class thresholds (DST-CBC). False uses one
            global threshold (the paper's DST-C ablation). Defaults to True.
        batch_size (int): Images per forward pass. Defaults to 1.
        store_confidence (bool): Also write each image's confidence map (the
            labeling model's max softmax probability per pixel, uint16 PNG at
            :func:`.label_folder.confidence_file` of the label) for the OW
            ablation. Defaults to False.
        resize_gt (bool): Resize ground truth (nearest) to the label's size
            for the statistics, for labels stored at a labeling size; else a
            ground truth of another size is an error. Defaults to False.
        scratch_memory_mb (float): Megabytes of phase 1's per-image arrays
            (3 bytes a pixel, 5 with confidences) kept in memory per rank;
            the images beyond go to scratch files. Defaults to 1024.
    """

    def __init__(self,
                 num_classes: int,
                 ignore_index: int = 255,
                 class_balanced: bool = True,
                 batch_size: int = 1,
                 store_confidence: bool = False,
                 resize_gt: bool = False,
                 scratch_memory_mb: float = 1024) -> None:
        if not 2 <= num_classes <= 255:
            raise ValueError(
                f'num_classes must be in [2, 255], got {num_classes}')
        if not num_classes <= ignore_index <= 255:
            raise ValueError(f'ignore_index must be in [num_classes, 255] = '
                             f'[{num_classes}, 255] to fit an 8-bit PNG, got '
                             f'{ignore_index}')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_balanced = class_balanced
        self.batch_size = batch_size
        self.store_confidence = store_confidence
        self.resize_gt = resize_gt
        self.scratch_memory_mb = scratch_memory_mb

    def run(self, model: nn.Module, dataset: BaseDataset, out_dir: str,
            alpha: float, label_files: Sequence[str]) -> dict:
        """Label ``dataset`` with ``model`` and write the labels to
        ``label_files``, the statistics to ``out_dir``.

        Every rank labels the images ``rank::world_size``; all ranks must
        call this. Each label is written once, by the rank owning the image.

        Args:
            model (nn.Module): An MMSeg segmentor, possibly wrapped in
                MMDistributedDataParallel; its logits at each image's
                original size come from :func:`original_size_logits`.
            dataset (BaseDataset): MMSeg dataset of the unlabeled images with
                a labeling pipeline (load image, optional fixed resize, pack).
            out_dir (str): Folder of this round's pseudo labels.
            alpha (float): Fraction of each class's pixels kept, in (0, 1].
            label_files (Sequence[str]): Where the label of each image of
                ``dataset`` goes (:func:`.label_folder.label_files`).

        Returns:
            dict: The statistics also written to ``out_dir/stats.json``:
            ``alpha``, ``class_balanced``, ``num_images``, ``classes``,
            per-class ``thresholds`` (confidence, None for an empty class),
            ``class_pixels`` (assigned by argmax), ``class_kept_pixels``,
            ``class_coverage`` (fraction kept, None when empty), overall
            ``coverage`` (fraction), ``num_gt_images`` and, against ground
            truth when there is any (else None), ``class_iou``,
            ``pseudo_miou`` and ``pseudo_acc`` in percent over pixels valid
            in both the pseudo label and the ground truth. With
            ``store_confidence``, also ``store_confidence=True``.
        """
        alpha = check_alpha(alpha)
        if len(label_files) != len(dataset):
            raise ValueError(f'{len(label_files)} label files for '
                             f'{len(dataset)} images')
        rank, world_size = get_dist_info()
        indices = list(range(rank, len(dataset), world_size))
        scratch_dir = osp.join(out_dir, SCRATCH_DIR)
        if rank == 0 and osp.isdir(scratch_dir):
            shutil.rmtree(scratch_dir)  # left over by an interrupted run
        barrier()
        os.makedirs(scratch_dir, exist_ok=True)

        scratch = Scratch(scratch_dir, self.scratch_memory_mb)
        hist = self._infer(model, dataset, indices, scratch)
        all_reduce(hist)
        bin_thr = thresholds_from_histogram(hist, alpha, self.class_balanced)
        counts = self._write_labels(dataset, indices, scratch, label_files,
                                    bin_thr)
        all_reduce(counts)  # every rank has finished its labels after this
        try:
            os.rmdir(scratch_dir)
        except FileNotFoundError:  # another rank on this filesystem did it
            pass

        stats = self._stats(dataset, alpha, hist, bin_thr, counts)
        if rank == 0:
            write_stats(out_dir, stats)
            print_log(
                f'Pseudo labels (alpha={alpha}) written to {out_dir}: '
                f'coverage {stats["coverage"]}, pseudo mIoU '
                f'{stats["pseudo_miou"]}',
                logger='current')
        barrier()
        return stats

    def _infer(self, model: nn.Module, dataset: BaseDataset,
               indices: List[int], scratch: 'Scratch') -> Tensor:
        """Phase 1: the only model pass; stores labels and uncertainties.

        Returns:
            Tensor: This rank's int64 histogram, shape (C, NUM_BINS).
        """
        hist = torch.zeros(self.num_classes, NUM_BINS, dtype=torch.int64)
        # Rank 0 shows its shard's progress and ETA (shards are equal-sized).
        progress = (
            ProgressBar(len(indices))
            if get_dist_info()[0] == 0 and indices else None)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for chunk, samples in self._batches(dataset, indices):
                    logits = original_size_logits(model,
                                                  pseudo_collate(samples))
                    for idx, image_logits in zip(chunk, logits):
                        self._store(idx, image_logits, hist, scratch)
                    if progress is not None:
                        progress.update(len(chunk))
        finally:
            model.train(was_training)
            if progress is not None:
                progress.file.write('\n')
        return hist

    def _batches(self, dataset: BaseDataset,
                 indices: List[int]) -> Iterator[Tuple[List[int], List[dict]]]:
        """Consecutive images of one size, up to ``batch_size`` at a time.

        MMSeg's data preprocessor stacks test images only when they share a
        size, so a batch closes early where the size changes (VOC); datasets
        of one image size (Cityscapes, CamVid) get full batches.
        """
        chunk: List[int] = []
        samples: List[dict] = []
        for idx in indices:
            sample = self._load(dataset, idx)
            if samples and (
                    len(chunk) == self.batch_size
                    or sample['inputs'].shape != samples[0]['inputs'].shape):
                yield chunk, samples
                chunk, samples = [], []
            chunk.append(idx)
            samples.append(sample)
        if chunk:
            yield chunk, samples

    @staticmethod
    def _load(dataset: BaseDataset, idx: int) -> dict:
        """Run the labeling pipeline on image ``idx`` (no random refetch)."""
        data = dataset.prepare_data(idx)
        if data is None:
            img_path = dataset.get_data_info(idx)['img_path']
            raise ValueError(f'the labeling pipeline dropped image {img_path}')
        return data

    def _store(self, idx: int, logits: Tensor, hist: Tensor,
               scratch: 'Scratch') -> None:
        """Add one image's logits to ``hist`` and its arrays to
        ``scratch``."""
        if logits.dim() != 3 or logits.shape[0] != self.num_classes:
            raise ValueError(
                f'expected seg_logits of shape ({self.num_classes}, H, W), '
                f'got {tuple(logits.shape)}')
        label, u = uncertainty_from_logits(logits)
        label, u = label.cpu(), u.cpu()
        update_histogram(hist, label, uncertainty_bins(u))
        arrays = dict(label=label.numpy(), u=u.numpy())
        if self.store_confidence:
            arrays['confidence'] = encode_confidence(
                logits.float().softmax(dim=0).amax(dim=0))
        scratch.put(idx, arrays)

    def _write_labels(self, dataset: BaseDataset, indices: Sequence[int],
                      scratch: 'Scratch', label_files: Sequence[str],
                      bin_thr: Tensor) -> Tensor:
        """Phase 2: threshold stored labels, write PNGs, count for stats.

        Returns:
            Tensor: int64 counts of this rank: kept, intersection, pseudo
            area and ground-truth area per class (4 * C), then the number of
            pixels valid in both, of correct ones and of images with ground
            truth.
        """
        C = self.num_classes
        kept, intersect, pred_area, gt_area = (
            torch.zeros(C, dtype=torch.int64) for _ in range(4))
        valid_total, correct_total, num_gt_images = 0, 0, 0
        for idx in indices:
            data_info = dataset.get_data_info(idx)
            stored = scratch.pop(idx)
            label = torch.from_numpy(stored['label'])
            bins = uncertainty_bins(torch.from_numpy(stored['u']))
            confidence = stored.get('confidence')
            pseudo = apply_thresholds(label, bins, bin_thr, self.ignore_index)
            write_label(label_files[idx], pseudo.numpy(), confidence)
            kept += torch.bincount(
                pseudo[pseudo != self.ignore_index].long(), minlength=C)

            gt = self._load_gt(dataset, data_info, pseudo.shape)
            if gt is None:
                continue
            num_gt_images += 1
            valid = (pseudo != self.ignore_index) & (gt != self.ignore_index)
            pred, true = pseudo[valid].long(), gt[valid].long()
            hit = pred == true
            intersect += torch.bincount(pred[hit], minlength=C)
            pred_area += torch.bincount(pred, minlength=C)
            gt_area += torch.bincount(true, minlength=C)
            valid_total += pred.numel()
            correct_total += int(hit.sum())
        return torch.cat([
            kept, intersect, pred_area, gt_area,
            torch.tensor([valid_total, correct_total, num_gt_images])
        ])

    def _load_gt(self, dataset: BaseDataset, data_info: dict,
                 shape: torch.Size) -> Optional[Tensor]:
        """Ground truth of an image as in evaluation, or None without it."""
        gt = load_ground_truth(data_info,
                               getattr(dataset, 'reduce_zero_label', False))
        if gt is None:
            return None
        seg_map_path = data_info['seg_map_path']
        if self.resize_gt and gt.shape != tuple(shape):
            gt = mmcv.imresize(gt, tuple(shape)[::-1], interpolation='nearest')
        gt = torch.from_numpy(gt)
        if gt.shape != shape:
            raise ValueError(
                f'ground truth {seg_map_path} has shape {tuple(gt.shape)}, '
                f'but the pseudo label has shape {tuple(shape)}')
        bad = (gt >= self.num_classes) & (gt != self.ignore_index)
        if bad.any():
            raise ValueError(
                f'ground truth {seg_map_path} has label '
                f'{int(gt[bad][0])}, not a class of {self.num_classes} nor '
                f'ignore_index {self.ignore_index}')
        return gt

    def _stats(self, dataset: BaseDataset, alpha: float, hist: Tensor,
               bin_thr: Tensor, counts: Tensor) -> Dict:
        """Statistics from the summed histogram and counts."""
        C = self.num_classes
        assigned = hist.sum(dim=1).tolist()
        kept, intersect, pred_area, gt_area = (
            counts[i * C:(i + 1) * C].tolist() for i in range(4))
        valid_total, correct_total, num_gt_images = counts[4 * C:].tolist()
        classes = dataset.metainfo.get('classes')
        stats = dict(
            alpha=alpha,
            class_balanced=self.class_balanced,
            num_images=len(dataset),
            classes=list(classes) if classes is not None else None,
            thresholds=bin_to_confidence(bin_thr),
            class_pixels=assigned,
            class_kept_pixels=kept,
            class_coverage=[_ratio(k, n) for k, n in zip(kept, assigned)],
            coverage=_ratio(sum(kept), sum(assigned)),
            num_gt_images=num_gt_images,
            class_iou=None,
            pseudo_miou=None,
            pseudo_acc=None)
        if self.store_confidence:
            stats['store_confidence'] = True
        if num_gt_images:
            iou = [
                _ratio(i, p + g - i, 100.0)
                for i, p, g in zip(intersect, pred_area, gt_area)
            ]
            present = [v for v in iou if v is not None]
            stats.update(
                class_iou=iou,
                pseudo_miou=sum(present) / len(present) if present else None,
                pseudo_acc=_ratio(correct_total, valid_total, 100.0))
        return stats
