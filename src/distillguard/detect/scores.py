"""Scores and reasons per account (`account_detections`)."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa

from distillguard.engines.base import DatabaseAPI
from distillguard.scoring.features import build_features
from distillguard.scoring.scorer import AccountScorer
from distillguard.signals.registry import load

TOP_REASONS = 3
# Reasons are written for accounts scoring at least this: enough to explain every flag and near-miss.
EXPLAIN_FROM = 0.2


def score_accounts(db: DatabaseAPI, scorer: AccountScorer) -> None:
    """Write `account_detections(account_id, score, flagged, cluster_id, top_reasons, reasons)`."""
    account_signals, _ = load()
    ids, x, names = build_features(db, [cls.name for cls in account_signals])
    aligned = scorer.align(x, names)
    scores = scorer.predict_proba(aligned) if len(ids) else np.zeros(0)
    contributions = scorer.contributions(aligned) if len(ids) else np.zeros((0, len(scorer.feature_names_)))
    explained = [i for i in range(len(ids)) if scores[i] >= EXPLAIN_FROM]
    details = _signal_details(db, [ids[i] for i in explained])
    reasons: list[str | None] = [None] * len(ids)
    top: list[str | None] = [None] * len(ids)
    for i in explained:
        items = _reasons(ids[i], contributions[i], aligned[i], scorer.feature_names_, details)
        reasons[i] = orjson.dumps(items).decode()
        top[i] = " | ".join(r["text"] for r in items)
    db.register(
        "scored",
        pa.table(
            {
                "account_id": pa.array(ids, pa.string()),
                "score": pa.array(scores, pa.float64()),
                "flagged": pa.array(scores >= scorer.threshold_, pa.bool_()),
                "top_reasons": pa.array(top, pa.string()),
                "reasons": pa.array(reasons, pa.string()),
            }
        ),
    )
    db.execute("""
        CREATE OR REPLACE TABLE account_detections AS
        SELECT s.account_id, s.score, s.flagged, c.cluster_id, NULL::VARCHAR AS campaign_id, s.top_reasons, s.reasons
        FROM scored s LEFT JOIN account_clusters c USING (account_id)""")
    db.unregister("scored")


def _signal_details(db: DatabaseAPI, accounts: list[str]) -> dict[tuple[str, str], dict]:
    if not accounts:
        return {}
    db.register("explained", pa.table({"account_id": pa.array(accounts, pa.string())}))
    rows = db.query("""
        SELECT account_id, signal, value, threshold, evidence, detail FROM account_signals
        WHERE account_id IN (SELECT account_id FROM explained)""").to_pylist()
    db.unregister("explained")
    return {(r["account_id"], r["signal"]): r for r in rows}


def _reasons(
    account: str,
    contrib: np.ndarray,
    values: np.ndarray,
    names: list[str],
    details: dict[tuple[str, str], dict],
) -> list[dict]:
    """The account's strongest positive contributions, each as text plus the evidence behind it."""
    out: list[dict] = []
    for j in np.argsort(-contrib):
        if contrib[j] <= 0 or len(out) >= TOP_REASONS:
            break
        name = names[j]
        if name.startswith("cluster"):
            out.append(
                {
                    "feature": name,
                    "contribution": round(float(contrib[j]), 3),
                    "text": _cluster_text(name, float(values[j])),
                    "evidence": [],
                }
            )
            continue
        row = details.get((account, name))
        if row is None:
            continue
        text = f"{name} {row['value']:.3g} (threshold {row['threshold']:.3g}): {row['detail']}"
        out.append(
            {
                "feature": name,
                "contribution": round(float(contrib[j]), 3),
                "text": text,
                "evidence": row["evidence"] or [],
            }
        )
    return out


def _cluster_text(name: str, value: float) -> str:
    if name == "cluster_size_log":
        return f"linked into a cluster of {round(np.exp(value))} accounts"
    if name == "cluster_density":
        return f"its cluster is densely linked (mean link weight per member {value:.2f})"
    if name == "cluster_link_kinds":
        return f"linked by {int(value)} independent kinds of evidence"
    if name == "cluster_verified_org_share":
        return f"only {value:.0%} of its cluster's requests come from verified members of one organisation"
    signal = name.split(":", 1)[1]
    return f"its cluster's mean {signal} is high ({np.expm1(value):.3g})"
