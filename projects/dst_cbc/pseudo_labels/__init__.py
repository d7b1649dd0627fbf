"""Class-balanced pseudo-labeling (paper Algorithm 1) and its label folder."""
from .class_balanced import (MAX_BIN, NUM_BINS, apply_thresholds,
                             bin_to_confidence, check_alpha,
                             thresholds_from_histogram, uncertainty_bins,
                             uncertainty_from_logits, update_histogram)
from .label_folder import (CONFIDENCE_SCALE, CONFIDENCE_SUFFIX, PseudoLabels,
                           confidence_file, decode_confidence,
                           encode_confidence, label_dataset_cfg, label_files,
                           labeled_rounds, read_confidence, read_stats,
                           reusable_labels, round_folder, write_label)
from .labeler import PseudoLabeler, original_size_logits

__all__ = [
    'MAX_BIN', 'NUM_BINS', 'apply_thresholds', 'bin_to_confidence',
    'check_alpha', 'thresholds_from_histogram', 'uncertainty_bins',
    'uncertainty_from_logits', 'update_histogram', 'CONFIDENCE_SCALE',
    'CONFIDENCE_SUFFIX', 'PseudoLabels', 'PseudoLabeler', 'confidence_file',
    'decode_confidence', 'encode_confidence', 'label_dataset_cfg',
    'label_files', 'labeled_rounds', 'original_size_logits', 'read_confidence',
    'read_stats', 'reusable_labels', 'round_folder', 'write_label'
]
