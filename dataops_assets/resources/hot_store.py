"""The hot store: the tables applications read, published atomically.

SQLite (sandbox, testing) in WAL mode, or a PostgreSQL schema (the shared environments): either way
readers keep reading the last committed version while a publish runs, and a publish (delete the
window's days, insert the new rows) is one transaction, so no reader ever sees half of it.
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
from dataops_assets.resources import postgres
from dataops_assets.resources.hot_catalog import (
    CATALOG,
    COLUMNS,
    PG_CATALOG_COLUMNS,
    PG_COLUMNS_COLUMNS,
    SQLITE_CATALOG_COLUMNS,
    SQLITE_COLUMNS_COLUMNS,
    read_catalog,
    read_columns,
)


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


def _check_identifiers(table: str, columns: list[tuple[str, str]], date_column: str) -> None:
    """Table and column names become SQL identifiers: only safe names get that far."""
    for kind, name in [("table", table), ("column", date_column)] + [("column", c) for c, _ in columns]:
        checked_name(kind, name)


def _check_unchanged(table: str, held: dict[str, int], expected: dict[str, int]) -> None:
    """Retention deletes a day only if it still holds the rows that were archived."""
    for day in sorted(expected):
        if held.get(day, 0) != expected[day]:
            raise ValueError(
                f"{table} {day} holds {held.get(day, 0)} row(s), expected {expected[day]}: "
                "it changed since it was read; nothing deleted"
            )


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
        _check_identifiers(table, columns, date_column)
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
                con.execute(f'CREATE TABLE IF NOT EXISTS "{CATALOG}" ({SQLITE_CATALOG_COLUMNS})')
                con.execute(
                    f'INSERT OR REPLACE INTO "{CATALOG}" VALUES (?, ?, ?, ?)',
                    [table, last, total, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")],
                )
                con.execute(f'CREATE TABLE IF NOT EXISTS "{COLUMNS}" ({SQLITE_COLUMNS_COLUMNS})')
                con.execute(f'DELETE FROM "{COLUMNS}" WHERE table_name = ?', [table])
                con.executemany(
                    f'INSERT INTO "{COLUMNS}" VALUES (?, ?, ?, ?)',
                    [(table, i, name, type_) for i, (name, type_) in enumerate(columns)],
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
                _check_unchanged(table, held, expected)
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


class PostgresHotStore(HotStore):
    """The hot tables in one schema (`serving`); the API reads them through a read-only role.

    Under MVCC a publish's delete and COPY become visible together at COMMIT: readers see the previous
    version of the table until then, never a mix, and never wait on the publisher.
    """

    dsn: str
    schema_name: str = "serving"
    readonly_role: str = "dataops_api"

    def _qualified(self, table: str) -> str:
        return f'"{self.schema_name}"."{table}"'

    def publish(
        self,
        table: str,
        columns: list[tuple[str, str]],
        rows: list[tuple],
        date_column: str,
        partitions: list[str],
    ) -> int:
        _check_identifiers(table, columns, date_column)
        target = self._qualified(table)
        definition = ", ".join(f'"{name}" {postgres.pg_type(type_)}' for name, type_ in columns)
        with postgres.connect(self.dsn) as con, con.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema_name}"')
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {target} ({definition})")
            cursor.execute(f'CREATE INDEX IF NOT EXISTS "{table}_by_date" ON {target} ("{date_column}")')
            cursor.execute(f'DELETE FROM {target} WHERE "{date_column}" = ANY(%s::date[])', [partitions])
            quoted = ", ".join(f'"{name}"' for name, _ in columns)
            with cursor.copy(f"COPY {target} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f'SELECT count(*), max("{date_column}")::text FROM {target}')
            total, last = cursor.fetchone()
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self._qualified(CATALOG)} ({PG_CATALOG_COLUMNS})")
            cursor.execute(
                f"INSERT INTO {self._qualified(CATALOG)} VALUES (%s, %s, %s, now()) ON CONFLICT (table_name) "
                "DO UPDATE SET last_partition = EXCLUDED.last_partition, rows = EXCLUDED.rows, "
                "published_at = EXCLUDED.published_at",
                [table, last, total],
            )
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self._qualified(COLUMNS)} ({PG_COLUMNS_COLUMNS})")
            cursor.execute(f"DELETE FROM {self._qualified(COLUMNS)} WHERE table_name = %s", [table])
            cursor.executemany(
                f"INSERT INTO {self._qualified(COLUMNS)} VALUES (%s, %s, %s, %s)",
                [(table, i, name, type_) for i, (name, type_) in enumerate(columns)],
            )
            # Default privileges cover tables made by the role that ran `env apply`; a table made by
            # another role still becomes readable to the API here.
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [self.readonly_role])
            if cursor.fetchone():
                cursor.execute(
                    f"GRANT SELECT ON {target}, {self._qualified(CATALOG)}, {self._qualified(COLUMNS)} "
                    f'TO "{self.readonly_role}"'
                )
            failpoint("hot.before_commit")  # the connection commits when this block ends
        return len(rows)

    def count_by_date(self, table: str, date_column: str, partitions: list[str]) -> dict[str, int]:
        import psycopg

        try:
            with postgres.connect(self.dsn) as con, con.cursor() as cursor:
                cursor.execute(
                    f'SELECT "{date_column}"::text, count(*) FROM {self._qualified(table)} '
                    f'WHERE "{date_column}" = ANY(%s::date[]) GROUP BY 1',
                    [partitions],
                )
                return dict(cursor.fetchall())
        except psycopg.errors.UndefinedTable:  # not published yet
            return {}

    def _read(self, sql: str, params: list | None = None) -> list[tuple] | None:
        """Rows of a read-only query; None when a table it reads is not there yet (nothing published)."""
        import psycopg

        try:
            with postgres.connect(self.dsn) as con, con.cursor() as cursor:
                cursor.execute(sql, params or [])
                return cursor.fetchall()
        except psycopg.errors.UndefinedTable:
            return None

    def catalog(self) -> list[dict]:
        rows = self._read(
            f"SELECT table_name, last_partition, rows, published_at::text FROM {self._qualified(CATALOG)} "
            "ORDER BY table_name"
        )
        names = ("table_name", "last_partition", "rows", "published_at")
        return [dict(zip(names, row, strict=True)) for row in rows or []]

    def columns(self, table: str) -> list[tuple[str, str]]:
        rows = self._read(
            f"SELECT column_name, sql_type FROM {self._qualified(COLUMNS)} WHERE table_name = %s ORDER BY position",
            [table],
        )
        return [tuple(r) for r in rows or []]

    def partition_counts(self, table: str, date_column: str) -> dict[str, int]:
        _check_identifiers(table, [], date_column)
        rows = self._read(
            f'SELECT "{date_column}"::text, count(*) FROM {self._qualified(table)} GROUP BY 1 ORDER BY 1'
        )
        return dict(rows or [])

    def read_partitions(
        self, table: str, date_column: str, partitions: list[str]
    ) -> tuple[list[str], list[tuple]]:
        # Days come back as text, as the SQLite store gives them; the archive casts them back to DATE.
        names = [name for name, _ in self.columns(table)]
        _check_identifiers(table, [(n, "") for n in names], date_column)
        select = ", ".join(f'"{n}"::text AS "{n}"' if n == date_column else f'"{n}"' for n in names)
        rows = self._read(
            f'SELECT {select} FROM {self._qualified(table)} WHERE "{date_column}" = ANY(%s::date[]) '
            f'ORDER BY "{date_column}"',
            [partitions],
        )
        return names, rows or []

    def delete_partitions(self, table: str, date_column: str, expected: dict[str, int]) -> int:
        if not expected:
            return 0
        _check_identifiers(table, [], date_column)
        days = sorted(expected)
        target = self._qualified(table)
        with postgres.connect(self.dsn) as con, con.cursor() as cursor:
            # Publishes wait until this commits (readers do not): the counts cannot change under us.
            cursor.execute(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute(
                f'SELECT "{date_column}"::text, count(*) FROM {target} WHERE "{date_column}" = ANY(%s::date[]) '
                "GROUP BY 1",
                [days],
            )
            held = dict(cursor.fetchall())
            _check_unchanged(table, held, expected)
            cursor.execute(f'DELETE FROM {target} WHERE "{date_column}" = ANY(%s::date[])', [days])
            deleted = cursor.rowcount
            cursor.execute(
                f"UPDATE {self._qualified(CATALOG)} SET rows = (SELECT count(*) FROM {target}) "
                "WHERE table_name = %s",
                [table],
            )
        return deleted
