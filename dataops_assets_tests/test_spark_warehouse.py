"""The warehouse on a Spark cluster: a staging-shaped environment (S3 landing on moto, PostgreSQL hot
store and Dagster storage) whose warehouse is a standalone master with two workers, sized by the
environment file. The same days as the DuckDB session run, and parity: every column of every mart
row equal, after the marts' middle day was re-run on its own. Raw tables are cold storage's own
files, registered, not copied."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataops_assets.environments.model import LocalStorage, SparkSize, SparkWarehouse
from dataops_assets.paths import DBT_PROJECT_DIR
from dataops_assets.pillars.raw.publish import read_manifest
from dataops_assets.provisioning.plan import apply, plan
from dataops_assets.resources.dbt import dbt_executable
from dataops_assets.resources.factory import open_resource
from dataops_assets.resources.spark import SparkUnavailable
from dataops_assets.runs.pipeline import run_pipeline
from dataops_assets_tests.conftest import PIPELINE_DAYS
from dataops_assets_tests.services import environ, shared_environment, spark_cluster  # noqa: F401
from dataops_assets_tests.source_truth import MARTS, flights_per_day, mart_tables, same_value

pytestmark = pytest.mark.slow

SIZE = SparkSize(executor_instances=2, executor_cores=1, executor_memory="512m", shuffle_partitions=2)
# Every JVM here is short-lived and its data tiny: the quick (C1) compiler only starts it sooner.
QUICK_JVM = "-XX:TieredStopAtLevel=1"


@pytest.fixture(scope="module")
def spark_run(pipeline_run, pg_database, s3_endpoint, spark_cluster, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("spark-run")
    staging = shared_environment("staging", pg_database, root)
    env = staging.model_copy(
        update={
            # Spark reads S3 through the s3a connector jars a real cluster has; pyspark's wheel has none.
            "cold_storage": LocalStorage(path=str(root / "cold")),
            "warehouse": SparkWarehouse(
                master=spark_cluster.master,
                metastore=spark_cluster.metastore,
                warehouse_dir=str(root / "spark-warehouse"),
                size=SIZE,
                conf=spark_cluster.LOOPBACK_CONF
                | {
                    "spark.ui.showConsoleProgress": "false",
                    "spark.driver.extraJavaOptions": QUICK_JVM,
                    "spark.executor.extraJavaOptions": QUICK_JVM,
                },
            ),
            # Steps in this process: one Spark driver of the platform's for the run, not one per step.
            "scale": staging.scale.model_copy(update={"executor": "in_process"}),
        }
    )
    apply(plan(env), echo=lambda *_: None)
    with environ(DATAOPS_DATA_DIR=str(root), DAGSTER_HOME=str(root / "dagster_home")):
        outcome = run_pipeline(env, PIPELINE_DAYS, echo=lambda *_: None)
    assert outcome.success, outcome.failure
    rerun_day(env, PIPELINE_DAYS[1], root)
    return env, outcome, root


def rerun_day(env, day, root) -> None:
    """The marts again for one day: on Spark an insert_overwrite of that day's partitions, so they must
    still equal DuckDB's (neither that day doubled nor the others gone)."""
    window = json.dumps({"start_date": day.isoformat(), "end_date": (day + dt.timedelta(days=1)).isoformat()})
    rerun = subprocess.run(
        [dbt_executable(), "run", "--select", "marts", "--vars", window, "--target", "spark",
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(root / "dbt-rerun")],
        cwd=DBT_PROJECT_DIR, env=os.environ | open_resource(env, "warehouse").dbt_env(),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout[-3000:]


@pytest.mark.parametrize("name", MARTS)
def test_marts_on_spark_equal_marts_on_duckdb(spark_run, testing_env, name):
    env, _, _ = spark_run
    [table] = [t for t in mart_tables() if t.name == name]
    query = f"SELECT * FROM {table.relation} ORDER BY {', '.join(table.key)}"
    duck = open_resource(testing_env, "warehouse").fetch(query)
    spark = open_resource(env, "warehouse").fetch(query)
    # A Spark table keeps its partition column (the date) last: the same columns, compared by name.
    assert sorted(spark.columns) == sorted(duck.columns)
    assert len(spark.rows) == len(duck.rows) > 0
    mismatches = [
        (i, column, d[column], s[column])
        for i, (d, s) in enumerate(
            zip(
                (dict(zip(duck.columns, r, strict=True)) for r in duck.rows),
                (dict(zip(spark.columns, r, strict=True)) for r in spark.rows),
                strict=True,
            )
        )
        for column in duck.columns
        if not same_value(d[column], s[column])
    ]
    assert mismatches == [], mismatches[:5]


def test_every_pillar_holds_the_source_rows_and_the_hot_store_serves_them(spark_run, testing_env):
    env, outcome, _ = spark_run
    assert outcome.checks_failed == [] and outcome.checks_passed >= 45
    flights = {r["day"]: r for r in outcome.summary.datasets if r["dataset"] == "flights"}
    for day, count in flights_per_day(PIPELINE_DAYS).items():
        row = flights[day]
        assert row["read"] == row["raw"] == row["warehouse"] == count and row["status"] == "ok"
    days = [d.isoformat() for d in PIPELINE_DAYS]
    for table in mart_tables():
        hot = open_resource(env, "hot_store").count_by_date(table.name, table.date_column, days)
        local = open_resource(testing_env, "hot_store").count_by_date(table.name, table.date_column, days)
        assert hot == local and len(hot) == len(days)


def test_dbt_ran_on_the_cluster_with_the_size_the_environment_declares(spark_run, spark_cluster):  # noqa: F811
    env, _, _ = spark_run
    # The platform's own session is local; each dbt invocation is an application on the cluster: the
    # run's dimensions and days, then the re-run of one day.
    apps = [a for a in spark_cluster.state()["completedapps"] if a["name"] == f"dataops-{env.name}"]
    assert len(apps) == 3
    for app in apps:
        assert app["cores"] == SIZE.executor_instances * SIZE.executor_cores
        assert app["memoryperexecutor"] == 512


def test_raw_tables_are_cold_storages_own_files_in_place(spark_run):
    env, _, root = spark_run
    warehouse, cold = open_resource(env, "warehouse"), open_resource(env, "cold_storage")
    described = dict((r[0], r[1]) for r in warehouse.fetch("DESCRIBE TABLE EXTENDED raw_files.flights").rows)
    assert described["Type"] == "EXTERNAL"
    assert described["Location"] == f"file:{root / 'cold' / 'raw' / 'flights'}"
    read = warehouse.fetch("SELECT DISTINCT _metadata.file_path FROM raw_files.flights").rows
    current = {
        f"file:{cold.readable_path(f['path'])}"
        for day in PIPELINE_DAYS
        for f in read_manifest(cold, "flights", day.isoformat())["files"]
    }
    assert {path for (path,) in read} == current


def test_a_corrected_day_reads_only_its_current_file_and_moves_nothing(spark_run, tmp_path):
    env, _, _ = spark_run
    warehouse = open_resource(env, "warehouse")
    day = tmp_path / "raw" / "readings" / "date=2013-01-01"
    day.mkdir(parents=True)
    first, corrected, other_day = day / "part-a1.parquet", day / "part-b2.parquet", tmp_path / "next"
    pq.write_table(pa.table({"station": ["a", "b", "c"], "value": [1.0, 2.0, 3.0]}), first)
    assert warehouse.load_partitions("readings", {"2013-01-01": [str(first)]}) == 3
    assert warehouse.load_partitions("readings", {"2013-01-01": [str(first)]}) == 3  # idempotent

    # A correction: a new file beside the old one (cold storage never rewrites a file).
    pq.write_table(pa.table({"station": ["a", "b"], "value": [1.5, 2.5]}), corrected)
    assert warehouse.load_partitions("readings", {"2013-01-01": [str(corrected)]}) == 2
    query = "SELECT partition_date, station, value FROM raw.readings ORDER BY 1, 2"
    assert [r[1:] for r in warehouse.fetch(query).rows] == [("a", 1.5), ("b", 2.5)]
    assert warehouse.fetch("SELECT count(*) FROM raw_files.readings").rows == [(5,)]  # both still there
    assert first.exists() and corrected.exists()

    # Another day adds to the table and leaves the corrected one as it is.
    next_day = other_day / "raw" / "readings" / "date=2013-01-02" / "part-c3.parquet"
    next_day.parent.mkdir(parents=True)
    pq.write_table(pa.table({"station": ["z"], "value": [9.0]}), next_day)
    assert warehouse.load_partitions("readings", {"2013-01-02": [str(next_day)]}) == 1
    assert warehouse.fetch("SELECT count(*) FROM raw.readings").rows == [(3,)]


def test_files_of_another_shape_are_refused_with_the_columns_named(spark_run, tmp_path):
    env, _, _ = spark_run
    warehouse = open_resource(env, "warehouse")
    for day, table in (
        ("2013-01-01", pa.table({"station": ["a"], "value": [1.0]})),
        ("2013-01-02", pa.table({"station": ["a"], "reading": [1.0]})),
    ):
        path = tmp_path / "raw" / "shapes" / f"date={day}" / "part-x.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(table, path)
        if day == "2013-01-01":
            warehouse.load_partitions("shapes", {day: [str(path)]})
        else:
            with pytest.raises(ValueError, match=r"raw_files\.shapes is registered with columns .*`value`"):
                warehouse.load_partitions("shapes", {day: [str(path)]})
    assert warehouse.fetch("SELECT count(*) FROM raw.shapes").rows == [(1,)]


def test_a_dimension_is_replaced_whole(spark_run, tmp_path):
    env, _, _ = spark_run
    warehouse = open_resource(env, "warehouse")
    full = tmp_path / "raw" / "stations" / "full"
    full.mkdir(parents=True)
    for name, stations in (("part-old.parquet", ["a", "b"]), ("part-new.parquet", ["a", "b", "c"])):
        pq.write_table(pa.table({"station": stations}), full / name)
        assert warehouse.replace_table("stations", [str(full / name)]) == len(stations)
    assert warehouse.fetch("SELECT station FROM raw.stations ORDER BY 1").rows == [("a",), ("b",), ("c",)]


def test_a_source_with_no_day_yet_is_an_empty_table_until_its_first_day(spark_run, tmp_path):
    env, _, _ = spark_run
    warehouse = open_resource(env, "warehouse")
    day = tmp_path / "raw" / "late" / "date=2013-01-02"
    day.mkdir(parents=True)
    pq.write_table(pa.table({"reading": pa.array([], pa.int64())}), tmp_path / "schema.parquet")
    warehouse.ensure_table("late", str(tmp_path / "schema.parquet"), partitioned=True)
    warehouse.ensure_table("late", str(tmp_path / "schema.parquet"), partitioned=True)  # idempotent
    assert warehouse.fetch("SELECT count(*) FROM raw.late").rows == [(0,)]
    pq.write_table(pa.table({"reading": [1, 2]}), day / "part-a.parquet")
    assert warehouse.load_partitions("late", {"2013-01-02": [str(day / "part-a.parquet")]}) == 2
    assert warehouse.fetch("SELECT sum(reading) FROM raw.late").rows == [(3,)]


def test_cold_storage_on_s3_without_the_connector_is_one_clear_line(spark_run):
    env, _, _ = spark_run
    files = {"2013-01-01": ["s3://dataops-cold/raw/flights/date=2013-01-01/part-0.parquet"]}
    with pytest.raises(
        SparkUnavailable, match=r"^cold storage on S3 needs Hadoop's S3 connector .*docs/spark\.md$"
    ):
        open_resource(env, "warehouse").load_partitions("flights", files)
