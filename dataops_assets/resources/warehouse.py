"""The warehouse: where raw partitions are loaded for dbt, and where the marts are read from.

DuckDB (sandbox, testing) admits one process per file while any writes, so every method opens, works
and closes: the file is never held between steps (dbt runs in its own process). Processes of the
platform take the file in turn (`exclusive`), whatever Dagster instance runs them: without the
rendered `dagster.yaml` no pool limits anything, and runs started at once would otherwise fail on
DuckDB's lock (dbt does not wait for it). PostgreSQL
(development, staging, production) is loaded with COPY from Arrow, one transaction per load.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import dagster as dg

from dataops_assets.failpoints import failpoint
from dataops_assets.names import checked_name
from dataops_assets.resources import postgres
from dataops_assets.resources.s3 import arrow_filesystem

if TYPE_CHECKING:  # imported where used: the code location loads without them
    import duckdb
    import pyarrow as pa


class Fetched(NamedTuple):
    columns: list[str]
    types: list[str]  # SQL type names, e.g. DATE, BIGINT, DOUBLE, VARCHAR
    rows: list[tuple]


class Warehouse(dg.ConfigurableResource):
    def load_partitions(self, dataset: str, files_by_partition: dict[str, list[str]]) -> int:
        """Replace the given days of raw.<dataset> with these files, in one transaction; rows loaded."""
        raise NotImplementedError

    def replace_table(self, dataset: str, files: list[str]) -> int:
        """Replace raw.<dataset> as a whole (a dimension); rows loaded."""
        raise NotImplementedError

    def ensure_table(self, dataset: str, schema_file: str, partitioned: bool) -> None:
        """Create raw.<dataset> empty, with the columns of a Parquet file (and `partition_date` when
        `partitioned`), if it does not exist: dbt's source exists before any of its days is loaded."""
        raise NotImplementedError

    def fetch(self, sql: str, params: list | None = None) -> Fetched:
        """Run a read-only query: its columns, their SQL types and its rows."""
        raise NotImplementedError

    def dbt_target(self) -> str:
        raise NotImplementedError

    def dbt_env(self) -> dict[str, str]:
        """Environment variables dbt's profile reads to reach this warehouse."""
        raise NotImplementedError

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held while a process of the platform works on the warehouse (dbt included): a warehouse that
        admits one process at a time is taken in turn. A server with its own transactions needs no turn."""
        yield


# Warehouse files whose turn this process holds: a nested `exclusive` is the same turn, not a deadlock.
_HELD: set[str] = set()


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file; the message says which, in one line."""


class DuckDBWarehouse(Warehouse):
    path: str
    dbt_threads: int = 1
    lock_wait_s: float = 120.0  # how long to wait for another process (dbt, a notebook) to let go
    # How long a step waits for its turn behind other runs' steps: runs queue here when no pool does.
    turn_wait_s: float = 3600.0

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """An exclusive `flock` on `<file>.lock` beside the warehouse file; the kernel drops it when its
        process dies, however it dies, so a crash never leaves the warehouse locked."""
        path = Path(self.path).resolve()
        if str(path) in _HELD:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.lock", "a+") as handle:
            deadline = time.monotonic() + self.turn_wait_s
            pause = 0.05
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() + pause > deadline:
                        raise WarehouseBusy(
                            f"the warehouse {self.path} stayed in use by other runs for {self.turn_wait_s:g} s"
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)
            _HELD.add(str(path))
            try:
                yield
            finally:
                _HELD.discard(str(path))
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.exclusive():
            con = self._open(read_only)
            try:
                yield con
            finally:
                con.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        import duckdb

        # DuckDB admits one process per file while any writes; a conflict fails at once, so wait it out.
        deadline = time.monotonic() + self.lock_wait_s
        pause = 0.05
        while True:
            try:
                return duckdb.connect(self.path, read_only=read_only)
            except duckdb.IOException as error:
                if "lock" not in str(error).lower():
                    raise
                if time.monotonic() + pause > deadline:
                    holder = re.search(r"\(PID (\d+)\)", str(error))
                    raise WarehouseBusy(
                        f"the warehouse {self.path} is in use by another process"
                        f"{f' (pid {holder[1]})' if holder else ''} and stayed so for {self.lock_wait_s:g} s: "
                        "DuckDB admits one process at a time; let it finish or stop it, then re-run"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def load_partitions(self, dataset: str, files_by_partition: dict[str, list[str]]) -> int:
        table = f"raw.{checked_name('dataset', dataset)}"
        with self._connect() as con:
            self._create_empty(con, table, next(iter(files_by_partition.values())), partitioned=True)
            con.execute("BEGIN")
            loaded = 0
            for partition, files in files_by_partition.items():
                con.execute(f"DELETE FROM {table} WHERE partition_date = ?::DATE", [partition])
                loaded += con.execute(
                    f"INSERT INTO {table} BY NAME SELECT *, ?::DATE AS partition_date FROM read_parquet(?)",
                    [partition, files],
                ).fetchone()[0]
            con.execute("COMMIT")
        return loaded

    def replace_table(self, dataset: str, files: list[str]) -> int:
        checked_name("dataset", dataset)
        with self._connect() as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            con.execute(f"CREATE OR REPLACE TABLE raw.{dataset} AS SELECT * FROM read_parquet(?)", [files])
            return con.execute(f"SELECT count(*) FROM raw.{dataset}").fetchone()[0]

    @staticmethod
    def _create_empty(con: duckdb.DuckDBPyConnection, table: str, files: list[str] | str, partitioned: bool):
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        partition = ", NULL::DATE AS partition_date" if partitioned else ""
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} AS SELECT *{partition} FROM read_parquet(?) LIMIT 0", [files]
        )

    def ensure_table(self, dataset: str, schema_file: str, partitioned: bool) -> None:
        with self._connect() as con:
            self._create_empty(con, f"raw.{checked_name('dataset', dataset)}", schema_file, partitioned)

    def fetch(self, sql: str, params: list | None = None) -> Fetched:
        with self._connect(read_only=True) as con:
            cursor = con.execute(sql, params or [])
            return Fetched(
                [d[0] for d in cursor.description], [str(d[1]) for d in cursor.description], cursor.fetchall()
            )

    def dbt_target(self) -> str:
        return "duckdb"

    def dbt_env(self) -> dict[str, str]:
        return {
            "DATAOPS_WAREHOUSE_PATH": str(Path(self.path).resolve()),
            "DATAOPS_DBT_THREADS": str(self.dbt_threads),
        }


def read_parquet_files(paths: list[str]) -> pa.Table:
    """Parquet files (local or s3://) as one Arrow table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in paths:
        filesystem, inner = arrow_filesystem(path)
        tables.append(pq.read_table(inner, filesystem=filesystem))
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


class PostgresWarehouse(Warehouse):
    dsn: str
    dbt_threads: int = 1

    @contextlib.contextmanager
    def _connect(self) -> Iterator:
        with postgres.connect(self.dsn) as con:  # commits on success, rolls back on error
            yield con

    @staticmethod
    def _copy(cursor, table: str, data: pa.Table) -> None:
        """COPY an Arrow table in as CSV that Arrow writes in C: no Python loop over rows.

        Arrow quotes every string, so an empty string stays "" while a null is an empty field (NULL).
        """
        import pyarrow as pa
        import pyarrow.csv as pacsv

        buffer = pa.BufferOutputStream()
        pacsv.write_csv(data, buffer, pacsv.WriteOptions(include_header=False))
        columns = ", ".join(f'"{c}"' for c in data.column_names)
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue().to_pybytes())

    @staticmethod
    def _create(cursor, table: str, schema: pa.Schema, replace: bool) -> None:
        columns = ", ".join(f'"{f.name}" {postgres.arrow_pg_type(f.type)}' for f in schema)
        cursor.execute("CREATE SCHEMA IF NOT EXISTS raw")
        if replace:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")

    def load_partitions(self, dataset: str, files_by_partition: dict[str, list[str]]) -> int:
        table = f"raw.{checked_name('dataset', dataset)}"
        import pyarrow as pa

        loaded = 0
        with self._connect() as con, con.cursor() as cursor:
            for i, (partition, files) in enumerate(files_by_partition.items()):
                data = read_parquet_files(files)
                data = data.append_column(
                    "partition_date", pa.array([partition] * data.num_rows, pa.string()).cast(pa.date32())
                )
                if i == 0:
                    self._create(cursor, table, data.schema, replace=False)
                    cursor.execute(
                        f"CREATE INDEX IF NOT EXISTS {dataset}_by_partition ON {table} (partition_date)"
                    )
                cursor.execute(f"DELETE FROM {table} WHERE partition_date = %s::date", [partition])
                failpoint("warehouse.mid_load")
                self._copy(cursor, table, data)
                loaded += data.num_rows
        return loaded

    def ensure_table(self, dataset: str, schema_file: str, partitioned: bool) -> None:
        import pyarrow as pa

        table = f"raw.{checked_name('dataset', dataset)}"
        schema = read_parquet_files([schema_file]).schema
        if partitioned:
            schema = schema.append(pa.field("partition_date", pa.date32()))
        with self._connect() as con, con.cursor() as cursor:
            self._create(cursor, table, schema, replace=False)
            if partitioned:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {dataset}_by_partition ON {table} (partition_date)"
                )

    def replace_table(self, dataset: str, files: list[str]) -> int:
        table = f"raw.{checked_name('dataset', dataset)}"
        data = read_parquet_files(files)
        with self._connect() as con, con.cursor() as cursor:
            self._create(cursor, table, data.schema, replace=True)  # DDL is transactional here
            self._copy(cursor, table, data)
        return data.num_rows

    def fetch(self, sql: str, params: list | None = None) -> Fetched:
        with self._connect() as con, con.cursor() as cursor:
            con.read_only = True
            cursor.execute(postgres.qmark_to_format(sql), params or [])
            return Fetched(
                [d.name for d in cursor.description],
                [postgres.type_name(d.type_code) for d in cursor.description],
                cursor.fetchall(),
            )

    def dbt_target(self) -> str:
        return "postgres"

    def dbt_env(self) -> dict[str, str]:
        return postgres.dbt_profile_env(self.dsn) | {"DATAOPS_DBT_THREADS": str(self.dbt_threads)}
