"""Hot rows archived to cold storage (`archive/<table>/date=…`): one immutable Parquet file per table
and day with a manifest, published as every table day is (pillars/raw/table_days.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataops_assets.layout import ARCHIVE
from dataops_assets.pillars.raw import table_days
from dataops_assets.pillars.raw.publish import Published, read_manifest
from dataops_assets.resources.cold_storage import ColdStorage

if TYPE_CHECKING:
    import duckdb


def read_archive_manifest(cold_storage: ColdStorage, table: str, day: str) -> dict | None:
    return read_manifest(cold_storage, table, day, ARCHIVE)


def archive_day(
    cold_storage: ColdStorage,
    table: str,
    day: str,
    columns: list[tuple[str, str]],
    rows: list[tuple],
    key: list[str],
) -> Published:
    """Archive one day of a hot table; the manifest it is now described by."""
    return table_days.publish_day(
        cold_storage, ARCHIVE, table, day, columns, rows, key, {"archived_from": "hot store"}
    )


def archived_files(cold_storage: ColdStorage, table: str, start: str | None, end: str | None) -> list[dict]:
    """The current archive file of each day in start..end (inclusive; open ends allowed), with its day."""
    return table_days.published_files(cold_storage, ARCHIVE, table, start, end)


def read_archive(
    con: duckdb.DuckDBPyConnection, cold_storage: ColdStorage, table: str, start: str | None, end: str | None
) -> duckdb.DuckDBPyRelation | None:
    """The archived rows of `table` for start..end as a DuckDB relation (None when nothing is archived)."""
    return table_days.read_days(con, cold_storage, ARCHIVE, table, start, end)
