"""Shared fixtures: the `testing` environment in a temporary directory, and one pipeline run that
every test reading its results shares (a Dagster run costs seconds)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dataops_assets.environments.loader import load_environment
from dataops_assets_tests.services import environ

# Three days of the testing environment's fixed slice (the first week of 2013).
PIPELINE_DAYS = [dt.date(2013, 1, 1) + dt.timedelta(days=i) for i in range(3)]


@pytest.fixture(scope="session")
def testing_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dataops-testing")
    with environ(DATAOPS_ENV="testing", DATAOPS_DATA_DIR=str(root), DAGSTER_HOME=str(root / "dagster_home")):
        yield root


@pytest.fixture(scope="session")
def testing_env(testing_root):
    return load_environment("testing")


@pytest.fixture(scope="session")
def pipeline_run(testing_env):
    """The main job for PIPELINE_DAYS, run once for the whole session."""
    from dataops_assets.cli.pipeline import run_pipeline

    outcome = run_pipeline(testing_env, PIPELINE_DAYS, echo=lambda *_: None)
    assert outcome.success, outcome.failure
    return outcome


# Real PostgreSQL and S3 (moto) for the tests that need them.
from dataops_assets_tests.services import pg_database, postgres_admin, s3_endpoint  # noqa: E402, F401


@pytest.fixture(scope="session")
def api_data_dir(tmp_path_factory) -> Path:
    """A hot store of known rows (api_server.carrier_rows) for the API tests; tests may add tables."""
    from dataops_assets.resources.hot_store import SQLiteHotStore
    from dataops_assets_tests.api_server import DAYS, publish_carriers

    root = tmp_path_factory.mktemp("api")
    publish_carriers(SQLiteHotStore(path=str(root / "hot.sqlite")), DAYS)
    return root


@pytest.fixture(scope="session")
def api_url(api_data_dir) -> str:
    """A real `dataops serve` process on loopback over `api_data_dir`, shared by the API tests."""
    from dataops_assets_tests.api_server import running_server

    with running_server(api_data_dir) as url:
        yield url
