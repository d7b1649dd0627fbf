"""One round's result, and the run's record of them: the message hub entry
(kept in checkpoints, read on resume), ``summary.json`` and the logged
table."""
import dataclasses
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence

from mmengine.dist import master_only
from mmengine.logging import print_log

from ..pseudo_labels import PseudoLabels
from ..utils import atomic_write_json

#: Message-hub key of the finished rounds (a list of ``RoundResult`` dicts).
RESULTS_KEY = 'curriculum_results'


@dataclass
class RoundResult:
    """What a finished round of the curriculum gives.

    Args:
        round (int): The round; 0 is the supervised baseline.
        alpha (float, optional): Its pseudo-label ratio (None in round 0).
        iters (int): Iterations trained in the round.
        score (float, optional): Best validation score of the round, in the
            loop's ``metric`` (None without validation).
        checkpoint (str, optional): The round's best checkpoint.
        coverage (float, optional): Share of unlabeled pixels kept.
        pseudo_miou (float, optional): Pseudo-label mIoU against the
            unlabeled images' ground truth, in percent, where there is any.
        pseudo_label_dir (str, optional): The round's label folder.
        stats (dict, optional): The labeler's statistics of the round's
            labels (what ``stats.json`` holds); not part of ``summary.json``.
    """

    round: int
    alpha: Optional[float]
    iters: int
    score: Optional[float]
    checkpoint: Optional[str] = None
    coverage: Optional[float] = None
    pseudo_miou: Optional[float] = None
    pseudo_label_dir: Optional[str] = None
    stats: Optional[dict] = None

    @classmethod
    def of_round(cls, rnd: int, alpha: Optional[float], iters: int,
                 score: Optional[float], checkpoint: Optional[str],
                 labels: Optional[PseudoLabels]) -> 'RoundResult':
        """The result of a trained round.

        Args:
            rnd (int): The round.
            alpha (float, optional): Its pseudo-label ratio.
            iters (int): Its iterations.
            score (float, optional): Its best validation score.
            checkpoint (str, optional): Its best checkpoint (used only
                with a score).
            labels (PseudoLabels, optional): Its labels (None in round 0).

        Returns:
            RoundResult: The round's record.
        """
        stats = None if labels is None else labels.stats
        return cls(
            round=rnd,
            alpha=alpha,
            iters=iters,
            score=score,
            checkpoint=None if score is None else checkpoint,
            coverage=None if stats is None else stats['coverage'],
            pseudo_miou=None if stats is None else stats.get('pseudo_miou'),
            pseudo_label_dir=None if labels is None else labels.folder,
            stats=stats)

    def to_dict(self) -> dict:
        """The result as a plain dict (for the message hub)."""
        return dataclasses.asdict(self)

    def summary(self) -> dict:
        """The result as ``summary.json`` lists it (no stats)."""
        return {k: v for k, v in self.to_dict().items() if k != 'stats'}


def best_result(results: Sequence[RoundResult]) -> Optional[RoundResult]:
    """The round with the highest validation score (None if none has one).

    Args:
        results (Sequence[RoundResult]): The rounds.

    Returns:
        RoundResult | None: The best round; ties go to the earliest round.
    """
    scored = [r for r in results if r.score is not None]
    return max(scored, key=lambda r: r.score) if scored else None


def _fmt(value: Optional[float], spec: str) -> str:
    return '-' if value is None else format(value, spec)


def format_summary(results: Sequence[RoundResult],
                   metric: str = 'mIoU') -> str:
    """Render round results as a fixed-width table.

    Args:
        results (Sequence[RoundResult]): The rounds.
        metric (str): Name of the validation metric column.

    Returns:
        str: The table, one line per round, the best round marked with ``*``.
    """
    best = best_result(results)
    best = None if best is None else best.round
    base = results[0].score if results and results[0].round == 0 else None
    lines = [
        f'{"round":>5} {"alpha":>5} {"iters":>6} {"val " + metric:>9} '
        f'{"vs base":>7} {"coverage":>8} {"pseudo mIoU":>11}'
    ]
    for r in results:
        gain = None if base is None or r.score is None else r.score - base
        coverage = None if r.coverage is None else 100 * r.coverage
        lines.append(f'{r.round:>5} {_fmt(r.alpha, ".1f"):>5} {r.iters:>6} '
                     f'{_fmt(r.score, ".2f"):>9} {_fmt(gain, "+.2f"):>7} '
                     f'{_fmt(coverage, ".1f"):>8} '
                     f'{_fmt(r.pseudo_miou, ".2f"):>11}' +
                     (' *' if r.round == best else ''))
    return '\n'.join(lines)


@master_only
def write_summary(path: str,
                  results: List[RoundResult],
                  metric: str = 'mIoU') -> None:
    """Write ``summary.json``: every round's result plus the best round.

    Args:
        path (str): Destination file.
        results (list[RoundResult]): One result per finished round.
        metric (str): Name of the validation metric that ``score`` holds.
    """
    best = best_result(results)
    atomic_write_json(
        path,
        dict(
            metric=metric,
            rounds=[r.summary() for r in results],
            best=None if best is None else best.summary()))


def results_from_hub(message_hub) -> List[RoundResult]:
    """The rounds recorded in ``message_hub`` (none in a new run)."""
    return [RoundResult(**r) for r in message_hub.get_info(RESULTS_KEY) or []]


def record_results(runner, results: List[RoundResult], metric: str) -> None:
    """Record the finished rounds: message hub, ``summary.json``, log.

    Args:
        runner (Runner): The runner.
        results (list[RoundResult]): Every finished round.
        metric (str): Name of the validation metric that ``score`` holds.
    """
    runner.message_hub.update_info(RESULTS_KEY, [r.to_dict() for r in results])
    write_summary(osp.join(runner.work_dir, 'summary.json'), results, metric)
    print_log('\n' + format_summary(results, metric), logger='current')
