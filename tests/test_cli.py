"""The `distillguard` command line (DESIGN §3.4): commands, options, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.engines.duckdb_api import DuckDBAPI

RECORD = {
    "request_id": "req_01",
    "timestamp": "2026-02-03T14:05:09.123Z",
    "account_id": "acct_42",
    "request": {"system": "s", "messages": [{"role": "user", "content": "hi"}]},
}


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def logs(tmp_path: Path, *extra: bytes) -> Path:
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b"\n".join([orjson.dumps(RECORD), *extra]) + b"\n")
    return path


def test_help_lists_ingest_and_stats() -> None:
    result = cli("--help")
    assert result.exit_code == 0
    assert "ingest" in result.stdout
    assert "stats" in result.stdout


def test_no_arguments_shows_help() -> None:
    result = cli()
    assert "ingest" in result.output and "stats" in result.output


def test_module_entry_point_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "distillguard", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ingest" in proc.stdout and "stats" in proc.stdout


def test_ingest_help_lists_its_options() -> None:
    result = cli("ingest", "--help")
    assert result.exit_code == 0
    for option in ("--db", "--accounts", "--format", "--max-line-bytes", "--json"):
        assert option in result.stdout


@pytest.mark.parametrize("command", ["ingest", "stats"])
def test_every_command_has_help(command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "--db" in result.stdout


def test_ingest_json_prints_one_summary_object(tmp_path: Path) -> None:
    path = logs(tmp_path, b"{broken")
    result = cli("ingest", str(path), "--db", str(tmp_path / "s.duckdb"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["lines_read"], summary["events_added"], summary["quarantined"]) == (2, 1, 1)
    assert summary["quarantine_reasons"] == {"invalid JSON": 1}
    [f] = summary["files"]
    assert f["format"] == "native"
    assert Path(f["path"]) == path.resolve()


def test_ingest_table_summary(tmp_path: Path) -> None:
    result = cli("ingest", str(logs(tmp_path, b"{broken")), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 0, result.output
    assert "logs.jsonl" in result.output
    assert "invalid JSON" in result.output


def test_db_defaults_to_distillguard_duckdb_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = logs(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli("ingest", str(path)).exit_code == 0
    assert (work / "distillguard.duckdb").exists()
    result = cli("stats", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"]["events"] == 1


def test_accounts_option(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_bytes(b'{"account_id": "acct_42", "account_type": "education", "verified": true}\n')
    db = tmp_path / "s.duckdb"
    result = cli("ingest", str(logs(tmp_path)), "--accounts", str(accounts), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accounts_upserted"] == 1
    with DuckDBAPI(db, read_only=True) as store:
        assert store.query("SELECT account_id, account_type, verified FROM accounts").to_pylist() == [
            {"account_id": "acct_42", "account_type": "education", "verified": True}
        ]


def test_stats_on_a_missing_store_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "missing.duckdb"
    result = cli("stats", "--db", str(db))
    assert result.exit_code != 0
    assert "error:" in result.stderr
    assert "Traceback" not in result.output
    assert not db.exists()  # looking does not create a store


def test_stats_on_a_database_that_is_not_a_store_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    duckdb.connect(str(db)).close()
    result = cli("stats", "--db", str(db))
    assert result.exit_code != 0
    assert "error:" in result.stderr
    assert "not a distillguard store" in " ".join(result.stderr.split())


def test_stats_on_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "notes.duckdb"
    db.write_text("these are my notes, not a database\n")
    result = cli("stats", "--db", str(db))
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "error:" in result.stderr
