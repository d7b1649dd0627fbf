"""Class-balanced pseudo-labeling (paper Algorithm 1)."""
from .class_balanced import (MAX_BIN, NUM_BINS, apply_thresholds,
                             bin_to_confidence, check_alpha,
                             thresholds_from_histogram, uncertainty_bins,
                             uncertainty_from_logits, update_histogram)
from .labeler import PseudoLabeler, pseudo_label_file

__all__ = [
    'MAX_BIN', 'NUM_BINS', 'apply_thresholds', 'bin_to_confidence',
    'check_alpha', 'thresholds_from_histogram', 'uncertainty_bins',
    'uncertainty_from_logits', 'update_histogram', 'PseudoLabeler',
    'pseudo_label_file'
]
