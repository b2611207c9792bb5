"""Hot rows archived to cold storage: one immutable Parquet file per table and day, with a manifest.

`archive/<table>/date=YYYY-MM-DD/part-<sha256>.parquet` + `_manifest.json` (rows, bytes, sha256,
schema and its fingerprint), published like a raw partition (raw/publish.py's `commit_version`):
content-addressed, manifest last, so archiving a day twice is a no-op and a crash leaves the previous
version. Columns get back their warehouse types (the hot store's recorded ones), so an archived
`flight_date` is a DATE again, not SQLite's text.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dataops_assets import layout
from dataops_assets.integrity import fingerprint, sha256_file
from dataops_assets.layout import BadManifest
from dataops_assets.pillars.raw.publish import Published, commit_version
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.sql import identifier, literal

if TYPE_CHECKING:
    import duckdb


def write_parquet(columns: list[tuple[str, str]], rows: list[tuple], key: list[str], target: Path) -> None:
    """Rows as Parquet with the columns' warehouse types, ordered by `key` (so equal data, equal bytes)."""
    import duckdb  # imported where used: the code location loads without it
    import pyarrow as pa

    names = [name for name, _ in columns]
    hot = pa.table({name: pa.array([row[i] for row in rows]) for i, name in enumerate(names)})
    typed = ", ".join(f"CAST({identifier(n)} AS {t}) AS {identifier(n)}" for n, t in columns)
    order = ", ".join(identifier(k) for k in key if k in names) or "ALL"
    con = duckdb.connect()
    try:
        con.register("hot", hot)
        con.execute(
            f"COPY (SELECT {typed} FROM hot ORDER BY {order}) TO {literal(str(target))} (FORMAT parquet)"
        )
    finally:
        con.close()


def read_archive_manifest(cold_storage: ColdStorage, table: str, day: str) -> dict | None:
    key = layout.archive_manifest_key(table, day)
    return layout.checked_manifest(cold_storage.get_bytes(key), key) if cold_storage.exists(key) else None


def archive_day(
    cold_storage: ColdStorage,
    table: str,
    day: str,
    columns: list[tuple[str, str]],
    rows: list[tuple],
    key: list[str],
) -> Published:
    """Archive one day of a hot table; the manifest it is now described by."""
    schema = [{"name": name, "type": type_} for name, type_ in columns]
    with tempfile.TemporaryDirectory(prefix="dataops-archive-") as workdir:
        local = Path(workdir) / "part.parquet"
        write_parquet(columns, rows, key, local)
        sha256 = sha256_file(local)
        data_key = layout.archive_file_key(table, day, sha256)
        manifest = {
            "dataset": table,
            "partition": day,
            "files": [{"path": data_key, "rows": len(rows), "bytes": local.stat().st_size, "sha256": sha256}],
            "rows": len(rows),
            "bytes": local.stat().st_size,
            "schema": schema,
            "schema_fingerprint": fingerprint(schema),
            "archived_from": "hot store",
        }
        return commit_version(
            cold_storage,
            layout.archive_manifest_key(table, day),
            manifest,
            read_archive_manifest(cold_storage, table, day),
            lambda: cold_storage.put_file(local, data_key),
        )


def archived_days(cold_storage: ColdStorage, table: str) -> list[str]:
    """Every day of `table` with an archive manifest, in order."""
    prefix = f"{layout.ARCHIVE}/{table}/"
    suffix = "/" + layout.MANIFEST
    return sorted(
        key[len(prefix) + len("date=") : -len(suffix)]
        for key in cold_storage.list_keys(prefix.rstrip("/"))
        if key.endswith(suffix)
    )


def archived_files(cold_storage: ColdStorage, table: str, start: str | None, end: str | None) -> list[dict]:
    """The current archive file of each day in start..end (inclusive; open ends allowed), with its day."""
    files = []
    for day in archived_days(cold_storage, table):
        if (start and day < start) or (end and day > end):
            continue
        manifest = read_archive_manifest(cold_storage, table, day)
        files += [entry | {"day": day} for entry in manifest["files"]] if manifest else []
    return files


def read_archive(
    con: duckdb.DuckDBPyConnection, cold_storage: ColdStorage, table: str, start: str | None, end: str | None
) -> duckdb.DuckDBPyRelation | None:
    """The archived rows of `table` for start..end as a DuckDB relation (None when nothing is archived).

    Reads only the files the manifests name, so a superseded version of a day is never read twice,
    and only the bytes whose sha256 the manifest recorded (BadManifest otherwise).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = archived_files(cold_storage, table, start, end)
    if not files:
        return None
    tables = [pq.read_table(pa.BufferReader(_verified(cold_storage, f))) for f in files]
    return con.from_arrow(pa.concat_tables(tables, promote_options="permissive"))


def _verified(cold_storage: ColdStorage, entry: dict) -> bytes:
    data = cold_storage.get_bytes(entry["path"])
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise BadManifest(f"{entry['path']} differs from its manifest (sha256): run `dataops verify`")
    return data
