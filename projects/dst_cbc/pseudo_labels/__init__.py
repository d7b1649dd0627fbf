"""Class-balanced pseudo-labeling (paper Algorithm 1)."""
from .class_balanced import (MAX_BIN, NUM_BINS, apply_thresholds,
                             bin_to_confidence, check_alpha,
                             thresholds_from_histogram, uncertainty_bins,
                             uncertainty_from_logits, update_histogram)
from .labeler import (CONFIDENCE_SCALE, CONFIDENCE_SUFFIX, PseudoLabeler,
                      confidence_file, decode_confidence, encode_confidence,
                      original_size_logits, pseudo_label_file)

__all__ = [
    'MAX_BIN', 'NUM_BINS', 'apply_thresholds', 'bin_to_confidence',
    'check_alpha', 'thresholds_from_histogram', 'uncertainty_bins',
    'uncertainty_from_logits', 'update_histogram', 'CONFIDENCE_SCALE',
    'CONFIDENCE_SUFFIX', 'PseudoLabeler', 'confidence_file',
    'decode_confidence', 'encode_confidence', 'original_size_logits',
    'pseudo_label_file'
]
