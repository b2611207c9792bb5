"""Snapshots: a named, immutable manifest of the cold files a set of partitions held at one moment.

Creating one reads only the raw manifests of the partitions it pins and copies no data (zero-copy,
like an Iceberg tag): raw files are content-addressed and never overwritten, so pinning a path pins
its bytes. Re-materializing a pinned partition writes a new file and lists the old one in the
partition's history; the snapshot keeps pointing at the old one.

The snapshot's id is the hash of what it pins (datasets, window, files), not of its name or creation
time: two snapshots of the same data share an id, and any change to the data changes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataops_assets import layout
from dataops_assets.curated import curated_models
from dataops_assets.days import day_window
from dataops_assets.integrity import canonical_json, fingerprint
from dataops_assets.names import UnsafeName, checked_name
from dataops_assets.pillars.raw.publish import read_manifest
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.sources.catalog import get_source, load_sources
from dataops_assets.yaml_config import InvalidConfig

if TYPE_CHECKING:  # imported where used: the code location loads without it
    import pyarrow as pa

SNAPSHOTS = "snapshots"  # cold storage prefix of the snapshot manifests
FORMAT = 1

Progress = Callable[[Iterable, int, str], Iterable]  # (items, total, description) -> the same items


def no_progress(items: Iterable, total: int, description: str) -> Iterable:
    return items


class SnapshotError(ValueError):
    """A snapshot cannot be created, found or read; the message says why in one line."""


def check_name(name: str) -> str:
    try:
        return checked_name("snapshot", name)
    except UnsafeName as unsafe:
        raise SnapshotError(str(unsafe)) from None


def snapshot_key(name: str) -> str:
    return f"{SNAPSHOTS}/{check_name(name)}.json"


@dataclass(frozen=True)
class Snapshot:
    name: str
    id: str
    created_at: str
    content: dict  # what the id hashes: datasets, window, pinned files, schemas

    @property
    def files(self) -> list[dict]:
        return self.content["files"]

    @property
    def datasets(self) -> list[str]:
        return self.content["datasets"]

    @property
    def rows(self) -> int:
        return sum(f["rows"] for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f["bytes"] for f in self.files)

    def files_of(self, dataset: str) -> list[dict]:
        return [f for f in self.files if f.get("dataset") == dataset]

    def to_json(self) -> bytes:
        return canonical_json(
            {"format": FORMAT, "name": self.name, "id": self.id, "created_at": self.created_at}
            | {"content": self.content}
        )

    @classmethod
    def from_json(cls, data: bytes, key: str) -> Snapshot:
        try:
            raw = json.loads(data)
            snapshot = cls(
                name=raw["name"], id=raw["id"], created_at=raw["created_at"], content=raw["content"]
            )
            if not all(isinstance(f, dict) for f in snapshot.files):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            raise SnapshotError(f"{key} is not a snapshot manifest this platform wrote") from None
        return snapshot


PINNABLE_ZONES = (layout.RAW, layout.CURATED)


def pinned_problem(entry: dict) -> str | None:
    """Why a snapshot's file entry is not a raw (or curated) file of its dataset and partition (see
    layout.entry_problem), or None: checked before any pinned file is read, exported or verified."""
    zone = entry.get("zone", layout.RAW)
    if zone not in PINNABLE_ZONES:
        return f"zone {str(zone)[:40]!r} is not one a snapshot pins ({', '.join(PINNABLE_ZONES)})"
    try:
        directory = layout.partition_prefix(zone, entry.get("dataset"), entry.get("partition"))
    except UnsafeName as unsafe:
        return str(unsafe)
    return layout.entry_problem(entry, directory)


def _checked_files(snapshot: Snapshot, files: list[dict]) -> list[dict]:
    for entry in files:
        if problem := pinned_problem(entry):
            raise SnapshotError(
                f"snapshot {snapshot.name} pins a bad entry: {problem}: run `dataops snapshot verify`"
            )
    return files


def _days(start: str, end: str) -> list[str]:
    try:
        return [day.isoformat() for day in day_window(start, end)]
    except ValueError as error:
        raise SnapshotError(str(error)) from None


def _zone_of(dataset: str) -> tuple[str, bool]:
    """Where a dataset's partitions are in cold storage, and whether it is daily: a declared source's
    in raw/, a curated dbt model's (dataops_assets/curated.py) in curated/."""
    try:
        return layout.RAW, get_source(dataset).is_daily
    except InvalidConfig:
        curated = curated_models()
        if dataset in curated:
            return layout.CURATED, True
        sources = ", ".join(s.name for s in load_sources())
        raise SnapshotError(
            f"unknown dataset {dataset!r}; declared sources: {sources}; curated models: "
            f"{', '.join(curated) or 'none'}"
        ) from None


def pin(cold_storage: ColdStorage, datasets: list[str], start: str, end: str) -> dict:
    """What a snapshot of these partitions would pin now: read from the raw (or curated) manifests only."""
    if not datasets:
        raise SnapshotError("name at least one dataset")
    days = _days(start, end)
    files, schemas, missing = [], {}, []
    for dataset in sorted(set(datasets)):
        zone, daily = _zone_of(dataset)
        for partition in days if daily else [None]:
            manifest = read_manifest(cold_storage, dataset, partition, zone)
            if manifest is None:
                missing.append(f"{dataset} {partition or layout.UNPARTITIONED}")
                continue
            schemas[manifest["schema_fingerprint"]] = manifest["schema"]
            files += [
                {
                    "dataset": dataset,
                    "partition": partition,
                    "schema_fingerprint": manifest["schema_fingerprint"],
                }
                # Raw entries carry no zone, so a raw-only snapshot's id is what it was before curated data.
                | ({"zone": zone} if zone != layout.RAW else {})
                | {k: entry[k] for k in ("path", "sha256", "rows", "bytes")}
                for entry in manifest["files"]
            ]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise SnapshotError(
            f"{len(missing)} partition(s) are not in cold storage ({shown}): run the pipeline for them first"
        )
    return {
        "datasets": sorted(set(datasets)),
        "window": {"start": days[0], "end": days[-1]},
        "files": files,
        "schemas": schemas,
    }


def create_snapshot(
    cold_storage: ColdStorage, name: str, datasets: list[str], start: str, end: str
) -> Snapshot:
    key = snapshot_key(name)
    if cold_storage.exists(key):
        existing = load_snapshot(cold_storage, name)
        raise SnapshotError(
            f"snapshot {name} already exists (id {existing.id[:12]}); snapshots are immutable: choose another name"
        )
    content = pin(cold_storage, datasets, start, end)
    snapshot = Snapshot(
        name=name,
        id=fingerprint(content),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        content=content,
    )
    cold_storage.put_bytes(key, snapshot.to_json())
    return snapshot


def load_snapshot(cold_storage: ColdStorage, name: str) -> Snapshot:
    key = snapshot_key(name)
    if not cold_storage.exists(key):
        known = ", ".join(s.name for s in list_snapshots(cold_storage)) or "none yet"
        raise SnapshotError(f"no snapshot named {name!r} (snapshots: {known})")
    return Snapshot.from_json(cold_storage.get_bytes(key), key)


def list_snapshots(cold_storage: ColdStorage) -> list[Snapshot]:
    return [
        Snapshot.from_json(cold_storage.get_bytes(key), key)
        for key in cold_storage.list_keys(f"{SNAPSHOTS}/")  # the slash: an S3 prefix, not a name start
        if key.endswith(".json")
    ]


@dataclass
class SnapshotVerification:
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)


def verify_snapshot(
    cold_storage: ColdStorage, snapshot: Snapshot, progress: Progress = no_progress
) -> SnapshotVerification:
    """Re-hash every pinned file; each missing or changed one is a problem naming the file."""
    report = SnapshotVerification()
    if fingerprint(snapshot.content) != snapshot.id:
        report.problems.append(f"manifest: snapshots/{snapshot.name}.json no longer hashes to its id")
    for entry in progress(snapshot.files, len(snapshot.files), f"verifying {snapshot.name}"):
        report.files_checked += 1
        if problem := pinned_problem(entry):  # a tampered entry is a finding, never a read
            report.problems.append(f"bad entry: {problem}")
            continue
        if not cold_storage.exists(entry["path"]):
            report.problems.append(f"missing: {entry['path']}")
            continue
        data = cold_storage.get_bytes(entry["path"])
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            report.problems.append(f"changed: {entry['path']} (sha256 differs from the snapshot)")
    return report


def export_snapshot(
    cold_storage: ColdStorage, snapshot: Snapshot, target: ColdStorage, progress: Progress = no_progress
) -> int:
    """Copy the pinned files, a raw manifest per partition and the snapshot into `target`; bytes copied.

    The result is a cold storage in the pipeline's own layout, so a sandbox pointed at it can run
    experiments on the snapshot, and `dataops verify` checks it. Files already there are skipped.
    """
    copied = 0
    _checked_files(snapshot, snapshot.files)
    for entry in progress(snapshot.files, len(snapshot.files), f"exporting {snapshot.name}"):
        if not (target.exists(entry["path"]) and _sha256(target, entry["path"]) == entry["sha256"]):
            target.put_bytes(entry["path"], cold_storage.get_bytes(entry["path"]))
            copied += entry["bytes"]
    for entry in snapshot.files:
        _point_manifest_at(target, snapshot, entry)
    target.put_bytes(snapshot_key(snapshot.name), snapshot.to_json())
    return copied


def _sha256(storage: ColdStorage, key: str) -> str:
    return hashlib.sha256(storage.get_bytes(key)).hexdigest()


def _point_manifest_at(target: ColdStorage, snapshot: Snapshot, entry: dict) -> None:
    """Make the pinned file the partition's current version in `target`, keeping any other in history."""
    zone = entry.get("zone", layout.RAW)
    current = read_manifest(target, entry["dataset"], entry["partition"], zone)
    pinned = {k: entry[k] for k in ("path", "rows", "bytes", "sha256")}
    history = []
    if current:
        history = [f for f in current["files"] + current.get("history", []) if f["path"] != pinned["path"]]
    schema = snapshot.content["schemas"][entry["schema_fingerprint"]]
    manifest = {
        "dataset": entry["dataset"],
        "partition": entry["partition"],
        "files": [pinned],
        "rows": pinned["rows"],
        "bytes": pinned["bytes"],
        "schema": schema,
        "schema_fingerprint": entry["schema_fingerprint"],
        "exported_from": {"snapshot": snapshot.name, "id": snapshot.id},
        "history": history,
    }
    target.put_bytes(
        layout.manifest_key(entry["dataset"], entry["partition"], zone), canonical_json(manifest)
    )


def read_dataset(cold_storage: ColdStorage, snapshot: Snapshot, dataset: str) -> pa.Table | None:
    """Every pinned file of `dataset`, as one table (None when the snapshot does not pin it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = _checked_files(snapshot, snapshot.files_of(dataset))
    if not files:
        return None
    tables = []
    for entry in files:
        data = cold_storage.get_bytes(entry["path"])
        # An experiment must never run on bytes other than the ones pinned.
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise SnapshotError(
                f"{entry['path']} differs from snapshot {snapshot.name}: run `dataops snapshot verify`"
            )
        tables.append(pq.read_table(pa.BufferReader(data)))
    return pa.concat_tables(tables, promote_options="permissive")
