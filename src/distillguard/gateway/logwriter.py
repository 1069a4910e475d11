"""Native log lines (DESIGN §3.1) from the gateway, for the next `distillguard ingest`.

Why buffered: the hot path only appends one serialised line to a list; a periodic flush (the gateway runs it
in a worker thread) writes the batch with one `write` call, so a request never waits on the disk — not even
when the page cache is full and the kernel throttles writers, or while a full file is synced and renamed. The
list is swapped under a lock held for nothing else, so `write` never waits for a flush in progress. Lines are
only lost if the process is killed before a flush (SIGKILL); a normal stop (SIGTERM, Ctrl-C, `close()`)
flushes everything.

Files: one run writes `gateway-<UTC start>-<pid>-<seq>.jsonl` in the log directory, a new file every
`max_bytes`. The file being written is hidden (its name starts with a dot) and renamed when it is complete,
and `ingest DIR` skips hidden files, so ingest never reads a file that is still growing. A hidden file left
by a killed process (its pid is gone) is renamed when the next writer starts in that directory, so its lines
are not lost either.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

PREFIX = "gateway"


class LogWriter:
    """Buffered, rotating writer of JSON lines; safe to call from several threads."""

    def __init__(self, directory: Path, *, max_bytes: int = 256 << 20) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._run = f"{PREFIX}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        self._seq = 0
        self._buf: list[bytes] = []
        self._lock = threading.Lock()  # guards `_buf` only: held for an append or a swap, never during I/O
        self._io = threading.Lock()  # one flush (and the file it writes) at a time
        self._file: io.FileIO | None = None
        self._path: Path | None = None
        self._size = 0
        self.lines_written = 0
        self.files: list[Path] = []
        recover_orphans(directory)

    def write(self, record: dict[str, Any]) -> None:
        """Queue one record (no I/O here)."""
        line = orjson.dumps(record, default=_fallback, option=orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            self._buf.append(line)

    @property
    def pending(self) -> int:
        return len(self._buf)

    def flush(self) -> int:
        """Write every queued line; returns how many were written."""
        with self._io:
            with self._lock:
                lines, self._buf = self._buf, []
            if not lines:
                return 0
            data = b"".join(lines)
            try:
                if self._file is None:
                    self._open()
                assert self._file is not None
                view = memoryview(data)
                while view:  # an unbuffered file may take part of a write
                    view = view[self._file.write(view) :]
            except OSError:
                if self._file is not None:
                    self._file.truncate(self._size)  # drop a partial batch (disk full)
                with self._lock:
                    self._buf[:0] = lines  # still queued, in order, for the next flush
                raise
            self._size += len(data)
            self.lines_written += len(lines)
            if self._size >= self.max_bytes:
                self._finish()
            return len(lines)

    def close(self) -> None:
        """Flush, sync and publish the current file."""
        self.flush()
        with self._io:
            self._finish()

    def _open(self) -> None:
        self._seq += 1
        self._path = self.directory / f".{self._run}-{self._seq:05d}.jsonl"
        self._file = self._path.open("ab", buffering=0)
        self._size = 0

    def _finish(self) -> None:
        if self._file is None or self._path is None:
            return
        os.fsync(self._file.fileno())
        self._file.close()
        final = self._path.with_name(self._path.name[1:])
        self._path.rename(final)
        self.files.append(final)
        self._file = self._path = None


def _fallback(value: Any) -> Any:
    """Objects orjson cannot write (a LiteLLM message object): their dict form if they have one, else text."""
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else str(value)


def recover_orphans(directory: Path) -> list[Path]:
    """Publish hidden log files whose writer process no longer exists."""
    out = []
    for path in directory.glob(f".{PREFIX}-*.jsonl"):
        try:
            pid = int(path.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            final = path.with_name(path.name[1:])
            with contextlib.suppress(OSError):
                path.rename(final)
                out.append(final)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
