"""Opening log files: compression and container sniffed from magic bytes, never trusted from the name."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"


def compression_of(path: Path) -> str | None:
    """'gzip', 'zstd' or None, from the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def is_parquet(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == PARQUET_MAGIC


class _CountingReader(io.RawIOBase):
    """A raw file that reports how many (compressed) bytes were read, for progress bars."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - any writable buffer
        n = self._f.readinto(buffer)
        if n:
            self._on_read(n)
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


def open_binary(path: Path, on_read: Callable[[int], None] | None = None) -> BinaryIO:
    """A binary stream of the decompressed content, read lazily so memory stays bounded.

    `on_read` is told how many bytes of the file on disk each read consumed.
    """
    kind = compression_of(path)
    raw: BinaryIO = (
        io.BufferedReader(_CountingReader(path, on_read), buffer_size=1 << 20)  # type: ignore[assignment]
        if on_read
        else open(path, "rb")  # noqa: SIM115 - closed with the returned stream
    )
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True, read_across_frames=True)
        return io.BufferedReader(reader, buffer_size=1 << 20)  # type: ignore[arg-type]
    return raw


def head_bytes(path: Path, n: int = 1 << 16) -> bytes:
    """The first n decompressed bytes, for sniffing the format."""
    with open_binary(path) as f:
        return f.read(n)
