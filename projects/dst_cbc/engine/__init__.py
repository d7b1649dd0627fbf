"""The curriculum train loop, its round bookkeeping and the hooks it uses."""
from .amp import BF16OptimWrapper, inference_autocast
from .channels_last_hook import ChannelsLastHook
from .curriculum_loop import CurriculumTrainLoop
from .pseudo_label_hook import PseudoLabelHook
from .report import build_report, format_report_markdown, render_plots
from .report_hook import CurriculumReportHook
from .round_lengths import epochs_from_ratio, round_lengths
from .summary import RoundResult, best_result, format_summary, write_summary

__all__ = [
    'BF16OptimWrapper', 'ChannelsLastHook', 'inference_autocast',
    'CurriculumTrainLoop', 'CurriculumReportHook', 'PseudoLabelHook',
    'RoundResult', 'best_result', 'build_report', 'epochs_from_ratio',
    'format_report_markdown', 'format_summary', 'render_plots',
    'round_lengths', 'write_summary'
]
