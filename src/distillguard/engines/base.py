"""The engine seam: every relational stage is a SQL string run by a small per-engine `DatabaseAPI`.

SQL is written once in DuckDB's dialect and transpiled with sqlglot for engines that speak another one, so a
stage never loops over rows in Python and can move to Spark without a rewrite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

SOURCE_DIALECT = "duckdb"


class DatabaseAPI(ABC):
    """What a stage needs from an engine: run SQL, read results as Arrow, and see Arrow data as a table."""

    dialect: str = SOURCE_DIALECT

    def transpile(self, sql: str) -> str:
        """`sql` (DuckDB dialect) in this engine's dialect."""
        if self.dialect == SOURCE_DIALECT:
            return sql
        import sqlglot  # only engines other than DuckDB need it; importing it costs ~0.15 s of every command

        return ";\n".join(sqlglot.transpile(sql, read=SOURCE_DIALECT, write=self.dialect))

    def execute(self, sql: str) -> int | None:
        """Run a statement; returns the number of rows it changed where the engine reports one."""
        return self._execute(self.transpile(sql))

    def query(self, sql: str) -> pa.Table:
        return self._query(self.transpile(sql))

    def scalar(self, sql: str) -> object:
        table = self.query(sql)
        return table.column(0)[0].as_py() if table.num_rows else None

    @abstractmethod
    def _execute(self, sql: str) -> int | None: ...

    @abstractmethod
    def _query(self, sql: str) -> pa.Table: ...

    @abstractmethod
    def register(self, name: str, data: pa.Table | pa.RecordBatch) -> None:
        """Make Arrow data visible to SQL as a table called `name` (replacing any earlier one)."""

    @abstractmethod
    def unregister(self, name: str) -> None: ...

    @abstractmethod
    def table_exists(self, name: str) -> bool: ...

    @abstractmethod
    def cursor(self) -> DatabaseAPI:
        """Another connection to the same database, for a second thread: the two run statements at once and
        see each other's committed writes; registered Arrow tables and temporary tables stay per connection."""

    @abstractmethod
    def close(self) -> None: ...

    def files(self) -> list[Path]:
        """Files on disk that make up the store (an ingest of their folder must skip them)."""
        return []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing writes where the engine has transactions; a plain block where it has none."""
        yield

    def __enter__(self) -> DatabaseAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sql_literal(value: str) -> str:
    """`value` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
