"""Where each zone keeps a dataset's partition in cold storage (Hive layout: date=YYYY-MM-DD)."""

from __future__ import annotations

import re

from dataops_assets.names import checked_name, checked_partition

STAGING = "_staging"  # ingestion's validated output, waiting to be published
RAW = "raw"  # immutable, published partitions with a manifest each
QUARANTINE = "quarantine"  # rows that could not land, with a reason each
UNPARTITIONED = "full"  # the one 'partition' of a dimension replaced as a whole
ARCHIVE = "archive"  # hot rows past the retention window, moved back to cold storage
LEDGER = "ledger"  # the landing files of sources whose files hold many days: each read once, by day

MANIFEST = "_manifest.json"


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
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return sha256[:16]
