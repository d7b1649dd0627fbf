"""The run's per-round summary: ``summary.json`` and the table printed with it."""
from typing import List, Optional

from mmengine.dist import master_only

from ..utils import atomic_write_json


def best_result(results: List[dict]) -> Optional[dict]:
    """The round with the highest validation score (None if none has one).

    Args:
        results (list[dict]): One dict per round with key ``mIoU``.

    Returns:
        dict | None: The best round's dict; ties go to the earliest round.
    """
    scored = [r for r in results if r['mIoU'] is not None]
    return max(scored, key=lambda r: r['mIoU']) if scored else None


def _fmt(value: Optional[float], spec: str) -> str:
    return '-' if value is None else format(value, spec)


def format_summary(results: List[dict], metric: str = 'mIoU') -> str:
    """Render round results as a fixed-width table.

    Args:
        results (list[dict]): One dict per round with keys ``round``,
            ``alpha``, ``iters``, ``mIoU``, ``coverage``, ``pseudo_mIoU``.
        metric (str): Name of the validation metric column.

    Returns:
        str: The table, one line per round, the best round marked with ``*``.
    """
    best = best_result(results)
    best = None if best is None else best['round']
    base = results[0]['mIoU'] if results and results[0]['round'] == 0 else None
    lines = [
        f'{"round":>5} {"alpha":>5} {"iters":>6} {"val " + metric:>9} '
        f'{"vs base":>7} {"coverage":>8} {"pseudo mIoU":>11}'
    ]
    for r in results:
        gain = None if base is None or r['mIoU'] is None else r['mIoU'] - base
        lines.append(
            f'{r["round"]:>5} {_fmt(r["alpha"], ".1f"):>5} {r["iters"]:>6} '
            f'{_fmt(r["mIoU"], ".2f"):>9} {_fmt(gain, "+.2f"):>7} '
            f'{_fmt(None if r["coverage"] is None else 100 * r["coverage"], ".1f"):>8} '
            f'{_fmt(r["pseudo_mIoU"], ".2f"):>11}'
            + (' *' if r['round'] == best else ''))
    return '\n'.join(lines)


@master_only
def write_summary(path: str, results: List[dict], metric: str = 'mIoU') -> None:
    """Write ``summary.json``: every round's result plus the best round.

    Args:
        path (str): Destination file.
        results (list[dict]): One dict per finished round.
        metric (str): Name of the validation metric stored as ``mIoU``.
    """
    atomic_write_json(
        path, dict(metric=metric, rounds=results, best=best_result(results)))
