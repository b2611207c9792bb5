"""Faults of the real services mid-run, on a staging-shaped environment (PostgreSQL warehouse, hot store
and Dagster storage; S3 on moto): the run's PostgreSQL sessions are terminated in the middle of a
warehouse load, and the S3 server is stopped between a raw file and its manifest, then started again.
Each faulted run recovers through retries or fails cleanly in one line; a re-run completes, and then
nothing is lost, nothing is duplicated and `dataops verify` is clean.

The faults strike at failpoints (`dataops_assets/failpoints.py`) where the run pauses until the test has
broken the service: the same point every time, not a moment guessed by timing. moto runs in this
process (ThreadedMotoServer) so that stopping and starting it again keeps its buckets, as S3's own
outage would.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from dataops_assets.failpoints import VARIABLE
from dataops_assets.provisioning.plan import apply, plan
from dataops_assets.sources.catalog import get_source
from dataops_assets_tests.services import (
    DATAOPS,
    S3_VARIABLES,
    MotoServer,
    environ,
    project_with,
    shared_environment,
)
from dataops_assets_tests.source_truth import flights_per_day, weather_per_day

pytestmark = pytest.mark.slow

DAYS = [dt.date(2013, 1, 1), dt.date(2013, 1, 2)]
DEADLINE_S = 600  # generous: the machine may be busy; the waits end on a condition, not a clock


@pytest.fixture(scope="module")
def staging(pg_database, tmp_path_factory):
    """A staging-shaped environment provisioned by `env apply` on this module's database and moto."""
    moto = MotoServer()
    moto.start()
    root = tmp_path_factory.mktemp("faults")
    try:
        with environ(DATAOPS_S3_ENDPOINT_URL=moto.url, **S3_VARIABLES):
            env = shared_environment("staging", pg_database, root)
            apply(plan(env), echo=lambda *_: None)
            variables = os.environ | {
                "DATAOPS_ENV": "staging",
                "DATAOPS_DATA_DIR": str(root),
                "DAGSTER_HOME": str(root / "dagster_home"),
                "DATAOPS_PROJECT_DIR": str(project_with(env, root)),
            }
            yield env, moto, root, variables
    finally:
        if moto.server is not None:
            moto.stop()


def _dataops(variables: dict[str, str], *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [DATAOPS, *args], env=variables | extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _run(variables, days: list[dt.date], **extra: str) -> subprocess.Popen:
    return _dataops(variables, "pipeline", "run", "--start", str(days[0]), "--end", str(days[-1]), **extra)


def _paused_at(run: subprocess.Popen, point: str, folder: Path) -> None:
    """Wait until the run has reached `point` (and waits there)."""
    deadline = time.monotonic() + DEADLINE_S
    while not (folder / f"{point}.reached").exists():
        assert run.poll() is None, f"the run ended before {point}: {run.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"{point} not reached in {DEADLINE_S} s"
        time.sleep(0.1)


def _faulted_run(variables, days, point: str, folder: Path, fault) -> tuple[int, str]:
    """A run paused at `point`, the service broken there by `fault()`, then let go: (exit code, stderr)."""
    folder.mkdir()
    run = _run(variables, days, **{VARIABLE: f"{point}@pause:{folder}"})
    try:
        _paused_at(run, point, folder)
        fault()
        (folder / f"{point}.resume").touch()
        _, stderr = run.communicate(timeout=DEADLINE_S)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    return run.returncode, stderr


def _ends_cleanly(code: int, stderr: str) -> None:
    """Recovered (exit 0), or failed with one line that says why (exit 1)."""
    if code != 0:
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert code == 1 and len(errors) == 1, stderr[-2000:]


def _terminate_sessions(dsn: str) -> int:
    """End every other session on the database (the run's among them), as a failover or an operator
    would; how many."""
    with psycopg.connect(dsn, autocommit=True) as con:
        return con.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended"
        ).fetchone()[0]


def _warehouse_day(dsn: str, dataset: str, day: dt.date) -> tuple[int, int]:
    """(rows, distinct keys) of raw.<dataset> for `day` in the PostgreSQL warehouse; (0, 0) if none."""
    key = ", ".join(get_source(dataset).primary_key)
    with psycopg.connect(dsn) as con:
        exists = con.execute("SELECT to_regclass(%s)", [f"raw.{dataset}"]).fetchone()[0]
        if exists is None:
            return 0, 0
        return con.execute(
            f"SELECT count(*), count(DISTINCT ({key})) FROM raw.{dataset} WHERE partition_date = %s", [day]
        ).fetchone()


def _hot_flights(dsn: str, day: dt.date) -> tuple[int, int, int]:
    """(rows, distinct keys, flights counted) of serving.carrier_origin_daily for `day`."""
    with psycopg.connect(dsn) as con:
        return con.execute(
            "SELECT count(*), count(DISTINCT (carrier, origin)), coalesce(sum(flights), 0) "
            "FROM serving.carrier_origin_daily WHERE flight_date = %s",
            [day],
        ).fetchone()


@pytest.fixture(scope="module")
def faults(staging, pg_database):
    """Both faults, then a re-run of their days: what each faulted run and the re-run did."""
    env, moto, root, variables = staging
    truth = flights_per_day(DAYS)
    outcome = {}

    ended: list[int] = []
    outcome["postgres"] = _faulted_run(
        variables,
        DAYS[:1],
        "warehouse.mid_load",
        root / "pg-fault",
        lambda: ended.append(_terminate_sessions(pg_database.dsn)),
    )
    outcome["sessions_ended"] = ended[0]
    # A day of the warehouse is whole or absent, never half-loaded.
    outcome["after_postgres"] = _warehouse_day(pg_database.dsn, "flights", DAYS[0])

    outcome["s3"] = _faulted_run(variables, DAYS[1:], "raw.before_manifest", root / "s3-fault", moto.stop)
    moto.start()

    rerun = _run(variables, DAYS)
    stdout, stderr = rerun.communicate(timeout=DEADLINE_S)
    outcome["rerun"] = (rerun.returncode, stdout, stderr)
    verify = _dataops(variables, "verify")
    verified, problems = verify.communicate(timeout=DEADLINE_S)
    outcome["verify"] = (verify.returncode, verified + problems)
    outcome["truth"] = truth
    return outcome


def test_a_run_whose_postgresql_sessions_are_terminated_mid_load_recovers_or_fails_cleanly(faults):
    assert faults["sessions_ended"] >= 1
    _ends_cleanly(*faults["postgres"])
    rows, keys = faults["after_postgres"]
    assert rows == keys and rows in (0, faults["truth"][str(DAYS[0])])


def test_a_run_whose_s3_server_stops_mid_publish_recovers_or_fails_cleanly(faults):
    _ends_cleanly(*faults["s3"])


def test_after_the_faults_a_re_run_completes_with_nothing_lost_or_duplicated(faults, pg_database):
    code, stdout, stderr = faults["rerun"]
    assert code == 0, stderr[-2000:]
    weather = weather_per_day(DAYS)
    for day in DAYS:
        flights = faults["truth"][str(day)]
        assert _warehouse_day(pg_database.dsn, "flights", day) == (flights, flights)
        assert _warehouse_day(pg_database.dsn, "weather", day) == (weather[str(day)], weather[str(day)])
        rows, keys, served = _hot_flights(pg_database.dsn, day)
        assert rows == keys and served == flights


def test_after_the_faults_verify_is_clean(faults):
    code, output = faults["verify"]
    assert code == 0, output
