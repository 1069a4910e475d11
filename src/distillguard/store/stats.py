"""What is in the store: the numbers a user checks after an ingest."""

from __future__ import annotations

from typing import Any

from distillguard.engines.base import DatabaseAPI

TABLES = ("events", "accounts", "quarantine", "ingest_runs")


def store_stats(db: DatabaseAPI) -> dict[str, Any]:
    """Row counts per table, formats seen, quarantine reasons by kind, address classes, and the last runs."""
    missing = [t for t in TABLES if not db.table_exists(t)]
    if missing:
        raise LookupError(f"not a distillguard store: no table {', '.join(missing)}")

    def rows(sql: str) -> list[dict[str, Any]]:
        return db.query(sql).to_pylist()

    span = rows(
        "SELECT min(ts)::VARCHAR AS first, max(ts)::VARCHAR AS last, count(DISTINCT account_id) AS accounts FROM events"
    )[0]
    return {
        "tables": {t: db.scalar(f"SELECT count(*) FROM {t}") for t in TABLES},
        "events_span": span,
        "formats": rows(
            "SELECT source_format AS format, count(*) AS events, count(DISTINCT source_file) AS files "
            "FROM events GROUP BY ALL ORDER BY events DESC, format"
        ),
        "quarantine_reasons": rows(
            "SELECT split_part(reason, ':', 1) AS kind, count(*) AS lines, min(reason) AS example "
            "FROM quarantine GROUP BY ALL ORDER BY lines DESC, kind"
        ),
        "ip_classes": rows(
            "SELECT coalesce(ip_class, 'none') AS ip_class, count(*) AS events "
            "FROM events GROUP BY ALL ORDER BY events DESC, ip_class"
        ),
        "events_with_warnings": db.scalar("SELECT count(*) FROM events WHERE len(warnings) > 0"),
        "runs": rows(
            "SELECT run_id, status, started_at::VARCHAR AS started_at, lines_read, events_added, "
            "duplicates_skipped, quarantined, accounts_upserted FROM ingest_runs "
            "ORDER BY started_at DESC, run_id LIMIT 5"
        ),
    }
