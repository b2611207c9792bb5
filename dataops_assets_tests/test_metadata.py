"""Metadata conventions, read from the shared three-day run's events in the instance:
`dagster/partition_row_count` is each day's own rows on that day's materialization, `dagster/row_count`
the whole table's; the hot tables and the dbt
models carry checks (rows match the warehouse, columns unchanged)."""

from __future__ import annotations

import duckdb
import pytest

from dataops_assets_tests.conftest import PIPELINE_DAYS
from dataops_assets_tests.source_truth import MARTS, flights_per_day, mart_tables

pytestmark = pytest.mark.slow
DAYS = [d.isoformat() for d in PIPELINE_DAYS]


@pytest.fixture(scope="module")
def events(pipeline_run):
    """(asset key path, partition) -> metadata of each materialization, and the run's check results."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        logs = instance.all_logs(pipeline_run.run_id)
    materialized, checks = {}, {}
    for entry in logs:
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            m = event.event_specific_data.materialization
            materialized["/".join(m.asset_key.path), m.partition] = m.metadata
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            e = event.event_specific_data
            checks["/".join(e.asset_key.path), e.check_name] = e.passed
    return materialized, checks


def _value(metadata, key):
    return metadata[key].value


def test_each_day_carries_its_own_row_count_through_every_pillar(events):
    materialized, _ = events
    per_day = flights_per_day(PIPELINE_DAYS)
    for asset in ("ingestion/flights", "raw/flights", "warehouse/flights"):
        counts = {day: _value(materialized[asset, day], "dagster/partition_row_count") for day in DAYS}
        assert counts == per_day, asset


def test_the_warehouse_table_reports_its_whole_row_count(events, testing_env):
    materialized, _ = events
    with duckdb.connect(str(testing_env.local_path(testing_env.warehouse.path)), read_only=True) as con:
        (rows,) = con.execute("SELECT count(*) FROM raw.flights").fetchone()
    assert rows == sum(flights_per_day(PIPELINE_DAYS).values())
    assert {_value(materialized["warehouse/flights", day], "dagster/row_count") for day in DAYS} == {rows}
    # An unpartitioned dataset's rows are its table's.
    assert _value(materialized["raw/airlines", None], "dagster/row_count") > 0


def test_hot_tables_report_rows_per_day_and_in_all_and_check_them_against_the_warehouse(events, testing_env):
    import sqlite3

    materialized, checks = events
    with sqlite3.connect(testing_env.local_path(testing_env.hot_store.path)) as con:
        for mart in MARTS:
            per_day = dict(con.execute(f"SELECT flight_date, count(*) FROM {mart} GROUP BY 1").fetchall())
            total = sum(per_day.values())
            for day in DAYS:
                metadata = materialized[f"serving/{mart}", day]
                assert _value(metadata, "dagster/partition_row_count") == per_day[day] > 0
                assert _value(metadata, "dagster/row_count") == total
            assert checks[f"serving/{mart}", "hot_rows_match_warehouse"] is True


def test_dbt_models_and_hot_tables_are_checked_for_column_changes(events):
    """Each hot table reports its columns on every materialization, so a change fails its check; dbt
    models report theirs where they are read back (PostgreSQL: test_staging_pipeline.py)."""
    materialized, checks = events
    for table in mart_tables():
        dbt_days = [
            d for key, d in materialized if key.endswith(f"/{table.model}") and not key.startswith("curated/")
        ]
        assert sorted(dbt_days) == DAYS
        columns = [
            c.name
            for c in _value(materialized[f"serving/{table.name}", DAYS[0]], "dagster/column_schema").columns
        ]
        assert table.date_column in columns and set(table.key) <= set(columns)
    schema_checks = {asset for (asset, name), passed in checks.items() if "schema" in name and passed}
    assert {f"serving/{m}" for m in MARTS} <= schema_checks
