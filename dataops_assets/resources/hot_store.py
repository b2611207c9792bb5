"""The hot store: the tables applications read, published atomically.

SQLite here (sandbox, testing), in WAL mode: readers keep reading the last committed version while a
publish runs, and a publish (delete the window's days, insert the new rows) is one transaction, so
no reader ever sees half of it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from dataops_assets.failpoints import failpoint
from dataops_assets.names import checked_name

CATALOG = "_published"


def sqlite_type(sql_type: str) -> str:
    """The SQLite column type for a warehouse type, so a column keeps its type however its first rows look."""
    base = sql_type.upper().split("(")[0].strip()
    if base in ("TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "BOOLEAN"):
        return "INTEGER"
    if base in ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "DOUBLE PRECISION"):
        return "REAL"
    return "TEXT"  # VARCHAR, DATE and TIMESTAMP (ISO text sorts and compares correctly)


def _adapt(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "__float__") and not isinstance(value, int | float):  # Decimal
        return float(value)  # type: ignore[arg-type]
    return value


class HotStore(dg.ConfigurableResource):
    def publish(
        self,
        table: str,
        columns: list[tuple[str, str]],
        rows: list[tuple],
        date_column: str,
        partitions: list[str],
    ) -> int:
        """Replace `partitions` (days in `date_column`) of `table` with `rows`, atomically; rows published.

        `columns` are (name, warehouse SQL type) pairs, in the rows' order.
        """
        raise NotImplementedError

    def count_by_date(self, table: str, date_column: str, partitions: list[str]) -> dict[str, int]:
        raise NotImplementedError


class SQLiteHotStore(HotStore):
    path: str

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[sqlite3.Connection]:
        if read_only:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
        try:
            yield con
        finally:
            con.close()

    def publish(
        self,
        table: str,
        columns: list[tuple[str, str]],
        rows: list[tuple],
        date_column: str,
        partitions: list[str],
    ) -> int:
        for kind, name in [("table", table), ("column", date_column)] + [("column", c) for c, _ in columns]:
            checked_name(kind, name)
        quoted = ", ".join(f'"{name}"' for name, _ in columns)
        definition = ", ".join(f'"{name}" {sqlite_type(type_)}' for name, type_ in columns)
        marks = ", ".join("?" * len(partitions))
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({definition})')
                con.execute(f'CREATE INDEX IF NOT EXISTS "{table}_by_date" ON "{table}" ("{date_column}")')
                con.execute(f'DELETE FROM "{table}" WHERE "{date_column}" IN ({marks})', partitions)
                con.executemany(
                    f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(columns))})',
                    [tuple(_adapt(v) for v in r) for r in rows],
                )
                total, last = con.execute(f'SELECT count(*), max("{date_column}") FROM "{table}"').fetchone()
                con.execute(
                    f'CREATE TABLE IF NOT EXISTS "{CATALOG}" (table_name TEXT PRIMARY KEY, '
                    "last_partition TEXT, rows INTEGER, published_at TEXT)"
                )
                con.execute(
                    f'INSERT OR REPLACE INTO "{CATALOG}" VALUES (?, ?, ?, ?)',
                    [table, last, total, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")],
                )
                failpoint("hot.before_commit")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return len(rows)

    def count_by_date(self, table: str, date_column: str, partitions: list[str]) -> dict[str, int]:
        if not Path(self.path).exists():
            return {}
        marks = ", ".join("?" * len(partitions))
        with self.connect(read_only=True) as con:
            try:
                rows = con.execute(
                    f'SELECT "{date_column}", count(*) FROM "{table}" WHERE "{date_column}" IN ({marks}) GROUP BY 1',
                    partitions,
                ).fetchall()
            except sqlite3.OperationalError:  # not published yet
                return {}
        return dict(rows)
