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
    root = tmp_path_factory.mktemp("o'brien-testing")
    with environ(DATAOPS_ENV="testing", DATAOPS_DATA_DIR=str(root), DAGSTER_HOME=str(root / "dagster_home")):
        yield root


@pytest.fixture(scope="session")
def testing_env(testing_root):
    return load_environment("testing")


@pytest.fixture(scope="session")
def pipeline_run(testing_env):
    """The main job for PIPELINE_DAYS, run once for the whole session."""
    from dataops_assets.runs.pipeline import run_pipeline

    outcome = run_pipeline(testing_env, PIPELINE_DAYS, echo=lambda *_: None)
    assert outcome.success, outcome.failure
    return outcome


# Real PostgreSQL and S3 (moto) for the tests that need them.
from dataops_assets_tests.services import pg_database, postgres_admin, s3_endpoint  # noqa: E402, F401


@pytest.fixture(scope="session")
def served_sqlite(tmp_path_factory):
    """`dataops serve` (testing environment) over a SQLite hot store of known rows (api_server)."""
    from dataops_assets.resources.hot_store import SQLiteHotStore
    from dataops_assets_tests.api_server import DAYS, Served, publish_carriers, running_server

    root = tmp_path_factory.mktemp("api-sqlite")
    store = SQLiteHotStore(path=str(root / "hot.sqlite"))
    publish_carriers(store, DAYS)
    with running_server(root) as url:
        yield Served("sqlite", store, root, url)


@pytest.fixture(scope="session")
def served_postgres(request, tmp_path_factory):
    """The same rows in a PostgreSQL hot store made by `env apply`, served (staging environment) through
    the read-only role."""
    from dataops_assets.resources.hot_store import PostgresHotStore
    from dataops_assets_tests.api_server import DAYS, Served, publish_carriers, running_server
    from dataops_assets_tests.services import hot_store_database, login_as

    root = tmp_path_factory.mktemp("api-postgres")
    with hot_store_database(request.getfixturevalue("postgres_admin")) as (dsn, role):
        store = PostgresHotStore(dsn=dsn, readonly_role=role)
        publish_carriers(store, DAYS)
        with running_server(root, "staging", {"DATAOPS_API_PG_DSN": login_as(dsn, role)}) as url:
            yield Served("postgres", store, root, url)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def served(request):
    """The API tests run against each hot store: the same requests, the same answers."""
    return request.getfixturevalue(f"served_{request.param}")
