"""Metrics on tiny hand-made cases; every expected number is worked out by hand in the comments."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import orjson
import pytest

from distillguard.evaluate import DetectionsMissing, evaluate

TRUTH = [
    # account, role, campaign, evasion, campaign_requests, total_requests, first_request_at
    ("a1", "campaign", "X", [], 100, 100, "2026-02-01T00:00:00Z"),
    ("a2", "campaign", "X", [], 50, 60, "2026-02-01T06:00:00Z"),
    ("a3", "campaign", "X", ["human_timing"], 50, 50, "2026-02-02T00:00:00Z"),
    ("b1", "campaign", "Y", ["residential_rotation"], 200, 200, "2026-02-03T00:00:00Z"),
    ("b2", "campaign", "Y", ["residential_rotation"], 100, 100, "2026-02-03T00:00:00Z"),
    ("n1", "benign", None, [], 0, 10, "2026-02-01T00:00:00Z"),
    ("n2", "hard_negative:university_nat", None, [], 0, 20, "2026-02-01T00:00:00Z"),
    ("n3", "hard_negative:eval_company", None, [], 0, 30, "2026-02-01T00:00:00Z"),
]
DETECTIONS = [
    # account, score, flagged, cluster, first_flagged_at
    ("a1", 0.9, "true", "K1", "2026-02-01T12:00:00Z"),
    ("a2", 0.8, "true", "K1", "2026-02-01T18:00:00Z"),
    ("a3", 0.2, "false", "", ""),
    ("b1", 0.95, "1", "K2", "2026-02-04T00:00:00Z"),
    ("b2", 0.1, "false", "", ""),
    ("n1", 0.0, "false", "", ""),
    ("n2", 0.7, "TRUE", "K1", "2026-02-05T00:00:00Z"),
    ("n3", 0.6, "yes", "", "2026-02-05T00:00:00Z"),
    ("zz", 0.99, "true", "K9", ""),  # not in the truth: counted, otherwise ignored
]


def write_truth(path: Path, rows: list[tuple]) -> Path:
    with open(path, "wb") as f:
        for a, role, camp, ev, cr, tot, first in rows:
            f.write(
                orjson.dumps(
                    {
                        "account_id": a,
                        "campaign_id": camp,
                        "actor": camp and f"actor-{camp}",
                        "role": role,
                        "evasion": ev,
                        "campaign_requests": cr,
                        "total_requests": tot,
                        "first_request_at": first,
                    }
                )
                + b"\n"
            )
    return path


def write_detections(directory: Path, rows: list[tuple], first_flagged: bool = True) -> Path:
    directory.mkdir(exist_ok=True)
    with open(directory / "accounts.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["account_id", "score", "flagged", "campaign_id", "top_reasons"]
            + (["first_flagged_at"] if first_flagged else [])
        )
        for a, score, flagged, cluster, first in rows:
            w.writerow([a, score, flagged, cluster, "reason"] + ([first] if first_flagged else []))
    return directory


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    return write_truth(tmp_path / "truth.jsonl", TRUTH), write_detections(tmp_path / "det", DETECTIONS)


def test_headline_metrics(case: tuple[Path, Path]) -> None:
    r = evaluate(*case)
    # positives a1 a2 a3 b1 b2; flagged positives a1 a2 b1; flagged negatives n2 n3
    assert r.counts == {"positives": 5, "negatives": 3, "tp": 3, "fp": 2, "fn": 2, "tn": 1, "unknown_detections": 1}
    assert r.account_recall == pytest.approx(3 / 5)
    assert r.account_precision == pytest.approx(3 / 5)
    assert r.benign_fpr == pytest.approx(2 / 3)
    # harvest through flagged accounts: 100 + 50 + 200 of 500
    assert r.request_recall == pytest.approx(350 / 500)
    # ordinary requests: a2 10, n1 10, n2 20, n3 30 = 70; flagged: a2 10 + n2 20 + n3 30 = 60
    assert r.benign_request_fpr == pytest.approx(60 / 70)


def test_purity_completeness_and_found(case: tuple[Path, Path]) -> None:
    r = evaluate(*case)
    by = {c["campaign_id"]: c for c in r.by_campaign}
    # K1 = {a1, a2, n2}: X overlaps it in 2 -> purity 2/3, completeness 2/3
    assert (by["X"]["best_cluster"], by["X"]["overlap"], by["X"]["cluster_size"]) == ("K1", 2, 3)
    assert by["X"]["purity"] == pytest.approx(2 / 3) and by["X"]["completeness"] == pytest.approx(2 / 3)
    # K2 = {b1}: Y overlaps it in 1 -> purity 1, completeness 1/2
    assert by["Y"]["purity"] == pytest.approx(1.0) and by["Y"]["completeness"] == pytest.approx(0.5)
    assert r.campaign_purity == pytest.approx((2 / 3 + 1) / 2)
    assert r.campaign_completeness == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert r.campaigns_found == 2 and r.campaigns_total == 2
    # a stricter purity threshold drops X (2/3 < 0.7)
    assert evaluate(*case, min_purity=0.7).campaigns_found == 1
    # a stricter completeness threshold drops Y (1/2 < 0.6)
    assert evaluate(*case, min_completeness=0.6).campaigns_found == 1


def test_breakdowns(case: tuple[Path, Path]) -> None:
    r = evaluate(*case)
    roles = {x["role"]: x for x in r.by_role}
    campaign = roles["campaign"]
    assert (campaign["accounts"], campaign["flagged"], campaign["metric"]) == (5, 3, "recall")
    assert roles["benign"]["rate"] == 0.0
    assert roles["hard_negative:university_nat"]["rate"] == 1.0
    assert roles["hard_negative:eval_company"]["metric"] == "fpr"
    knobs = {x["knob"]: x for x in r.by_knob}
    assert knobs["none"]["recall"] == 1.0  # a1, a2
    assert knobs["human_timing"]["recall"] == 0.0  # a3
    assert knobs["residential_rotation"]["recall"] == 0.5  # b1 of b1, b2
    assert knobs["residential_rotation"]["request_recall"] == pytest.approx(200 / 300)
    clusters = {c["cluster"]: c for c in r.clusters}
    assert clusters["K1"]["majority"] == "X" and clusters["K1"]["purity"] == pytest.approx(2 / 3)


def test_time_to_detect(case: tuple[Path, Path]) -> None:
    r = evaluate(*case)
    assert r.time_to_detect_available
    by = {c["campaign_id"]: c for c in r.by_campaign}
    # X starts 02-01 00:00 (a1), first flag 02-01 12:00 -> 12 h; delays a1 12 h, a2 12 h -> median 12
    assert by["X"]["time_to_first_flag_h"] == pytest.approx(12.0)
    assert by["X"]["median_delay_h"] == pytest.approx(12.0)
    # Y starts 02-03 00:00, b1 flagged 02-04 00:00 -> 24 h
    assert by["Y"]["time_to_first_flag_h"] == pytest.approx(24.0)


def test_without_first_flag_column(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.jsonl", TRUTH)
    r = evaluate(truth, write_detections(tmp_path / "d", DETECTIONS, first_flagged=False))
    assert not r.time_to_detect_available
    assert all(c["time_to_first_flag_h"] is None for c in r.by_campaign)


def test_unmatched_campaign_and_tie_break(tmp_path: Path) -> None:
    truth = write_truth(
        tmp_path / "t.jsonl",
        [
            ("a1", "campaign", "X", [], 1, 1, None),
            ("a2", "campaign", "X", [], 1, 1, None),
            ("b1", "campaign", "Y", [], 1, 1, None),
            ("n1", "benign", None, [], 0, 1, None),
            ("n2", "benign", None, [], 0, 1, None),
        ],
    )
    det = write_detections(
        tmp_path / "d",
        [
            # X overlaps K1 and K2 once each; K2 is smaller, so it is X's best match
            ("a1", 1, "true", "K1", ""),
            ("n1", 1, "true", "K1", ""),
            ("n2", 1, "true", "K1", ""),
            ("a2", 1, "true", "K2", ""),
            ("b1", 0, "false", "", ""),
        ],
    )
    r = evaluate(truth, det)
    by = {c["campaign_id"]: c for c in r.by_campaign}
    assert by["X"]["best_cluster"] == "K2" and by["X"]["purity"] == 1.0 and by["X"]["completeness"] == 0.5
    # Y: nothing flagged -> completeness 0, no purity; campaign_purity averages matched campaigns only
    assert by["Y"]["purity"] is None and by["Y"]["completeness"] == 0.0 and not by["Y"]["found"]
    assert r.campaign_purity == 1.0
    assert r.campaign_completeness == pytest.approx(0.25)
    assert r.campaigns_found == 1


def test_nothing_flagged_gives_null_precision(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.jsonl", TRUTH)
    r = evaluate(truth, write_detections(tmp_path / "d", [("a1", 0.1, "false", "", "")]))
    assert r.account_recall == 0.0 and r.account_precision is None and r.benign_fpr == 0.0
    assert r.campaign_purity is None and r.campaigns_found == 0


def test_json_has_contract_keys(case: tuple[Path, Path]) -> None:
    out = orjson.loads(orjson.dumps(evaluate(*case).to_json()))
    for key in (
        "account_recall",
        "account_precision",
        "benign_fpr",
        "request_recall",
        "campaign_purity",
        "campaigns_found",
    ):
        assert key in out


def test_db_table(tmp_path: Path, case: tuple[Path, Path]) -> None:
    truth, det = case
    db = tmp_path / "store.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE account_detections AS SELECT * FROM read_csv(?, header = true)", [str(det / "accounts.csv")]
        )
    assert evaluate(truth, db=db).to_json() == evaluate(truth, det).to_json()


def test_missing_inputs_raise_one_line_errors(tmp_path: Path, case: tuple[Path, Path]) -> None:
    truth, _ = case
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(DetectionsMissing, match="account_detections not found"):
        evaluate(truth, db=empty)
    with pytest.raises(DetectionsMissing, match="accounts.csv"):
        evaluate(truth, tmp_path / "nowhere")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "accounts.csv").write_text("account_id,score\na1,0.5\n")
    with pytest.raises(DetectionsMissing, match="flagged"):
        evaluate(truth, bad)
