"""The per-round summary table and summary.json."""
import json

from dst_cbc.engine import RoundResult, format_summary, write_summary

RESULTS = [
    RoundResult(
        round=0,
        alpha=None,
        iters=100,
        score=50.0,
        coverage=None,
        pseudo_miou=None,
        checkpoint='w/round_0_best.pth'),
    RoundResult(
        round=1,
        alpha=0.2,
        iters=60,
        score=53.5,
        coverage=0.2,
        pseudo_miou=80.25,
        checkpoint='w/round_1_best.pth',
        stats=dict(coverage=0.2)),
    RoundResult(
        round=2,
        alpha=0.4,
        iters=60,
        score=52.0,
        coverage=0.4125,
        pseudo_miou=75.0,
        checkpoint='w/round_2_best.pth'),
]


def test_table_rows_gain_and_best_mark():
    lines = format_summary(RESULTS).splitlines()
    assert len(lines) == 4
    # round 1: 53.50 - 50.00 = +3.50, coverage 0.2 -> 20.0 %, best round
    assert lines[2].split() == [
        '1', '0.2', '60', '53.50', '+3.50', '20.0', '80.25', '*'
    ]
    # round 2: 52.00 - 50.00 = +2.00, coverage 41.25 % printed as 41.2
    assert lines[3].split() == [
        '2', '0.4', '60', '52.00', '+2.00', '41.2', '75.00'
    ]
    assert lines[1].split() == ['0', '-', '100', '50.00', '+0.00', '-', '-']


def test_summary_json_holds_rounds_and_best(tmp_path):
    path = tmp_path / 'summary.json'
    write_summary(str(path), RESULTS)
    data = json.loads(path.read_text())
    assert [r['round'] for r in data['rounds']] == [0, 1, 2]
    assert data['best']['round'] == 1
    assert data['best']['checkpoint'] == 'w/round_1_best.pth'
    assert data['best']['score'] == 53.5
    assert data['rounds'][1] == dict(
        round=1,
        alpha=0.2,
        iters=60,
        score=53.5,
        checkpoint=('w/round_1_best.pth'),
        coverage=0.2,
        pseudo_miou=80.25,
        pseudo_label_dir=None)  # stats stay out of summary.json
    assert not [p for p in tmp_path.iterdir() if p.name != 'summary.json']
