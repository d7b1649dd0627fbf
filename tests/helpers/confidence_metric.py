"""Test helper: a validation score that moves with every training step.

A model trained for a few iterations on the tiny synthetic set predicts
the background everywhere, so mIoU stays put and would not tell whether a
resumed run validated, and picked its best checkpoints, as the
uninterrupted run did. The mean confidence (max softmax probability) of the
predictions rises as training goes, so the last validation of a round is
usually its best.
"""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmseg.registry import METRICS


@METRICS.register_module()
class MeanConfidenceMetric(BaseMetric):
    """``confidence``: mean max softmax probability of the predictions, %."""

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            logits = sample['seg_logits']['data'].float()
            self.results.append(
                logits.softmax(dim=0).amax(dim=0).mean().item())

    def compute_metrics(self, results: List[float]) -> Dict[str, float]:
        return dict(confidence=100 * float(torch.tensor(results).mean()))
