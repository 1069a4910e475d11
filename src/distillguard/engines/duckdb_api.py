"""DuckDB, the embedded default engine: one file on disk, no server."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from distillguard.engines.base import DatabaseAPI


class DuckDBAPI(DatabaseAPI):
    dialect = "duckdb"

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False, memory_limit: str = "1200MB") -> None:
        self.path = str(path)
        # A bounded buffer pool keeps peak memory flat on any input size; DuckDB spills beyond it.
        self.con = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": memory_limit})
        self._configure()

    def _configure(self) -> None:
        """Session settings, which each connection holds for itself."""
        self.con.execute("SET enable_progress_bar = false")  # our own progress bars own the terminal
        # Timestamps are stored as naive UTC; pin the session zone so casts never depend on the host.
        self.con.execute("SET TimeZone = 'UTC'")

    def cursor(self) -> DuckDBAPI:
        sibling = copy.copy(self)
        sibling.con = self.con.cursor()
        sibling._configure()
        return sibling

    def _execute(self, sql: str) -> int | None:
        rel = self.con.execute(sql)
        rows = rel.fetchall() if rel.description else []
        if rel.description and rel.description[0][0] == "Count" and rows:
            return int(rows[0][0])
        return None

    def _query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def register(self, name: str, data: pa.Table | pa.RecordBatch) -> None:
        self.con.register(name, data)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def table_exists(self, name: str) -> bool:
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return bool(found[0][0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def files(self) -> list[Path]:
        if self.path == ":memory:":
            return []
        return [Path(self.path), Path(self.path + ".wal")]

    def close(self) -> None:
        self.con.close()
