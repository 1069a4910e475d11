"""Scoring a detector's account decisions against simulator ground truth (DESIGN §3.3-3.4).

Definitions (all over the accounts listed in the truth file; a truth account missing from the detections
counts as not flagged, a detection for an account not in the truth is counted in ``unknown_detections``
and otherwise ignored):

- positive: truth ``role == "campaign"``; negative: every other role (benign and every hard negative).
- ``account_recall`` = flagged positives / positives; ``account_precision`` = flagged positives / flagged
  accounts; ``benign_fpr`` = flagged negatives / negatives. Each is null when its denominator is 0.
- ``request_recall`` = sum of ``campaign_requests`` over flagged accounts / sum of ``campaign_requests``
  over all accounts: the share of harvest requests that went through an account the detector flagged.
  Reseller accounts also carry customers' requests, which do not count. ``benign_request_fpr`` is the
  same for the other requests (``total_requests - campaign_requests``): the ordinary traffic that would be
  disrupted. Both are null when the truth has no request counts.
- Found clusters: flagged accounts grouped by the detector's ``campaign_id`` (flagged accounts without one
  are in no cluster). For each true campaign T, its best-matching cluster K is the one sharing the most
  accounts with T (ties: the smaller cluster, then the lower id). ``purity(T) = |T ∩ K| / |K|`` and
  ``completeness(T) = |T ∩ K| / |T|``; a campaign no cluster touches has completeness 0 and no purity.
- ``campaign_purity`` = mean purity over true campaigns that have a best match (null if none);
  ``campaign_completeness`` = mean completeness over all true campaigns.
- ``campaigns_found`` = number of true campaigns whose best match has purity >= ``min_purity`` (0.5: the
  cluster is mostly that campaign) and completeness >= ``min_completeness`` (0.1: it holds at least a tenth
  of the campaign's accounts).
- Time to detect (only when detections carry ``first_flagged_at``): per campaign, hours from its first
  request to the earliest ``first_flagged_at`` among its accounts, and the median over its flagged accounts
  of hours from the account's own first request to its first flag.
- Breakdowns: by role (recall for "campaign", false-positive rate for every other role), by campaign, and
  by evasion knob (recall among campaign accounts whose cell had that knob on; "none" for no knob).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

DETECTION_COLUMNS = ("account_id", "score", "flagged", "campaign_id", "top_reasons")
_TRUTH_DEFAULTS = {
    "campaign_id": "NULL::VARCHAR",
    "actor": "NULL::VARCHAR",
    "evasion": "[]::VARCHAR[]",
    "campaign_requests": "NULL::BIGINT",
    "total_requests": "NULL::BIGINT",
    "first_request_at": "NULL::TIMESTAMP",
}


class DetectionsMissing(ValueError):
    """The detections could not be found or read; the message is the one-line error a user sees."""


# The headline rates, in the order the command and the HTML report show them.
HEADLINE_RATES = (
    "account_recall",
    "account_precision",
    "benign_fpr",
    "request_recall",
    "benign_request_fpr",
    "campaign_purity",
    "campaign_completeness",
)


@dataclass
class EvaluationResult:
    """Every figure ``evaluate`` computes; ``to_json`` puts the DESIGN §3.4 keys at the top level."""

    account_recall: float | None
    account_precision: float | None
    benign_fpr: float | None
    request_recall: float | None
    campaign_purity: float | None
    campaigns_found: int
    campaign_completeness: float | None
    campaigns_total: int
    benign_request_fpr: float | None
    counts: dict[str, int]
    by_role: list[dict[str, Any]]
    by_campaign: list[dict[str, Any]]
    by_knob: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    score_quantiles: list[dict[str, Any]]
    time_to_detect_available: bool
    parameters: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    truth: Path,
    detections: Path | None = None,
    *,
    db: Path | None = None,
    min_purity: float = 0.5,
    min_completeness: float = 0.1,
) -> EvaluationResult:
    """Score detections (``detections/accounts.csv``, or table ``account_detections`` in ``db``) against a
    ground-truth file. Raises DetectionsMissing with a one-line reason when the detections are unusable."""
    con = duckdb.connect()
    try:
        _load_truth(con, Path(truth))
        if detections is not None:
            _load_csv(con, Path(detections))
        elif db is not None:
            _load_db(con, Path(db))
        else:
            raise DetectionsMissing("give detections (a directory with accounts.csv) or a DuckDB file")
        return _score(con, min_purity, min_completeness)
    finally:
        con.close()


# ------------------------------------------------------------------------------------------- loading


def _load_truth(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    if not path.is_file():
        raise DetectionsMissing(f"truth file not found: {path}")
    con.execute("CREATE TABLE raw_truth AS SELECT * FROM read_json(?, format = 'newline_delimited')", [str(path)])
    have = {r[0] for r in con.execute("DESCRIBE raw_truth").fetchall()}
    missing = {"account_id", "role"} - have
    if missing:
        raise DetectionsMissing(f"truth file lacks {sorted(missing)}")
    cols = ", ".join(
        f"{name}::{kind} AS {name}" if name in have else f"{_TRUTH_DEFAULTS[name]} AS {name}"
        for name, kind in (
            ("campaign_id", "VARCHAR"),
            ("actor", "VARCHAR"),
            ("evasion", "VARCHAR[]"),
            ("campaign_requests", "BIGINT"),
            ("total_requests", "BIGINT"),
            ("first_request_at", "TIMESTAMP"),
        )
    )
    con.execute(
        f"CREATE TABLE truth AS SELECT account_id::VARCHAR AS account_id, role::VARCHAR AS role, {cols} FROM raw_truth"
    )


def _load_csv(con: duckdb.DuckDBPyConnection, directory: Path) -> None:
    path = directory / "accounts.csv" if directory.is_dir() else directory
    if not path.is_file():
        raise DetectionsMissing(f"detections not found: {path} (expected a directory holding accounts.csv)")
    con.execute("CREATE TABLE raw_det AS SELECT * FROM read_csv(?, header = true, all_varchar = true)", [str(path)])
    _normalise_detections(con, "raw_det", str(path))


def _load_db(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    if not db.is_file():
        raise DetectionsMissing(f"database not found: {db}")
    con.execute("ATTACH ? AS store (READ_ONLY)", [str(db)])
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'store' AND table_name = 'account_detections'"
    ).fetchone()[0]
    if not found:
        raise DetectionsMissing(f"table account_detections not found in {db}; run `distillguard detect` first")
    con.execute("CREATE TABLE raw_det AS SELECT * FROM store.account_detections")
    _normalise_detections(con, "raw_det", f"{db}:account_detections")


def _normalise_detections(con: duckdb.DuckDBPyConnection, table: str, where: str) -> None:
    have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    missing = [c for c in DETECTION_COLUMNS if c not in have]
    if missing:
        raise DetectionsMissing(f"{where} lacks column(s) {', '.join(missing)}")
    first = "TRY_CAST(first_flagged_at::VARCHAR AS TIMESTAMP)" if "first_flagged_at" in have else "NULL::TIMESTAMP"
    con.execute(f"""
        CREATE TABLE det AS SELECT account_id::VARCHAR AS account_id,
          TRY_CAST(score::VARCHAR AS DOUBLE) AS score,
          coalesce(lower(trim(flagged::VARCHAR)) IN ('true', 't', '1', 'yes', 'y'), false) AS flagged,
          nullif(trim(campaign_id::VARCHAR), '') AS cluster,
          {first} AS first_flagged_at
        FROM {table}""")


# ------------------------------------------------------------------------------------------- scoring


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if not den or num is None else float(num) / float(den)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _score(con: duckdb.DuckDBPyConnection, min_purity: float, min_completeness: float) -> EvaluationResult:
    con.execute("""
        CREATE TABLE j AS SELECT t.*, coalesce(d.flagged, false) AS flagged, d.score, d.cluster,
          d.first_flagged_at, t.role = 'campaign' AS positive
        FROM truth t LEFT JOIN (SELECT DISTINCT ON (account_id) * FROM det ORDER BY account_id, flagged DESC,
          score DESC NULLS LAST) d USING (account_id)""")
    c = _rows(
        con,
        """
        SELECT count(*) FILTER (positive) AS positives, count(*) FILTER (NOT positive) AS negatives,
          count(*) FILTER (positive AND flagged) AS tp, count(*) FILTER (NOT positive AND flagged) AS fp,
          count(*) FILTER (positive AND NOT flagged) AS fn, count(*) FILTER (NOT positive AND NOT flagged) AS tn,
          sum(campaign_requests) AS harvest, sum(campaign_requests) FILTER (flagged) AS harvest_flagged,
          sum(total_requests - campaign_requests) AS ordinary,
          sum(total_requests - campaign_requests) FILTER (flagged) AS ordinary_flagged
        FROM j""",
    )[0]
    unknown = con.execute("SELECT count(DISTINCT account_id) FROM det ANTI JOIN truth USING (account_id)").fetchone()[0]
    counts = {k: int(c[k]) for k in ("positives", "negatives", "tp", "fp", "fn", "tn")} | {
        "unknown_detections": int(unknown)
    }
    campaigns = _campaigns(con, min_purity, min_completeness)
    matched = [x["purity"] for x in campaigns if x["purity"] is not None]
    return EvaluationResult(
        account_recall=_ratio(c["tp"], c["positives"]),
        account_precision=_ratio(c["tp"], c["tp"] + c["fp"]),
        benign_fpr=_ratio(c["fp"], c["negatives"]),
        request_recall=_ratio(c["harvest_flagged"] or 0, c["harvest"]),
        campaign_purity=sum(matched) / len(matched) if matched else None,
        campaigns_found=sum(1 for x in campaigns if x["found"]),
        campaign_completeness=(sum(x["completeness"] for x in campaigns) / len(campaigns)) if campaigns else None,
        campaigns_total=len(campaigns),
        benign_request_fpr=_ratio(c["ordinary_flagged"] or 0, c["ordinary"]),
        counts=counts,
        by_role=_by_role(con),
        by_campaign=campaigns,
        by_knob=_by_knob(con),
        clusters=_clusters(con),
        score_quantiles=_rows(
            con,
            """
            SELECT role, count(score) AS n, quantile_cont(score, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q
            FROM j WHERE score IS NOT NULL GROUP BY role ORDER BY role""",
        ),
        time_to_detect_available=bool(con.execute("SELECT count(first_flagged_at) FROM j").fetchone()[0]),
        parameters={"min_purity": min_purity, "min_completeness": min_completeness},
    )


def _by_role(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = _rows(
        con,
        """
        SELECT role, count(*) AS accounts, count(*) FILTER (flagged) AS flagged,
          sum(total_requests) AS requests, sum(total_requests) FILTER (flagged) AS flagged_requests
        FROM j GROUP BY role ORDER BY role = 'campaign' DESC, role""",
    )
    for r in rows:
        r["not_flagged"] = r["accounts"] - r["flagged"]
        r["metric"] = "recall" if r["role"] == "campaign" else "fpr"
        r["rate"] = _ratio(r["flagged"], r["accounts"])
    return rows


def _by_knob(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = _rows(
        con,
        """
        WITH k AS (
          SELECT CASE WHEN len(evasion) = 0 THEN ['none'] ELSE evasion END AS knobs, flagged, campaign_requests
          FROM j WHERE positive)
        SELECT knob, count(*) AS accounts, count(*) FILTER (flagged) AS flagged,
          sum(campaign_requests) AS harvest, sum(campaign_requests) FILTER (flagged) AS harvest_flagged
        FROM (SELECT unnest(knobs) AS knob, flagged, campaign_requests FROM k) GROUP BY knob ORDER BY knob""",
    )
    for r in rows:
        r["recall"] = _ratio(r["flagged"], r["accounts"])
        r["request_recall"] = _ratio(r.pop("harvest_flagged") or 0, r.pop("harvest"))
    return rows


def _campaigns(con: duckdb.DuckDBPyConnection, min_purity: float, min_completeness: float) -> list[dict[str, Any]]:
    rows = _rows(
        con,
        """
        WITH t AS (SELECT campaign_id, any_value(actor) AS actor, count(*) AS accounts,
                     count(*) FILTER (flagged) AS flagged, sum(campaign_requests) AS harvest,
                     sum(campaign_requests) FILTER (flagged) AS harvest_flagged,
                     min(first_request_at) AS started, min(first_flagged_at) FILTER (flagged) AS first_flag,
                     median(epoch(first_flagged_at) - epoch(first_request_at)) FILTER (flagged) / 3600.0
                       AS median_delay_h
                   FROM j WHERE positive AND campaign_id IS NOT NULL GROUP BY campaign_id),
          k AS (SELECT cluster, count(*) AS size FROM j WHERE flagged AND cluster IS NOT NULL GROUP BY cluster),
          o AS (SELECT campaign_id, cluster, count(*) AS overlap FROM j
                WHERE positive AND flagged AND cluster IS NOT NULL GROUP BY ALL),
          best AS (SELECT DISTINCT ON (o.campaign_id) o.campaign_id, o.cluster, o.overlap, k.size
                   FROM o JOIN k USING (cluster) ORDER BY o.campaign_id, o.overlap DESC, k.size, o.cluster)
        SELECT t.*, best.cluster AS best_cluster, coalesce(best.overlap, 0) AS overlap, best.size AS cluster_size,
          (epoch(t.first_flag) - epoch(t.started)) / 3600.0 AS time_to_first_flag_h
        FROM t LEFT JOIN best USING (campaign_id) ORDER BY campaign_id""",
    )
    for r in rows:
        r["recall"] = _ratio(r["flagged"], r["accounts"])
        r["request_recall"] = _ratio(r.pop("harvest_flagged") or 0, r.pop("harvest"))
        r["purity"] = _ratio(r["overlap"], r["cluster_size"])
        r["completeness"] = _ratio(r["overlap"], r["accounts"]) or 0.0
        r["found"] = r["purity"] is not None and r["purity"] >= min_purity and r["completeness"] >= min_completeness
        for key in ("started", "first_flag"):
            r[key] = None if r[key] is None else r[key].isoformat()
    return rows


def _clusters(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every found cluster with its size and what it mostly is (a campaign id, or a negative role)."""
    rows = _rows(
        con,
        """
        WITH m AS (SELECT cluster, CASE WHEN positive THEN campaign_id ELSE role END AS truth, count(*) AS n
                   FROM j WHERE flagged AND cluster IS NOT NULL GROUP BY ALL)
        SELECT cluster, sum(n) AS size, first(truth ORDER BY n DESC, truth) AS majority,
          max(n) AS majority_accounts
        FROM m GROUP BY cluster ORDER BY size DESC, cluster""",
    )
    for r in rows:
        r["purity"] = _ratio(r["majority_accounts"], r["size"])
    return rows
