"""Bad input (issue 2 §5): every bad line is quarantined with its reason, file, line number and raw bytes; every
good line around it is kept; the run summary counts it; the command fails only when nothing could be read."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.store.ingest import IngestSummary, ingest

FORMAT_FIXTURES = Path(__file__).parents[1] / "fixtures" / "formats"
RAW_PREFIX = 64 * 1024


def record(request_id: Any, **fields: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "request_id": request_id,
        "timestamp": "2026-02-03T14:05:09.123Z",
        "account_id": "acct_42",
        "client_ip": "203.0.113.9",
        "request": {"system": "Be brief.", "messages": [{"role": "user", "content": f"question {request_id}"}]},
        "response": {"text": "answer", "input_tokens": 10, "output_tokens": 20},
        "status": 200,
    }
    rec.update(fields)
    return rec


def line(request_id: Any, **fields: Any) -> bytes:
    return orjson.dumps(record(request_id, **fields))


def without(key: str) -> bytes:
    rec = record("bad")
    del rec[key]
    return orjson.dumps(rec)


def kind(reason: str) -> str:
    return reason.split(":", 1)[0]


class Run:
    """An ingest of some paths into a fresh store under tmp_path, and what the store holds afterwards."""

    def __init__(self, tmp_path: Path, paths: list[Path], **kwargs: Any) -> None:
        with DuckDBAPI(tmp_path / "store.duckdb") as db:
            self.summary: IngestSummary = ingest(db, paths, **kwargs)
            self.events = db.query("SELECT * FROM events ORDER BY source_file, source_line").to_pylist()
            self.quarantine = db.query("SELECT * FROM quarantine ORDER BY source_file, line_no, item").to_pylist()

    @property
    def ids(self) -> set[str]:
        return {e["request_id"] for e in self.events}

    def file(self, path: Path) -> Any:
        [f] = [f for f in self.summary.files if f.path == str(path.resolve())]
        return f


def write(tmp_path: Path, data: bytes, name: str = "logs.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_raw_kept(raw: bytes, original: bytes) -> None:
    """The raw column holds the line as read (a line terminator left on it is tolerated here; see
    test_raw_is_exactly_the_line_without_its_terminator)."""
    assert raw in (original, original + b"\n", original + b"\r\n"), (raw[:200], original[:200])


# -- one bad line between two good ones ----------------------------------------------------------------------

TRUNCATED = line("bad")[:57]
BAD_LINES = {
    # truncated JSON
    "truncated mid-string": (TRUNCATED, "invalid JSON", None),
    "truncated before the closing brace": (line("bad")[:-1], "invalid JSON", None),
    "only an opening brace": (b"{", "invalid JSON", None),
    "two records glued on one line": (line("bad") + line("bad2"), "invalid JSON", None),
    "trailing garbage": (line("bad") + b" garbage", "invalid JSON", None),
    # wrong types for required fields
    "request_id object": (line({"id": 1}), "wrong type", "request_id"),
    "request_id list": (line(["a"]), "wrong type", "request_id"),
    "request_id float": (line(1.5), "wrong type", "request_id"),
    "request_id bool": (line(True), "wrong type", "request_id"),
    "account_id list": (line("bad", account_id=["acct_42"]), "wrong type", "account_id"),
    "account_id object": (line("bad", account_id={"id": 42}), "wrong type", "account_id"),
    "timestamp bool": (line("bad", timestamp=True), "wrong type", "timestamp"),
    "timestamp object": (line("bad", timestamp={"s": 1}), "wrong type", "timestamp"),
    "timestamp float": (line("bad", timestamp=1770127509123.5), "wrong type", "timestamp"),
    "request string": (line("bad", request="What is 2+2?"), "wrong type", "request"),
    "request list": (line("bad", request=[{"role": "user", "content": "hi"}]), "wrong type", "request"),
    "messages not a list": (line("bad", request={"messages": "hi"}), "wrong type", "messages"),
    "messages an object": (line("bad", request={"messages": {"role": "user"}}), "wrong type", "messages"),
    # missing required fields
    "missing request_id": (without("request_id"), "missing field", "request_id"),
    "missing timestamp": (without("timestamp"), "missing field", "timestamp"),
    "missing account_id": (without("account_id"), "missing field", "account_id"),
    "missing request": (without("request"), "missing field", "request"),
    "request_id null": (line(None), "missing field", "request_id"),
    "request_id empty": (line(""), "missing field", "request_id"),
    "account_id blank": (line("bad", account_id="  "), "missing field", "account_id"),
    "empty object": (b"{}", "missing field", None),
    # not an object
    "a JSON array": (b'[{"request_id": "bad"}]', "not an object", None),
    "a JSON string": (b'"request"', "not an object", None),
    "a JSON number": (b"42", "not an object", None),
    "JSON null": (b"null", "not an object", None),
    # impossible timestamps
    "February 30th": (line("bad", timestamp="2026-02-30T10:00:00Z"), "bad timestamp", "2026-02-30"),
    "month 13": (line("bad", timestamp="2026-13-01T10:00:00Z"), "bad timestamp", "2026-13-01"),
    "hour 25": (line("bad", timestamp="2026-02-03T25:00:00Z"), "bad timestamp", None),
    "not a time": (line("bad", timestamp="yesterday"), "bad timestamp", "yesterday"),
    "year 1970": (line("bad", timestamp="1970-01-01T00:00:00Z"), "bad timestamp", "1970"),
    "year 2200": (line("bad", timestamp="2200-01-01T00:00:00Z"), "bad timestamp", "2200"),
    "epoch ms in 2200": (line("bad", timestamp=7_258_118_400_000), "bad timestamp", None),
    "epoch ms zero": (line("bad", timestamp=0), "bad timestamp", None),
    "epoch microseconds": (line("bad", timestamp=1_770_127_509_123_000), "bad timestamp", None),
    # invalid UTF-8
    "0xFF in a string": (line("bad").replace(b"Be brief.", b"Be \xff brief."), "invalid UTF-8", None),
    "lone continuation byte": (line("bad").replace(b"Be brief.", b"Be \x80 brief."), "invalid UTF-8", None),
    "overlong encoding": (line("bad").replace(b"Be brief.", b"Be \xc0\xaf brief."), "invalid UTF-8", None),
    "UTF-16 surrogate": (line("bad").replace(b"Be brief.", b"Be \xed\xa0\x80 brief."), "invalid UTF-8", None),
    "truncated multi-byte char at the end": (line("bad") + b"\xe2\x82", "invalid UTF-8", None),
    "Latin-1 text": (line("bad").replace(b"Be brief.", b"caf\xe9"), "invalid UTF-8", None),
    # NUL bytes
    "a line of NULs": (b"\x00\x00\x00\x00", "invalid JSON", None),
    "NUL inside a string": (line("bad").replace(b"Be brief.", b"Be\x00brief."), "invalid JSON", None),
    "NUL between tokens": (line("bad").replace(b',"account_id"', b',\x00"account_id"'), "invalid JSON", None),
    "NUL after the record": (line("bad") + b"\x00", "invalid JSON", None),
}


@pytest.mark.parametrize(("bad", "expected_kind", "detail"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_bad_line_is_quarantined_and_its_neighbours_kept(
    tmp_path: Path, bad: bytes, expected_kind: str, detail: str | None
) -> None:
    path = write(tmp_path, line("before") + b"\n" + bad + b"\n" + line("after") + b"\n")
    run = Run(tmp_path, [path])

    [q] = run.quarantine
    assert kind(q["reason"]) == expected_kind, q["reason"]
    if detail:
        assert detail in q["reason"]
    assert (q["source_file"], q["line_no"], q["item"]) == (str(path.resolve()), 2, 0)
    assert_raw_kept(q["raw"], bad)
    assert q["raw_bytes"] == len(bad)
    assert q["source_format"] == "native"
    assert q["ingest_run_id"] == run.summary.run_id

    assert [(e["request_id"], e["source_line"]) for e in run.events] == [("before", 1), ("after", 3)]

    f = run.file(path)
    assert (f.lines_read, f.events_added, f.quarantined, f.duplicates_skipped) == (3, 2, 1, 0)
    assert run.summary.quarantine_reasons == {expected_kind: 1}


def test_epoch_seconds_get_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, line("before") + b"\n" + line("bad", timestamp=1_770_127_509) + b"\n")
    [q] = Run(tmp_path, [path]).quarantine
    assert kind(q["reason"]) == "bad timestamp"
    assert "1770127509" in q["reason"]
    assert "epoch seconds" in q["reason"] and "milliseconds" in q["reason"]


def test_the_hint_is_only_given_for_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, line("before") + b"\n" + line("bad", timestamp="1970-01-21T11:42:07Z") + b"\n")
    [q] = Run(tmp_path, [path]).quarantine
    assert kind(q["reason"]) == "bad timestamp"
    assert "epoch seconds" not in q["reason"]


def test_every_bad_line_of_a_file_is_quarantined_in_one_run(tmp_path: Path) -> None:
    """All the cases above in one file, interleaved with good lines: per-line isolation inside one batch."""
    lines, good = [], []
    for i, (bad, _, _) in enumerate(BAD_LINES.values()):
        lines += [line(f"good_{i}"), bad]
        good.append(f"good_{i}")
    path = write(tmp_path, b"\n".join(lines) + b"\n")
    run = Run(tmp_path, [path])
    assert run.ids == set(good)
    assert [q["line_no"] for q in run.quarantine] == list(range(2, 2 * len(BAD_LINES) + 1, 2))
    for q, (bad, expected_kind, _) in zip(run.quarantine, BAD_LINES.values(), strict=True):
        assert kind(q["reason"]) == expected_kind
        assert_raw_kept(q["raw"], bad)
    expected_reasons: dict[str, int] = {}
    for _, expected_kind, _ in BAD_LINES.values():
        expected_reasons[expected_kind] = expected_reasons.get(expected_kind, 0) + 1
    assert run.summary.quarantine_reasons == expected_reasons
    f = run.file(path)
    assert (f.lines_read, f.events_added, f.quarantined) == (2 * len(BAD_LINES), len(BAD_LINES), len(BAD_LINES))


@pytest.mark.parametrize(
    "bad",
    [
        line("bad", timestamp="2026-02-30T10:00:00Z", request={"messages": [{"role": "user", "content": "a\nb"}]}),
        line("bad", request={"messages": [{"role": "user", "content": 'say "hi"'}]})[:-5],
        line("bad", account_id=None, request={"messages": [{"role": "user", "content": "C:\\x41"}]}),
        line("bad", timestamp="2026-02-30T10:00:00Z", request={"messages": [{"role": "user", "content": "café"}]}),
        line("bad", request={"messages": [{"role": "user", "content": "你好"}]})[:-5],
        b"\xef\xbb\xbf" + line("bad"),  # a UTF-8 byte-order mark
    ],
    ids=[
        "escaped newline",
        "escaped quote, truncated",
        "escaped backslash",
        "accented text",
        "Chinese text, truncated",
        "UTF-8 BOM",
    ],
)
def test_a_rejected_line_with_a_backslash_or_non_ascii_text_is_quarantined(tmp_path: Path, bad: bytes) -> None:
    path = write(tmp_path, line("before") + b"\n" + bad + b"\n" + line("after") + b"\n")
    run = Run(tmp_path, [path])
    [q] = run.quarantine
    assert q["line_no"] == 2
    assert_raw_kept(q["raw"], bad)
    assert run.ids == {"before", "after"}


@pytest.mark.parametrize("timestamp", [1_770_127_509_123_000_000, 18_446_744_073_709_551_615, -9_999_999_999_999_999])
def test_an_epoch_too_large_for_milliseconds_is_quarantined(tmp_path: Path, timestamp: int) -> None:
    path = write(tmp_path, line("before") + b"\n" + line("bad", timestamp=timestamp) + b"\n" + line("after") + b"\n")
    run = Run(tmp_path, [path])
    [q] = run.quarantine
    assert kind(q["reason"]) == "bad timestamp"
    assert run.ids == {"before", "after"}


def test_an_account_created_at_in_nanoseconds_does_not_abort_the_ingest(tmp_path: Path) -> None:
    logs = write(tmp_path, line("r1") + b"\n")
    accounts = write(
        tmp_path,
        b'{"account_id": "a1", "created_at": 1770127509123000000}\n{"account_id": "a2", "country": "FR"}\n',
        "accounts.jsonl",
    )
    run = Run(tmp_path, [logs], accounts=[accounts])
    assert run.ids == {"r1"}
    assert run.file(accounts).accounts_upserted == 2


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_raw_is_exactly_the_line_without_its_terminator(tmp_path: Path, newline: bytes) -> None:
    bad = line("bad")[:-3]
    path = write(tmp_path, line("before") + newline + bad + newline)
    [q] = Run(tmp_path, [path]).quarantine
    assert q["raw"] == bad
    assert len(q["raw"]) == q["raw_bytes"]


# -- long lines ----------------------------------------------------------------------------------------------


def test_a_line_over_max_line_bytes_is_quarantined_unread(tmp_path: Path) -> None:
    big = line("big", request={"messages": [{"role": "user", "content": "x" * 200_000}]})
    path = write(tmp_path, line("before") + b"\n" + big + b"\n" + line("after") + b"\n")
    run = Run(tmp_path, [path], max_line_bytes=100_000)
    [q] = run.quarantine
    assert kind(q["reason"]) == "line too long"
    assert "--max-line-bytes" in q["reason"]
    assert q["line_no"] == 2
    assert q["raw_bytes"] == len(big)
    assert q["raw"] == big[: len(q["raw"])]
    assert 0 < len(q["raw"]) <= RAW_PREFIX
    assert run.ids == {"before", "after"}
    assert run.summary.quarantine_reasons == {"line too long": 1}


def test_a_line_at_the_limit_is_read(tmp_path: Path) -> None:
    rec = line("edge")
    path = write(tmp_path, rec + b"\n" + line("other") + b"\n")
    run = Run(tmp_path, [path], max_line_bytes=len(rec))
    assert "edge" in run.ids
    assert [q["line_no"] for q in run.quarantine] == ([2] if len(line("other")) > len(rec) else [])


def test_an_oversized_last_line_without_newline(tmp_path: Path) -> None:
    big = line("big", request={"messages": [{"role": "user", "content": "y" * 50_000}]})
    path = write(tmp_path, line("before") + b"\n" + big)
    run = Run(tmp_path, [path], max_line_bytes=10_000)
    [q] = run.quarantine
    assert (kind(q["reason"]), q["line_no"], q["raw_bytes"]) == ("line too long", 2, len(big))
    assert run.ids == {"before"}


def test_cli_max_line_bytes_option(tmp_path: Path) -> None:
    big = line("big", request={"messages": [{"role": "user", "content": "z" * 5_000}]})
    path = write(tmp_path, line("before") + b"\n" + big + b"\n")
    db = tmp_path / "store.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(path), "--db", str(db), "--max-line-bytes", "1000", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quarantine_reasons"] == {"line too long": 1}


_PEAK_RSS = textwrap.dedent("""
    import resource, subprocess, sys
    proc = subprocess.run(sys.argv[1:], capture_output=True)
    sys.stderr.buffer.write(proc.stderr)
    sys.stdout.buffer.write(proc.stdout)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, proc.returncode, file=sys.stderr)
""")


def test_a_50_mb_line_is_quarantined_in_bounded_memory(tmp_path: Path) -> None:
    size = 50 << 20
    path = tmp_path / "huge.jsonl"
    head = (
        b'{"request_id": "huge", "timestamp": "2026-02-03T14:05:09Z", "account_id": "a", "request": {"messages": '
        b'[{"role": "user", "content": "'
    )
    tail = b'"}]}}'
    with path.open("wb") as f:
        f.write(line("before") + b"\n" + head)
        block = b"A" * (1 << 20)
        for _ in range(size // len(block)):
            f.write(block)
        f.write(tail + b"\n" + line("after") + b"\n")
    huge = len(head) + size + len(tail)
    db = tmp_path / "store.duckdb"
    # A wrapper process, so RUSAGE_CHILDREN covers the CLI alone (not earlier children of the test process).
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK_RSS,
            sys.executable,
            "-m",
            "distillguard",
            "ingest",
            str(path),
            "--db",
            str(db),
            "--json",
        ],
        capture_output=True,
        timeout=300,
    )
    *_, last = proc.stderr.decode().strip().splitlines()
    peak_kib, returncode = map(int, last.split())
    assert returncode == 0, proc.stderr.decode()[-2000:]
    assert peak_kib * 1024 < 1.5e9, f"peak RSS {peak_kib / 1024:.0f} MiB"
    summary = json.loads(proc.stdout)
    assert summary["quarantine_reasons"] == {"line too long": 1}
    assert (summary["events_added"], summary["quarantined"], summary["lines_read"]) == (2, 1, 3)
    with DuckDBAPI(db, read_only=True) as store:
        [q] = store.query("SELECT * FROM quarantine").to_pylist()
        ids = {r["request_id"] for r in store.query("SELECT request_id FROM events").to_pylist()}
    assert ids == {"before", "after"}
    assert (q["line_no"], q["raw_bytes"]) == (2, huge)
    assert q["raw"] == head + b"A" * (len(q["raw"]) - len(head))
    assert len(q["raw"]) <= RAW_PREFIX


# -- line structure ------------------------------------------------------------------------------------------


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path, line("a") + b"\r\n" + line("b") + b"\r\n\r\n" + TRUNCATED + b"\r\n" + line("c") + b"\r\n")
    run = Run(tmp_path, [path])
    assert [(e["request_id"], e["source_line"]) for e in run.events] == [("a", 1), ("b", 2), ("c", 5)]
    [q] = run.quarantine
    assert (kind(q["reason"]), q["line_no"]) == ("invalid JSON", 4)
    assert q["raw"].rstrip(b"\r\n") == TRUNCATED
    assert not any(e["first_user_message"].endswith("\r") for e in run.events)
    f = run.file(path)
    assert (f.lines_read, f.events_added, f.quarantined) == (4, 3, 1)


def test_blank_lines_are_skipped_but_numbered(tmp_path: Path) -> None:
    path = write(tmp_path, b"\n\n" + line("a") + b"\n\n\n" + line("b") + b"\n\r\n\n")
    run = Run(tmp_path, [path])
    assert [(e["request_id"], e["source_line"]) for e in run.events] == [("a", 3), ("b", 6)]
    assert run.quarantine == []
    f = run.file(path)
    assert (f.lines_read, f.events_added, f.quarantined) == (2, 2, 0)


def test_whitespace_only_lines_are_blank(tmp_path: Path) -> None:
    path = write(tmp_path, line("a") + b"\n   \n\t\n \r\n" + line("b") + b"\n")
    run = Run(tmp_path, [path])
    assert run.ids == {"a", "b"}
    assert run.quarantine == []


def test_no_trailing_newline(tmp_path: Path) -> None:
    path = write(tmp_path, line("a") + b"\n" + line("b"))
    run = Run(tmp_path, [path])
    assert [(e["request_id"], e["source_line"]) for e in run.events] == [("a", 1), ("b", 2)]


def test_bad_last_line_without_newline(tmp_path: Path) -> None:
    path = write(tmp_path, line("a") + b"\n" + TRUNCATED)
    run = Run(tmp_path, [path])
    assert run.ids == {"a"}
    [q] = run.quarantine
    assert (kind(q["reason"]), q["line_no"]) == ("invalid JSON", 2)
    assert_raw_kept(q["raw"], TRUNCATED)


def test_a_json_array_file(tmp_path: Path) -> None:
    records = [record("a"), record("b"), 5, {"x": 1}, record("c", timestamp="2026-02-30T00:00:00Z")]
    path = write(tmp_path, json.dumps(records, indent=2).encode(), "export.json")
    run = Run(tmp_path, [path])
    assert run.ids == {"a", "b"}
    assert sorted(kind(q["reason"]) for q in run.quarantine) == ["bad timestamp", "missing field", "not an object"]
    assert len({q["line_no"] for q in run.quarantine} | {e["source_line"] for e in run.events}) == 5
    assert run.file(path).format == "native"
    assert run.file(path).quarantined == 3


def test_a_compact_json_array_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, orjson.dumps([record("a"), record("b")]) + b"\n", "export.json")
    assert Run(tmp_path, [path]).ids == {"a", "b"}


def test_a_pretty_printed_single_object(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(record("a"), indent=4).encode() + b"\n", "one.json")
    run = Run(tmp_path, [path])
    assert run.ids == {"a"}
    [e] = run.events
    assert e["system_prompt"] == "Be brief."
    assert run.quarantine == []


def test_a_pretty_printed_object_with_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(record("a"), indent=2).replace("\n", "\r\n").encode(), "one.json")
    assert Run(tmp_path, [path]).ids == {"a"}


def test_a_truncated_pretty_printed_object_is_quarantined_line_by_line(tmp_path: Path) -> None:
    """A document that does not parse is read as JSON Lines (see the broken-first-line tests below), so each
    of its lines is quarantined with its number and nothing of the file is lost."""
    data = json.dumps(record("a"), indent=2).encode()[:-20]
    path = write(tmp_path, data, "one.json")
    run = Run(tmp_path, [path])
    assert run.ids == set()
    lines = [ln for ln in data.split(b"\n") if ln.strip()]
    assert [q["line_no"] for q in run.quarantine] == [n for n, ln in enumerate(data.split(b"\n"), 1) if ln.strip()]
    assert b"\n".join(q["raw"] for q in run.quarantine) == b"\n".join(lines)


@pytest.mark.parametrize("first", [b"[INFO] export started", b"{", b"["])
def test_a_broken_first_line_does_not_lose_the_good_lines_after_it(tmp_path: Path, first: bytes) -> None:
    path = write(tmp_path, first + b"\n" + line("a") + b"\n" + line("b") + b"\n")
    run = Run(tmp_path, [path])
    assert run.ids == {"a", "b"}
    assert [q["line_no"] for q in run.quarantine] == [1]


def test_a_broken_first_line_that_is_not_document_like_keeps_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, TRUNCATED + b"\n" + line("a") + b"\n" + line("b") + b"\n")
    run = Run(tmp_path, [path])
    assert run.ids == {"a", "b"}
    assert [q["line_no"] for q in run.quarantine] == [1]


# -- files ---------------------------------------------------------------------------------------------------


def test_empty_file_is_noted_not_an_error_next_to_good_files(tmp_path: Path) -> None:
    empty = write(tmp_path, b"", "empty.jsonl")
    good = write(tmp_path, line("a") + b"\n", "good.jsonl")
    run = Run(tmp_path, [empty, good])
    assert run.file(empty).note == "empty file"
    assert (run.file(empty).lines_read, run.file(empty).quarantined) == (0, 0)
    assert run.ids == {"a"}
    result = CliRunner().invoke(app, ["ingest", str(empty), str(good), "--db", str(tmp_path / "cli.duckdb")])
    assert result.exit_code == 0, result.output


def _mixed_directory(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    (d / "nested").mkdir(parents=True)
    (d / "a_native.jsonl").write_bytes(line("n1") + b"\n" + TRUNCATED + b"\n" + line("n2") + b"\n")
    (d / "b_native.jsonl.gz").write_bytes(gzip.compress(line("g1") + b"\n" + line("g2") + b"\n"))
    (d / "c_native.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(line("z1") + b"\n" + line("z2") + b"\n"))
    rows = [record("p1"), record("p2")]
    pq.write_table(
        pa.Table.from_pylist(
            [{**r, "request": json.dumps(r["request"]), "response": json.dumps(r["response"])} for r in rows]
        ),
        d / "d_native.parquet",
    )
    shutil.copy(FORMAT_FIXTURES / "litellm_spend_logs.jsonl", d / "e_gateway.jsonl")
    shutil.copy(FORMAT_FIXTURES / "otel_genai.jsonl", d / "f_spans.jsonl")
    (d / "g_empty.jsonl").write_bytes(b"")
    (d / "nested" / "h_native.log").write_bytes(line("h1") + b"\n")
    (d / ".hidden.jsonl").write_bytes(line("hidden") + b"\n")
    (d / ".cache").mkdir()
    (d / ".cache" / "x.jsonl").write_bytes(line("hidden2") + b"\n")
    return d


def test_a_directory_of_mixed_files(tmp_path: Path) -> None:
    d = _mixed_directory(tmp_path)
    run = Run(tmp_path, [d])
    formats = {Path(f.path).name: f.format for f in run.summary.files}
    assert formats == {
        "a_native.jsonl": "native",
        "b_native.jsonl.gz": "native",
        "c_native.jsonl.zst": "native",
        "d_native.parquet": "native",
        "e_gateway.jsonl": "litellm",
        "f_spans.jsonl": "otel",
        "g_empty.jsonl": "native",
        "h_native.log": "native",
    }
    assert {"n1", "n2", "g1", "g2", "z1", "z2", "p1", "p2", "h1"} <= run.ids
    assert not {"hidden", "hidden2"} & run.ids
    by_file: dict[str, set[str]] = {}
    for e in run.events:
        by_file.setdefault(Path(e["source_file"]).name, set()).add(e["source_format"])
    assert by_file["e_gateway.jsonl"] == {"litellm"}
    assert by_file["f_spans.jsonl"] == {"otel"}
    assert run.file(d / "g_empty.jsonl").note == "empty file"
    assert run.file(d / "e_gateway.jsonl").events_added > 0
    assert run.file(d / "f_spans.jsonl").events_added > 0
    a = run.file(d / "a_native.jsonl")
    assert (a.lines_read, a.events_added, a.quarantined) == (3, 2, 1)
    [native_bad] = [q for q in run.quarantine if q["source_file"] == a.path]
    assert (kind(native_bad["reason"]), native_bad["line_no"]) == ("invalid JSON", 2)
    assert run.summary.total("quarantined") == len(run.quarantine)


def test_a_directory_through_the_cli(tmp_path: Path) -> None:
    d = _mixed_directory(tmp_path)
    result = CliRunner().invoke(app, ["ingest", str(d), "--db", str(tmp_path / "cli.duckdb"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert len(summary["files"]) == 8
    assert summary["quarantine_reasons"]["invalid JSON"] >= 1


def test_ingesting_the_directory_that_holds_the_store_skips_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    write(d, line("a") + b"\n")
    monkeypatch.chdir(d)
    for _ in range(2):
        result = CliRunner().invoke(app, ["ingest", ".", "--json"])  # the default store, ./distillguard.duckdb
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert [Path(f["path"]).name for f in summary["files"]] == ["logs.jsonl"]
        assert summary["quarantined"] == 0


# -- exit codes ----------------------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_exit_zero_when_some_lines_are_good(tmp_path: Path) -> None:
    path = write(tmp_path, TRUNCATED + b"\n" + line("a") + b"\n" + b"\x00\n")
    result = cli("ingest", str(path), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 0, result.output
    assert not [x for x in result.stderr.splitlines() if x.startswith("error:")]


def test_exit_non_zero_when_every_line_is_bad(tmp_path: Path) -> None:
    path = write(tmp_path, TRUNCATED + b"\n" + line("a", timestamp=True) + b"\n" + b"\xff\n")
    db = tmp_path / "s.duckdb"
    result = cli("ingest", str(path), "--db", str(db), "--json")
    assert result.exit_code != 0
    assert "error:" in result.stderr
    # The bad lines are still quarantined and the summary still printed.
    assert json.loads(result.stdout)["quarantined"] == 3
    with DuckDBAPI(db, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM quarantine") == 3


def test_exit_non_zero_when_only_empty_files(tmp_path: Path) -> None:
    a = write(tmp_path, b"", "a.jsonl")
    b = write(tmp_path, b"", "b.jsonl")
    result = cli("ingest", str(a), str(b), "--db", str(tmp_path / "s.duckdb"))
    assert result.exit_code != 0
    assert "error:" in result.stderr


def test_exit_non_zero_for_a_missing_path(tmp_path: Path) -> None:
    good = write(tmp_path, line("a") + b"\n")
    db = tmp_path / "s.duckdb"
    result = cli("ingest", str(good), str(tmp_path / "nope.jsonl"), "--db", str(db))
    assert result.exit_code != 0
    assert "error:" in result.stderr
    assert "nope.jsonl" in result.stderr
    assert "Traceback" not in result.output


def test_exit_zero_when_a_rerun_finds_only_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, line("a") + b"\n")
    db = str(tmp_path / "s.duckdb")
    assert cli("ingest", str(path), "--db", db).exit_code == 0
    assert cli("ingest", str(path), "--db", db).exit_code == 0


def _subprocess_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}  # an ordinary terminal width; stderr is a pipe, not a terminal
    return subprocess.run(
        [sys.executable, "-m", "distillguard", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def _error_cases(tmp_path: Path) -> dict[str, list[str]]:
    bad = write(tmp_path, TRUNCATED + b"\n" + b"\xff\n", "bad.jsonl")
    empty = write(tmp_path, b"", "empty.jsonl")
    missing = tmp_path / "no-such-directory" / ("missing-" + "x" * 90 + ".jsonl")
    db = str(tmp_path / "s.duckdb")
    return {
        "all lines bad": ["ingest", str(bad), "--db", db],
        "only empty files": ["ingest", str(empty), "--db", db],
        "missing path": ["ingest", str(missing), "--db", db],
        "stats on a missing store": ["stats", "--db", str(tmp_path / "missing" / ("store-" + "y" * 80 + ".duckdb"))],
    }


@pytest.mark.parametrize(
    ("case", "json_flag"),
    [
        ("all lines bad", True),
        ("all lines bad", False),
        ("only empty files", True),
        ("missing path", False),
        ("stats on a missing store", False),
    ],
)
def test_the_error_is_exactly_one_line(tmp_path: Path, case: str, json_flag: bool) -> None:
    args = _error_cases(tmp_path)[case]
    if json_flag:
        args.append("--json")
    proc = _subprocess_cli(tmp_path, *args)
    assert proc.returncode != 0
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    if json_flag:  # the summary goes to stdout: the error is all there is on stderr
        assert lines == errors, proc.stderr
    else:  # a summary table may come first; the error is the last line, whole
        assert lines[-1] == errors[0], proc.stderr
    if case == "missing path":
        assert args[1] in errors[0]


def test_missing_path_creates_no_store(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    result = cli("ingest", str(tmp_path / "nope.jsonl"), "--db", str(db))
    assert result.exit_code != 0
    assert not db.exists()


def test_unknown_format_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, line("a") + b"\n")
    result = cli("ingest", str(path), "--db", str(tmp_path / "s.duckdb"), "--format", "csv")
    assert result.exit_code != 0
    assert "error:" in result.stderr
