"""Files holding many days, and sources with spans of their own.

The ingestion, raw and warehouse assets of generated sources, materialized in process over ranges
of days (no dbt): each file's rows land in the days their date gives, each file is read once, a late
or changed file re-publishes exactly the days it touches, every row of a file is accounted for;
outside a source's span nothing is expected, inside it a missing day fails naming the day and the
dataset or is published empty, and the run summary says which.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from dataops_assets import layout
from dataops_assets.automation.sensors import landing_sensor
from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from dataops_assets.environments.loader import load_environment
from dataops_assets.partitions import daily_partitions
from dataops_assets.pillars.ingestion.assets import build_ingestion_asset
from dataops_assets.pillars.ingestion.ledger import read_ledger
from dataops_assets.pillars.ingestion.validate import DUPLICATE
from dataops_assets.pillars.processing.warehouse_load import build_warehouse_load_asset
from dataops_assets.pillars.raw.assets import build_raw_asset
from dataops_assets.pillars.raw.publish import read_manifest
from dataops_assets.resources.factory import build_resources, open_resource
from dataops_assets.runs.summary import RunRecord, pillar_summary
from dataops_assets.sources.catalog import load_sources

HEADER = ["Date", "Sensor ID", "Count (people)"]
COUNTS = {
    "name": "counts",
    "description": "Hourly pedestrian counts per sensor, exported as files of many days.",
    "format": "csv",
    "partitioning": "daily",
    "landing": "counts/*.csv",
    "partition_date": {"column": "taken_at"},
    "primary_key": ["taken_at", "sensor"],
    "start": "2024-01-01",
    "columns": [
        {"name": "taken_at", "from": "Date", "type": "timestamp", "format": "%d/%m/%Y %H:%M"},
        {"name": "sensor", "from": "Sensor ID", "type": "string"},
        {"name": "people", "from": "Count (people)", "type": "integer"},
    ],
}
RAIN = {
    "name": "rain",
    "description": "Daily rain, from the third of January on; a day without a reading is published empty.",
    "format": "csv",
    "partitioning": "daily",
    "landing": "rain/*.csv",
    "partition_date": {"column": "day"},
    "primary_key": ["day"],
    "start": "2024-01-03",
    "missing": "empty",
    "columns": [
        {"name": "day", "from": "Day", "type": "date", "format": "%d.%m.%Y"},
        {"name": "mm", "type": "double"},
    ],
}


def _hours(day: int, hours=(0, 6, 12), sensors=("a", "b")) -> list[list[str]]:
    return [[f"{day:02d}/01/2024 {h:02d}:00", s, str(day * 100 + h)] for h in hours for s in sensors]


@pytest.fixture
def world(tmp_path, monkeypatch):
    """The testing environment in tmp_path with two declared sources of its own."""
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))
    declared = tmp_path / "sources"
    declared.mkdir()
    for source in (COUNTS, RAIN):
        (declared / f"{source['name']}.yaml").write_text(yaml.safe_dump(source, allow_unicode=True))
    testing = load_environment("testing")
    scope = testing.data_scope.model_copy(update={"start": dt.date(2024, 1, 1), "end": dt.date(2024, 1, 31)})
    env = testing.model_copy(update={"data_scope": scope})
    sources = {s.name: s for s in load_sources(declared)}
    return env, sources, env.local_path(env.landing.path)


def _drop(landing: Path, name: str, rows: list[list[str]], header=HEADER) -> Path:
    path = landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def _run(env, sources, first: str, last: str, pillars=("ingestion", "raw")):
    days = daily_partitions(env)
    builders = {
        "ingestion": build_ingestion_asset,
        "raw": build_raw_asset,
        "warehouse": build_warehouse_load_asset,
    }
    assets = [builders[p](s, days) for s in sources for p in pillars]
    with dg.instance_for_test() as instance:
        return dg.materialize(
            assets,
            instance=instance,
            resources=build_resources(env),
            tags={PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last},
            raise_on_error=False,
        )


def _meta(result, node: str) -> dict:
    return result.asset_materializations_for_node(node)[0].metadata


def _manifests(env, dataset: str, days: list[str]) -> dict[str, dict | None]:
    cold = open_resource(env, "cold_storage")
    return {day: read_manifest(cold, dataset, day) for day in days}


DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_a_file_of_many_days_lands_each_row_in_its_day_and_accounts_for_every_row(world):
    env, sources, landing = world
    rows = _hours(1) + _hours(2) + _hours(3)
    rows += [
        ["02/01/2024 06:00", "a", "7"],  # a duplicate key: quarantined in its day
        ["03/01/2024 09:00", "a", "many"],  # not an integer: quarantined in its day
        ["32/01/2024 00:00", "a", "1"],  # no date: quarantined with the file
        ["31/12/2023 23:00", "a", "1"],  # before the span: not expected
    ]
    _drop(landing, "counts/2024-01.csv", rows)
    result = _run(env, [sources["counts"]], DAYS[0], DAYS[-1])
    assert result.success

    manifests = _manifests(env, "counts", DAYS)
    assert {d: m["rows"] for d, m in manifests.items()} == {d: 6 for d in DAYS}
    assert manifests["2024-01-02"]["ingestion"]["reasons"] == {DUPLICATE: 1}
    assert manifests["2024-01-03"]["ingestion"]["reasons"] == {
        'people (from "Count (people)"): cannot read': 1
    }
    cold = open_resource(env, "cold_storage")
    [entry] = read_ledger(cold, "counts").values()
    assert entry["days"] == {"2023-12-31": 1, "2024-01-01": 6, "2024-01-02": 7, "2024-01-03": 7}
    assert entry["undated"] == 1 and entry["reasons"] == {'taken_at (from "Date"): cannot read': 1}
    # Every row of the file: landed or quarantined in its day, quarantined without a day, or outside the span.
    per_day = sum(
        m["ingestion"]["rows_landed"] + m["ingestion"]["rows_quarantined"] for m in manifests.values()
    )
    assert entry["rows_read"] == len(rows) == per_day + entry["undated"] + entry["days"]["2023-12-31"]
    assert result.get_asset_check_evaluations()[0].passed
    undated = duckdb.execute(
        "SELECT record, reason FROM read_parquet(?)",
        [cold.readable_path(layout.ledger_quarantine_key("counts", entry["sha256"]))],
    ).fetchall()
    assert undated == [
        (21, 'taken_at (from "Date"): cannot read 32/01/2024 00:00 as timestamp (format %d/%m/%Y %H:%M)')
    ]


def test_relanding_the_same_file_changes_nothing_and_a_late_file_changes_only_its_day(world):
    env, sources, landing = world
    first = _drop(landing, "counts/2024-01.csv", _hours(1) + _hours(2) + _hours(3))
    assert _run(env, [sources["counts"]], DAYS[0], DAYS[-1]).success
    cold = open_resource(env, "cold_storage")
    before, ledger = _manifests(env, "counts", DAYS), read_ledger(cold, "counts")

    # The same bytes landed again (a new file time): not read again, nothing published again.
    first.write_bytes(first.read_bytes())
    os.utime(first, (first.stat().st_atime + 60, first.stat().st_mtime + 60))
    again = _run(env, [sources["counts"]], DAYS[0], DAYS[-1])
    assert _meta(again, "raw__counts")["partitions_changed"].value == 0
    assert (
        "files_read" not in _meta(again, "ingestion__counts")
        or "2024-01.csv" not in _meta(again, "ingestion__counts")["files_read"].value
    )
    assert {n: {k: e[k] for k in ("sha256", "read_at")} for n, e in read_ledger(cold, "counts").items()} == {
        n: {k: e[k] for k in ("sha256", "read_at")} for n, e in ledger.items()
    }
    assert _manifests(env, "counts", DAYS) == before

    # A late file with two more hours of the 2nd, one of them already counted: only the 2nd changes.
    _drop(
        landing, "counts/2024-02-late.csv", [["02/01/2024 18:00", "a", "5"], ["02/01/2024 00:00", "b", "9"]]
    )
    late = _run(env, [sources["counts"]], DAYS[0], DAYS[-1])
    assert _meta(late, "raw__counts")["partitions_changed"].value == 1
    after = _manifests(env, "counts", DAYS)
    assert after["2024-01-01"] == before["2024-01-01"] and after["2024-01-03"] == before["2024-01-03"]
    changed = after["2024-01-02"]
    assert (changed["rows"], changed["ingestion"]["rows_quarantined"]) == (7, 1)
    # A key two files hold lands from the file whose name sorts first, as for a day's folder of files.
    assert changed["ingestion"]["files"] == ["counts/2024-01.csv", "counts/2024-02-late.csv"]
    [superseded] = changed["history"]
    assert superseded["made_from"] == {"counts/2024-01.csv": ledger["counts/2024-01.csv"]["sha256"]}
    assert set(changed["ingestion"]["file_sha256"]) == {"counts/2024-01.csv", "counts/2024-02-late.csv"}


def test_the_sensor_requests_exactly_the_days_a_new_file_touches(world):
    env, sources, landing = world
    sensor = landing_sensor(env, tuple(sources.values()))
    resources = {"landing": open_resource(env, "landing"), "cold_storage": open_resource(env, "cold_storage")}

    def tick(instance, cursor=None):
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            requests = list(sensor(context))
            return requests, context.cursor

    _drop(
        landing,
        "counts/a.csv",
        _hours(2) + _hours(3) + _hours(4) + _hours(9) + [["31/12/2023 01:00", "a", "1"]],
    )
    with dg.instance_for_test() as instance:
        requests, cursor = tick(instance)
        # One run per run of consecutive days: 2..4 and 9 (31 December is before the span).
        assert [
            (r.tags.get(PARTITION_RANGE_START_TAG), r.tags.get(PARTITION_RANGE_END_TAG), r.partition_key)
            for r in requests
        ] == [
            ("2024-01-02", "2024-01-04", None),
            (None, None, "2024-01-09"),
        ]
        assert tick(instance, cursor)[0] == []
        _drop(landing, "counts/b.csv", _hours(3, hours=(20,)))
        os.utime(landing / "counts/b.csv", (1e10, 1e10))
        requests, _ = tick(instance, cursor)
        assert [r.partition_key for r in requests] == ["2024-01-03"]


def test_two_spans_in_one_run_missing_days_fail_or_publish_empty_and_the_summary_says_which(world):
    env, sources, landing = world
    _drop(landing, "counts/2024-01.csv", _hours(1) + _hours(2) + _hours(3))  # nothing for the 4th
    _drop(
        landing, "rain/2024.csv", [["03.01.2024", "1.5"]], header=["Day", "mm"]
    )  # from the 3rd; nothing for the 4th
    result = _run(
        env,
        [sources["counts"], sources["rain"]],
        "2024-01-01",
        "2024-01-04",
        ("ingestion", "raw", "warehouse"),
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "ingestion__counts"
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(
        "no landing file holds rows for counts 2024-01-04 ('counts/*.csv'; inside its span 2024-01-01..…, missing: fail"
    )

    # rain: its first two days are not expected, the 3rd lands, the 4th is published empty.
    rain = _manifests(env, "rain", ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"])
    assert rain["2024-01-01"] is None and rain["2024-01-02"] is None
    assert rain["2024-01-03"]["rows"] == 1
    assert (rain["2024-01-04"]["rows"], rain["2024-01-04"]["ingestion"]["files"]) == (0, [])
    assert _meta(result, "ingestion__rain")["published_empty"].value == ["2024-01-04"]
    loaded = open_resource(env, "warehouse").fetch("SELECT partition_date, mm FROM raw.rain ORDER BY 1").rows
    assert loaded == [(dt.date(2024, 1, 3), 1.5)]

    summary = pillar_summary(
        env,
        ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
        tuple(sources.values()),
        [],
        RunRecord.of(result),
    )
    status = {(r["dataset"], r["day"]): r["status"] for r in summary.datasets}
    assert status[("rain", "2024-01-01..2024-01-02")] == "not expected (span 2024-01-03..…)"
    assert status[("rain", "2024-01-03")] == "ok"
    assert status[("rain", "2024-01-04")] == "ok (published empty: no landing data)"
    assert all(
        status[("counts", d)].startswith(
            "did not complete: ingestion failed: no landing file holds rows for counts 2024-01-04"
        )
        for d in ("2024-01-01", "2024-01-04")
    )
    [line] = summary.incomplete
    assert line.startswith(
        "2024-01-01..2024-01-04 counts: did not complete: ingestion failed: no landing file holds rows"
    )
