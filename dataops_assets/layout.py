"""Where each zone keeps a dataset's partition in cold storage (Hive layout: date=YYYY-MM-DD)."""

from __future__ import annotations

import json
import re

from dataops_assets.names import checked_name, checked_partition

STAGING = "_staging"  # ingestion's validated output, waiting to be published
RAW = "raw"  # immutable, published partitions with a manifest each
QUARANTINE = "quarantine"  # rows that could not land, with a reason each
UNPARTITIONED = "full"  # the one 'partition' of a dimension replaced as a whole
ARCHIVE = "archive"  # hot rows past the retention window, moved back to cold storage
CURATED = "curated"  # curated dbt models exported per day (processing -> cold), for snapshots to pin
LEDGER = "ledger"  # the landing files of sources whose files hold many days: each read once, by day

MANIFEST = "_manifest.json"
PUBLISHED_ZONES = (RAW, ARCHIVE, CURATED)  # the zones of manifested, immutable partitions


def partition_prefix(zone: str, dataset: str, partition: str | None) -> str:
    # Every key of a partition is built here: the one place a hostile name must not get past.
    dataset = checked_name("dataset", dataset)
    return f"{zone}/{dataset}/" + (f"date={checked_partition(partition)}" if partition else UNPARTITIONED)


def manifest_key(dataset: str, partition: str | None, zone: str = RAW) -> str:
    return f"{partition_prefix(zone, dataset, partition)}/{MANIFEST}"


def raw_file_key(dataset: str, partition: str | None, sha256: str, zone: str = RAW) -> str:
    # Content-addressed: re-publishing identical data is a no-op, and different data never
    # overwrites a file a reader (or a snapshot) may hold.
    return f"{partition_prefix(zone, dataset, partition)}/part-{sha256[:16]}.parquet"


def archive_manifest_key(table: str, partition: str) -> str:
    return manifest_key(table, partition, ARCHIVE)


def archive_file_key(table: str, partition: str, sha256: str) -> str:
    return raw_file_key(table, partition, sha256, ARCHIVE)


def staged_key(dataset: str, partition: str | None) -> str:
    return f"{partition_prefix(STAGING, dataset, partition)}/part.parquet"


def staged_report_key(dataset: str, partition: str | None) -> str:
    return f"{partition_prefix(STAGING, dataset, partition)}/report.json"


def quarantine_key(dataset: str, partition: str | None) -> str:
    return f"{partition_prefix(QUARANTINE, dataset, partition)}/quarantine.parquet"


# --- reading back what the platform wrote ----------------------------------------------------------
# Manifests, snapshots and ledger records live in storage that more people can write than should
# decide what is read: every file entry read from one passes `entry_problem` before it is used.

SHA256 = re.compile(r"[0-9a-f]{64}")


class BadManifest(ValueError):
    """A manifest (or a file it names) is not what the platform wrote; the message says which and how."""


def entry_problem(entry: object, directory: str, stem: str = "part") -> str | None:
    """Why `entry` is not a file entry the platform wrote into `directory`, or None.

    The platform writes {path, sha256, rows, bytes} whose path is exactly
    `<directory>/<stem>-<sha256[:16]>.parquet`, content-addressed: so a tampered path can neither climb
    out (`../`), nor name another partition's or table's file, nor be a glob a reader would expand.
    """
    if not isinstance(entry, dict):
        return f"an entry that is not an object: {str(entry)[:80]!r}"
    path, sha256 = entry.get("path"), entry.get("sha256")
    if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
        return f"{str(path)[:200]!r}: its sha256 {str(sha256)[:80]!r} is not 64 hex digits"
    expected = f"{directory}/{stem}-{sha256[:16]}.parquet"
    if path != expected:
        return f"path {str(path)[:200]!r} is not {expected!r}, the one file this entry can name"
    for count in ("rows", "bytes"):
        value = entry.get(count)
        if type(value) is not int or value < 0:
            return f"{path!r}: {count} {str(value)[:40]!r} is not a count"
    return None


def checked_entry(entry: object, directory: str, stem: str = "part") -> dict:
    problem = entry_problem(entry, directory, stem)
    if problem:
        raise BadManifest(problem)
    return entry  # type: ignore[return-value]


def manifest_entries(data: bytes, key: str) -> tuple[dict, list[dict], list[str]]:
    """The partition manifest read from `key`, its file entries that are sound (current, then
    history: each must lie beside the manifest) and the problem of each other one. BadManifest when
    it is not a manifest at all."""
    try:
        manifest = json.loads(data)
    except ValueError:
        raise BadManifest(f"{key}: not JSON") from None
    entries = [manifest.get(k, []) for k in ("files", "history")] if isinstance(manifest, dict) else [None]
    if not all(isinstance(e, list) for e in entries):
        raise BadManifest(f"{key}: not a manifest (no list of files)")
    directory = key.rsplit("/", 1)[0]
    sound, problems = [], []
    for entry in entries[0] + entries[1]:
        problem = entry_problem(entry, directory)
        sound += [] if problem else [entry]
        problems += [problem] if problem else []
    return manifest, sound, problems


def checked_manifest(data: bytes, key: str) -> dict:
    """The manifest at `key`, or BadManifest naming it and its first problem."""
    manifest, _, problems = manifest_entries(data, key)
    if problems:
        raise BadManifest(f"{key}: {problems[0]}: run `dataops verify`")
    return manifest


def ledger_key(dataset: str) -> str:
    """The ledger of a dataset's landing files (name, sha256, the days each holds)."""
    return f"{LEDGER}/{checked_name('dataset', dataset)}/files.json"


def ledger_rows_key(dataset: str, sha256: str) -> str:
    """A landing file's rows as read once, each with its day (content-addressed by the file's sha256)."""
    return f"{LEDGER}/{checked_name('dataset', dataset)}/rows/{_sha(sha256)}.parquet"


def ledger_quarantine_key(dataset: str, sha256: str) -> str:
    """A landing file's rows that belong to no day (no partition date, or a line that does not split)."""
    return f"{QUARANTINE}/{checked_name('dataset', dataset)}/files/{_sha(sha256)}.parquet"


def _sha(sha256: str) -> str:
    if not SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return sha256[:16]
