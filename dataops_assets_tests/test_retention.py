"""Retention: rows leaving the hot window are archived to cold storage before they leave the hot store,
and the counts prove nothing was lost. One materialization of the retention asset on a known slice."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess

import dagster as dg
import duckdb
import pytest

from dataops_assets import layout
from dataops_assets.pillars.raw.verify import verify_cold_storage
from dataops_assets.pillars.serving.archive import archive_day, read_archive, read_archive_manifest
from dataops_assets.pillars.serving.retention import (
    NOTHING_LOST_CHECK,
    RETENTION_KEY,
    apply_retention,
    build_retention_asset,
    first_kept_day,
)
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.hot_store import PostgresHotStore, SQLiteHotStore
from dataops_assets.served import ServedTable
from dataops_assets_tests.api_server import CARRIER_COLUMNS, DATAOPS, DAYS, carrier_rows, publish_carriers

TABLE = "carrier_origin_daily"
PREDICTIONS = "flight_delay_predictions"
# The hot tables retention looks after here: the carrier mart as its dbt YAML serves it, and a task's predictions.
SERVED = {
    TABLE: ServedTable(TABLE, "flight_date", ("flight_date", "carrier", "origin"), "carriers", model="mart"),
    PREDICTIONS: ServedTable(
        PREDICTIONS,
        "flight_date",
        ("flight_date", "carrier", "flight", "origin", "sched_dep_time"),
        "predictions",
        task="late_arrival",
    ),
}
WINDOW = 3
PREDICTION_DAYS = DAYS[:4]
PREDICTION_COLUMNS = [
    ("flight_date", "DATE"), ("carrier", "VARCHAR"), ("flight", "BIGINT"), ("origin", "VARCHAR"),
    ("dest", "VARCHAR"), ("sched_dep_time", "BIGINT"), ("model", "VARCHAR"), ("snapshot_id", "VARCHAR"),
    ("predicted", "DOUBLE"),
]  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def slice_(request, tmp_path_factory):
    """Ten days of carrier rows and four of predictions, then one retention run with a 3-day window,
    on each hot store."""
    root = tmp_path_factory.mktemp(f"retention-{request.param}")
    if request.param == "postgres":
        hot = PostgresHotStore(dsn=request.getfixturevalue("pg_database").dsn)
    else:
        hot = SQLiteHotStore(path=str(root / "hot.sqlite"))
    cold = LocalColdStorage(root=str(root / "cold"))
    publish_carriers(hot, DAYS)
    predictions = [
        (d, "UA", i, "EWR", "ORD", 600, "gbm", "s1", i / 7) for d in PREDICTION_DAYS for i in range(5)
    ]
    hot.publish(PREDICTIONS, PREDICTION_COLUMNS, predictions, "flight_date", PREDICTION_DAYS)
    result = dg.materialize(
        [build_retention_asset(WINDOW, SERVED)],
        resources={"hot_store": hot, "cold_storage": cold},
        raise_on_error=False,
    )
    return root, hot, cold, result


def test_each_environment_declares_a_valid_hot_window(testing_env):
    from pydantic import ValidationError

    from dataops_assets.environments.model import Retention

    assert testing_env.retention.hot_window_days == 30
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Retention(hot_window_days=0)


def test_the_window_is_anchored_on_the_latest_published_day():
    assert first_kept_day("2013-01-10", 3) == "2013-01-08"
    assert first_kept_day("2013-03-01", 1) == "2013-03-01"


def test_retention_succeeds_and_its_blocking_check_passes(slice_):
    *_, result = slice_
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == NOTHING_LOST_CHECK and check.passed
    [event] = result.get_asset_materialization_events()
    assert event.asset_key == RETENTION_KEY
    metadata = event.materialization.metadata
    assert metadata["rows_archived"].value == 7 * 24 + 1 * 5
    assert metadata["days_archived"].value == 7 + 1


def test_the_hot_store_keeps_exactly_the_window(slice_):
    _, hot, *_ = slice_
    assert hot.partition_counts(TABLE, "flight_date") == {d: 24 for d in DAYS[-WINDOW:]}
    # each table's own latest day anchors its window: predictions end on the 4th
    assert hot.partition_counts(PREDICTIONS, "flight_date") == {d: 5 for d in DAYS[1:4]}
    catalog = {e["table_name"]: e for e in hot.catalog()}
    assert catalog[TABLE]["rows"] == WINDOW * 24 and catalog[TABLE]["last_partition"] == DAYS[-1]


def test_the_archive_holds_exactly_the_rows_that_left(slice_):
    _, _, cold, _ = slice_
    for day in DAYS[:-WINDOW]:
        manifest = read_archive_manifest(cold, TABLE, day)
        assert manifest["rows"] == 24 and manifest["files"][0]["path"].startswith(
            f"archive/{TABLE}/date={day}/"
        )
        assert [c["name"] for c in manifest["schema"]] == [n for n, _ in CARRIER_COLUMNS]
    assert read_archive_manifest(cold, TABLE, DAYS[-WINDOW]) is None

    archived = read_archive(duckdb.connect(), cold, TABLE, None, None)
    assert archived.types[0] == "DATE"  # the warehouse type is back, not SQLite's text
    rows = [(r[0].isoformat(), *r[1:]) for r in archived.order("flight_date, carrier, origin").fetchall()]
    assert rows == carrier_rows(DAYS[:-WINDOW])


def test_archives_verify_and_a_flipped_byte_is_caught(slice_):
    _, _, cold, _ = slice_
    report = verify_cold_storage(cold)
    assert report.problems == [] and report.manifests_checked == 7 + 1
    manifest = read_archive_manifest(cold, TABLE, DAYS[0])
    path = cold.readable_path(manifest["files"][0]["path"])
    with open(path, "rb") as handle:
        original = handle.read()
    try:
        with open(path, "wb") as handle:
            handle.write(original[:100] + bytes([original[100] ^ 1]) + original[101:])
        assert any(p.startswith("changed: archive/") for p in verify_cold_storage(cold).problems)
    finally:
        with open(path, "wb") as handle:
            handle.write(original)


def test_running_retention_again_changes_nothing(slice_):
    _, hot, cold, _ = slice_
    again = {r.table: r for r in apply_retention(WINDOW, SERVED, hot, cold)}
    assert again[TABLE].archived == 0 and again[TABLE].hot_before == again[TABLE].hot_after == WINDOW * 24
    # archiving the same rows again is a no-op: same content, same file, same manifest
    rows = carrier_rows([DAYS[0]])
    assert not archive_day(cold, TABLE, DAYS[0], CARRIER_COLUMNS, rows, list(SERVED[TABLE].key)).changed


def test_a_day_that_changed_since_it_was_read_is_not_deleted(tmp_path):
    hot = SQLiteHotStore(path=str(tmp_path / "hot.sqlite"))
    publish_carriers(hot, DAYS[:2])
    with pytest.raises(ValueError, match="holds 24 row"):
        hot.delete_partitions(TABLE, "flight_date", {DAYS[0]: 24, DAYS[1]: 23})
    assert hot.partition_counts(TABLE, "flight_date") == {DAYS[0]: 24, DAYS[1]: 24}


def test_archived_rows_read_back_from_the_command_line(slice_, tmp_path):
    root, *_ = slice_
    env = os.environ | {"DATAOPS_ENV": "testing", "DATAOPS_DATA_DIR": str(root)}
    out = tmp_path / "back.csv"
    read = subprocess.run(
        [DATAOPS, "archive", "read", TABLE, "--start", DAYS[1], "--end", DAYS[2], "--out", str(out)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 48 and {r["flight_date"] for r in rows} == {DAYS[1], DAYS[2]}
    # the rest in-process: each `dataops` process spends seconds importing dagster-dbt
    from click.testing import CliRunner

    from dataops_assets.cli.main import main

    runner = CliRunner()
    for command in (["archive", "--help"], ["archive", "list", "--help"], ["archive", "read", "--help"]):
        assert runner.invoke(main, command).exit_code == 0
    listed = runner.invoke(main, ["archive", "list"], env=env)
    assert listed.exit_code == 0 and f"{DAYS[0]} .. {DAYS[6]}" in listed.output
    preview = runner.invoke(main, ["archive", "read", TABLE, "--end", DAYS[0]], env=env)
    assert preview.exit_code == 0 and preview.output.startswith("24 archived row(s)")
    missing = runner.invoke(main, ["archive", "read", TABLE, "--start", "2014-01-01"], env=env)
    assert missing.exit_code == 1 and "error: nothing of carrier_origin_daily" in missing.output


def test_the_archive_layout_is_hive_partitioned():
    key = layout.archive_file_key(TABLE, "2013-01-01", "ab" * 32)
    assert key == f"archive/{TABLE}/date=2013-01-01/part-{'ab' * 8}.parquet"
    assert (
        layout.archive_manifest_key(TABLE, "2013-01-01") == f"archive/{TABLE}/date=2013-01-01/_manifest.json"
    )
    assert dt.date.fromisoformat(key.split("date=")[1][:10])
