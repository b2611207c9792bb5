"""Landing files that hold many days: each read once, its rows kept with the day they belong to.

A daily source whose landing glob has no `{date}` receives files that may each hold many days (a
monthly export, one file per sensor). Reading every such file for every day would read a year's file
365 times; instead a file is read once, when it first appears or when its content changes, and its
checked rows are kept in cold storage with their day (`ledger/<dataset>/rows/<sha16>.parquet`). The
ledger (`ledger/<dataset>/files.json`) records every file by name and content hash with the rows it
holds per day. A day is then assembled from the kept rows of the files that hold it, in file-name order
(a key an earlier file holds is a duplicate), so a late or changed file changes exactly the days it
touches, re-landing the same file changes nothing, and a file may leave the landing zone once read.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from dataops_assets import layout
from dataops_assets.integrity import canonical_json, sha256_file
from dataops_assets.pillars.ingestion.validate import FileRead, IngestOutcome, assemble_day, read_landed_file
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.landing_zone import LandingZone
from dataops_assets.sources.model import Source


def read_ledger(cold_storage: ColdStorage, dataset: str) -> dict[str, dict]:
    """Every landing file read so far, by name: sha256, version marker, rows per day, accounting."""
    key = layout.ledger_key(dataset)
    return json.loads(cold_storage.get_bytes(key))["files"] if cold_storage.exists(key) else {}


def _record(cold_storage: ColdStorage, dataset: str, entries: dict[str, dict]) -> None:
    # Read again just before writing: entries another run recorded meanwhile stay (each is one file's).
    files = read_ledger(cold_storage, dataset) | entries
    cold_storage.put_bytes(layout.ledger_key(dataset), canonical_json({"dataset": dataset, "files": files}))


def land_new_files(
    source: Source, landing: LandingZone, cold_storage: ColdStorage, workdir: Path
) -> tuple[dict[str, dict], list[FileRead]]:
    """Read the landing files the ledger does not hold yet, or holds in another version; return the
    ledger with them and what was read (each read's `previous_days`: the days its earlier version held)."""
    ledger = read_ledger(cold_storage, source.name)
    entries: dict[str, dict] = {}
    reads: list[FileRead] = []
    try:
        for name, marker in landing.listing(source.landing):
            known = ledger.get(name)
            if known and known["marker"] == marker:
                continue  # not touched since it was read
            path = landing.fetch(name)
            sha256 = sha256_file(path)
            if known and known["sha256"] == sha256:
                entries[name] = known | {"marker": marker}  # touched, same bytes: nothing to read
                continue
            rows, quarantine = workdir / f"{sha256}.parquet", workdir / f"{sha256}-quarantine.parquet"
            read = read_landed_file(source, path, name, rows, quarantine)
            cold_storage.put_file(rows, layout.ledger_rows_key(source.name, sha256))
            cold_storage.put_file(quarantine, layout.ledger_quarantine_key(source.name, sha256))
            read.previous_days = dict(known["days"]) if known else {}
            entries[name] = {
                "sha256": sha256,
                "marker": marker,
                "rows_read": read.rows_read,
                "days": read.days,
                "undated": read.undated,
                "reasons": dict(read.reasons),
                "schema_drift": read.drift,
                "read_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "versions_before": [*known.get("versions_before", []), known["sha256"]] if known else [],
            }
            reads.append(read)
    finally:  # what was read is kept even when a later file is refused
        if entries:
            _record(cold_storage, source.name, entries)
    return ledger | entries, reads


def assemble(
    source: Source,
    day: str,
    ledger: dict[str, dict],
    cold_storage: ColdStorage,
    workdir: Path,
    landed: Path,
    quarantined: Path,
) -> IngestOutcome | None:
    """`day` from the kept rows of the ledger's files that hold it; None when no file holds it."""
    holders = sorted(name for name, entry in ledger.items() if day in entry["days"])
    if not holders:
        return None
    pieces = []
    for name in holders:
        sha256 = ledger[name]["sha256"]
        local = workdir / f"rows-{sha256}.parquet"
        if not local.exists():  # once per file and step, however many days it holds
            local.write_bytes(cold_storage.get_bytes(layout.ledger_rows_key(source.name, sha256)))
        pieces.append((name, local))
    outcome = assemble_day(source, dt.date.fromisoformat(day), pieces, landed, quarantined)
    outcome.versions = {name: ledger[name]["sha256"] for name in holders}
    return outcome
