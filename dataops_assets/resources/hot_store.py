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

CATALOG = "_published"
# The catalog on PostgreSQL: `env apply` creates it, a publish keeps it current.
PG_CATALOG_COLUMNS = "table_name text PRIMARY KEY, last_partition text, rows bigint, published_at timestamptz"


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
            # Default privileges cover tables made by the role that ran `env apply`; a table made by
            # another role still becomes readable to the API here.
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [self.readonly_role])
            if cursor.fetchone():
                cursor.execute(
                    f'GRANT SELECT ON {target}, {self._qualified(CATALOG)} TO "{self.readonly_role}"'
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
