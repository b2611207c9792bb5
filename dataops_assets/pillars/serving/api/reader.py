"""Read-only access to the hot store for the API: one adapter per backend.

A request reads through one `ReadSession`: one read-only connection, so everything a request sees
comes from one committed version of the store. An adapter implements `session()` and the session's
three methods; the SQL the API runs (queries.py) only differs in its placeholder.

- SQLite (sandbox, testing): a `mode=ro` connection per thread. In WAL mode a reader reads the last
  committed version while a publish (one transaction) runs, and neither waits for the other.
- PostgreSQL (development, staging, production): the `serving` schema through the read-only role,
  one connection per thread, each request one REPEATABLE READ, READ ONLY transaction. A publish
  (delete + COPY + catalog update) is one transaction too, and under MVCC it becomes visible at its
  COMMIT, all at once: a request sees the old version or the new one, and neither waits for the other.
  Values come back as the SQLite reader gives them (dates as ISO text, NUMERIC as float), so the API
  answers the same bytes whichever store is behind it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from dataops_assets.environments.model import Environment, PostgresHotStore
from dataops_assets.pillars.serving.api.queries import QueryError
from dataops_assets.resources.hot_catalog import CATALOG, COLUMNS, read_catalog, read_columns


class StoreUnavailable(RuntimeError):
    """The hot store cannot be reached (HTTP 503)."""


class Misconfigured(StoreUnavailable):
    """The API is set up so that it must not serve: `dataops serve` refuses to start, and a server
    started some other way answers 503."""


class NotReadOnly(Misconfigured):
    """The API's database login could change the hot store: it must not read with a writer's rights."""


class ReadSession(Protocol):
    def catalog(self) -> dict[str, dict]:
        """The `_published` catalog by table name: last_partition, rows, published_at."""
        ...

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, warehouse SQL type) of each column, in order."""
        ...

    def fetch(self, sql: str, params: list) -> list[tuple]: ...


class HotReader(Protocol):
    backend: str
    placeholder: str  # how the backend's driver marks a bound parameter

    def check(self) -> None:
        """Open the store now: StoreUnavailable (Misconfigured: must not serve at all) says why it cannot."""
        ...

    def session(self) -> contextlib.AbstractContextManager[ReadSession]: ...


class SQLiteReadSession:
    def __init__(self, con: sqlite3.Connection):
        self._con = con

    def catalog(self) -> dict[str, dict]:
        return {entry["table_name"]: entry for entry in read_catalog(self._con)}

    def columns(self, table: str) -> list[tuple[str, str]]:
        return read_columns(self._con, table)

    def fetch(self, sql: str, params: list) -> list[tuple]:
        return self._con.execute(sql, params).fetchall()


class SQLiteHotReader:
    """`mode=ro` connections, one per thread, reused across that thread's requests (the API's handlers
    run on the event loop: one connection per server process).

    Each request is one read transaction (BEGIN ... ROLLBACK): it reads one committed version, and
    between requests the connection holds no snapshot, so it never keeps a checkpoint from running.
    """

    backend = "sqlite"
    placeholder = "?"

    def __init__(self, path: str):
        self.path = path
        self._uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self._uri, uri=True, timeout=5, isolation_level=None)
            except sqlite3.OperationalError as error:
                raise StoreUnavailable(f"the hot store {self.path} cannot be opened ({error})") from None
            self._local.con = con
        return con

    def check(self) -> None:
        try:
            self._connection().execute("SELECT 1 FROM sqlite_master LIMIT 1")
        except sqlite3.DatabaseError as error:  # e.g. a file that is not a database
            raise StoreUnavailable(f"the hot store {self.path} cannot be read ({error})") from None

    @contextlib.contextmanager
    def session(self) -> Iterator[SQLiteReadSession]:
        con = self._connection()
        con.execute("BEGIN")
        try:
            yield SQLiteReadSession(con)
        finally:
            con.execute("ROLLBACK")


class PostgresReadSession:
    def __init__(self, cursor):
        self._cursor = cursor

    def catalog(self) -> dict[str, dict]:
        self._cursor.execute(
            f'SELECT table_name, last_partition, rows, published_at FROM "{CATALOG}" ORDER BY table_name'
        )
        names = [d.name for d in self._cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in self._cursor.fetchall()}

    def columns(self, table: str) -> list[tuple[str, str]]:
        self._cursor.execute(
            f'SELECT column_name, sql_type FROM "{COLUMNS}" WHERE table_name = %s ORDER BY position', [table]
        )
        return [tuple(row) for row in self._cursor.fetchall()]

    def fetch(self, sql: str, params: list) -> list[tuple]:
        self._cursor.execute(sql, params)
        return self._cursor.fetchall()


def _text_loaders(adapters) -> None:
    """Load values as the SQLite store holds them: ISO dates and timestamps, floats, 0/1 booleans."""
    import datetime as dt

    from psycopg.adapt import Loader

    class Text(Loader):
        def load(self, data):
            return bytes(data).decode()

    class Timestamp(Loader):  # '2013-01-01 05:00:00+00' -> '2013-01-01T05:00:00+00:00'
        def load(self, data):
            return dt.datetime.fromisoformat(bytes(data).decode()).isoformat()

    class Number(Loader):
        def load(self, data):
            return float(bytes(data))

    class Boolean(Loader):
        def load(self, data):
            return 1 if bytes(data) == b"t" else 0

    for type_name, loader in (
        ("date", Text),
        ("timestamp", Timestamp),
        ("timestamptz", Timestamp),
        ("numeric", Number),
        ("bool", Boolean),
    ):
        adapters.register_loader(type_name, loader)


class PostgresHotReader:
    """One connection per thread (one per server process: the handlers run on the event loop), made
    on first use and again after the server went away.

    The login must be the read-only role: the first connection checks that it can neither write to
    the schema nor any table in it, and refuses to serve otherwise (defence in depth on top of the
    READ ONLY transactions: a mistaken DSN must not give the internet the writer's rights).
    """

    backend = "postgres"
    placeholder = "%s"

    def __init__(self, dsn: str, schema_name: str = "serving", statement_timeout_ms: int = 5000):
        self.dsn = dsn
        self.schema_name = schema_name
        self.statement_timeout_ms = statement_timeout_ms
        self._local = threading.local()

    def _connect(self):
        import psycopg

        from dataops_assets.resources import postgres

        options = (
            f"-c search_path={self.schema_name} -c statement_timeout={self.statement_timeout_ms} "
            "-c default_transaction_read_only=on -c DateStyle=ISO -c TimeZone=UTC"
        )
        try:
            con = postgres.connect(self.dsn, autocommit=True, options=options)
        except postgres.UnparseableDSN as error:
            raise Misconfigured(str(error)) from None
        except psycopg.OperationalError as error:
            reason = postgres.redact_text(str(error).strip().splitlines()[0], self.dsn)
            raise StoreUnavailable(
                f"the hot store at {postgres.redact_dsn(self.dsn)} cannot be reached ({reason})"
            ) from None
        self._refuse_writers(con)
        _text_loaders(con.adapters)
        return con

    def _refuse_writers(self, con) -> None:
        """NotReadOnly, naming what this login could change, unless it can only read."""
        user, powers, writable, can_create = con.execute(
            "SELECT current_user, "
            "  (SELECT rolsuper OR rolcreaterole OR rolbypassrls FROM pg_roles WHERE rolname = current_user), "
            "  (SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables WHERE schemaname = %s "
            "   AND has_table_privilege(format('%%I.%%I', schemaname, tablename), "
            "       'INSERT, UPDATE, DELETE, TRUNCATE')), "
            "  (SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace WHERE nspname = %s)",
            [self.schema_name, self.schema_name],
        ).fetchone()
        problems = (
            (["is a superuser or can manage roles"] if powers else [])
            + ([f"can create tables in {self.schema_name}"] if can_create else [])
            + ([f"can write to {', '.join(writable)}"] if writable else [])
        )
        if problems:
            con.close()
            raise NotReadOnly(
                f"the API connects as {user}, which {'; '.join(problems)}: point the API's DSN "
                "at the read-only role that `dataops env apply` makes"
            )

    def check(self) -> None:
        self._connection()

    def _connection(self):
        con = getattr(self._local, "con", None)
        if con is None or con.closed or con.broken:
            con = self._local.con = self._connect()
        return con

    @contextlib.contextmanager
    def session(self) -> Iterator[PostgresReadSession]:
        import psycopg

        con = self._connection()
        try:
            with con.cursor() as cursor:
                # One statement opens the snapshot (each round trip on loopback costs ~0.1 ms).
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                try:
                    yield PostgresReadSession(cursor)
                finally:
                    cursor.execute("ROLLBACK")  # it only read: nothing to commit
        except psycopg.errors.DataError as error:  # a value the column's type cannot hold: the client's
            raise QueryError(f"a value does not fit its column: {error.diag.message_primary}") from None
        except psycopg.errors.UndefinedTable:  # nothing published yet: an empty catalog
            raise StoreUnavailable(
                f"the hot store has no catalog yet ({self.schema_name}.{CATALOG}): run `dataops env apply`"
            ) from None
        except psycopg.errors.QueryCanceled:  # the statement timeout: the connection is still good
            raise StoreUnavailable(
                f"the hot store did not answer within {self.statement_timeout_ms / 1000:g} s"
            ) from None
        except psycopg.OperationalError as error:  # the server went away: reconnect on the next request
            con.close()
            raise StoreUnavailable(f"the hot store stopped answering ({str(error).strip()[:200]})") from None


def reader_for(env: Environment) -> HotReader:
    """The reader for the environment's hot store (the API's counterpart of resources/factory.py)."""
    spec = env.hot_store
    if isinstance(spec, PostgresHotStore):
        return PostgresHotReader(spec.api_dsn.resolve(), spec.schema_name)
    return SQLiteHotReader(str(env.local_path(spec.path)))
