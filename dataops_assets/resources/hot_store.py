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

CATALOG = "_published"  # one row per table: last_partition, rows, published_at
COLUMNS = "_columns"  # each table's columns with their warehouse types (SQLite keeps only its own)


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


def read_catalog(con: sqlite3.Connection) -> list[dict]:
    """The `_published` catalog: one dict per published table."""
    try:
        cursor = con.execute(
            f'SELECT table_name, last_partition, rows, published_at FROM "{CATALOG}" ORDER BY table_name'
        )
    except sqlite3.OperationalError:  # nothing published yet
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_columns(con: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """A table's (name, warehouse SQL type) pairs, in order; SQLite's own types if none were recorded."""
    with contextlib.suppress(sqlite3.OperationalError):  # published before `_columns` existed
        recorded = con.execute(
            f'SELECT column_name, sql_type FROM "{COLUMNS}" WHERE table_name = ? ORDER BY position', [table]
        ).fetchall()
        if recorded:
            return [tuple(r) for r in recorded]
    return [(r[1], r[2]) for r in con.execute("SELECT * FROM pragma_table_info(?)", [table])]


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

    def catalog(self) -> list[dict]:
        """Every published table: table_name, last_partition, rows, published_at."""
        raise NotImplementedError

    def columns(self, table: str) -> list[tuple[str, str]]:
        """A table's (name, warehouse SQL type) pairs, as `publish` received them."""
        raise NotImplementedError

    def partition_counts(self, table: str, date_column: str) -> dict[str, int]:
        """Rows per day held in `table`, for every day it holds."""
        raise NotImplementedError

    def read_partitions(
        self, table: str, date_column: str, partitions: list[str]
    ) -> tuple[list[str], list[tuple]]:
        """The rows of those days: column names and rows, ordered by day."""
        raise NotImplementedError

    def delete_partitions(self, table: str, date_column: str, expected: dict[str, int]) -> int:
        """Delete the days in `expected` in one transaction, only if each holds exactly its expected rows.

        Rows deleted; on any difference nothing is deleted and ValueError says which day differed.
        The catalog's row count follows.
        """
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
                con.execute(
                    f'CREATE TABLE IF NOT EXISTS "{COLUMNS}" (table_name TEXT, position INTEGER, '
                    "column_name TEXT, sql_type TEXT, PRIMARY KEY (table_name, column_name))"
                )
                con.execute(f'DELETE FROM "{COLUMNS}" WHERE table_name = ?', [table])
                con.executemany(
                    f'INSERT INTO "{COLUMNS}" VALUES (?, ?, ?, ?)',
                    [(table, i, name, type_) for i, (name, type_) in enumerate(columns)],
                )
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

    def catalog(self) -> list[dict]:
        if not Path(self.path).exists():
            return []
        with self.connect(read_only=True) as con:
            return read_catalog(con)

    def columns(self, table: str) -> list[tuple[str, str]]:
        with self.connect(read_only=True) as con:
            return read_columns(con, table)

    def partition_counts(self, table: str, date_column: str) -> dict[str, int]:
        if not Path(self.path).exists():
            return {}
        with self.connect(read_only=True) as con:
            try:
                rows = con.execute(
                    f'SELECT "{date_column}", count(*) FROM "{table}" GROUP BY 1 ORDER BY 1'
                ).fetchall()
            except sqlite3.OperationalError:  # not published yet
                return {}
        return dict(rows)

    def read_partitions(
        self, table: str, date_column: str, partitions: list[str]
    ) -> tuple[list[str], list[tuple]]:
        marks = ", ".join("?" * len(partitions))
        with self.connect(read_only=True) as con:
            cursor = con.execute(
                f'SELECT * FROM "{table}" WHERE "{date_column}" IN ({marks}) ORDER BY "{date_column}"',
                partitions,
            )
            return [d[0] for d in cursor.description], cursor.fetchall()

    def delete_partitions(self, table: str, date_column: str, expected: dict[str, int]) -> int:
        if not expected:
            return 0
        days = sorted(expected)
        marks = ", ".join("?" * len(days))
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                held = dict(
                    con.execute(
                        f'SELECT "{date_column}", count(*) FROM "{table}" WHERE "{date_column}" IN ({marks}) '
                        "GROUP BY 1",
                        days,
                    ).fetchall()
                )
                differing = [d for d in days if held.get(d, 0) != expected[d]]
                if differing:
                    day = differing[0]
                    raise ValueError(
                        f"{table} {day} holds {held.get(day, 0)} row(s), expected {expected[day]}: "
                        "it changed since it was read; nothing deleted"
                    )
                deleted = con.execute(
                    f'DELETE FROM "{table}" WHERE "{date_column}" IN ({marks})', days
                ).rowcount
                con.execute(
                    f'UPDATE "{CATALOG}" SET rows = (SELECT count(*) FROM "{table}") WHERE table_name = ?',
                    [table],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return deleted
