"""Files `distillguard detect --out DIR` writes: accounts.csv, campaigns.json, report.html (DESIGN §3.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from distillguard.detect.report import write_report
from distillguard.engines.base import DatabaseAPI, sql_literal


def write_outputs(db: DatabaseAPI, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    accounts = out / "accounts.csv"
    db.execute(f"""
        COPY (SELECT account_id, round(score, 4) AS score, flagged, campaign_id,
                     coalesce(top_reasons, '') AS top_reasons, cluster_id
              FROM account_detections ORDER BY score DESC, account_id)
        TO {sql_literal(str(accounts))} (HEADER, DELIMITER ',')""")
    campaigns = campaign_documents(db)
    (out / "campaigns.json").write_bytes(orjson.dumps(campaigns, option=orjson.OPT_INDENT_2))
    write_report(db, campaigns, out / "report.html")
    return {"accounts": accounts, "campaigns": out / "campaigns.json", "report": out / "report.html"}


def campaign_documents(db: DatabaseAPI) -> list[dict[str, Any]]:
    """One JSON-ready document per campaign: who, how much, when, what was targeted, from where, and why."""
    docs = db.query("""
        SELECT campaign_id, accounts, round(score, 4) AS score, requests, first_seen::VARCHAR AS first_seen,
               last_seen::VARCHAR AS last_seen, models, round(risky_address_share, 3) AS risky_address_share,
               addresses, prefixes, link_kinds
        FROM campaigns ORDER BY campaign_id""").to_pylist()
    for doc in docs:
        cid = sql_literal(doc["campaign_id"])
        members = f"(SELECT account_id FROM account_detections WHERE campaign_id = {cid})"
        doc["account_ids"] = [
            r["account_id"]
            for r in db.query(
                f"SELECT account_id FROM account_detections WHERE campaign_id = {cid} ORDER BY score DESC"
            ).to_pylist()
        ]
        doc["capabilities"] = _optional(
            db,
            "request_content",
            f"""
            SELECT capability, count(*) AS requests FROM request_content WHERE account_id IN {members}
            GROUP BY ALL ORDER BY requests DESC LIMIT 5""",
        )
        doc["top_templates"] = _optional(
            db,
            "request_templates",
            f"""
            SELECT t.example_masked AS template, count(*) AS requests, any_value(t.accounts) AS accounts_using
            FROM request_templates r JOIN templates t ON t.template_id = r.system_template
            WHERE r.account_id IN {members} GROUP BY ALL ORDER BY requests DESC LIMIT 3""",
        )
        doc["infrastructure"] = db.query(f"""
            SELECT ip_class, count(*) AS requests, count(DISTINCT client_ip) AS addresses,
                   list(DISTINCT ip_provider) FILTER (WHERE ip_provider IS NOT NULL) AS providers
            FROM events WHERE account_id IN {members} GROUP BY ALL ORDER BY requests DESC""").to_pylist()
        doc["pivot_events"] = db.query(f"""
            SELECT account_id, round(value, 3) AS share_moved, detail, evidence FROM account_signals
            WHERE signal = 'new_model_pivot' AND fired AND account_id IN {members}
            ORDER BY value DESC LIMIT 10""").to_pylist()
        doc["reasons"] = db.query(f"""
            SELECT signal, count(*) AS accounts, round(avg(value), 3) AS mean_value, any_value(detail) AS example,
                   flatten(list(evidence))[1:5] AS evidence
            FROM account_signals WHERE fired AND account_id IN {members}
            GROUP BY signal ORDER BY accounts DESC""").to_pylist()
    return docs


def _optional(db: DatabaseAPI, table: str, sql: str) -> list[dict[str, Any]]:
    return db.query(sql).to_pylist() if db.table_exists(table) else []
