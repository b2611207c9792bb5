"""The warehouse: where raw partitions are loaded for dbt, and where the marts are read from.

DuckDB here (sandbox, testing). DuckDB admits one process per file while any writes, so every method
opens, works and closes: the file is never held between steps (dbt runs in its own process).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import dagster as dg

if TYPE_CHECKING:  # imported where used: the code location loads without it
    import duckdb


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


class DuckDBWarehouse(Warehouse):
    path: str
    dbt_threads: int = 1

    @contextlib.contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        import duckdb

        con = duckdb.connect(self.path, read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    def load_partitions(self, dataset: str, files_by_partition: dict[str, list[str]]) -> int:
        table = f"raw.{dataset}"
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
