"""The curriculum: its runner, train loop, round schedule and records, the
hooks it uses, checkpoints and precision; the loop and report of online
methods (UniMatch)."""
from .loops import CurriculumTrainLoop, SemiIterBasedTrainLoop
from .precision import BF16OptimWrapper, ChannelsLastHook, inference_autocast
from .pseudo_label_hook import PseudoLabelHook
from .report import (CurriculumReportHook, TrainingCurvesHook,
                     format_report_markdown, format_summary, render_plots,
                     write_summary)
from .round_schedule import epochs_from_ratio, round_lengths
from .rounds import RoundResult, best_result, build_report
from .run_safety import CurriculumRunner

__all__ = [
    'BF16OptimWrapper', 'ChannelsLastHook', 'inference_autocast',
    'CurriculumRunner', 'CurriculumTrainLoop', 'CurriculumReportHook',
    'PseudoLabelHook', 'RoundResult', 'best_result', 'build_report',
    'epochs_from_ratio', 'format_report_markdown', 'format_summary',
    'render_plots', 'round_lengths', 'SemiIterBasedTrainLoop',
    'TrainingCurvesHook', 'write_summary'
]
