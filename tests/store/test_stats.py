"""`store_stats` and `distillguard stats`: what went in, after an ingest."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.store.ingest import ingest
from distillguard.store.stats import store_stats

FORMAT_FIXTURES = Path(__file__).parents[1] / "fixtures" / "formats"


def line(request_id: str, **fields: Any) -> bytes:
    rec: dict[str, Any] = {
        "request_id": request_id,
        "timestamp": "2026-02-03T14:05:09.123Z",
        "account_id": "acct_1",
        "client_ip": "203.0.113.9",
        "request": {"messages": [{"role": "user", "content": "hello"}]},
    }
    rec.update(fields)
    return orjson.dumps(rec)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store after one ingest of native, LiteLLM and OTel files with known bad lines, and an accounts file."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "native.jsonl").write_bytes(
        b"\n".join(
            [
                line("a", timestamp="2026-01-01T00:00:00Z"),
                line("b", account_id="acct_2", status="abc"),
                line("c", timestamp="2026-03-01T12:00:00Z", account_id="acct_3"),
                b'{"request_id": "trunc',
                line("d", timestamp="2026-02-30T00:00:00Z"),
                line("e", timestamp=1_770_127_509),
                line("f", account_id=["x"]),
                b"\xff\xfe",
                line("a"),  # a duplicate
            ]
        )
        + b"\n"
    )
    shutil.copy(FORMAT_FIXTURES / "litellm_spend_logs.jsonl", logs / "litellm.jsonl")
    shutil.copy(FORMAT_FIXTURES / "otel_genai.jsonl", logs / "otel.jsonl")
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_bytes(b'{"account_id": "acct_1"}\n{"account_id": "acct_2"}\n')
    db = tmp_path / "store.duckdb"
    with DuckDBAPI(db) as api:
        ingest(api, [logs], accounts=[accounts])
    return db


def expected_counts(db: Path) -> dict[str, Any]:
    with DuckDBAPI(db, read_only=True) as api:
        return {
            "events": api.scalar("SELECT count(*) FROM events"),
            "first": api.scalar("SELECT min(ts) FROM events"),
            "last": api.scalar("SELECT max(ts) FROM events"),
            "formats": {
                r["f"]: r["n"]
                for r in api.query("SELECT source_format AS f, count(*) AS n FROM events GROUP BY 1").to_pylist()
            },
            "otel_quarantined": api.scalar("SELECT count(*) FROM quarantine WHERE source_format = 'otel'"),
            "litellm_quarantined": api.scalar("SELECT count(*) FROM quarantine WHERE source_format = 'litellm'"),
        }


def test_store_stats_after_an_ingest(store: Path) -> None:
    counts = expected_counts(store)
    with DuckDBAPI(store, read_only=True) as api:
        stats = store_stats(api)

    native_good = 3
    assert stats["tables"]["events"] == counts["events"]
    assert counts["formats"]["native"] == native_good
    assert stats["tables"]["accounts"] == 2
    assert stats["tables"]["ingest_runs"] == 1
    assert stats["tables"]["quarantine"] == 5 + counts["otel_quarantined"] + counts["litellm_quarantined"]

    formats = {f["format"]: f for f in stats["formats"]}
    assert set(formats) == {"native", "litellm", "otel"}
    for name, n in counts["formats"].items():
        assert formats[name]["events"] == n
        assert formats[name]["files"] == 1

    reasons = {r["kind"]: r for r in stats["quarantine_reasons"]}
    assert reasons["invalid JSON"]["lines"] == 1
    assert reasons["bad timestamp"]["lines"] == 2
    assert reasons["wrong type"]["lines"] == 1
    assert reasons["invalid UTF-8"]["lines"] == 1
    assert reasons["bad timestamp"]["example"].startswith("bad timestamp:")
    assert sum(r["lines"] for r in stats["quarantine_reasons"]) == stats["tables"]["quarantine"]

    assert datetime.fromisoformat(stats["events_span"]["first"]) == counts["first"]
    assert datetime.fromisoformat(stats["events_span"]["last"]) == counts["last"] == datetime(2026, 3, 1, 12)
    assert stats["events_span"]["accounts"] >= 3
    assert stats["events_with_warnings"] >= 1  # status "abc"
    assert {c["ip_class"]: c["events"] for c in stats["ip_classes"]}.get("private", 0) >= native_good

    [run] = stats["runs"]
    assert run["status"] == "done"
    assert run["events_added"] == counts["events"]
    assert run["duplicates_skipped"] >= 1
    assert run["accounts_upserted"] == 2


def test_stats_json_command(store: Path) -> None:
    result = CliRunner().invoke(app, ["stats", "--db", str(store), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)  # stdout is one JSON object and nothing else
    with DuckDBAPI(store, read_only=True) as api:
        assert stats == json.loads(json.dumps(store_stats(api), default=str))
    assert stats["tables"]["events"] == expected_counts(store)["events"]
    assert {f["format"] for f in stats["formats"]} == {"native", "litellm", "otel"}
    assert {"invalid JSON", "bad timestamp", "wrong type", "invalid UTF-8"} <= {
        r["kind"] for r in stats["quarantine_reasons"]
    }


def test_stats_table_output(store: Path) -> None:
    result = CliRunner().invoke(app, ["stats", "--db", str(store)])
    assert result.exit_code == 0, result.output
    for word in ("events", "quarantine", "accounts", "native", "litellm", "otel", "bad timestamp", "invalid JSON"):
        assert word in result.stdout


def test_stats_reflect_a_rerun(store: Path, tmp_path: Path) -> None:
    with DuckDBAPI(store, read_only=True) as api:
        before = store_stats(api)
    with DuckDBAPI(store) as api:
        ingest(api, [tmp_path / "logs"])
    with DuckDBAPI(store, read_only=True) as api:
        after = store_stats(api)
    assert after["tables"]["events"] == before["tables"]["events"]
    assert after["tables"]["quarantine"] == before["tables"]["quarantine"]
    assert after["tables"]["ingest_runs"] == 2
    latest = after["runs"][0]
    assert (latest["status"], latest["events_added"]) == ("done", 0)


def test_stats_on_a_fresh_store_are_zero(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    db = tmp_path / "store.duckdb"
    with DuckDBAPI(db) as api:
        ingest(api, [empty])
        stats = store_stats(api)
    assert stats["tables"]["events"] == stats["tables"]["quarantine"] == stats["tables"]["accounts"] == 0
    assert stats["formats"] == [] and stats["quarantine_reasons"] == []


def test_store_stats_refuses_a_database_that_is_not_a_store(tmp_path: Path) -> None:
    with DuckDBAPI(tmp_path / "other.duckdb") as api:
        api.execute("CREATE TABLE t (x INTEGER)")
        with pytest.raises(LookupError, match="not a distillguard store"):
            store_stats(api)
