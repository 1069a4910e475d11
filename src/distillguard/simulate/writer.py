"""Writing simulated requests in the native log format (DESIGN §3.1) as JSONL, zstd JSONL or Parquet.

Why fragments: a request line is ~20 pieces (ids, address, fingerprints, a system prompt, a prompt, a
history, tools...) and 32M of them at scale 1.0 must be assembled at hundreds of thousands per second.
Every text is JSON-escaped once, with the literal JSON around it folded in, into Arrow string arrays
("fragments"); a batch of integer columns from numpy picks fragments with ``pyarrow.compute.take`` and one
``binary_join_element_wise`` concatenates them into lines (C++, no Python per row, the GIL released). The
resulting buffer is written to the file as is. Indexes into style-dependent fragments are
``2 * index + style`` (0 Anthropic, 1 OpenAI).

Body shapes: requests with an Anthropic client are Messages bodies (``system``, ``messages``, ``tools``,
``max_tokens``, optional ``metadata.user_id``) sent to the ``messages`` endpoint; requests with an OpenAI
client are Chat Completions bodies (system as the first message, ``tools`` only when present,
``max_tokens``, optional ``user``) sent to ``chat/completions``. Images are base64 placeholders. The
response holds token counts and the stop reason (or an error object for 429/529); the response text is not
simulated. In Parquet, ``timestamp`` is a UTC timestamp and ``request`` / ``response`` are JSON-typed
strings holding the same objects.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from distillguard.simulate import content, network
from distillguard.simulate.rand import hash_keys, hex_bytes, hex_ids
from distillguard.simulate.rows import MODELS, Rows
from distillguard.simulate.world import Accounts

FORMATS = ("jsonl", "jsonl.zst", "parquet")
PARQUET_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("account_id", pa.string()),
        ("org_id", pa.string()),
        ("api_key_id", pa.string()),
        ("client_ip", pa.string()),
        ("user_agent", pa.string()),
        ("tls_fingerprint", pa.string()),
        ("model", pa.string()),
        ("endpoint", pa.string()),
        ("request", pa.json_(pa.string())),
        ("response", pa.json_(pa.string())),
        ("status", pa.int16()),
    ]
)
_IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
# how the first user message ends: string, text block, text block + image (Anthropic, OpenAI)
_CLOSE = (
    '"}',
    '"}]}',
    '"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"' + _IMAGE + '"}}]}',
    '"},{"type":"image_url","image_url":{"url":"data:image/png;base64,' + _IMAGE + '"}}]}',
)
_STOPS = (("end_turn", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"))
_ERRORS = {
    429: '{"error":{"type":"rate_limit_error","message":"Rate limit exceeded"}}',
    529: '{"error":{"type":"overloaded_error","message":"Overloaded"}}',
}
_HEAD = (b'{"request_id":"req_', b'","timestamp":"', b'","account_id":"')
_OCTETS = pa.array([str(i) for i in range(256)])


def esc(text: str) -> str:
    """JSON string contents (no quotes)."""
    return orjson.dumps(text).decode()[1:-1]


def account_ids(acc: Accounts, seed: int) -> list[str]:
    """Opaque, uniformly random-looking ids: nothing about an account's population leaks into its id."""
    return hex_ids(hash_keys(seed, 0xACC7, np.arange(acc.n)), "acct_")


def org_ids(org: np.ndarray, seed: int) -> list[str | None]:
    ids = hex_ids(hash_keys(seed, 0x0A6, org), "org_")
    return [None if o < 0 else i for o, i in zip(org.tolist(), ids, strict=True)]


def payment_ids(payment: np.ndarray, seed: int) -> list[str | None]:
    ids = hex_ids(hash_keys(seed, 0xCA4D, payment), "pf_")
    return [None if p < 0 else i for p, i in zip(payment.tolist(), ids, strict=True)]


def _styled(a: list[str], o: list[str]) -> list[str]:
    """[a0, o0, a1, o1, ...]: entry 2 * i + style."""
    return [x for pair in zip(a, o, strict=True) for x in pair]


def _fixed_strings(values: np.ndarray) -> pa.Array:
    """A numpy fixed-width bytes array as an Arrow string array, without a Python loop."""
    width = values.dtype.itemsize
    offsets = np.arange(0, width * len(values) + 1, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(values)])


def _concat_fixed(*parts: np.ndarray | bytes) -> np.ndarray:
    """Row-wise concatenation of fixed-width byte columns (numpy ``S<k>``) and literals into one column."""
    n = next(len(p) for p in parts if isinstance(p, np.ndarray))
    widths = [len(p) if isinstance(p, bytes) else p.dtype.itemsize for p in parts]
    out = np.empty((n, sum(widths)), dtype=np.uint8)
    at = 0
    for p, w in zip(parts, widths, strict=True):
        out[:, at : at + w] = np.frombuffer(p, np.uint8) if isinstance(p, bytes) else p.view(np.uint8).reshape(n, w)
        at += w
    return out.view(f"S{sum(widths)}").ravel()


_TWO = np.array([f"{i:02d}" for i in range(100)], dtype="S2")
_THREE = np.array([f"{i:03d}" for i in range(1000)], dtype="S3")


def _timestamp(ms: np.ndarray) -> tuple[np.ndarray | bytes, ...]:
    """RFC 3339 "YYYY-MM-DDTHH:MM:SS.mmmZ" pieces for ``_concat_fixed`` (digit lookups, no per-row strings)."""
    day, rem = np.divmod(ms, 86_400_000)
    days, inverse = np.unique(day, return_inverse=True)
    dates = np.datetime_as_string(days.astype("datetime64[D]")).astype("S10")
    sec, milli = np.divmod(rem, 1000)
    return (
        dates[inverse],
        b"T",
        _TWO[sec // 3600],
        b":",
        _TWO[sec // 60 % 60],
        b":",
        _TWO[sec % 60],
        b".",
        _THREE[milli],
        b"Z",
    )


def _write_all(fd: int, views: list[memoryview]) -> None:
    """Write every buffer with as few system calls as possible (writev; short writes are resumed)."""
    pending = [v for v in views if len(v)]
    while pending:
        done = os.writev(fd, pending[:1024])  # IOV_MAX
        while done:
            if done >= len(pending[0]):
                done -= len(pending.pop(0))
            else:
                pending[0], done = pending[0][done:], 0


def _buffer(strings: pa.Array) -> memoryview:
    """The bytes of all strings of an array, back to back (no copy)."""
    width = np.int32 if strings.type == pa.string() else np.int64
    off = np.frombuffer(strings.buffers()[1], dtype=width)[strings.offset : strings.offset + len(strings) + 1]
    return memoryview(strings.buffers()[2])[int(off[0]) : int(off[-1])]


class LogWriter:
    """Streams batches of rows into ``logs.<fmt>``; memory stays at one batch plus the fragment arrays."""

    def __init__(self, out: Path, fmt: str, tables: content.Tables, acc: Accounts, seed: int) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        self.fmt = fmt
        self.path = out / f"logs.{fmt}"
        self._fragments(tables, acc, seed)
        self._file = self._zst = self._pq = None
        if fmt == "parquet":
            self._pq = pq.ParquetWriter(self.path, PARQUET_SCHEMA, compression="zstd")
        else:
            self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
            if fmt == "jsonl.zst":
                self._zst = zstandard.ZstdCompressor(level=3, threads=2).stream_writer(self._file, closefd=False)

    def _fragments(self, tables: content.Tables, acc: Accounts, seed: int) -> None:
        cl = network.clients()
        self.style = cl.style.astype(np.int64)
        acct = account_ids(acc, seed)
        orgs = org_ids(acc.col["org"], seed)
        keys = hex_ids(hash_keys(seed, 0x4E7, np.arange(int(acc.col["key_n"].sum()))), "key_")
        endpoint = ("messages", "chat/completions")
        user = '{"role":"user","content":'
        sys_a = [f'{{"system":"{esc(t)}","messages":[{user}' if t else f'{{"messages":[{user}' for t in tables.sys]
        sys_o = [
            f'{{"messages":[{{"role":"system","content":"{esc(t)}"}},{user}' if t else f'{{"messages":[{user}'
            for t in tables.sys
        ]
        fragments = {
            # JSONL envelope, the account id's closing quote onwards
            "acct_key": [
                f'{a}","org_id":{orjson.dumps(o).decode()},"api_key_id":"' for a, o in zip(acct, orgs, strict=True)
            ],
            "key": [f'{k}","client_ip":"' for k in keys],
            "client": [
                f'","user_agent":"{esc(u)}","tls_fingerprint":"{t}","model":"{m}","endpoint":"{endpoint[s]}","request":'
                for u, t, s in zip(cl.ua, cl.tls, cl.style.tolist(), strict=True)
                for m in MODELS
            ],
            # request body: {system, messages[user, history], tools, max_tokens
            "sys": _styled(sys_a, sys_o),
            "wpre": [opening + esc(w[0]) for w in tables.wraps for opening in ('"', '[{"type":"text","text":"')],
            "user": [esc(u) for u in tables.user],
            "wmid": [esc(w[1]) for w in tables.wraps],
            "snip": [esc(t) for t in tables.snippets],
            "wclose": [esc(w[2]) + c for w in tables.wraps for c in _CLOSE],
            "tail": _styled([a + "]" for a, _ in tables.tails], [o + "]" for _, o in tables.tails]),
            "tools": _styled(
                [f',"tools":{a or "[]"},"max_tokens":' for a, _ in tables.tools],
                [f',"tools":{o},"max_tokens":' if o else ',"max_tokens":' for _, o in tables.tools],
            ),
            # response, with and without the JSONL envelope around it: [ok, 429, 529]
            "r_open": [
                ',"response":{"input_tokens":',
                *(f',"response":{e},"status":{s}}}\n' for s, e in _ERRORS.items()),
            ],
            "r_open_p": ['{"input_tokens":', *_ERRORS.values()],
            "r_close": [f',"stop_reason":"{s}"}},"status":200}}\n' for pair in _STOPS for s in pair],
            "r_close_p": [f',"stop_reason":"{s}"}}' for pair in _STOPS for s in pair],
            # Parquet columns
            "acct": acct,
            "org": orgs,
            "key_id": keys,
            "ua": cl.ua,
            "tls": cl.tls,
            "model": list(MODELS),
            "endpoint": list(endpoint),
        }
        self.frag = {name: pa.array(values, pa.string()) for name, values in fragments.items()}

    def _take(self, name: str, index: np.ndarray) -> pa.Array:
        return pc.take(self.frag[name], pa.array(index))

    def _body(self, rows: Rows, style: np.ndarray) -> list[pa.Array]:
        c = rows.content
        blocks = (rows.blocks | c.image).astype(np.int64)
        close = np.where(c.image, 2 + style, blocks)
        meta_text = pa.repeat("}", len(rows.ts))  # the body's closing brace, or the end user and the brace
        has_user = rows.end_user > 0
        if has_user.any():
            user_hex = _fixed_strings(hex_bytes(rows.end_user[has_user]))
            end_user = pc.if_else(
                pa.array(style[has_user] == 0),
                pc.binary_join_element_wise(',"metadata":{"user_id":"u_', user_hex, '"}}', ""),
                pc.binary_join_element_wise(',"user":"u_', user_hex, '"}', ""),
            )
            meta_text = pc.replace_with_mask(meta_text, pa.array(has_user), end_user)
        return [
            self._take("sys", c.sys * 2 + style),
            self._take("wpre", c.wrap * 2 + blocks),
            self._take("user", c.user),
            self._take("wmid", c.wrap),
            self._take("snip", c.snippet),
            self._take("wclose", c.wrap * 4 + close),
            self._take("tail", c.tail * 2 + style),
            self._take("tools", c.tools * 2 + style),
            pc.cast(pa.array(c.max_tokens), pa.string()),
            meta_text,
        ]

    def _response(self, rows: Rows, style: np.ndarray, envelope: bool) -> list[pa.Array]:
        ok = rows.status == 200
        kind = np.where(ok, 0, np.where(rows.status == 429, 1, 2))
        blank = pa.array(~ok)
        number = [
            pc.if_else(blank, "", pc.cast(pa.array(v), pa.string()))
            for v in (rows.input_tokens, rows.content.out_tokens)
        ]
        suffix = "" if envelope else "_p"
        between = pc.if_else(blank, "", ',"output_tokens":')
        close = pc.if_else(blank, "", self._take(f"r_close{suffix}", rows.content.stop * 2 + style))
        return [self._take(f"r_open{suffix}", kind), number[0], between, number[1], close]

    def format(self, rows: Rows) -> pa.Array | pa.Table:
        """A batch as JSON lines (one string per request) or as a Parquet table. Thread-safe: several batches
        may be formatted at once; ``emit`` them in order."""
        style = self.style[rows.client]
        ip = [pc.take(_OCTETS, pa.array((rows.ip >> s) & 255)) for s in (24, 16, 8, 0)]
        ip = pc.binary_join_element_wise(*ip, ".")
        if self.fmt == "parquet":
            return self._parquet(rows, style, ip)
        head = _fixed_strings(_concat_fixed(_HEAD[0], rows.rid, _HEAD[1], *_timestamp(rows.ts), _HEAD[2]))
        client = rows.client.astype(np.int64) * len(MODELS) + rows.model
        pieces = [
            head,
            self._take("acct_key", rows.acct),
            self._take("key", rows.key),
            ip,
            self._take("client", client),
            *self._body(rows, style),
            *self._response(rows, style, True),
        ]
        return pc.binary_join_element_wise(*pieces, "")

    def emit(self, batch: pa.Array | pa.Table) -> None:
        """Append a formatted batch to the file."""
        if self._pq is not None:
            self._pq.write_table(batch, row_group_size=len(batch))
        elif self._zst is not None:
            self._zst.write(_buffer(batch))
        else:
            _write_all(self._file.fileno(), [_buffer(batch)])

    def _parquet(self, rows: Rows, style: np.ndarray, ip: pa.Array) -> pa.Table:
        org = self._take("org", rows.acct)
        columns = {
            "request_id": _fixed_strings(_concat_fixed(b"req_", rows.rid)),
            "timestamp": pa.array(rows.ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "account_id": self._take("acct", rows.acct),
            "org_id": org,
            "api_key_id": self._take("key_id", rows.key),
            "client_ip": ip,
            "user_agent": self._take("ua", rows.client),
            "tls_fingerprint": self._take("tls", rows.client),
            "model": self._take("model", rows.model),
            "endpoint": self._take("endpoint", style),
            "request": pc.binary_join_element_wise(*self._body(rows, style), ""),
            "response": pc.binary_join_element_wise(*self._response(rows, style, False), ""),
            "status": pa.array(rows.status, pa.int16()),
        }
        return pa.table([columns[f.name].cast(f.type) for f in PARQUET_SCHEMA], schema=PARQUET_SCHEMA)

    def close(self) -> None:
        if self._zst is not None:
            self._zst.close()
        if self._file is not None:
            self._file.close()
        if self._pq is not None:
            self._pq.close()


class Pipeline:
    """Formats batches on two threads and appends them to the file, in order, on a third, while the caller
    generates the next batch (pyarrow and file writes release the GIL). At most four batches are in flight."""

    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer
        self._formatters = ThreadPoolExecutor(max_workers=2)
        self._emitter = ThreadPoolExecutor(max_workers=1)
        self._formatting: deque[Future] = deque()
        self._writing: deque[Future] = deque()

    def _emit(self, formatted: Future) -> None:
        self.writer.emit(formatted.result())

    def submit(self, rows: Rows) -> None:
        self._formatting.append(self._formatters.submit(self.writer.format, rows))
        while len(self._formatting) > 2:
            self._writing.append(self._emitter.submit(self._emit, self._formatting.popleft()))
        while len(self._writing) > 1:
            self._writing.popleft().result()

    def finish(self) -> None:
        """Wait until every submitted batch is written (re-raising the first error)."""
        while self._formatting:
            self._writing.append(self._emitter.submit(self._emit, self._formatting.popleft()))
        while self._writing:
            self._writing.popleft().result()

    def close(self) -> None:
        self._formatters.shutdown(wait=True, cancel_futures=True)
        self._emitter.shutdown(wait=True, cancel_futures=True)
