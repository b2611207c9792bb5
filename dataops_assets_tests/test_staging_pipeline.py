"""A staging-shaped environment end to end — S3 landing and cold storage (moto), PostgreSQL warehouse
and hot store, Dagster's own storage in PostgreSQL — for the same days as the DuckDB session run,
and parity: its marts equal DuckDB's row for row. Then the science track on it: a snapshot, an
experiment of the late-arrival task and a promotion through the real `dataops` command, publishing
into the PostgreSQL hot store."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest

from dataops_assets.pillars.raw.verify import verify_cold_storage
from dataops_assets.provisioning.plan import apply, plan
from dataops_assets.resources.factory import open_resource
from dataops_assets.runs.pipeline import run_pipeline
from dataops_assets_tests.conftest import PIPELINE_DAYS
from dataops_assets_tests.services import DATAOPS, environ, project_with, shared_environment
from dataops_assets_tests.source_truth import MARTS, flights_per_day, mart_tables, same_value

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def staging_run(pipeline_run, pg_database, s3_endpoint, tmp_path_factory):
    root = tmp_path_factory.mktemp("staging-run")
    env = shared_environment("staging", pg_database, root)
    apply(plan(env), echo=lambda *_: None)
    with environ(DATAOPS_DATA_DIR=str(root), DAGSTER_HOME=str(root / "dagster_home")):
        outcome = run_pipeline(env, PIPELINE_DAYS, echo=lambda *_: None)
    assert outcome.success, outcome.failure
    return env, outcome, root


def test_every_pillar_holds_the_source_rows(staging_run):
    env, outcome, _ = staging_run
    assert outcome.checks_failed == [] and outcome.checks_passed >= 45
    truth = flights_per_day(PIPELINE_DAYS)
    flights = {r["day"]: r for r in outcome.summary.datasets if r["dataset"] == "flights"}
    hot = {(r["day"], r["table"]): r["hot rows"] for r in outcome.summary.served}
    for day, count in truth.items():
        row = flights[day]
        assert row["read"] == row["raw"] == row["warehouse"] == count and row["status"] == "ok"
        assert all(hot[(day, table)] > 0 for table in MARTS)
    report = verify_cold_storage(open_resource(env, "cold_storage"))
    assert report.manifests_checked >= 2 * len(PIPELINE_DAYS) and report.problems == []


def test_dbt_models_on_postgres_report_row_counts_and_column_schemas(staging_run):
    """dagster-dbt's fetch_row_counts/fetch_column_metadata read back from PostgreSQL."""
    import dagster as dg

    env, outcome, root = staging_run
    with environ(DAGSTER_HOME=str(root / "dagster_home")), dg.DagsterInstance.get() as instance:
        logs = instance.all_logs(outcome.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    materialized = [e.dagster_event.event_specific_data.materialization for e in logs]
    warehouse = open_resource(env, "warehouse")
    for table in mart_tables():
        metadata = [
            m.metadata
            for m in materialized
            if m.asset_key.path[-1] == table.model and m.asset_key.path[0] != "curated"
        ]
        (rows,) = warehouse.fetch(f"SELECT count(*) FROM {table.relation}").rows[0]
        assert len(metadata) == len(PIPELINE_DAYS) and {m["dagster/row_count"].value for m in metadata} == {
            rows
        }
        types = {c.name: c.type for c in metadata[0]["dagster/column_schema"].value.columns}
        assert types[table.date_column] == "date" and set(table.key) <= set(types)


def test_the_run_was_recorded_in_dagsters_postgres_storage(staging_run, pg_database):
    _, outcome, root = staging_run
    text = (root / "dagster_home" / "dagster.yaml").read_text()
    assert "postgres_url:\n      env: DATAOPS_DAGSTER_PG_DSN" in text
    with psycopg.connect(pg_database.dsn) as con:
        status = con.execute("SELECT status FROM runs WHERE run_id = %s", [outcome.run_id]).fetchone()
    assert status == ("SUCCESS",)


@pytest.mark.parametrize("name", MARTS)
def test_marts_on_postgres_equal_marts_on_duckdb(staging_run, testing_env, name):
    env, _, _ = staging_run
    [table] = [t for t in mart_tables() if t.name == name]
    query = f"SELECT * FROM {table.relation} ORDER BY {', '.join(table.key)}"
    duck = open_resource(testing_env, "warehouse").fetch(query)
    pg = open_resource(env, "warehouse").fetch(query)
    assert pg.columns == duck.columns
    assert len(pg.rows) == len(duck.rows) > 0
    mismatches = [
        (i, column, d, p)
        for i, (duck_row, pg_row) in enumerate(zip(duck.rows, pg.rows, strict=True))
        for column, d, p in zip(duck.columns, duck_row, pg_row, strict=True)
        if not same_value(d, p)
    ]
    assert mismatches == [], mismatches[:5]


def test_the_hot_store_serves_what_the_sandbox_serves(staging_run, testing_env):
    env, _, _ = staging_run
    days = [d.isoformat() for d in PIPELINE_DAYS]
    for table in mart_tables():
        pg = open_resource(env, "hot_store").count_by_date(table.name, table.date_column, days)
        local = open_resource(testing_env, "hot_store").count_by_date(table.name, table.date_column, days)
        assert pg == local and len(pg) == len(days)


def test_a_promotion_through_the_cli_publishes_into_the_postgres_hot_store(staging_run):
    from dataops_assets.runs.experiment import run_experiment
    from dataops_assets.science.snapshots import create_snapshot
    from dataops_assets.task_declarations import load_task

    env, _, root = staging_run
    days = [d.isoformat() for d in PIPELINE_DAYS]
    create_snapshot(
        open_resource(env, "cold_storage"),
        "staging_days",
        ["flights", "planes", "weather"],
        days[0],
        days[-1],
    )
    with environ(DATAOPS_DATA_DIR=str(root), DAGSTER_HOME=str(root / "dagster_home")):
        run_experiment(env, "staging_days", "baseline", test_days=1, task="late_arrival")
    promoted = subprocess.run(
        [DATAOPS, "experiment", "promote", "--task", "late_arrival", "--snapshot", "staging_days",
         "--model", "baseline"],
        env=os.environ | {"DATAOPS_ENV": "staging", "DATAOPS_DATA_DIR": str(root),
                          "DATAOPS_PROJECT_DIR": str(project_with(env, root))},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    flights = flights_per_day(PIPELINE_DAYS)
    assert f"published {sum(flights.values()):,} predictions" in promoted.stdout
    hot = open_resource(env, "hot_store")
    task = load_task("late_arrival")
    assert hot.count_by_date(task.serve.table, task.date_column, days) == flights
