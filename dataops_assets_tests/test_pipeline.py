"""The whole pipeline for three days of the testing environment, checked against the source's answers."""

from __future__ import annotations

import json
import sqlite3

import duckdb
import pytest

from dataops_assets import layout
from dataops_assets.pillars.raw.verify import verify_cold_storage
from dataops_assets.resources.factory import open_resource
from dataops_assets_tests.conftest import PIPELINE_DAYS
from dataops_assets_tests.source_truth import MARTS, flights_per_day, mart_tables, weather_per_day

pytestmark = pytest.mark.slow
DAYS = [d.isoformat() for d in PIPELINE_DAYS]


def test_every_check_passes(pipeline_run):
    assert pipeline_run.checks_failed == []
    # one accounting check per ingestion asset, plus the dbt tests of the daily and dimension models
    assert pipeline_run.checks_passed >= 5 + 40


def test_cold_partitions_hold_exactly_the_source_rows(pipeline_run, testing_env):
    storage = open_resource(testing_env, "cold_storage")
    expected = {"flights": flights_per_day(PIPELINE_DAYS), "weather": weather_per_day(PIPELINE_DAYS)}
    for dataset, per_day in expected.items():
        for day, count in per_day.items():
            manifest = json.loads(storage.get_bytes(layout.manifest_key(dataset, day)))
            assert manifest["rows"] == count, (dataset, day)
            assert manifest["ingestion"]["rows_read"] == count + manifest["ingestion"]["rows_quarantined"]
            [entry] = manifest["files"]
            rows = duckdb.execute(
                "SELECT count(*) FROM read_parquet(?)", [storage.readable_path(entry["path"])]
            )
            assert rows.fetchone()[0] == count


def test_summary_rows_match_every_pillar(pipeline_run):
    truth = flights_per_day(PIPELINE_DAYS)
    summary = pipeline_run.summary
    flights = {r["day"]: r for r in summary.datasets if r["dataset"] == "flights"}
    for day in DAYS:
        row = flights[day]
        assert row["read"] == row["raw"] == row["warehouse"] == truth[day]
        assert row["quarantined"] == 0 and row["status"] == "ok"
    served = {(r["day"], r["table"]): r for r in summary.served}
    assert {table for _, table in served} == set(MARTS)  # every declared mart, nothing hard-coded
    assert all(served[(day, table)]["hot rows"] > 0 for day in DAYS for table in MARTS)
    assert all(r["status"] == "ok" for r in summary.served) and summary.incomplete == []


def test_marts_sum_back_to_raw_rows(pipeline_run, testing_env):
    truth = flights_per_day(PIPELINE_DAYS)
    for table in mart_tables():
        rows = (
            open_resource(testing_env, "warehouse")
            .fetch(
                f"SELECT flight_date, sum(flights), sum(cancelled_flights) FROM {table.relation} GROUP BY 1 ORDER BY 1"
            )
            .rows
        )
        assert {str(d): int(n) for d, n, _ in rows} == truth
        assert all(0 <= c <= n for _, n, c in rows)


def test_hot_store_serves_the_marts_row_for_row(pipeline_run, testing_env):
    store = open_resource(testing_env, "hot_store")
    for table in mart_tables():
        columns, _, mart_rows = open_resource(testing_env, "warehouse").fetch(
            f"SELECT * FROM {table.relation} ORDER BY {', '.join(table.key)}"
        )
        with sqlite3.connect(f"file:{store.path}?mode=ro", uri=True) as con:
            hot_rows = con.execute(f'SELECT * FROM "{table.name}" ORDER BY {", ".join(table.key)}').fetchall()
            published = con.execute(
                'SELECT last_partition, rows FROM "_published" WHERE table_name = ?', [table.name]
            ).fetchone()
        assert len(hot_rows) == len(mart_rows) > 0
        date_at = columns.index(table.date_column)
        assert [r[date_at] for r in hot_rows] == [str(r[date_at]) for r in mart_rows]
        assert published == (DAYS[-1], len(mart_rows))


def test_on_time_rate_is_consistent(pipeline_run, testing_env):
    rows = (
        open_resource(testing_env, "warehouse")
        .fetch("SELECT on_time_arrivals, flights, on_time_rate FROM marts.mart_carrier_origin_daily")
        .rows
    )
    for on_time, flights, rate in rows:
        assert rate == pytest.approx(on_time / flights)


def test_cold_storage_verifies(pipeline_run, testing_env):
    report = verify_cold_storage(open_resource(testing_env, "cold_storage"))
    assert report.problems == []
    # two daily datasets, three dimensions, and the two served marts exported back (curated/)
    assert report.manifests_checked == 2 * len(DAYS) + 3 + 2 * len(DAYS)


def test_runs_are_recorded_in_the_instance(pipeline_run, testing_root):
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(pipeline_run.run_id)
    assert run is not None and run.is_success
    assert run.tags["dagster/asset_partition_range_start"] == DAYS[0]
    assert run.tags["dagster/asset_partition_range_end"] == DAYS[-1]


def test_the_environment_s_pool_limits_are_in_the_instance(pipeline_run, testing_env):
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        for pool, limit in testing_env.scale.pool_limits.items():
            assert instance.event_log_storage.get_concurrency_info(pool).slot_count == limit
