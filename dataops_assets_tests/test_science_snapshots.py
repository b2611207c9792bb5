"""Snapshots: zero-copy pins of cold files that verify, survive re-materialization and export.

Reads the cold storage of the session's shared pipeline run; tests that change files work on a copy.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dataops_assets.cli.main import main
from dataops_assets.integrity import fingerprint
from dataops_assets.science.snapshots import SnapshotError, check_name

DATASETS = ["flights", "planes", "weather"]
WINDOW = ("2013-01-01", "2013-01-03")


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "Q1", "", "1st", "x" * 64, "name.json", "with space", "snap-1"]
)
def test_bad_snapshot_names_are_refused(name):
    with pytest.raises(SnapshotError, match="snapshot name .* is not allowed"):
        check_name(name)


def test_bad_name_is_a_one_line_cli_error_and_writes_nothing(testing_root):
    result = CliRunner().invoke(
        main,
        [
            "snapshot",
            "create",
            "../../etc",
            "--datasets",
            "flights",
            "--start",
            WINDOW[0],
            "--end",
            WINDOW[1],
        ],
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: snapshot name '../../etc' is not allowed: use lower-case letters, digits and _, "
        "starting with a letter, at most 63 characters"
    )
    assert not (testing_root / "etc").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["snapshot"],
        ["snapshot", "create"],
        ["snapshot", "list"],
        ["snapshot", "show"],
        ["snapshot", "verify"],
        ["snapshot", "export"],
        ["experiment"],
        ["experiment", "run"],
        ["experiment", "compare"],
        ["experiment", "promote"],
    ],
)
def test_every_science_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: main" in result.output


# --- on the shared pipeline run -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cold(pipeline_run, testing_env):
    from dataops_assets.resources.factory import open_resource

    return open_resource(testing_env, "cold_storage")


@pytest.fixture(scope="module")
def frozen(cold):
    from dataops_assets.science.snapshots import create_snapshot

    return create_snapshot(cold, "snapshots_test", DATASETS, *WINDOW)


def test_a_snapshot_pins_the_current_files_and_copies_nothing(cold, frozen):
    from dataops_assets.pillars.raw.publish import read_manifest

    expected = {
        read_manifest(cold, "flights", day)["files"][0]["path"]
        for day in ("2013-01-01", "2013-01-02", "2013-01-03")
    }
    pinned = {f["path"] for f in frozen.files_of("flights")}
    assert pinned == expected
    assert [f["partition"] for f in frozen.files_of("planes")] == [None]  # a dimension is pinned whole
    assert frozen.id == fingerprint(frozen.content)
    assert frozen.rows == sum(f["rows"] for f in frozen.files) > 2500
    # Zero-copy: every pinned path is the raw pillar's own file, and the only new key is the manifest.
    assert all(f["path"].startswith("raw/") for f in frozen.files)
    assert [k for k in cold.list_keys("snapshots") if "snapshots_test" in k] == [
        "snapshots/snapshots_test.json"
    ]


def test_the_id_is_the_content_a_different_window_a_different_id(cold, frozen):
    from dataops_assets.science.snapshots import create_snapshot, load_snapshot

    same = create_snapshot(cold, "snapshots_test_again", DATASETS, *WINDOW)
    shorter = create_snapshot(cold, "snapshots_test_shorter", DATASETS, WINDOW[0], "2013-01-02")
    assert same.id == frozen.id  # what is pinned, not what it is called
    assert shorter.id != frozen.id
    assert load_snapshot(cold, "snapshots_test").id == frozen.id


def test_snapshots_are_immutable_and_refuse_missing_partitions(cold, frozen):
    from dataops_assets.science.snapshots import create_snapshot

    with pytest.raises(SnapshotError, match="already exists .* immutable"):
        create_snapshot(cold, "snapshots_test", ["flights"], *WINDOW)
    with pytest.raises(
        SnapshotError, match=r"2 partition\(s\) are not in cold storage \(flights 2013-01-04, "
    ):
        create_snapshot(cold, "too_long", ["flights"], "2013-01-03", "2013-01-05")
    with pytest.raises(SnapshotError, match="before"):
        create_snapshot(cold, "backwards", ["flights"], WINDOW[1], WINDOW[0])


def _copy_cold(testing_root, target):
    shutil.copytree(testing_root / "cold", target / "cold")
    from dataops_assets.resources.cold_storage import LocalColdStorage

    return LocalColdStorage(root=str(target / "cold"))


def test_a_flipped_byte_fails_verify_naming_the_file(frozen, testing_root, tmp_path, monkeypatch):
    copy = _copy_cold(testing_root, tmp_path)
    target = tmp_path / "cold" / frozen.files_of("weather")[1]["path"]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))

    from dataops_assets.science.snapshots import verify_snapshot

    report = verify_snapshot(copy, frozen)
    assert report.problems == [
        f"changed: {frozen.files_of('weather')[1]['path']} (sha256 differs from the snapshot)"
    ]

    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["snapshot", "verify", frozen.name])
    assert result.exit_code == 1
    assert (
        f"error: snapshot {frozen.name} differs from what it pinned: changed: {frozen.files_of('weather')[1]['path']}"
        in result.output
    )


def _republish(storage, dataset: str, day: str, data: bytes) -> None:
    """A re-materialization through the raw pillar's own publish: stage, then publish."""
    from dataops_assets import layout
    from dataops_assets.pillars.raw.publish import publish_partition
    from dataops_assets.sources.catalog import get_source

    rows = pq.read_metadata(io.BytesIO(data)).num_rows
    storage.put_bytes(layout.staged_key(dataset, day), data)
    report = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "rows_landed": rows,
        "rows_read": rows,
        "rows_quarantined": 0,
        "files": [f"{dataset}/date={day}/{dataset}.csv"],
        "reasons": {},
    }
    storage.put_bytes(layout.staged_report_key(dataset, day), json.dumps(report).encode())
    assert publish_partition(get_source(dataset), day, storage).changed


def _parquet(table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.fixture
def rematerialized(frozen, testing_root, tmp_path):
    """A copy of cold storage where a pinned partition was re-materialized and a new day landed."""
    from dataops_assets.pillars.raw.publish import read_manifest

    copy = _copy_cold(testing_root, tmp_path)
    pinned = frozen.files_of("flights")[1]
    original = pq.read_table(io.BytesIO(copy.get_bytes(pinned["path"])))
    _republish(copy, "flights", pinned["partition"], _parquet(original.slice(0, original.num_rows - 25)))
    _republish(copy, "flights", "2013-01-04", _parquet(original))
    manifest = read_manifest(copy, "flights", pinned["partition"])
    assert manifest["files"][0]["path"] != pinned["path"]  # the partition moved on ...
    assert pinned["path"] in {f["path"] for f in manifest["history"]}  # ... and kept the old file
    return copy


def test_after_rematerialization_the_snapshot_still_verifies_and_reads_the_same(cold, frozen, rematerialized):
    from dataops_assets.pillars.raw.verify import verify_cold_storage
    from dataops_assets.science.features import build_features
    from dataops_assets.science.snapshots import create_snapshot, verify_snapshot
    from dataops_assets.task_declarations import load_task

    assert verify_snapshot(rematerialized, frozen).problems == []
    assert verify_cold_storage(rematerialized).problems == []
    task = load_task("late_arrival")
    assert build_features(rematerialized, frozen, task).equals(build_features(cold, frozen, task))
    # A snapshot of the same window taken now pins the new version: a different id.
    assert create_snapshot(rematerialized, "after", DATASETS, *WINDOW).id != frozen.id


def test_export_is_a_cold_storage_a_sandbox_can_use(cold, frozen, tmp_path):
    from dataops_assets.pillars.raw.verify import verify_cold_storage
    from dataops_assets.resources.cold_storage import LocalColdStorage
    from dataops_assets.science.features import build_features
    from dataops_assets.science.snapshots import export_snapshot, load_snapshot, verify_snapshot
    from dataops_assets.task_declarations import load_task

    result = CliRunner().invoke(main, ["snapshot", "export", frozen.name, "--to", str(tmp_path / "laptop")])
    assert result.exit_code == 0, result.output
    assert f"DATAOPS_DATA_DIR={tmp_path / 'laptop'}" in result.output

    exported = LocalColdStorage(root=str(tmp_path / "laptop" / "cold"))
    assert verify_cold_storage(exported).problems == []  # `dataops verify` passes there
    assert verify_snapshot(exported, load_snapshot(exported, frozen.name)).problems == []
    task = load_task("late_arrival")
    assert build_features(exported, frozen, task).equals(build_features(cold, frozen, task))
    assert export_snapshot(cold, frozen, exported) == 0  # again: nothing left to copy
