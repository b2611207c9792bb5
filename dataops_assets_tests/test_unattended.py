"""Running unattended is safe under any Dagster instance: runs that touch the DuckDB warehouse take it in
turn whatever `dagster.yaml` is in force (none at all: no pool limits anything), and a landing run that
failed is run again, by the instance's run retries or else by the landing sensor.

The last test is the platform running unattended: `dagster-daemon` (and the code server it starts) on
a staging-shaped environment; files land in S3 and, with no further command, their rows reach the
hot store in PostgreSQL; a second landing re-runs nothing for the days before it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dataops_assets.automation.jobs import DAILY_PIPELINE
from dataops_assets.automation.sensors import (
    ATTEMPT_TAG,
    LANDING_SENSOR,
    RUN_KEY_TAG,
    SENSOR_NAME_TAG,
    landing_sensor,
)
from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG, PARTITION_TAG
from dataops_assets.environments.loader import load_environment
from dataops_assets.environments.model import QueuedRunCoordinator
from dataops_assets.resources.warehouse import DuckDBWarehouse, WarehouseBusy
from dataops_assets.sources.catalog import load_sources

HOLD_TURN = (
    "import sys; from dataops_assets.resources.warehouse import DuckDBWarehouse\n"
    "with DuckDBWarehouse(path=sys.argv[1]).exclusive():\n"
    "    print('held', flush=True); sys.stdin.read()"
)


def test_a_process_of_the_platform_waits_its_turn_for_the_warehouse(tmp_path):
    path = str(tmp_path / "w.duckdb")
    duckdb.connect(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_TURN, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy) as busy:
            DuckDBWarehouse(path=path, turn_wait_s=0.2).fetch("SELECT 1")
        assert str(busy.value) == f"the warehouse {path} stayed in use by other runs for 0.2 s"
    finally:
        holder.communicate("")  # its turn ends
    assert DuckDBWarehouse(path=path, turn_wait_s=0.2).fetch("SELECT 42").rows == [(42,)]


def test_a_nested_turn_in_one_process_is_the_same_turn(tmp_path):
    duckdb.connect(str(tmp_path / "w.duckdb")).close()
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"), turn_wait_s=0.2)
    with warehouse.exclusive():
        assert warehouse.fetch("SELECT 1").rows == [(1,)]


# --- a failed landing run is requested again ---------------------------------------------------------


def _sensed(instance, env) -> list[dg.RunRequest]:
    """One tick of the landing sensor over the environment's own landing zone."""
    from dataops_assets.resources.factory import open_resource

    resources = {"landing": open_resource(env, "landing"), "cold_storage": open_resource(env, "cold_storage")}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        return list(landing_sensor(env, load_sources())(context))


def _tick(instance, tmp_path) -> list[dg.RunRequest]:
    from dataops_assets.resources.cold_storage import LocalColdStorage
    from dataops_assets.resources.landing_zone import LocalLandingZone

    (tmp_path / "landing").mkdir(exist_ok=True)
    resources = {
        "landing": LocalLandingZone(root=str(tmp_path / "landing")),
        "cold_storage": LocalColdStorage(root=str(tmp_path / "cold")),
    }
    with dg.build_sensor_context(instance=instance, cursor="0", resources=resources) as context:
        return list(landing_sensor(load_environment("testing"), load_sources())(context))


def _landing_run(instance, status: dg.DagsterRunStatus, run_key: str, **tags: str):
    from dagster._core.test_utils import create_run_for_test

    create_run_for_test(
        instance,
        job_name=DAILY_PIPELINE,
        status=status,
        tags={SENSOR_NAME_TAG: LANDING_SENSOR, RUN_KEY_TAG: run_key} | tags,
    )


def test_a_failed_landing_run_is_requested_again_a_bounded_number_of_times(tmp_path):
    failed = dg.DagsterRunStatus.FAILURE
    with dg.instance_for_test() as instance:
        _landing_run(
            instance,
            failed,
            "2013-01-02..2013-01-04@abc",
            **{
                PARTITION_RANGE_START_TAG: "2013-01-02",
                PARTITION_RANGE_END_TAG: "2013-01-04",
            },
        )
        _landing_run(
            instance,
            failed,
            "2013-01-06..2013-01-06@def#2",
            **{
                PARTITION_TAG: "2013-01-06",
                ATTEMPT_TAG: "2",
            },
        )
        _landing_run(
            instance,
            failed,
            "2013-01-07..2013-01-07@ghi#3",
            **{PARTITION_TAG: "2013-01-07", ATTEMPT_TAG: "3"},
        )
        _landing_run(
            instance,
            dg.DagsterRunStatus.SUCCESS,
            "2013-01-01..2013-01-01@jkl",
            **{PARTITION_TAG: "2013-01-01"},
        )
        requests = sorted(_tick(instance, tmp_path), key=lambda r: r.run_key)
    assert [(r.run_key, r.partition_key, r.tags) for r in requests] == [
        (
            "2013-01-02..2013-01-04@abc#2",
            None,
            {
                PARTITION_RANGE_START_TAG: "2013-01-02",
                PARTITION_RANGE_END_TAG: "2013-01-04",
                ATTEMPT_TAG: "2",
            },
        ),
        ("2013-01-06..2013-01-06@def#3", "2013-01-06", {ATTEMPT_TAG: "3"}),
        # the third attempt failed too: the day stays failed (its run says why) until a new file lands
    ]


STAGING_RUN_RETRIES = {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False}


@pytest.mark.parametrize(
    ("run_retries", "run_tags", "requested_again"),
    [
        pytest.param({"enabled": True}, {}, False, id="the-instance-retries-failed-steps"),
        pytest.param(STAGING_RUN_RETRIES, {}, True, id="the-instance-retries-no-failed-step"),
        pytest.param(
            STAGING_RUN_RETRIES,
            {"dagster/retry_on_asset_or_op_failure": "true"},
            False,
            id="the-run-asks-for-its-failed-steps-to-be-retried",
        ),
        pytest.param(
            STAGING_RUN_RETRIES, {"dagster/will_retry": "true"}, False, id="dagster-says-it-retries-the-run"
        ),
        pytest.param(
            {"enabled": True}, {"dagster/will_retry": "false"}, True, id="dagster-says-it-does-not-retry-it"
        ),
    ],
)
def test_a_failed_landing_run_is_run_again_by_the_instance_or_the_sensor_never_neither(
    tmp_path, run_retries, run_tags, requested_again
):
    """Shared environments retry whole runs but not failed steps (`retry_on_asset_or_op_failure`
    false): a run whose step outlasted its own retries is then the sensor's to request again."""
    with dg.instance_for_test(overrides={"run_retries": run_retries}) as instance:
        _landing_run(
            instance,
            dg.DagsterRunStatus.FAILURE,
            "2013-01-02..2013-01-02@abc",
            **{PARTITION_TAG: "2013-01-02"},
            **run_tags,
        )
        requests = _tick(instance, tmp_path)
    again = [("2013-01-02..2013-01-02@abc#2", "2013-01-02")] if requested_again else []
    assert [(r.run_key, r.partition_key) for r in requests] == again


# --- several days landed at once, under a bare DAGSTER_HOME ------------------------------------------

LANDED = [dt.date(2013, 1, 1), dt.date(2013, 1, 3)]  # apart: a run each, both at once


def _execute(request: dg.RunRequest, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The run a request asks for, in a process of its own, as Dagster's default run launcher starts it."""
    tags = dict(request.tags) | ({PARTITION_TAG: request.partition_key} if request.partition_key else {})
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "job",
        "execute",
        "-m",
        "dataops_assets.definitions",
        "-j",
        DAILY_PIPELINE,
        "--tags",
        json.dumps(tags),
    ]
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_days_landed_at_once_under_a_bare_dagster_home_all_reach_the_hot_store(tmp_path):
    """No rendered dagster.yaml: no pool limits anything and every run starts at once. Each still
    reaches the hot store, because the runs take the DuckDB warehouse in turn (dbt included)."""
    from dataops_assets.pillars.processing.dbt_project import ensure_manifest
    from dataops_assets.resources.hot_store import SQLiteHotStore
    from dataops_assets.sources.replay import replay_nycflights13
    from dataops_assets_tests.services import environ
    from dataops_assets_tests.source_truth import flights_per_day

    ensure_manifest()  # what the code server does before any run process starts
    home = tmp_path / "dagster_home"
    home.mkdir()
    variables = {"DATAOPS_ENV": "testing", "DATAOPS_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(home)}
    with environ(**variables):
        env = load_environment("testing")
        replay_nycflights13(env.local_path(env.landing.path), LANDED, tmp_path / "cache")
        hot = SQLiteHotStore(path=str(env.local_path(env.hot_store.path)))
        with dg.DagsterInstance.get() as instance:
            requests = _sensed(instance, env)
    assert not (home / "dagster.yaml").exists()
    assert len(requests) == len(LANDED)
    runs = [_execute(r, os.environ | variables, tmp_path / f"run-{i}.log") for i, r in enumerate(requests)]
    codes = [run.wait(timeout=600) for run in runs]
    logs = {i: (tmp_path / f"run-{i}.log").read_text()[-2000:] for i, code in enumerate(codes) if code}
    assert codes == [0] * len(runs), logs

    # Every flight of every landed day is in the hot store, counted once.
    columns, rows = hot.read_partitions(
        "carrier_origin_daily", "flight_date", [d.isoformat() for d in LANDED]
    )
    served: dict[str, int] = {}
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        served[str(record["flight_date"])] = served.get(str(record["flight_date"]), 0) + record["flights"]
    assert served == flights_per_day(LANDED)


# --- the daemon on a staging-shaped environment ------------------------------------------------------

FIRST_BATCH = [dt.date(2013, 1, 1), dt.date(2013, 1, 2)]  # landed at once: one run
RETENTION = dg.AssetKey(["serving", "hot_retention"])
SECOND_BATCH = [dt.date(2013, 1, 3)]


@pytest.mark.slow
def test_unattended_files_landing_in_s3_reach_the_hot_store_and_a_second_landing_re_runs_nothing_else(
    pg_database, s3_endpoint, tmp_path
):
    from dataops_assets_tests.daemon import days_of, sensor_ticks, unattended_staging
    from dataops_assets_tests.services import shared_environment
    from dataops_assets_tests.source_truth import flights_per_day

    env = shared_environment("staging", pg_database, tmp_path)
    assert env.automation.sensors and isinstance(env.dagster.run_coordinator, QueuedRunCoordinator)
    truth = flights_per_day(FIRST_BATCH + SECOND_BATCH)
    # Generous: the machine may be busy; every wait ends on a condition, not a clock.
    with unattended_staging(env, pg_database.dsn, tmp_path, deadline_s=900) as deployment:
        for batch in (FIRST_BATCH, SECOND_BATCH):
            deployment.land(batch)
            expected = {str(d): truth[str(d)] for d in batch}
            deployment.wait_for(
                lambda b=batch, e=expected: deployment.hot_flights(b) == e, f"hot rows of {batch}"
            )

        with dg.DagsterInstance.get() as instance:

            def landing_runs_ended():
                runs = instance.get_runs(filters=dg.RunsFilter(tags={SENSOR_NAME_TAG: LANDING_SENSOR}))
                return runs if runs and all(r.is_finished for r in runs) else None

            landing_runs = deployment.wait_for(landing_runs_ended, "the landing runs' end")
            # One run per batch, each over exactly its days, and each succeeded the first time.
            assert sorted(sorted(days_of(r)) for r in landing_runs) == [
                [str(d) for d in FIRST_BATCH],
                [str(d) for d in SECOND_BATCH],
            ]
            assert {r.status for r in landing_runs} == {dg.DagsterRunStatus.SUCCESS}
            ended = max(instance.get_run_record_by_id(r.run_id).end_time for r in landing_runs)

            def automation_ticks_after_the_landings():
                ticks = sensor_ticks(instance, "serving_automation")
                return ticks if any(t.is_completed and t.timestamp > ended for t in ticks) else None

            # A tick after the last landing run evaluated everything the landings changed. No tick asked
            # for a day of a hot table that a landing did not touch: not the first batch's days after
            # the second landing (raw/planes, re-published by it, is no new data for them), and never
            # a day that did not land. (A landing run publishes its own days; a tick that falls inside
            # it may still ask for one of them once: redundant, not wrong.)
            ticks = deployment.wait_for(
                automation_ticks_after_the_landings, "the automation's tick after the landings"
            )
            second_landed = min(
                instance.get_run_record_by_id(r.run_id).create_timestamp.timestamp()
                for r in landing_runs
                if days_of(r) == {str(d) for d in SECOND_BATCH}
            )
            requested = [
                (t.timestamp, day)
                for t in ticks
                for key, days in t.requested_assets_and_partitions.items()
                for day in days
                if key != RETENTION  # unpartitioned: what it lists are its checks
            ]
            assert {day for _, day in requested} <= {str(d) for d in FIRST_BATCH + SECOND_BATCH}
            assert [
                day
                for at, day in requested
                if at > second_landed and day not in {str(d) for d in SECOND_BATCH}
            ] == []
