"""Splitting a byte stream into lines, in bounded memory, without a Python object per line.

Line boundaries are found with numpy over large chunks and the lines become one Arrow string array per batch
(offsets + data buffers), so a million-line file costs a few dozen array operations, not a million loop
iterations. A line that is not valid UTF-8 or longer than `max_line_bytes` is not parsed: it is yielded with
a reject reason (and a bounded prefix of its raw bytes) for the quarantine, and its neighbours are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa

NEWLINE = 10
RAW_PREFIX_BYTES = 64 * 1024

LINE_SCHEMA = pa.schema(
    [
        ("line_no", pa.int64()),
        ("line", pa.string()),
        ("reject_reason", pa.string()),
        ("raw", pa.binary()),
        ("raw_bytes", pa.int64()),
    ]
)


@dataclass
class _Oversized:
    line_no: int
    prefix: bytes
    size: int
    last: int  # the last byte seen, to tell a CRLF ending


def iter_line_batches(
    stream: BinaryIO, *, chunk_bytes: int = 8 << 20, max_line_bytes: int = 16 << 20
) -> Iterator[pa.RecordBatch]:
    """Yield `LINE_SCHEMA` batches covering every non-empty line of `stream`, numbered from 1.

    Each chunk is read into a fresh buffer that the yielded batch points into, so a byte is copied once (by
    the read) however long the file. The buffers come from Arrow's memory pool, which reuses the pages of
    released chunks: a fresh `bytearray` is zero-filled and faults in every page from the kernel again, which
    cost more than the read itself.
    """
    carry = b""
    line_no = 0
    oversized: _Oversized | None = None
    while True:
        buf = memoryview(pa.allocate_buffer(len(carry) + chunk_bytes)).cast("B")
        buf[: len(carry)] = carry
        n = stream.readinto(buf[len(carry) :])
        if not n:
            break
        view = buf[: len(carry) + n]
        if oversized is not None:
            cut = bytes(view[: min(len(view), chunk_bytes)]).find(b"\n")
            if cut < 0:
                oversized.size += n
                oversized.last = view[-1]
                carry = b""
                continue
            oversized.size += cut - ((view[cut - 1] if cut else oversized.last) == 13)  # CRLF: \r ends it too
            yield _oversized_batch(oversized, max_line_bytes)
            oversized = None
            view = view[cut + 1 :]
        last_nl = _rfind_newline(view)
        if last_nl < 0:
            carry = bytes(view)
        else:
            batch, line_no = _split(view[: last_nl + 1], line_no, max_line_bytes)
            if batch.num_rows:
                yield batch
            carry = bytes(view[last_nl + 1 :])
        if len(carry) > max_line_bytes + 1:  # +1: a trailing \r may be half of a CRLF ending
            line_no += 1
            oversized = _Oversized(line_no, carry[:RAW_PREFIX_BYTES], len(carry), carry[-1])
            carry = b""
    if oversized is not None:
        oversized.size -= oversized.last == 13  # a final CR ends the line as in `_split`
        yield _oversized_batch(oversized, max_line_bytes)
    elif carry:
        batch, line_no = _split(memoryview(carry + b"\n"), line_no, max_line_bytes)
        if batch.num_rows:
            yield batch


def _rfind_newline(view: memoryview) -> int:
    arr = np.frombuffer(view, dtype=np.uint8)
    # Search backwards in steps: the last newline is almost always near the end.
    step = 1 << 16
    end = len(arr)
    while end > 0:
        start = max(0, end - step)
        hits = np.flatnonzero(arr[start:end] == NEWLINE)
        if len(hits):
            return start + int(hits[-1])
        end = start
    return -1


def _oversized_batch(o: _Oversized, limit: int) -> pa.RecordBatch:
    reason = f"line too long: {o.size:,} bytes, over the {limit:,}-byte limit (--max-line-bytes)"
    return pa.RecordBatch.from_pylist(
        [{"line_no": o.line_no, "line": None, "reject_reason": reason, "raw": o.prefix, "raw_bytes": o.size}],
        schema=LINE_SCHEMA,
    )


def _split(block: memoryview, first_line_no: int, max_line_bytes: int) -> tuple[pa.RecordBatch, int]:
    """Lines of `block` (which ends with a newline) as one batch; blank lines are dropped but numbered.

    The string array points straight into `block` (each value keeps its trailing newline, which JSON parsers
    treat as whitespace), so the common case copies nothing.
    """
    arr = np.frombuffer(block, dtype=np.uint8)
    newline = np.frombuffer(pa.allocate_buffer(len(arr)), dtype=np.bool_)  # pooled, as the chunks are
    ends = np.flatnonzero(np.equal(arr, NEWLINE, out=newline))
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends + 1
    numbers = np.arange(first_line_no + 1, first_line_no + 1 + len(ends), dtype=np.int64)
    lengths = np.diff(offsets) - 1
    lengths -= (lengths > 0) & (arr[np.maximum(ends - 1, 0)] == 13)  # a CRLF line's \r is its terminator too
    strings = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(block))
    blank = lengths == 0
    short = np.flatnonzero((lengths > 0) & (lengths <= 64))  # whitespace-only lines are short; check those only
    starts = offsets[:-1]
    blank[short] = [not bytes(block[starts[i] : starts[i] + lengths[i]]).strip() for i in short]
    too_long = lengths > max_line_bytes
    ok = ~blank & ~too_long
    if not ok.all():
        keep = np.flatnonzero(ok)
        strings = strings.take(pa.array(keep))
    good = _with_utf8_rejects(strings, numbers[ok], block, offsets[:-1][ok], lengths[ok])
    parts = [good]
    if too_long.any():
        rows = [
            {
                "line_no": int(n),
                "line": None,
                "reject_reason": f"line too long: {int(ln):,} bytes, over the {max_line_bytes:,}-byte limit "
                "(--max-line-bytes)",
                "raw": bytes(block[int(s) : int(s) + RAW_PREFIX_BYTES]),
                "raw_bytes": int(ln),
            }
            for n, s, ln in zip(numbers[too_long], offsets[:-1][too_long], lengths[too_long], strict=True)
        ]
        parts.append(pa.RecordBatch.from_pylist(rows, schema=LINE_SCHEMA))
    batch = parts[0] if len(parts) == 1 else pa.Table.from_batches(parts).combine_chunks().to_batches()[0]
    return batch, first_line_no + len(ends)


def _with_utf8_rejects(
    strings: pa.LargeStringArray, numbers: np.ndarray, block: memoryview, starts: np.ndarray, lengths: np.ndarray
) -> pa.RecordBatch:
    n = len(strings)
    try:
        strings.validate(full=True)
        bad = np.zeros(n, dtype=bool)
    except pa.ArrowInvalid:
        bad = np.array([not _is_utf8(bytes(block[s : s + ln])) for s, ln in zip(starts, lengths, strict=True)])
    if not bad.any():
        return pa.RecordBatch.from_arrays(
            [
                pa.array(numbers),
                strings.cast(pa.string()),
                pa.nulls(n, pa.string()),
                pa.nulls(n, pa.binary()),
                pa.array(lengths.astype(np.int64)),
            ],
            schema=LINE_SCHEMA,
        )
    lines = [
        None if b else bytes(block[s : s + ln]).decode("utf-8") for b, s, ln in zip(bad, starts, lengths, strict=True)
    ]
    reasons = [
        _utf8_reason(bytes(block[s : s + ln])) if b else None for b, s, ln in zip(bad, starts, lengths, strict=True)
    ]
    raws = [
        bytes(block[s : s + min(ln, RAW_PREFIX_BYTES)]) if b else None
        for b, s, ln in zip(bad, starts, lengths, strict=True)
    ]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(numbers),
            pa.array(lines, pa.string()),
            pa.array(reasons, pa.string()),
            pa.array(raws, pa.binary()),
            pa.array(lengths.astype(np.int64)),
        ],
        schema=LINE_SCHEMA,
    )


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _utf8_reason(b: bytes) -> str:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"invalid UTF-8: bad byte at offset {e.start}"
    return "invalid UTF-8"
