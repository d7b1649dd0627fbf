"""Algorithm 1 of the paper as the paper and the authors' code write it.

The oracle against which :class:`dst_cbc.pseudo_labels.PseudoLabeler` is
checked and timed (``benchmarks/labeler``): pass 1 runs the model over every
image and keeps the max-probability of every 16th pixel of each image's
flattened map, per predicted class; each class's samples are sorted for the
threshold ``t_c`` that leaves the top ``alpha`` above it. Pass 2 runs the
model again and labels ``argmax`` where ``max-prob > t_c(argmax)``, else
255. The logits come from MMSeg's ``model.test_step``, as in the original
code, and the labels are PNGs written with PIL's defaults.
"""
import os
import os.path as osp
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import BaseDataset, pseudo_collate
from PIL import Image
from torch import Tensor, nn

#: The original code keeps every 16th pixel for the thresholds.
STRIDE = 16
IGNORE_INDEX = 255
#: Per class, the sampled max-probabilities, one array per image.
State = List[List[np.ndarray]]


def new_state(num_classes: int) -> State:
    """An empty threshold state: no sample for any class.

    Args:
        num_classes (int): Number of classes.

    Returns:
        State: One empty list per class.
    """
    return [[] for _ in range(num_classes)]


def max_probability(logits: Tensor) -> Tuple[Tensor, Tensor]:
    """Argmax class and max softmax probability of one image's logits.

    Args:
        logits (Tensor): Logits of shape (C, H, W).

    Returns:
        tuple[Tensor, Tensor]: int64 label and float32 confidence, both of
        shape (H, W).
    """
    confidence, label = logits.float().softmax(dim=0).max(dim=0)
    return label, confidence


def update(state: State, logits: Tensor, stride: int = STRIDE) -> None:
    """Pass 1: add one image's sampled confidences to ``state``.

    Keeps pixels 0, stride, 2 * stride, ... of the flattened map and appends
    each one's max-probability to the samples of its argmax class.

    Args:
        state (State): The per-class samples, changed in place.
        logits (Tensor): One image's logits, shape (C, H, W).
        stride (int): Sampling stride. Defaults to 16.
    """
    label, confidence = max_probability(logits)
    label = label.flatten()[::stride].numpy()
    confidence = confidence.flatten()[::stride].numpy()
    for c, samples in enumerate(state):
        samples.append(confidence[label == c])


def thresholds(state: State, alpha: float) -> np.ndarray:
    """Per-class thresholds from the sampled confidences.

    With ``n`` samples of a class and ``k = int(alpha * n)``, ``t_c`` is
    the ``(k + 1)``-th largest, so that the ``k`` samples above it are kept
    (without ties). A class is kept whole (``t_c = 0``) when ``alpha >= 1``
    or ``k = 0``, as in the original code.

    Args:
        state (State): The samples of pass 1.
        alpha (float): Fraction of each class's pixels to keep.

    Returns:
        np.ndarray: float32 thresholds, shape (C,).
    """
    result = np.zeros(len(state), dtype=np.float32)
    for c, samples in enumerate(state):
        values = np.sort(np.concatenate(samples)) if samples else []
        keep = int(len(values) * alpha)
        if alpha < 1 and keep > 0:
            result[c] = values[len(values) - keep - 1]
    return result


def labels(logits: Tensor, class_thresholds: np.ndarray) -> np.ndarray:
    """Pass 2: ``argmax`` where ``max-prob > t_c(argmax)``, else 255.

    Args:
        logits (Tensor): One image's logits, shape (C, H, W).
        class_thresholds (np.ndarray): Per-class thresholds, shape (C,).

    Returns:
        np.ndarray: uint8 pseudo label of shape (H, W).
    """
    label, confidence = max_probability(logits)
    label, confidence = label.numpy(), confidence.numpy()
    keep = confidence > class_thresholds[label]
    return np.where(keep, label, IGNORE_INDEX).astype(np.uint8)


def image_logits(model: nn.Module, dataset: BaseDataset,
                 batch_size: int) -> Iterator[Tuple[int, Tensor]]:
    """Each image's logits at its own size from ``model.test_step``.

    Args:
        model (nn.Module): The segmentor, in eval mode.
        dataset (BaseDataset): Images of one size, labeling pipeline.
        batch_size (int): Images per ``test_step``.

    Yields:
        tuple[int, Tensor]: The image's index and its (C, H, W) logits.
    """
    for start in range(0, len(dataset), batch_size):
        indices = range(start, min(start + batch_size, len(dataset)))
        batch = pseudo_collate([dataset.prepare_data(i) for i in indices])
        with torch.no_grad():
            results = model.test_step(batch)
        for idx, result in zip(indices, results):
            yield idx, result.seg_logits.data


def run(model: nn.Module,
        dataset: BaseDataset,
        paths: Sequence[str],
        alpha: float,
        batch_size: int = 8,
        stride: int = STRIDE) -> Dict:
    """Label ``dataset`` with Algorithm 1: two model passes.

    Args:
        model (nn.Module): The labeling segmentor.
        dataset (BaseDataset): The unlabeled images (labeling pipeline).
        paths (Sequence[str]): Each image's PNG.
        alpha (float): Fraction of each class's pixels to keep.
        batch_size (int): Images per forward pass. Defaults to 8.
        stride (int): Pixel sampling stride of pass 1. Defaults to 16.

    Returns:
        dict: ``thresholds`` (per-class confidence), ``coverage`` and
        ``pixels``.
    """
    was_training = model.training
    model.eval()
    state = new_state(model.decode_head.num_classes)
    for _, logits in image_logits(model, dataset, batch_size):
        update(state, logits, stride)
    class_thresholds = thresholds(state, alpha)
    kept = total = 0
    for idx, logits in image_logits(model, dataset, batch_size):
        label = labels(logits, class_thresholds)
        os.makedirs(osp.dirname(paths[idx]), exist_ok=True)
        Image.fromarray(label).save(paths[idx])
        kept += int((label != IGNORE_INDEX).sum())
        total += label.size
    model.train(was_training)
    return dict(
        thresholds=class_thresholds.tolist(),
        coverage=kept / total,
        pixels=total)
