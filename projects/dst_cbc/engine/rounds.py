"""The curriculum's rounds: what each finished round gave, its gain over the
round-0 baseline and the best round.

The loop records a :class:`RoundResult` when a round ends. The list lives in
the message hub (:func:`store_results`, :func:`results_from_hub`), so it is
saved in every checkpoint and comes back on ``--resume``. :func:`build_report`
turns it into the one record of the run that :mod:`.report` renders:
``summary.json``, the logged table, ``report.json``/``report.md``, the plots
and the visualizer's scalars.
"""
import dataclasses
from dataclasses import dataclass
from typing import List, Optional, Sequence

from ..pseudo_labels import PseudoLabels

#: Message-hub key of the finished rounds (a list of ``RoundResult`` dicts).
RESULTS_KEY = 'curriculum_results'

_PER_CLASS = (
    # (record key, stats.json key)
    ('class_coverage', 'class_coverage'),
    ('thresholds', 'thresholds'),
    ('class_pseudo_iou', 'class_iou'),
)


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


def best_result(results: Sequence[RoundResult]) -> Optional[RoundResult]:
    """The round with the highest validation score (None if none has one).

    Args:
        results (Sequence[RoundResult]): The rounds.

    Returns:
        RoundResult | None: The best round; ties go to the earliest round.
    """
    scored = [r for r in results if r.score is not None]
    return max(scored, key=lambda r: r.score) if scored else None


def store_results(message_hub, results: Sequence[RoundResult]) -> None:
    """Keep the finished rounds in ``message_hub`` (saved in checkpoints).

    Args:
        message_hub (MessageHub): The runner's message hub.
        results (Sequence[RoundResult]): Every finished round.
    """
    message_hub.update_info(RESULTS_KEY, [r.to_dict() for r in results])


def results_from_hub(message_hub) -> List[RoundResult]:
    """The rounds recorded in ``message_hub`` (none in a new run)."""
    return [RoundResult(**r) for r in message_hub.get_info(RESULTS_KEY) or []]


def build_report(results: Sequence[RoundResult],
                 metric: str = 'mIoU',
                 classes: Optional[Sequence[str]] = None) -> dict:
    """The record of the rounds: results, gains, best round, statistics.

    Args:
        results (Sequence[RoundResult]): :attr:`CurriculumTrainLoop.results`,
            one per finished round, self-training rounds with the labeler's
            ``stats`` (None: not available).
        metric (str): Name of the validation metric. Defaults to 'mIoU'.
        classes (Sequence[str], optional): Class names; by default those of
            the first statistics that name them, else ``class_<i>``.

    Returns:
        dict: ``metric``, ``classes``, ``baseline`` (round 0's score or
        None), ``best`` (round, alpha, score, gain and checkpoint of the
        best round, or None) and ``rounds``: per round ``round``, ``alpha``,
        ``iters``, ``score``, ``gain`` (score minus the baseline's),
        ``is_best``, ``coverage`` (fraction), ``pseudo_miou`` and
        ``pseudo_acc`` (percent), per class ``class_coverage`` (fraction),
        ``thresholds`` (confidence) and ``class_pseudo_iou`` (percent, vs
        ground truth), ``num_pseudo_images``, ``checkpoint`` and
        ``pseudo_label_dir``. Missing values are None.

    Raises:
        ValueError: A round's statistics list a different number of classes.
    """
    classes = _record_classes(results, classes)
    baseline = (
        results[0].score if results and results[0].round == 0 else None)
    best = best_result(results)
    best_round = None if best is None else best.round
    rounds = [
        _round_entry(result, baseline, best_round, len(classes))
        for result in results
    ]
    return dict(
        metric=metric,
        classes=classes,
        baseline=baseline,
        best=_best_entry(rounds, best_round),
        rounds=rounds)


def _best_entry(rounds: List[dict],
                best_round: Optional[int]) -> Optional[dict]:
    """Round, alpha, score, gain and checkpoint of the best round's entry."""
    if best_round is None:
        return None
    entry = next(r for r in rounds if r['round'] == best_round)
    return {
        k: entry[k]
        for k in ('round', 'alpha', 'score', 'gain', 'checkpoint')
    }


def _record_classes(results: Sequence[RoundResult],
                    classes: Optional[Sequence[str]]) -> List[str]:
    """Class names: the given ones, the statistics' or ``class_<i>``."""
    stats = [r.stats for r in results if r.stats]
    if classes is None:
        named = [s['classes'] for s in stats if s.get('classes')]
        counted = [
            len(s['thresholds']) for s in stats
            if s.get('thresholds') is not None
        ]
        if named:
            classes = named[0]
        elif counted:
            classes = [f'class_{i}' for i in range(counted[0])]
    return list(classes) if classes is not None else []


def _round_entry(result: RoundResult, baseline: Optional[float],
                 best_round: Optional[int], num_classes: int) -> dict:
    """One round of :func:`build_report`'s ``rounds``."""
    st = result.stats or {}
    for _, key in _PER_CLASS:
        if st.get(key) is not None and len(st[key]) != num_classes:
            raise ValueError(
                f'round {result.round}: stats "{key}" has '
                f'{len(st[key])} classes, the report {num_classes}')
    gain = (None if baseline is None or result.score is None else
            result.score - baseline)
    entry = dict(
        round=result.round,
        alpha=result.alpha,
        iters=result.iters,
        score=result.score,
        gain=gain,
        is_best=result.round == best_round,
        coverage=result.coverage,
        pseudo_miou=result.pseudo_miou,
        pseudo_acc=st.get('pseudo_acc'),
        num_pseudo_images=st.get('num_images'),
        checkpoint=result.checkpoint,
        pseudo_label_dir=result.pseudo_label_dir)
    for record_key, stats_key in _PER_CLASS:
        entry[record_key] = st.get(stats_key)
    return entry
