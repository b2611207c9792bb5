"""GitOps reconciliation inside Dagster, against a real PostgreSQL and S3 (moto): the scheduled check
passes while the platform matches its file, fails listing the `!` lines once something drifts, and
writes nothing (`dataops env apply` is the only writer)."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from dataops_assets.automation.reconciliation import CHECK, ENVIRONMENT_KEY, reconciliation
from dataops_assets.provisioning.plan import apply, plan
from dataops_assets_tests.services import shared_environment


@pytest.fixture(scope="module")
def staging(pg_database, s3_endpoint, tmp_path_factory):
    env = shared_environment("staging", pg_database, tmp_path_factory.mktemp("staging"))
    apply(plan(env), echo=lambda *_: None)
    return env


def _scheduled_check(env) -> dg.AssetCheckEvaluation:
    """Run what the schedule targets, in process, as the daemon would launch it."""
    platform, checks, schedules = reconciliation(env)
    defs = dg.Definitions(assets=platform, asset_checks=checks, schedules=schedules)
    job = defs.resolve_schedule_def("reconcile_environment").job
    result = defs.resolve_job_def(job.name).execute_in_process(raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.asset_key == ENVIRONMENT_KEY and evaluation.check_name == CHECK
    return evaluation


def test_shared_environments_schedule_the_check_and_local_ones_do_not(staging):
    assert reconciliation(staging)[2][0].cron_schedule == staging.reliability.reconcile_cron
    from dataops_assets.environments.loader import load_environment

    assert reconciliation(load_environment("sandbox")) == ([], [], [])


def test_drift_fails_the_check_with_the_bang_lines_and_only_apply_repairs_it(staging, pg_database):
    clean = _scheduled_check(staging)
    assert clean.passed, clean.description
    assert clean.description == "the platform matches its file"

    with psycopg.connect(pg_database.dsn, autocommit=True) as con:
        con.execute("DROP SCHEMA marts CASCADE")  # by hand, behind apply's back
    drifted = _scheduled_check(staging)
    assert not drifted.passed and drifted.severity == dg.AssetCheckSeverity.ERROR
    bang = "! postgres schema marts  (made by apply, now missing)"
    assert bang in drifted.description
    assert drifted.metadata["drifted"].value == [bang]
    assert "Plan: 0 to create, 0 to update, 1 drifted" in drifted.metadata["plan"].value

    # The check wrote nothing: the drift is still there until apply repairs it.
    assert [c.action for c in plan(staging).pending] == ["drift"]
    apply(plan(staging), echo=lambda *_: None)
    assert _scheduled_check(staging).passed
