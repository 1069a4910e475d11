"""Idempotence on `request_id`: re-runs add nothing, duplicates are stored once, and a run killed with SIGKILL
then run again ends with exactly the rows of one clean run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.store.ingest import IngestSummary, ingest


def line(request_id: Any, text: str = "hello", **fields: Any) -> bytes:
    rec: dict[str, Any] = {
        "request_id": request_id,
        "timestamp": "2026-02-03T14:05:09.123Z",
        "account_id": "acct_1",
        "client_ip": "198.51.100.7",
        "request": {"messages": [{"role": "user", "content": text}]},
    }
    rec.update(fields)
    return orjson.dumps(rec)


def run(db_path: Path, paths: list[Path], **kwargs: Any) -> IngestSummary:
    """One ingest in its own connection, as one CLI invocation would be."""
    with DuckDBAPI(db_path) as db:
        return ingest(db, paths, **kwargs)


def counts(db_path: Path) -> dict[str, int]:
    with DuckDBAPI(db_path, read_only=True) as db:
        return {t: int(db.scalar(f"SELECT count(*) FROM {t}")) for t in ("events", "quarantine", "accounts")}


def rows(db_path: Path, sql: str) -> list[dict[str, Any]]:
    with DuckDBAPI(db_path, read_only=True) as db:
        return db.query(sql).to_pylist()


def test_rerunning_the_same_ingest_adds_nothing(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(b"\n".join([line("a"), line("b"), b'{"request_id": "broken', line("c"), b"\xff"]) + b"\n")
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_bytes(b'{"account_id": "acct_1", "country": "FR"}\n{"account_id": "acct_2"}\n{"nope": 1}\n')
    db = tmp_path / "store.duckdb"

    first = run(db, [logs], accounts=[accounts])
    before = counts(db)
    events_before = rows(db, "SELECT * EXCLUDE (ingest_run_id) FROM events ORDER BY request_id")
    assert before == {"events": 3, "quarantine": 3, "accounts": 2}
    assert (first.total("events_added"), first.total("duplicates_skipped")) == (3, 0)

    second = run(db, [logs], accounts=[accounts])
    assert counts(db) == before
    assert rows(db, "SELECT * EXCLUDE (ingest_run_id) FROM events ORDER BY request_id") == events_before
    assert second.total("events_added") == 0
    assert second.total("duplicates_skipped") == 3
    assert second.total("lines_read") == first.total("lines_read")
    assert not second.nothing_read  # duplicates are not a failure
    runs = rows(db, "SELECT status, events_added, duplicates_skipped FROM ingest_runs ORDER BY started_at")
    assert runs == [
        {"status": "done", "events_added": 3, "duplicates_skipped": 0},
        {"status": "done", "events_added": 0, "duplicates_skipped": 3},
    ]


def test_rerun_through_a_directory_and_a_file_name_is_the_same_ingest(tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "x.jsonl").write_bytes(line("a") + b"\n" + b"{bad\n")
    db = tmp_path / "store.duckdb"
    run(db, [d])
    before = counts(db)
    second = run(db, [d / "x.jsonl"])
    assert counts(db) == before
    assert second.total("duplicates_skipped") == 1


def test_same_request_id_in_two_files_is_stored_once(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    one.write_bytes(line("shared", "from one") + b"\n" + line("only_one") + b"\n")
    two.write_bytes(line("only_two") + b"\n" + line("shared", "from two") + b"\n")
    db = tmp_path / "store.duckdb"
    summary = run(db, [one, two])
    assert rows(db, "SELECT request_id, count(*) AS n FROM events GROUP BY 1 ORDER BY 1") == [
        {"request_id": "only_one", "n": 1},
        {"request_id": "only_two", "n": 1},
        {"request_id": "shared", "n": 1},
    ]
    [shared] = rows(db, "SELECT first_user_message, source_file FROM events WHERE request_id = 'shared'")
    assert shared == {"first_user_message": "from one", "source_file": str(one.resolve())}
    assert [(f.events_added, f.duplicates_skipped) for f in summary.files] == [(2, 0), (1, 1)]


def test_integer_and_string_forms_of_one_request_id_are_one_request(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(line(42, "int") + b"\n" + line("42", "str") + b"\n")
    db = tmp_path / "store.duckdb"
    summary = run(db, [logs])
    assert rows(db, "SELECT request_id, first_user_message FROM events") == [
        {"request_id": "42", "first_user_message": "int"}
    ]
    assert summary.total("duplicates_skipped") == 1


def test_duplicate_request_id_inside_one_file_keeps_the_first(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(
        b"\n".join([line("a", "first a"), line("b"), line("a", "second a"), line("c"), line("a", "third a")]) + b"\n"
    )
    db = tmp_path / "store.duckdb"
    summary = run(db, [logs])
    assert rows(db, "SELECT request_id, source_line, first_user_message FROM events ORDER BY source_line") == [
        {"request_id": "a", "source_line": 1, "first_user_message": "first a"},
        {"request_id": "b", "source_line": 2, "first_user_message": "hello"},
        {"request_id": "c", "source_line": 4, "first_user_message": "hello"},
    ]
    [f] = summary.files
    assert (f.lines_read, f.events_added, f.duplicates_skipped, f.quarantined) == (5, 3, 2, 0)


def test_a_duplicate_of_a_rejected_line_is_kept(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(line("a", "bad one", timestamp="2026-02-30T00:00:00Z") + b"\n" + line("a", "good one") + b"\n")
    db = tmp_path / "store.duckdb"
    run(db, [logs])
    assert rows(db, "SELECT source_line, first_user_message FROM events") == [
        {"source_line": 2, "first_user_message": "good one"}
    ]
    assert [q["line_no"] for q in rows(db, "SELECT line_no FROM quarantine")] == [1]


def test_accounts_reingest_upserts_and_the_later_line_wins(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(line("a") + b"\n")
    first = tmp_path / "accounts1.jsonl"
    first.write_text(
        "\n".join(
            json.dumps(a)
            for a in [
                {"account_id": "acct_1", "country": "FR", "account_type": "startup"},
                {"account_id": "acct_2", "country": "US", "verified": True},
                {"account_id": "acct_1", "country": "DE", "account_type": "education"},
                {"account_id": 3, "country": "JP"},
            ]
        )
        + "\n"
    )
    db = tmp_path / "store.duckdb"
    summary = run(db, [logs], accounts=[first])
    query = "SELECT account_id, country, account_type FROM accounts ORDER BY account_id"
    expected = [
        {"account_id": "3", "country": "JP", "account_type": None},
        {"account_id": "acct_1", "country": "DE", "account_type": "education"},
        {"account_id": "acct_2", "country": "US", "account_type": None},
    ]
    assert rows(db, query) == expected
    assert summary.total("accounts_upserted") == 3

    run(db, [logs], accounts=[first])  # same file again: nothing changes
    assert rows(db, query) == expected

    later = tmp_path / "accounts2.jsonl"
    later.write_text(json.dumps({"account_id": "acct_2", "country": "CA"}) + "\n")
    run(db, [logs], accounts=[later])
    assert rows(db, query) == [*expected[:2], {"account_id": "acct_2", "country": "CA", "account_type": None}]


def test_accounts_alone_count_as_something_read(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_bytes(b'{"account_id": "acct_1"}\n')
    summary = run(tmp_path / "store.duckdb", [empty], accounts=[accounts])
    assert not summary.nothing_read


# -- kill and rerun ------------------------------------------------------------------------------------------

# The ingest commits one group of lines per transaction (issue 2 §5: "a run killed with SIGKILL and re-run ends
# with exactly the rows of one clean run"). The file must hold several groups so that a kill can land between two
# commits: ~210 MB of ~440-byte lines is four groups of the current reader (a 64 MiB chunk of 150k lines per
# transaction) and a few seconds of ingest.
KILL_LINES = 480_000
PAD = "p" * 150


def _original(i: int) -> int:
    """The line whose request line i repeats (itself for most lines): duplicates reach back across groups."""
    if i % 7_919 == 0 and i >= 150_000 and (i - 150_000) % 10_000 != 5_000:
        return i - 150_000
    return i


def _write_kill_input(path: Path) -> tuple[int, int]:
    """Native lines with a bad line every 10,000 and a repeat of an earlier request every 7,919; returns
    (distinct good request ids, bad lines)."""
    bad = repeats = 0
    with path.open("w") as f:
        for i in range(KILL_LINES):
            if i % 10_000 == 5_000:
                f.write(f'{{"request_id": "bad_{i}", "timestamp": "2026-02-30T00:00:00Z", "acc\n')
                bad += 1
                continue
            repeats += _original(i) != i
            f.write(
                f'{{"request_id":"req_{_original(i):07d}","timestamp":{1_770_127_509_123 + i * 1000},'
                f'"account_id":"acct_{i % 997}","client_ip":"198.51.{i % 256}.{i % 199}",'
                f'"user_agent":"anthropic-python/0.{i % 50}.0","request":{{"system":"sys {i % 13}","messages":'
                f'[{{"role":"user","content":"question {i} {PAD}"}}]}},'
                f'"response":{{"text":"answer","input_tokens":{i % 4000}}},"status":200}}\n'
            )
    return KILL_LINES - bad - repeats, bad


def _ingest_cmd(logs: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "distillguard", "ingest", str(logs), "--db", str(db), "--json"]


def _remove_store(db: Path) -> None:
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)


def _snapshot(db: Path) -> dict[str, Any]:
    with DuckDBAPI(db, read_only=True) as store:
        return {
            "events": store.query("SELECT * EXCLUDE (ingest_run_id) FROM events ORDER BY request_id"),
            "distinct": store.scalar("SELECT count(DISTINCT request_id) FROM events"),
            "quarantine": store.query(
                "SELECT * EXCLUDE (ingest_run_id) FROM quarantine ORDER BY source_file, line_no, item"
            ).to_pylist(),
        }


def _kill_mid_run(logs: Path, db: Path, clean_seconds: float, good: int) -> tuple[int, int]:
    """Start the CLI and SIGKILL it after a fraction of the clean run's time, searching for a fraction at which
    some groups are committed and some are not. Returns (returncode, events committed)."""
    too_early, too_late = 0.0, 1.0
    tried = []
    for _ in range(8):
        fraction = (too_early + too_late) / 2
        _remove_store(db)
        proc = subprocess.Popen(_ingest_cmd(logs, db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=fraction * clean_seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        committed = int(rows(db, "SELECT count(*) AS n FROM events")[0]["n"]) if db.exists() else 0
        tried.append((round(fraction, 3), proc.returncode, committed))
        if proc.returncode != -signal.SIGKILL or committed >= good:
            too_late = fraction
        elif committed == 0:
            too_early = fraction
        else:
            print("kill attempts (fraction, returncode, committed):", tried)
            return proc.returncode, committed
    pytest.fail(f"no kill landed between two commits; (fraction, returncode, committed) tried: {tried}")


def test_killed_run_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    logs = tmp_path / "big.jsonl"
    clean_db, killed_db = tmp_path / "clean.duckdb", tmp_path / "killed.duckdb"
    try:
        good, bad = _write_kill_input(logs)

        start = time.monotonic()
        clean = subprocess.run(_ingest_cmd(logs, clean_db), capture_output=True, timeout=300)
        clean_seconds = time.monotonic() - start
        assert clean.returncode == 0, clean.stderr.decode()[-2000:]
        assert json.loads(clean.stdout)["events_added"] == good

        returncode, committed = _kill_mid_run(logs, killed_db, clean_seconds, good)
        assert returncode == -signal.SIGKILL  # killed, not finished
        assert 0 < committed < good
        assert [r["status"] for r in rows(killed_db, "SELECT status FROM ingest_runs")] == ["running"]

        rerun = subprocess.run(_ingest_cmd(logs, killed_db), capture_output=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
        summary = json.loads(rerun.stdout)
        assert summary["events_added"] == good - committed
        assert summary["events_added"] + summary["duplicates_skipped"] == KILL_LINES - bad
        assert summary["quarantined"] == bad

        expected, got = _snapshot(clean_db), _snapshot(killed_db)
        assert got["events"].num_rows == expected["events"].num_rows == got["distinct"] == good
        assert got["events"].column("request_id").to_pylist() == expected["events"].column("request_id").to_pylist()
        assert got["events"].equals(expected["events"]), "same requests, stored differently"
        assert got["quarantine"] == expected["quarantine"]
        assert len(got["quarantine"]) == bad

        # A repeated request keeps its first occurrence, in an earlier group.
        repeats = [i for i in range(KILL_LINES) if _original(i) != i]
        for i in repeats[:2] + repeats[-2:]:
            [kept] = rows(killed_db, f"SELECT source_line FROM events WHERE request_id = 'req_{_original(i):07d}'")
            assert kept["source_line"] == _original(i) + 1

        runs = rows(killed_db, "SELECT status, finished_at IS NULL AS unfinished FROM ingest_runs ORDER BY started_at")
        assert runs == [{"status": "interrupted", "unfinished": True}, {"status": "done", "unfinished": False}]
    finally:  # the input is large: do not leave it behind in pytest's kept temp directories
        logs.unlink(missing_ok=True)
        _remove_store(clean_db)
        _remove_store(killed_db)
