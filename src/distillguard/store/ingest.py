"""Ingest: log files → `events` (and accounts files → `accounts`), bad lines → `quarantine`.

Lines are normalised with SQL into a staged chunk of about one storage row group (on a second connection, one
chunk ahead); then, per chunk and in one transaction: quarantine what was rejected and insert events whose
`request_id` is not stored yet, with their addresses and user agents classified. A chunk is all or nothing, so
a run killed at any point and run again ends with exactly the rows of one clean run.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.engines.base import DatabaseAPI, sql_literal
from distillguard.formats.accounts_sql import accounts_sql
from distillguard.formats.native_sql import normalise_sql
from distillguard.formats.readers import NATIVE_LINES, read_native_lines
from distillguard.formats.registry import NATIVE_FORMATS, detect_format
from distillguard.store.enrich import group_enrichment
from distillguard.store.schema import create_tables

# Told (file, bytes of the file consumed since the last call) as a file is read.
ProgressCallback = Callable[[Path, int], None]


@dataclass
class FileSummary:
    path: str
    format: str
    lines_read: int = 0
    events_added: int = 0
    duplicates_skipped: int = 0
    quarantined: int = 0
    accounts_upserted: int = 0
    note: str | None = None


@dataclass
class IngestSummary:
    run_id: str
    files: list[FileSummary] = field(default_factory=list)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def nothing_read(self) -> bool:
        """True when no line of any file became an event or an account."""
        return self.total("events_added") + self.total("duplicates_skipped") + self.total("accounts_upserted") == 0

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            **{
                k: self.total(k)
                for k in ("lines_read", "events_added", "duplicates_skipped", "quarantined", "accounts_upserted")
            },
            "quarantine_reasons": dict(self.quarantine_reasons.most_common()),
            "files": [f.__dict__ for f in self.files],
        }


def expand_paths(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> list[Path]:
    """Files named, plus every non-hidden file under directories named (except `exclude`d ones, such as the
    store's own files), in a stable order."""
    skip = {p.resolve() for p in exclude}

    def wanted(f: Path, root: Path) -> bool:
        hidden = any(part.startswith(".") for part in f.relative_to(root).parts)
        return f.is_file() and not hidden and f.resolve() not in skip

    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if wanted(f, p)))
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such file or directory: {p}")
    return out


def ingest(
    db: DatabaseAPI,
    paths: Iterable[Path],
    *,
    fmt: str = "auto",
    accounts: Iterable[Path] = (),
    max_line_bytes: int = 16 << 20,
    progress: ProgressCallback | None = None,
) -> IngestSummary:
    """Ingest log files and accounts files into the store behind `db`; see the module docstring."""
    create_tables(db)
    store_files = db.files()
    log_files, account_files = expand_paths(paths, store_files), expand_paths(accounts, store_files)
    summary = IngestSummary(run_id=datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8])
    _start_run(db, summary.run_id, [*log_files, *account_files])
    try:
        for path in account_files:
            summary.files.append(_ingest_accounts(db, path, summary, max_line_bytes, progress))
        for path in log_files:
            summary.files.append(_ingest_events(db, path, fmt, summary, max_line_bytes, progress))
    except BaseException as e:
        _finish_run(db, summary, "failed", f"{type(e).__name__}: {e}")
        raise
    _finish_run(db, summary, "done", None)
    return summary


def _ingest_events(
    db: DatabaseAPI,
    path: Path,
    fmt: str,
    summary: IngestSummary,
    max_line_bytes: int,
    progress: ProgressCallback | None,
) -> FileSummary:
    concrete = detect_format(path) if fmt == "auto" else fmt
    fs = FileSummary(path=str(path.resolve()), format=concrete)
    if path.stat().st_size == 0:
        fs.note = "empty file"
        return fs
    dialect = concrete if concrete in ("openai", "anthropic") else None
    source = sql_literal(fs.path)
    with _Stager(db, dialect) as stager:
        for chunk in stager.chunks(_batches(path, concrete, max_line_bytes, progress)):
            _write_chunk(db, chunk, fs, summary, source)
    return fs


def _write_chunk(db: DatabaseAPI, chunk: _Chunk, fs: FileSummary, summary: IngestSummary, source: str) -> None:
    """Quarantine and insert one staged chunk in one transaction."""
    fs.lines_read += chunk.lines_read
    insert = _INSERT_EVENTS.format(
        staged=chunk.table, source=source, fmt=sql_literal(fs.format), run=sql_literal(summary.run_id)
    )
    with db.transaction():
        fs.quarantined += _quarantine(db, chunk.rejected, source, fs.format, summary)
        for name, table in chunk.enrichment.items():
            db.register(name, table)
        added = db.execute(insert) or 0
    for name in chunk.enrichment:
        db.unregister(name)
    fs.events_added += added
    fs.duplicates_skipped += chunk.candidates - added


# The dedupe window runs over a narrow projection (id and position only): windowing the wide rows would
# materialise every prompt text once more.
_INSERT_EVENTS = """
INSERT INTO events BY NAME
WITH keep AS (
  SELECT line_no, item FROM (
    SELECT request_id, line_no, item FROM {staged} WHERE reject_reason IS NULL
    QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY line_no, item) = 1) k
  WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.request_id = k.request_id)
)
SELECT s.* EXCLUDE (line_no, item, reject_reason), s.line_no AS source_line,
       ip.ip_version, ip.ip_prefix, ip.ip_class, ip.ip_provider, ua.ua_family, ua.ua_sdk,
       {fmt} AS source_format, {source} AS source_file, {run} AS ingest_run_id
FROM {staged} s
JOIN keep USING (line_no, item)
LEFT JOIN group_ips ip ON ip.client_ip = s.client_ip
LEFT JOIN group_uas ua ON ua.user_agent = s.user_agent
"""


@dataclass
class _Chunk:
    """Normalised lines for one transaction, staged in `table` with what the transaction needs besides."""

    table: str
    lines_read: int
    candidates: int  # good rows, before dropping duplicates
    rejected: pa.Table  # rows for the quarantine, reasons explained
    enrichment: dict[str, pa.Table]


class _Stager:
    """Normalises the next chunk of lines on a second connection and thread while the caller inserts this one.

    Normalising (JSON parsing, parallel in DuckDB) and inserting (the dedupe join and compressing the new row
    group, one core) then keep both cores busy instead of taking turns. Staged chunks live in an in-memory
    database that both connections see, inside DuckDB's bounded buffer pool; at most two exist at a time.
    Only the caller writes to the store, one chunk per transaction, in file order, so deduplication and
    kill-and-rerun behave as with a single connection.
    """

    SCHEMA = "ingest_stage"
    CHUNK_ROWS = 122_880  # one storage row group in DuckDB
    CHUNK_BYTES = 512 << 20  # of input lines: bounds memory for very long lines
    STATEMENT_BYTES = 128 << 20  # of input lines per normalising statement (planning one costs ~30 ms)

    def __init__(self, db: DatabaseAPI, dialect: str | None) -> None:
        self.db, self.dialect = db, dialect
        self.stop = threading.Event()

    def __enter__(self) -> _Stager:
        self.db.execute(f"DETACH DATABASE IF EXISTS {self.SCHEMA}; ATTACH ':memory:' AS {self.SCHEMA}")
        self.worker = self.db.cursor()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="distillguard-normalise")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.worker.close()
        self.db.execute(f"DETACH DATABASE {self.SCHEMA}")

    def chunks(self, batches: Iterator[pa.RecordBatch]) -> Iterator[_Chunk]:
        """Staged chunks in file order; each one's table is dropped once the caller asks for the next."""
        names = (f"{self.SCHEMA}.staged_{i}" for i in itertools.count())
        lines = _Lines(batches)
        pending = self.pool.submit(self._stage, lines, next(names))
        while (chunk := pending.result()) is not None:
            pending = self.pool.submit(self._stage, lines, next(names))
            yield chunk
            self.db.execute(f"DROP TABLE {chunk.table}")

    def _stage(self, lines: _Lines, table: str) -> _Chunk | None:
        """Normalise lines into `table` until it holds a row group's worth of rows, or the input ends.

        A transaction holding a full row group is written straight to the database file; a smaller one goes
        through the write-ahead log and is written twice, and one ending in a part-filled row group leaves it
        to be merged with the next one and compressed again at the checkpoint.
        """
        rows = size = lines_read = 0
        rejected: list[pa.Table] = []
        while rows < self.CHUNK_ROWS and size < self.CHUNK_BYTES and not self.stop.is_set():
            group = lines.take(self.CHUNK_ROWS - rows, min(self.STATEMENT_BYTES, self.CHUNK_BYTES - size))
            if not group:
                break
            self.worker.register(
                "batch_lines", pa.Table.from_batches([p for b in group for p in _split_for_threads(b)], NATIVE_LINES)
            )
            into = f"INSERT INTO {table} " if rejected else f"CREATE TABLE {table} AS "
            self.worker.execute(
                into + normalise_sql("(SELECT * FROM batch_lines WHERE reject_reason IS NULL)", self.dialect)
            )
            rejected.append(_rejected(self.worker, table))
            self.worker.unregister("batch_lines")
            rows += sum(b.num_rows for b in group)
            size += sum(b.nbytes for b in group)
            lines_read += sum(_count_lines(b) for b in group)
        if not rejected:  # no batch left
            return None
        candidates = self.worker.scalar(f"SELECT count(*) FROM {table} WHERE reject_reason IS NULL") or 0
        return _Chunk(
            table, lines_read, int(candidates), pa.concat_tables(rejected), group_enrichment(self.worker, table)
        )


class _Lines:
    """Batches of lines in file order, taken a number of rows at a time: a batch that would overrun a take is
    cut at a line boundary and its rest starts the next take, so chunks fill whole row groups exactly."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.batches = batches
        self.rest: pa.RecordBatch | None = None

    def take(self, max_rows: int, max_bytes: int) -> list[pa.RecordBatch]:
        """The next batches, up to `max_rows` rows (more only to finish a line) or about `max_bytes` bytes."""
        group: list[pa.RecordBatch] = []
        rows = size = 0
        while rows < max_rows and size < max_bytes:
            batch, self.rest = self.rest if self.rest is not None else next(self.batches, None), None
            if batch is None:
                break
            if rows + batch.num_rows > max_rows:
                batch, self.rest = _cut(batch, max_rows - rows)
            group.append(batch)
            rows += batch.num_rows
            size += batch.nbytes
        return group


def _cut(batch: pa.RecordBatch, rows: int) -> tuple[pa.RecordBatch, pa.RecordBatch | None]:
    """`batch` split after `rows` rows, or after the end of the line holding row `rows` (OTLP lines hold many
    requests, and a line is counted and quarantined within one chunk)."""
    line_nos = batch.column("line_no").to_numpy()
    cut = rows
    while cut < len(line_nos) and line_nos[cut] == line_nos[cut - 1]:
        cut += 1
    return (batch.slice(0, cut), batch.slice(cut)) if cut < len(line_nos) else (batch, None)


def _ingest_accounts(
    db: DatabaseAPI, path: Path, summary: IngestSummary, max_line_bytes: int, progress: ProgressCallback | None
) -> FileSummary:
    fs = FileSummary(path=str(path.resolve()), format="accounts")
    if path.stat().st_size == 0:
        fs.note = "empty file"
        return fs
    source = sql_literal(fs.path)
    for batch in _batches(path, "native", max_line_bytes, progress):
        fs.lines_read += _count_lines(batch)
        db.register("batch_lines", pa.Table.from_batches([batch]))
        db.execute(
            "CREATE OR REPLACE TEMP TABLE staged AS "
            "SELECT *, 0 AS item FROM (" + accounts_sql("(SELECT * FROM batch_lines WHERE reject_reason IS NULL)") + ")"
        )
        with db.transaction():
            fs.quarantined += _quarantine(db, _rejected(db, "staged"), source, "accounts", summary)
            db.execute("""
                CREATE OR REPLACE TEMP TABLE staged_accounts AS
                SELECT * EXCLUDE (line_no, item, reject_reason), line_no AS source_line FROM staged
                WHERE reject_reason IS NULL
                QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY line_no DESC) = 1""")
            db.execute("DELETE FROM accounts WHERE account_id IN (SELECT account_id FROM staged_accounts)")
            fs.accounts_upserted += (
                db.execute(
                    f"INSERT INTO accounts BY NAME SELECT *, {source} AS source_file, "
                    f"{sql_literal(summary.run_id)} AS ingest_run_id FROM staged_accounts"
                )
                or 0
            )
        db.unregister("batch_lines")
    db.execute("DROP TABLE IF EXISTS staged; DROP TABLE IF EXISTS staged_accounts")
    return fs


def _batches(path: Path, fmt: str, max_line_bytes: int, progress: ProgressCallback | None) -> Iterator[pa.RecordBatch]:
    on_read = (lambda n: progress(path, n)) if progress else None
    yield from _prefetched(
        read_native_lines(
            path, fmt if fmt not in NATIVE_FORMATS else "native", max_line_bytes=max_line_bytes, on_read=on_read
        )
    )


_DONE = object()


def _prefetched(items: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Read the next batches on a thread while the engine works on this one (both release the GIL)."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                box.put(item)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which re-raises it
            box.put(e)
            return
        box.put(_DONE)

    worker = threading.Thread(target=produce, name="distillguard-reader", daemon=True)
    worker.start()
    try:
        while (item := box.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                box.get(timeout=0.05)


def _count_lines(batch: pa.RecordBatch) -> int:
    """Input lines in a batch (a line holding several requests counts once)."""
    return len(pc.unique(batch.column("line_no")))


def _split_for_threads(batch: pa.RecordBatch, rows: int = 4096) -> list[pa.RecordBatch]:
    """Small record batches let the engine scan one batch per thread instead of one batch on one thread."""
    return [batch.slice(i, rows) for i in range(0, batch.num_rows, rows)] or [batch]


def _rejected(db: DatabaseAPI, staged: str) -> pa.Table:
    """Rows of `batch_lines` rejected by the reader or by the normalising statement (in `staged`), with detailed
    reasons and the raw line."""
    rejected = db.query(f"""
        SELECT b.line_no, b.item, coalesce(b.reject_reason, s.reject_reason) AS reason,
               coalesce(b.raw, encode(left(rtrim(b.line, chr(10) || chr(13)), 65536))) AS raw,
               b.raw_bytes
        FROM batch_lines b
        LEFT JOIN (SELECT line_no, item, reject_reason FROM {staged} WHERE reject_reason IS NOT NULL) s
               ON s.line_no = b.line_no AND s.item = b.item
        WHERE b.reject_reason IS NOT NULL OR s.reject_reason IS NOT NULL""")
    reasons = [
        _explain_invalid_json(raw) if reason == "invalid JSON" else reason
        for reason, raw in zip(rejected.column("reason").to_pylist(), rejected.column("raw").to_pylist(), strict=True)
    ]
    return rejected.set_column(2, "reason", pa.array(reasons, pa.string()))


def _quarantine(db: DatabaseAPI, rejected: pa.Table, source: str, fmt: str, summary: IngestSummary) -> int:
    """Insert `rejected` rows into `quarantine` (once: a re-run finds them there already)."""
    if rejected.num_rows == 0:
        return 0
    db.register("rejected", rejected)
    db.execute(f"""
        INSERT INTO quarantine BY NAME
        SELECT {source} AS source_file, line_no, item, reason, raw, raw_bytes,
               {sql_literal(fmt)} AS source_format, {sql_literal(summary.run_id)} AS ingest_run_id
        FROM rejected r
        WHERE NOT EXISTS (SELECT 1 FROM quarantine q
                          WHERE q.source_file = {source} AND q.line_no = r.line_no AND q.item = r.item)""")
    db.unregister("rejected")
    summary.quarantine_reasons.update(_reason_kind(r) for r in rejected.column("reason").to_pylist())
    return rejected.num_rows


def _explain_invalid_json(raw: bytes | None) -> str:
    try:
        orjson.loads(raw or b"")
    except orjson.JSONDecodeError as e:
        return f"invalid JSON: {e}"
    return "invalid JSON"


def _reason_kind(reason: str) -> str:
    """The kind of a reason ('bad timestamp', 'invalid JSON'): reasons read `kind: detail`."""
    return reason.split(":", 1)[0]


def _start_run(db: DatabaseAPI, run_id: str, paths: list[Path]) -> None:
    db.execute("UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running'")
    listed = ", ".join(sql_literal(str(p.resolve())) for p in paths)
    db.execute(f"""INSERT INTO ingest_runs (run_id, started_at, status, paths)
                   VALUES ({sql_literal(run_id)}, now()::TIMESTAMP, 'running', [{listed}]::VARCHAR[])""")


def _finish_run(db: DatabaseAPI, s: IngestSummary, status: str, error: str | None) -> None:
    formats = ", ".join(sql_literal(f) for f in sorted({f.format for f in s.files}))
    db.execute(f"""
        UPDATE ingest_runs SET finished_at = now()::TIMESTAMP, status = {sql_literal(status)},
            formats = [{formats}]::VARCHAR[], lines_read = {s.total("lines_read")},
            events_added = {s.total("events_added")}, duplicates_skipped = {s.total("duplicates_skipped")},
            quarantined = {s.total("quarantined")}, accounts_upserted = {s.total("accounts_upserted")},
            error = {sql_literal(error) if error else "NULL"}
        WHERE run_id = {sql_literal(s.run_id)}""")
