"""Turning one file into batches of native records as JSON text: the single shape the SQL stage reads.

Every reader yields `NATIVE_LINES` batches: (line_no, item, line, reject_reason, raw, raw_bytes). `item` numbers
the requests inside one input record (OTLP lines hold many spans); a row with a reject reason goes straight
to the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.formats.base import BadRecord, RecordAdapter
from distillguard.formats.io import compression_of, head_bytes, is_parquet, open_binary
from distillguard.formats.lines import RAW_PREFIX_BYTES, iter_line_batches

NATIVE_LINES = pa.schema(
    [
        ("line_no", pa.int64()),
        ("item", pa.int32()),
        ("line", pa.string()),
        ("reject_reason", pa.string()),
        ("raw", pa.binary()),
        ("raw_bytes", pa.int64()),
    ]
)
PARQUET_BATCH_ROWS = 32_768
# Whole-file JSON documents (a pretty-printed OTLP export, a JSON array from an API) are parsed in memory.
MAX_DOCUMENT_BYTES = 512 << 20


def read_native_lines(
    path: Path,
    fmt: str,
    *,
    chunk_bytes: int = 64 << 20,
    max_line_bytes: int = 16 << 20,
    on_read: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Native-record batches for `path` in concrete format `fmt`; `on_read` gets bytes consumed on disk."""
    if is_parquet(path):
        yield from _parquet(path)
        return
    adapter = None
    if fmt not in ("native", "openai", "anthropic"):
        from distillguard.formats.registry import adapter as get_adapter

        adapter = get_adapter(fmt)
    if _is_json_document(path):
        document = _document(path, adapter)
        if document is not None:
            yield document
            return  # else: not one JSON value after all (a JSON Lines file starting "[INFO]…"): read lines
    chunk_bytes = _chunk_size(path, chunk_bytes)
    with open_binary(path, on_read) as stream:
        for batch in iter_line_batches(stream, chunk_bytes=chunk_bytes, max_line_bytes=max_line_bytes):
            yield _adapt(batch, adapter) if adapter else _as_native(batch)


def _as_native(batch: pa.RecordBatch) -> pa.RecordBatch:
    n = batch.num_rows
    return pa.RecordBatch.from_arrays(
        [batch.column(0), pa.array([0] * n, pa.int32()), *batch.columns[1:]], schema=NATIVE_LINES
    )


def _adapt(batch: pa.RecordBatch, adapter: RecordAdapter) -> pa.RecordBatch:
    """Run a format adapter over each line (Python, per record: foreign formats are not the hot path)."""
    out: dict[str, list] = {name: [] for name in NATIVE_LINES.names}

    def emit(line_no: int, item: int, line: str | None, reason: str | None, raw: bytes | None, size: int) -> None:
        for key, value in zip(NATIVE_LINES.names, (line_no, item, line, reason, raw, size), strict=True):
            out[key].append(value)

    cols = batch.to_pydict()
    for line_no, line, reason, raw, size in zip(
        cols["line_no"], cols["line"], cols["reject_reason"], cols["raw"], cols["raw_bytes"], strict=True
    ):
        if reason is not None:
            emit(line_no, 0, None, reason, raw, size)
            continue
        if not line.strip():
            continue
        for item, (native, bad) in enumerate(_convert(line, adapter)):
            if bad is None:
                emit(line_no, item, native, None, None, size)
            else:
                emit(line_no, item, None, bad, line.encode()[:RAW_PREFIX_BYTES], size)
    return pa.RecordBatch.from_pydict(out, schema=NATIVE_LINES)


def _convert(text: str | bytes, adapter: RecordAdapter) -> list[tuple[str | None, str | None]]:
    """(native JSON text, None) or (None, reject reason) per request in one input record."""
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        return [(None, f"invalid JSON: {e}")]
    try:
        items = adapter.to_native(record)
    except BadRecord as e:
        return [(None, str(e))]
    except Exception as e:  # noqa: BLE001 - an adapter bug must not lose the neighbouring lines
        return [(None, f"{adapter.name}: cannot convert record ({type(e).__name__}: {e})")]
    if not items:
        return []
    return [(None, str(i)) if isinstance(i, BadRecord) else (orjson.dumps(i).decode(), None) for i in items]


def _is_json_document(path: Path) -> bool:
    """True for a file that is one JSON value rather than JSON Lines: a JSON array, or an object whose opening
    brace stands alone on the first line (pretty-printed). A JSON Lines file with a broken first line stays
    JSON Lines, so its good lines are not lost with the bad one."""
    head = head_bytes(path, 1 << 16).lstrip()
    first = head.split(b"\n", 1)[0].strip()
    return head.startswith(b"[") or first == b"{"


def _document(path: Path, adapter: RecordAdapter | None) -> pa.RecordBatch | None:
    """The records of a whole-file JSON value, or None when the file does not parse as one."""
    with open_binary(path) as f:
        data = f.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    records = value if isinstance(value, list) else [value]
    rows: dict[str, list] = {name: [] for name in NATIVE_LINES.names}
    for index, record in enumerate(records, start=1):
        text = orjson.dumps(record)
        converted = _convert(text, adapter) if adapter else [(text.decode(), None)]
        for item, (native, bad) in enumerate(converted):
            values = (index, item, native, bad, text[:RAW_PREFIX_BYTES] if bad else None, len(text))
            for key, v in zip(NATIVE_LINES.names, values, strict=True):
                rows[key].append(v)
    return pa.RecordBatch.from_pydict(rows, schema=NATIVE_LINES)


def _chunk_size(path: Path, chunk_bytes: int) -> int:
    """Small plain files get a buffer their size, not 64 MiB (compressed sizes say nothing: keep the default)."""
    if compression_of(path) is None:
        return max(1 << 16, min(chunk_bytes, path.stat().st_size + 1))
    return chunk_bytes


def _parquet(path: Path) -> Iterator[pa.RecordBatch]:
    """Parquet rows as native JSON text; `request`/`response` may be nested columns or JSON strings."""
    file = pq.ParquetFile(path)
    con = duckdb.connect()
    string_cols = [
        f.name for f in file.schema_arrow if f.name in ("request", "response") and pa.types.is_string(f.type)
    ]
    replace = ", ".join(f"CASE WHEN json_valid({c}) THEN json({c}) END AS {c}" for c in string_cols)
    select = f"* REPLACE ({replace})" if replace else "*"
    offset = 0
    for batch in file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        con.register("pq_batch", batch)
        lines = con.sql(f"SELECT to_json(t)::VARCHAR AS line FROM (SELECT {select} FROM pq_batch) t").to_arrow_table()
        n = lines.num_rows
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(range(offset + 1, offset + n + 1), pa.int64()),
                pa.array([0] * n, pa.int32()),
                lines.column("line").combine_chunks(),
                pa.nulls(n, pa.string()),
                pa.nulls(n, pa.binary()),
                pa.nulls(n, pa.int64()),
            ],
            schema=NATIVE_LINES,
        )
        offset += n
    con.close()
