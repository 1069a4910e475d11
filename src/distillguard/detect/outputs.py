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
    """One JSON-ready document per campaign: who, how much, when, what was targeted, from where, and why.

    Each section is one grouped query over all campaigns (not one query per campaign).
    """
    docs = db.query("""
        SELECT campaign_id, accounts, round(score, 4) AS score, requests, first_seen::VARCHAR AS first_seen,
               last_seen::VARCHAR AS last_seen, models, round(risky_address_share, 3) AS risky_address_share,
               addresses, prefixes, link_kinds, cells, cell_similarity, joined_by
        FROM campaigns ORDER BY campaign_id""").to_pylist()
    sections = {
        "account_ids": """
            SELECT campaign_id, list(account_id ORDER BY score DESC) AS v
            FROM campaign_members JOIN account_detections USING (campaign_id, account_id) GROUP BY 1""",
        "infrastructure": """
            SELECT campaign_id, list({'ip_class': ip_class, 'requests': requests, 'addresses': addresses,
                                      'providers': providers} ORDER BY requests DESC) AS v
            FROM (SELECT m.campaign_id, e.ip_class, count(*) AS requests, count(DISTINCT e.client_ip) AS addresses,
                         list(DISTINCT e.ip_provider) FILTER (WHERE e.ip_provider IS NOT NULL) AS providers
                  FROM campaign_members m JOIN events e USING (account_id) GROUP BY ALL) GROUP BY 1""",
        "pivot_events": """
            SELECT campaign_id, list({'account_id': account_id, 'share_moved': round(value, 3), 'detail': detail,
                                      'evidence': evidence} ORDER BY value DESC)[1:10] AS v
            FROM campaign_members m JOIN account_signals s USING (account_id)
            WHERE s.signal = 'new_model_pivot' AND s.fired GROUP BY 1""",
        "reasons": """
            SELECT campaign_id, list({'signal': signal, 'accounts': accounts, 'mean_value': mean_value,
                                      'example': example, 'evidence': evidence} ORDER BY accounts DESC) AS v
            FROM (SELECT m.campaign_id, s.signal, count(*) AS accounts, round(avg(s.value), 3) AS mean_value,
                         any_value(s.detail) AS example, flatten(list(s.evidence))[1:5] AS evidence
                  FROM campaign_members m JOIN account_signals s USING (account_id) WHERE s.fired GROUP BY ALL)
            GROUP BY 1""",
    }
    optional = {
        "capabilities": (
            "request_content",
            """
            SELECT campaign_id, list({'capability': capability, 'requests': requests} ORDER BY requests DESC)[1:5] AS v
            FROM (SELECT m.campaign_id, r.capability, count(*) AS requests
                  FROM campaign_members m JOIN request_content r USING (account_id) GROUP BY ALL) GROUP BY 1""",
        ),
        "top_templates": (
            "request_templates",
            """
            SELECT campaign_id, list({'template': template, 'requests': requests, 'accounts_using': accounts_using}
                                     ORDER BY requests DESC)[1:3] AS v
            FROM (SELECT m.campaign_id, t.example_masked AS template, count(*) AS requests,
                         any_value(t.accounts) AS accounts_using
                  FROM campaign_members m JOIN request_templates r USING (account_id)
                  JOIN templates t ON t.template_id = r.system_template GROUP BY ALL) GROUP BY 1""",
        ),
    }
    for name, (table, sql) in optional.items():
        sections[name] = sql if db.table_exists(table) else ""
    for name, sql in sections.items():
        values = {r["campaign_id"]: r["v"] for r in db.query(sql).to_pylist()} if sql else {}
        for doc in docs:
            doc[name] = values.get(doc["campaign_id"]) or []
    return docs
