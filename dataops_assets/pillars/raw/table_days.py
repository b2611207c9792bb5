"""Days of a table published to cold storage: one immutable Parquet file per day, with a manifest.

`<zone>/<table>/date=YYYY-MM-DD/part-<sha256>.parquet` + `_manifest.json` (rows, bytes, sha256,
schema and its fingerprint), published like a raw partition (publish.py's `commit_version`):
content-addressed, manifest last, so publishing a day twice is a no-op and a crash leaves the previous
version. Two flows back into cold storage use it: hot rows past the retention window (`archive/`) and
curated dbt models exported per day (`curated/`). Columns keep their warehouse types (the recorded
ones), so a `flight_date` is a DATE, not SQLite's text.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dataops_assets import layout
from dataops_assets.integrity import fingerprint, sha256_file
from dataops_assets.layout import BadManifest
from dataops_assets.pillars.raw.publish import Published, commit_version, read_manifest
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.sql import identifier, literal

if TYPE_CHECKING:
    import duckdb


def write_parquet(columns: list[tuple[str, str]], rows: list[tuple], key: list[str], target: Path) -> None:
    """Rows as Parquet with the columns' warehouse types, ordered by `key` (every column when it is
    empty), so equal data gives equal bytes."""
    import duckdb  # imported where used: the code location loads without it
    import pyarrow as pa

    names = [name for name, _ in columns]
    table = pa.table({name: pa.array([row[i] for row in rows]) for i, name in enumerate(names)})
    typed = ", ".join(f"CAST({identifier(n)} AS {t}) AS {identifier(n)}" for n, t in columns)
    order = ", ".join(identifier(k) for k in key if k in names) or "ALL"
    con = duckdb.connect()
    try:
        con.register("day_rows", table)
        con.execute(
            f"COPY (SELECT {typed} FROM day_rows ORDER BY {order}) TO {literal(str(target))} (FORMAT parquet)"
        )
    finally:
        con.close()


def publish_day(
    cold_storage: ColdStorage,
    zone: str,
    table: str,
    day: str,
    columns: list[tuple[str, str]],
    rows: list[tuple],
    key: list[str],
    provenance: dict,
) -> Published:
    """Publish one day of `table` into `zone`; the manifest it is now described by. `provenance`
    joins the manifest and says where the rows came from (e.g. {"archived_from": "hot store"})."""
    schema = [{"name": name, "type": type_} for name, type_ in columns]
    with tempfile.TemporaryDirectory(prefix=f"dataops-{zone}-") as workdir:
        local = Path(workdir) / "part.parquet"
        write_parquet(columns, rows, key, local)
        sha256 = sha256_file(local)
        data_key = layout.raw_file_key(table, day, sha256, zone)
        manifest = {
            "dataset": table,
            "partition": day,
            "files": [{"path": data_key, "rows": len(rows), "bytes": local.stat().st_size, "sha256": sha256}],
            "rows": len(rows),
            "bytes": local.stat().st_size,
            "schema": schema,
            "schema_fingerprint": fingerprint(schema),
        } | provenance
        return commit_version(
            cold_storage,
            layout.manifest_key(table, day, zone),
            manifest,
            read_manifest(cold_storage, table, day, zone),
            lambda: cold_storage.put_file(local, data_key),
        )


def published_days(cold_storage: ColdStorage, zone: str, table: str) -> list[str]:
    """Every day of `table` with a manifest in `zone`, in order."""
    prefix = f"{zone}/{table}/"
    suffix = "/" + layout.MANIFEST
    return sorted(
        key[len(prefix) + len("date=") : -len(suffix)]
        for key in cold_storage.list_keys(prefix.rstrip("/"))
        if key.endswith(suffix)
    )


def published_files(
    cold_storage: ColdStorage, zone: str, table: str, start: str | None, end: str | None
) -> list[dict]:
    """The current file of each day in start..end (inclusive; open ends allowed), with its day."""
    files = []
    for day in published_days(cold_storage, zone, table):
        if (start and day < start) or (end and day > end):
            continue
        manifest = read_manifest(cold_storage, table, day, zone)
        files += [entry | {"day": day} for entry in manifest["files"]] if manifest else []
    return files


def read_days(
    con: duckdb.DuckDBPyConnection,
    cold_storage: ColdStorage,
    zone: str,
    table: str,
    start: str | None,
    end: str | None,
) -> duckdb.DuckDBPyRelation | None:
    """The rows of `table` in `zone` for start..end as a DuckDB relation (None when there are none).

    Reads only the files the manifests name, so a superseded version of a day is never read twice,
    and only the bytes whose sha256 the manifest recorded (BadManifest otherwise).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = published_files(cold_storage, zone, table, start, end)
    if not files:
        return None
    tables = [pq.read_table(pa.BufferReader(_verified(cold_storage, f))) for f in files]
    return con.from_arrow(pa.concat_tables(tables, promote_options="permissive"))


def _verified(cold_storage: ColdStorage, entry: dict) -> bytes:
    data = cold_storage.get_bytes(entry["path"])
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise BadManifest(f"{entry['path']} differs from its manifest (sha256): run `dataops verify`")
    return data
