"""The curriculum train loop and the hook that pseudo-labels each round."""
from .curriculum_loop import CurriculumTrainLoop, epochs_from_ratio
from .pseudo_label_hook import PseudoLabelHook
from .summary import format_summary, write_summary

__all__ = [
    'CurriculumTrainLoop', 'PseudoLabelHook', 'epochs_from_ratio',
    'format_summary', 'write_summary'
]
