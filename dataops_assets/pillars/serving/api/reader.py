"""Read-only access to the hot store for the API: one adapter per backend.

A request reads through one `ReadSession`: one read-only connection, so everything a request sees
comes from one committed version of the store. An adapter implements `session()` and the session's
three methods; the SQL the API runs (queries.py) only differs in its placeholder.

- SQLite (sandbox, testing): a `mode=ro` connection per thread. In WAL mode a reader reads the last
  committed version while a publish (one transaction) runs, and neither waits for the other.
- PostgreSQL (shared environments, to come): the `serving` schema through a read-only role, one
  pooled connection per request in a READ ONLY transaction; publishes are transactions too, so a reader
  sees the old or the new version. Same table names, and `serving._published` as the catalog.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from dataops_assets.environments.model import Environment
from dataops_assets.resources.hot_store import read_catalog, read_columns


class StoreUnavailable(RuntimeError):
    """The hot store cannot be reached (HTTP 503)."""


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

    @contextlib.contextmanager
    def session(self) -> Iterator[SQLiteReadSession]:
        con = self._connection()
        con.execute("BEGIN")
        try:
            yield SQLiteReadSession(con)
        finally:
            con.execute("ROLLBACK")


def reader_for(env: Environment) -> HotReader:
    """The reader for the environment's hot store (the API's counterpart of resources/factory.py)."""
    if env.hot_store.kind == "sqlite":
        return SQLiteHotReader(str(env.local_path(env.hot_store.path)))
    raise NotImplementedError(f"no hot store reader for kind {env.hot_store.kind!r} yet")
