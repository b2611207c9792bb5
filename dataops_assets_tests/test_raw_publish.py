"""Publishing to cold storage is atomic: a crash mid-publish leaves the previous partition current."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import pytest

from dataops_assets import layout
from dataops_assets.integrity import canonical_json, sha256_file
from dataops_assets.pillars.ingestion.assets import build_ingestion_asset
from dataops_assets.pillars.raw.publish import NothingStaged, publish_partition, read_manifest
from dataops_assets.pillars.raw.verify import verify_cold_storage
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.landing_zone import LocalLandingZone
from dataops_assets.sources.catalog import get_source

DAY = "2013-01-02"
SOURCE = get_source("airlines")  # any source: the publish logic does not depend on its schema


def stage(storage: LocalColdStorage, tmp_path: Path, rows: int) -> None:
    """Stage a landed file as ingestion does: the data, then the report that vouches for it."""
    import duckdb

    local = tmp_path / f"staged-{rows}.parquet"
    duckdb.execute(
        f"COPY (SELECT 'C' || i AS carrier, 'Airline ' || i AS name FROM range({rows}) t(i)) TO '{local}' (FORMAT parquet)"
    )
    storage.put_file(local, layout.staged_key(SOURCE.name, DAY))
    report = {
        "files": ["airlines/x.csv"],
        "rows_read": rows,
        "rows_landed": rows,
        "rows_quarantined": 0,
        "reasons": {},
        "sha256": sha256_file(local),
        "bytes": local.stat().st_size,
    }
    storage.put_bytes(layout.staged_report_key(SOURCE.name, DAY), canonical_json(report))


def test_publishing_the_same_data_twice_changes_nothing(tmp_path):
    storage = LocalColdStorage(root=str(tmp_path / "cold"))
    stage(storage, tmp_path, 3)
    first = publish_partition(SOURCE, DAY, storage)
    second = publish_partition(SOURCE, DAY, storage)
    assert first.changed and not second.changed
    assert first.manifest == second.manifest


def test_a_crash_before_the_manifest_leaves_the_old_version_and_a_rerun_completes(tmp_path, monkeypatch):
    storage = LocalColdStorage(root=str(tmp_path / "cold"))
    stage(storage, tmp_path, 3)
    old = publish_partition(SOURCE, DAY, storage).manifest

    stage(storage, tmp_path, 5)
    real_put_bytes = LocalColdStorage.put_bytes

    def crash_on_manifest(self, key, data):
        if key.endswith(layout.MANIFEST):
            raise KeyboardInterrupt("killed mid-publish")
        return real_put_bytes(self, key, data)

    monkeypatch.setattr(LocalColdStorage, "put_bytes", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        publish_partition(SOURCE, DAY, storage)
    assert read_manifest(storage, SOURCE.name, DAY) == old  # readers still see the complete old version
    assert not list((tmp_path / "cold").rglob("*.tmp"))

    monkeypatch.setattr(LocalColdStorage, "put_bytes", real_put_bytes)
    new = publish_partition(SOURCE, DAY, storage).manifest
    assert new["rows"] == 5
    # The superseded file is kept and still listed, with when and from which landing files it was made.
    [superseded] = new["history"]
    assert {k: superseded[k] for k in old["files"][0]} == old["files"][0]
    assert superseded["made_from"] == old["ingestion"]["files"] and superseded["superseded_at"]
    assert verify_cold_storage(storage).problems == []


def test_publishing_before_ingestion_says_what_to_do(tmp_path):
    with pytest.raises(NothingStaged, match="materialize ingestion/airlines first"):
        publish_partition(SOURCE, DAY, LocalColdStorage(root=str(tmp_path)))


def test_a_day_without_landing_files_fails_naming_the_day(tmp_path):
    result = dg.materialize(
        [build_ingestion_asset(get_source("flights"), dg.DailyPartitionsDefinition(start_date="2013-01-01"))],
        partition_key=DAY,
        resources={
            "landing": LocalLandingZone(root=str(tmp_path)),
            "cold_storage": LocalColdStorage(root=str(tmp_path / "cold")),
        },
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert f"no landing files for flights {DAY}" in failure.step_failure_data.user_failure_data.description
    assert not (tmp_path / "cold" / layout.STAGING).exists()


def test_new_quarantined_rows_update_the_manifest_even_when_the_data_is_the_same(tmp_path):
    storage = LocalColdStorage(root=str(tmp_path / "cold"))
    stage(storage, tmp_path, 3)
    publish_partition(SOURCE, DAY, storage)
    report = json.loads(storage.get_bytes(layout.staged_report_key(SOURCE.name, DAY)))
    report |= {"rows_read": 5, "rows_quarantined": 2, "reasons": {"name: cannot read": 2}}
    storage.put_bytes(layout.staged_report_key(SOURCE.name, DAY), canonical_json(report))

    again = publish_partition(SOURCE, DAY, storage)
    assert again.changed
    assert again.manifest["ingestion"]["rows_read"] == 5
    assert again.manifest["history"] == []  # the data file itself did not change


def test_a_staged_file_its_report_does_not_vouch_for_is_never_published(tmp_path):
    """Ingestion killed between the staged file and its report leaves the old report beside new data."""
    storage = LocalColdStorage(root=str(tmp_path / "cold"))
    stage(storage, tmp_path, 3)
    report = storage.get_bytes(layout.staged_report_key(SOURCE.name, DAY))
    stage(storage, tmp_path, 5)
    storage.put_bytes(layout.staged_report_key(SOURCE.name, DAY), report)  # the 3-row report, 5-row data

    with pytest.raises(
        NothingStaged, match="does not match its report .* materialize ingestion/airlines again"
    ):
        publish_partition(SOURCE, DAY, storage)
    assert read_manifest(storage, SOURCE.name, DAY) is None
    assert storage.list_keys(layout.RAW) == []
    assert verify_cold_storage(storage).problems == []


def test_verify_tells_a_file_left_by_an_interrupted_publish_from_a_stray_or_changed_one(tmp_path):
    storage = LocalColdStorage(root=str(tmp_path / "cold"))
    stage(storage, tmp_path, 3)
    staged = storage.get_bytes(layout.staged_key(SOURCE.name, DAY))
    left = layout.raw_file_key(SOURCE.name, DAY, hashlib.sha256(staged).hexdigest())
    storage.put_bytes(left, staged)  # the data file is in place, the manifest never came
    forged = layout.raw_file_key(SOURCE.name, "2013-01-03", "0" * 64)
    storage.put_bytes(forged, staged)  # a content-addressed name its content does not match

    report = verify_cold_storage(storage)
    assert report.unpublished == [left]
    assert report.problems == [f"extra: {forged} (in no manifest)"]
    publish_partition(SOURCE, DAY, storage)  # the next publish adopts the file
    assert verify_cold_storage(storage).unpublished == []
