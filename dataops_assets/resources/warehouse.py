"""The warehouse: where raw partitions are loaded for dbt, and where the marts are read from.

DuckDB here (sandbox, testing). DuckDB admits one process per file while any writes, so every method
opens, works and closes: the file is never held between steps (dbt runs in its own process).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import duckdb

from dataops_assets.names import checked_name


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

    def fetch(self, sql: str, params: list | None = None) -> Fetched:
        """Run a read-only query: its columns, their SQL types and its rows."""
        raise NotImplementedError

    def dbt_target(self) -> str:
        raise NotImplementedError

    def dbt_env(self) -> dict[str, str]:
        """Environment variables dbt's profile reads to reach this warehouse."""
        raise NotImplementedError


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file; the message says which, in one line."""


class DuckDBWarehouse(Warehouse):
    path: str
    dbt_threads: int = 1
    lock_wait_s: float = 120.0  # how long to wait for another process (dbt, a notebook) to let go

    @contextlib.contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = self._open(read_only)
        try:
            yield con
        finally:
            con.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
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
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            first = next(iter(files_by_partition.values()))
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {table} AS "
                "SELECT *, NULL::DATE AS partition_date FROM read_parquet(?) LIMIT 0",
                [first],
            )
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
