"""The curriculum train loop and the hook that pseudo-labels each round."""
from .curriculum_loop import CurriculumTrainLoop, epochs_from_ratio
from .pseudo_label_hook import PseudoLabelHook
from .report import build_report, format_report_markdown, render_plots
from .report_hook import CurriculumReportHook
from .summary import format_summary, write_summary

__all__ = [
    'CurriculumTrainLoop', 'PseudoLabelHook', 'epochs_from_ratio',
    'format_summary', 'write_summary', 'CurriculumReportHook', 'build_report',
    'format_report_markdown', 'render_plots'
]
