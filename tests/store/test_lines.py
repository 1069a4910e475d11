"""The bounded-memory line splitter (`formats.lines.iter_line_batches`) and compressed streams (`formats.io`)."""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import pytest
import zstandard

from distillguard.formats.io import open_binary
from distillguard.formats.lines import RAW_PREFIX_BYTES, iter_line_batches

# (line number, text without its line terminator or None, reject kind or None, length in bytes)
Row = tuple[int, "str | None", "str | None", int]


def split(data: bytes, *, chunk: int = 8 << 20, limit: int = 16 << 20, stream: io.RawIOBase | None = None) -> list[Row]:
    rows: list[Row] = []
    src = stream if stream is not None else io.BytesIO(data)
    for batch in iter_line_batches(src, chunk_bytes=chunk, max_line_bytes=limit):
        for r in batch.to_pylist():
            text = r["line"]
            if text is not None and text.endswith("\n"):  # a line may keep its terminator (LF or CRLF)
                text = text[:-1]
            if text is not None and text.endswith("\r") and r["raw_bytes"] < len(text.encode()):
                text = text[:-1]
            reason = r["reject_reason"]
            rows.append((r["line_no"], text, reason.split(":", 1)[0] if reason else None, r["raw_bytes"]))
    return sorted(rows)


def reference(data: bytes, limit: int = 16 << 20) -> list[Row]:
    """What the splitter must produce: every non-blank line, numbered from 1 over all physical lines; a length
    counts neither the newline nor the carriage return of a CRLF ending; whitespace-only lines are blank."""
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    out: list[Row] = []
    for n, part in enumerate(parts, start=1):
        if not part.strip():
            continue
        size = len(part) - part.endswith(b"\r")
        if size > limit:
            out.append((n, None, "line too long", size))
            continue
        try:
            out.append((n, part[:size].decode(), None, size))
        except UnicodeDecodeError:
            out.append((n, None, "invalid UTF-8", size))
    return out


LINES = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * (i * 7 % 23)) for i in range(40))


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 16, 33, 64, 1000])
def test_chunks_smaller_than_a_line(chunk: int) -> None:
    assert split(LINES, chunk=chunk) == reference(LINES)
    assert [n for n, *_ in split(LINES, chunk=chunk)] == list(range(1, 41))


def test_a_line_split_across_chunks_exactly_at_the_newline() -> None:
    first, second = b'{"a": 1}', b'{"b": 2}'
    data = first + b"\n" + second + b"\n"
    for chunk in (len(first), len(first) + 1, len(first) + 2):  # the newline ends, starts, or follows a chunk
        assert split(data, chunk=chunk) == [(1, '{"a": 1}', None, 8), (2, '{"b": 2}', None, 8)]


def test_every_chunk_boundary_gives_the_same_lines() -> None:
    data = b"ab\ncd\n\nefg\r\n\xc3\xa9t\xc3\xa9\n\xffbad\nlast"
    expected = reference(data)
    assert expected[-1] == (7, "last", None, 4)
    for chunk in range(1, len(data) + 2):
        assert split(data, chunk=chunk) == expected, chunk


def test_a_multibyte_character_split_by_a_chunk_boundary_is_valid() -> None:
    data = "前后 \u00e9\U0001f600\n".encode() * 5
    for chunk in range(1, 12):
        rows = split(data, chunk=chunk)
        assert [r[2] for r in rows] == [None] * 5
        assert rows[0][1] == "前后 \u00e9\U0001f600"


def test_a_file_of_only_newlines() -> None:
    for chunk in (1, 3, 1 << 20):
        assert split(b"\n" * 1000, chunk=chunk) == []
        assert split(b"\r\n" * 100, chunk=chunk) == []


def test_an_empty_stream() -> None:
    assert split(b"") == []


def test_blank_lines_keep_the_numbering() -> None:
    assert split(b"\n\na\n\n\nb\n\r\nc") == [(3, "a", None, 1), (6, "b", None, 1), (8, "c", None, 1)]


def test_no_trailing_newline() -> None:
    for chunk in (1, 4, 100):
        assert split(b"one\ntwo", chunk=chunk) == [(1, "one", None, 3), (2, "two", None, 3)]


def test_crlf_lines_keep_their_carriage_return_for_the_parser() -> None:
    # JSON parsers treat '\r' as whitespace; the splitter only has to number and bound the lines.
    rows = split(b'{"a":1}\r\n{"b":2}\r\n')
    assert [(n, text.rstrip("\r")) for n, text, _, _ in rows] == [(1, '{"a":1}'), (2, '{"b":2}')]


@pytest.mark.parametrize("chunk", [3, 10, 64, 1 << 20])
def test_an_oversized_line_in_the_middle(chunk: int) -> None:
    data = b"short\n" + b"L" * 200 + b"\nafter\n"
    assert split(data, chunk=chunk, limit=50) == [
        (1, "short", None, 5),
        (2, None, "line too long", 200),
        (3, "after", None, 5),
    ]


@pytest.mark.parametrize("chunk", [3, 10, 64, 1 << 20])
def test_an_oversized_line_at_the_very_end_without_newline(chunk: int) -> None:
    data = b"short\n" + b"L" * 200
    assert split(data, chunk=chunk, limit=50) == [(1, "short", None, 5), (2, None, "line too long", 200)]


def test_a_line_at_the_limit_is_kept_and_one_byte_more_is_not() -> None:
    data = b"a" * 10 + b"\n" + b"b" * 11 + b"\n"
    for chunk in (1, 4, 100):
        assert split(data, chunk=chunk, limit=10) == [(1, "a" * 10, None, 10), (2, None, "line too long", 11)]


def test_oversized_line_keeps_a_bounded_prefix_of_its_raw_bytes() -> None:
    big = bytes(range(65, 91)) * 10_000  # 260,000 bytes
    batches = list(iter_line_batches(io.BytesIO(b"x\n" + big + b"\ny\n"), max_line_bytes=1000))
    [bad] = [r for b in batches for r in b.to_pylist() if r["reject_reason"]]
    assert bad["line"] is None
    assert bad["raw_bytes"] == len(big)
    assert 0 < len(bad["raw"]) <= RAW_PREFIX_BYTES
    assert big.startswith(bad["raw"])
    assert "line too long" in bad["reject_reason"] and "1,000" in bad["reject_reason"]


def test_invalid_utf8_line_is_rejected_with_its_raw_bytes() -> None:
    batches = list(iter_line_batches(io.BytesIO(b"ok\nbad \xff\xfe line\nok2\n")))
    rows = sorted((r for b in batches for r in b.to_pylist()), key=lambda r: r["line_no"])
    assert [r["line"].rstrip("\n") for r in (rows[0], rows[2])] == ["ok", "ok2"]
    bad = rows[1]
    assert (bad["line_no"], bad["line"]) == (2, None)
    assert bad["reject_reason"].startswith("invalid UTF-8")
    assert bad["raw"].rstrip(b"\n") == b"bad \xff\xfe line"


def test_line_numbers_across_many_chunks_and_batches() -> None:
    data = b"".join(b"line %d\n" % i for i in range(1, 5001))
    rows = split(data, chunk=97)
    assert [n for n, *_ in rows] == list(range(1, 5001))
    assert rows[4999][1] == "line 5000"


def test_random_inputs_match_the_reference() -> None:
    rng = random.Random(20260203)
    alphabet = [b"a", b"{", b"\n", b"\r", b"\n\n", b"\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"\x80", b"\x00"]
    for _ in range(1500):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        chunk, limit = rng.randint(1, 13), rng.randint(1, 16)
        assert split(data, chunk=chunk, limit=limit) == reference(data, limit), (data, chunk, limit)


# -- compressed streams --------------------------------------------------------------------------------------

PAYLOAD = (
    b"".join(b'{"request_id": "r%d", "text": "%s"}\n' % (i, ("\u00e9t\u00e9 " * (i % 9)).encode()) for i in range(1000))
    + b"\n\nlast line without newline"
)


def _plain(tmp_path: Path) -> Path:
    p = tmp_path / "plain.jsonl"
    p.write_bytes(PAYLOAD)
    return p


def _gzip(tmp_path: Path) -> Path:
    p = tmp_path / "logs.jsonl.gz"
    p.write_bytes(gzip.compress(PAYLOAD))
    return p


def _gzip_members(tmp_path: Path) -> Path:  # concatenated gzip members, as `cat a.gz b.gz` makes
    p = tmp_path / "members.gz"
    half = len(PAYLOAD) // 2
    p.write_bytes(gzip.compress(PAYLOAD[:half]) + gzip.compress(PAYLOAD[half:]))
    return p


def _zstd(tmp_path: Path) -> Path:
    p = tmp_path / "logs.jsonl.zst"
    p.write_bytes(zstandard.ZstdCompressor(level=3).compress(PAYLOAD))
    return p


def _zstd_frames(tmp_path: Path) -> Path:  # several frames, as `zstd` on concatenated input or streaming writers make
    p = tmp_path / "frames.zst"
    c = zstandard.ZstdCompressor()
    p.write_bytes(b"".join(c.compress(PAYLOAD[i : i + 10_000]) for i in range(0, len(PAYLOAD), 10_000)))
    return p


def _zstd_stream(tmp_path: Path) -> Path:  # one frame without a content size, as a streaming writer makes
    p = tmp_path / "stream.bin"
    with p.open("wb") as f, zstandard.ZstdCompressor().stream_writer(f) as w:
        w.write(PAYLOAD)
    return p


def _misnamed_gzip(tmp_path: Path) -> Path:  # compression comes from the magic bytes, never the name
    p = tmp_path / "looks-plain.jsonl"
    p.write_bytes(gzip.compress(PAYLOAD))
    return p


@pytest.mark.parametrize("make", [_gzip, _gzip_members, _zstd, _zstd_frames, _zstd_stream, _misnamed_gzip])
@pytest.mark.parametrize("chunk", [61, 4096, 8 << 20])
def test_compressed_streams_give_the_same_lines_as_plain(tmp_path: Path, make, chunk: int) -> None:
    with open_binary(_plain(tmp_path)) as f:
        expected = split(b"", chunk=chunk, stream=f)
    assert len(expected) == 1001
    assert expected == reference(PAYLOAD)
    with open_binary(make(tmp_path)) as f:
        assert split(b"", chunk=chunk, stream=f) == expected


def test_open_binary_reports_bytes_read_on_disk(tmp_path: Path) -> None:
    path = _gzip(tmp_path)
    seen: list[int] = []
    with open_binary(path, seen.append) as f:
        assert f.read() == PAYLOAD
    assert sum(seen) == path.stat().st_size
