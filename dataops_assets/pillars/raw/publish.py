"""Publishes a staged partition into immutable cold storage, atomically, with a manifest.

The data file is content-addressed (part-<sha256 prefix>.parquet), so it is written once and never
changed; the manifest is replaced in one atomic write and is what makes a version current. A crash
between the two leaves the previous manifest, and so the previous partition, in place. A file a
newer version supersedes stays on disk and is listed in the manifest's history, with when it was
superseded and the landing files it was made from: what changed is the difference.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from dataops_assets import layout
from dataops_assets.failpoints import failpoint
from dataops_assets.integrity import canonical_json, fingerprint
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.sources.model import Source


class NothingStaged(RuntimeError):
    pass


@dataclass(frozen=True)
class Published:
    manifest: dict
    changed: bool  # False when the partition already held exactly this data


def schema_of(source: Source) -> list[dict]:
    return [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in source.columns]


def read_manifest(
    cold_storage: ColdStorage, dataset: str, partition: str | None, zone: str = layout.RAW
) -> dict | None:
    """The partition's manifest (None when unpublished); BadManifest if it names a file it may not."""
    key = layout.manifest_key(dataset, partition, zone)
    return layout.checked_manifest(cold_storage.get_bytes(key), key) if cold_storage.exists(key) else None


def publish_partition(source: Source, partition: str | None, cold_storage: ColdStorage) -> Published:
    report_key = layout.staged_report_key(source.name, partition)
    if not cold_storage.exists(report_key):
        raise NothingStaged(
            f"nothing staged for {source.name} {partition or ''}: materialize ingestion/{source.name} first"
        )
    report = json.loads(cold_storage.get_bytes(report_key))
    data_key = layout.raw_file_key(source.name, partition, report["sha256"])
    current = read_manifest(cold_storage, source.name, partition)
    entry = {
        "path": data_key,
        "rows": report["rows_landed"],
        "bytes": report["bytes"],
        "sha256": report["sha256"],
    }
    schema = schema_of(source)
    manifest = {
        "dataset": source.name,
        "partition": partition,
        "files": [entry],
        "rows": entry["rows"],
        "bytes": entry["bytes"],
        "schema": schema,
        "schema_fingerprint": fingerprint(schema),
        "ingestion": {
            k: report[k]
            for k in ("files", "file_sha256", "rows_read", "rows_landed", "rows_quarantined", "reasons")
            if k in report
        },
    }
    # Same data *and* same accounting: nothing to publish (a new file of only bad rows changes the
    # counts but not the data, and the manifest must still tell the truth about it).
    return commit_version(
        cold_storage,
        layout.manifest_key(source.name, partition),
        manifest,
        current,
        lambda: _place_vouched(cold_storage, source.name, partition, data_key, report["sha256"]),
        made_from=lambda m: {"made_from": m["ingestion"].get("file_sha256") or m["ingestion"]["files"]},
    )


def _place_vouched(
    cold_storage: ColdStorage, dataset: str, partition: str | None, data_key: str, sha256: str
) -> None:
    """Publish only the bytes the report vouches for: the staged file may have been replaced since
    (an ingestion killed before writing its report, or one running beside this publish)."""
    staged_key = layout.staged_key(dataset, partition)
    if cold_storage.sha256(staged_key) != sha256:
        raise NothingStaged(
            f"the staged file for {dataset} {partition or ''} does not match its report (an ingestion "
            f"was interrupted or is running): materialize ingestion/{dataset} again"
        )
    cold_storage.copy(staged_key, data_key)


def commit_version(
    cold_storage: ColdStorage,
    manifest_key: str,
    manifest: dict,
    current: dict | None,
    place_data,
    made_from=lambda _manifest: {},
) -> Published:
    """Make `manifest` the partition's current version: its data file first, then the manifest.

    The previous version's files it no longer lists move to its history (they stay on disk), each
    with when it was superseded and `made_from(previous manifest)`; `place_data` writes the
    (content-addressed) data file, skipped when it is already there.
    """
    history = list(current.get("history", [])) if current else []
    listed = {f["path"] for f in manifest["files"]}
    if current:
        kept = {f["path"] for f in history}
        superseded = {"superseded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        history += [
            f | made_from(current) | superseded
            for f in current["files"]
            if f["path"] not in listed and f["path"] not in kept
        ]
    manifest = manifest | {"history": history}
    if manifest == current:
        return Published(current, changed=False)
    if not all(cold_storage.exists(path) for path in listed):
        place_data()
    failpoint("raw.before_manifest")
    cold_storage.put_bytes(manifest_key, canonical_json(manifest))
    return Published(manifest, changed=True)
