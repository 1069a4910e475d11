"""Hand-made stores for signal tests: events and accounts rows from plain dicts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.signals.base import DetectionContext
from distillguard.store.schema import create_tables

T0 = datetime(2026, 2, 2, 0, 0, 0)


def event(account: str, n: int, **fields: object) -> dict:
    """One event row with sensible defaults; `n` numbers it within the account."""
    return {
        "request_id": f"{account}-r{n}",
        "ts": T0 + timedelta(minutes=7 * n),
        "account_id": account,
        "source_format": "native",
        "source_file": "t.jsonl",
        "source_line": n,
        "ingest_run_id": "t",
        **fields,
    }


@pytest.fixture
def store() -> Callable[[list[dict], list[dict]], DetectionContext]:
    def make(events: list[dict], accounts: list[dict] | None = None) -> DetectionContext:
        db = DuckDBAPI()
        create_tables(db)
        for table, rows in (("events", events), ("accounts", accounts or [])):
            if rows:
                db.register("rows", pa.Table.from_pylist(rows))
                extra = ""
                if table == "accounts":
                    extra = ", 't.jsonl' AS source_file, 1 AS source_line, 't' AS ingest_run_id"
                db.execute(f"INSERT INTO {table} BY NAME SELECT *{extra} FROM rows")
                db.unregister("rows")
        return DetectionContext(db)

    return make
