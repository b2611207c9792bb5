"""Real services for the tests: an S3 endpoint (moto's standalone server on a free loopback port,
started here) and PostgreSQL on 127.0.0.1:5432 (a fresh database per test module, dropped after).

When a service is unavailable the tests that need it skip with the reason, unless
DATAOPS_REQUIRE_SERVICES=1 (CI), where they fail instead: they must not silently skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml

from dataops_assets.environments.loader import load_environment
from dataops_assets.environments.model import Environment
from dataops_assets.paths import PROJECT_DIR

ADMIN_DSN = os.environ.get("DATAOPS_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
S3_VARIABLES = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def unavailable(reason: str):
    if os.environ.get("DATAOPS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (DATAOPS_REQUIRE_SERVICES=1: the services must be available)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def environ(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on loopback; DATAOPS_S3_ENDPOINT_URL and test AWS credentials point at it."""
    executable = shutil.which("moto_server")
    if executable is None:
        unavailable("moto_server is not installed (pip install -e '.[dev]')")
    port = _free_port()
    server = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                unavailable(f"moto_server did not start on port {port}")
            time.sleep(0.1)
        with environ(DATAOPS_S3_ENDPOINT_URL=url, **S3_VARIABLES):
            yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


class MotoServer:
    """moto's S3 in this process (ThreadedMotoServer) on a free loopback port: it can be stopped and
    started again with its buckets kept, as an outage of S3 would (test_faults.py)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.server = None


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    try:
        with psycopg.connect(ADMIN_DSN, connect_timeout=3) as con:
            con.execute("SELECT 1")
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({str(error).splitlines()[0]})")
    return ADMIN_DSN


@contextlib.contextmanager
def fresh_database(admin_dsn: str, roles: tuple[str, ...] = ()):
    """A new database (dataops_i3_<uuid8>) for the block; dropped after, with `roles` made inside it."""
    name = f"dataops_i3_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in roles:
                con.execute(f'DROP ROLE IF EXISTS "{role}"')


@dataclass(frozen=True)
class PgDatabase:
    dsn: str
    api_role: str  # a read-only role name of its own (roles are cluster-wide)


@pytest.fixture(scope="module")
def pg_database(postgres_admin):
    """A fresh database for this test module; DATAOPS_PG_DSN (and Dagster's) point at it meanwhile."""
    role = f"dataops_i3_api_{uuid.uuid4().hex[:8]}"
    with (
        fresh_database(postgres_admin, roles=(role,)) as dsn,
        environ(DATAOPS_PG_DSN=dsn, DATAOPS_DAGSTER_PG_DSN=dsn),
    ):
        yield PgDatabase(dsn, role)


DATAOPS = str(Path(sys.executable).parent / "dataops")


def project_with(env: Environment, root: Path) -> Path:
    """A project directory whose environment file for `env.name` declares `env` (the rest of user space
    links to this repository's), for running the real `dataops` command with DATAOPS_PROJECT_DIR."""
    project = root / "project"
    (project / "environments").mkdir(parents=True, exist_ok=True)
    for part in ("sources", "dbt_project", "science"):
        if (PROJECT_DIR / part).exists() and not (project / part).exists():
            (project / part).symlink_to(PROJECT_DIR / part)
    text = yaml.safe_dump(env.model_dump(mode="json"), sort_keys=False)
    (project / "environments" / f"{env.name}.yaml").write_text(text)
    return project


def shared_environment(name: str, pg: PgDatabase, data_dir) -> Environment:
    """Environment `name` as declared, on this test's database, API role and buckets of its own."""
    env = load_environment(name)
    bucket = f"dataops-i3-{uuid.uuid4().hex[:8]}"
    return env.model_copy(
        update={
            "data_dir": str(data_dir),
            "landing": env.landing.model_copy(update={"bucket": bucket}),
            "cold_storage": env.cold_storage.model_copy(update={"bucket": bucket}),
            "hot_store": env.hot_store.model_copy(update={"readonly_role": pg.api_role}),
        }
    )


@contextlib.contextmanager
def hot_store_database(admin_dsn: str):
    """A fresh database made the way `dataops env apply` makes a shared environment's hot store
    (schemas, the read-only role of its own, grants, catalog tables): yields (writer DSN, API role)."""
    from dataops_assets.provisioning import database

    role = f"dataops_i3_api_{uuid.uuid4().hex[:8]}"
    with fresh_database(admin_dsn, roles=(role,)) as dsn, environ(DATAOPS_PG_DSN=dsn):
        env = load_environment("staging")
        env = env.model_copy(update={"hot_store": env.hot_store.model_copy(update={"readonly_role": role})})
        for change in database.inspect(env).changes:
            if change.fix:
                change.fix()
        yield dsn, role


def login_as(dsn: str, role: str) -> str:
    """The same server and database, logged in as `role` (trust auth on the test server)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, user=role)


def copy_of_user_space(root: Path) -> Path:
    """A project directory holding a copy of this repository's user space (environments, sources, the
    dbt project without its build output), to add a user's own files to and run `dataops` on with
    DATAOPS_PROJECT_DIR: what a user's clone is."""
    project = root / "project"
    for part in ("environments", "sources"):
        shutil.copytree(PROJECT_DIR / part, project / part)
    shutil.copytree(
        PROJECT_DIR / "dbt_project",
        project / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "_sources.yml"),
    )
    return project


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory):
    """A Spark standalone master, two one-core workers and a Hive metastore on loopback, made of the
    installed pyspark; stopped after the session."""
    from dataops_assets_tests.spark_cluster import ClusterDidNotStart, local_spark_cluster, missing

    reason = missing()
    if reason:
        unavailable(reason)
    try:
        with local_spark_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2) as cluster:
            yield cluster
    except ClusterDidNotStart as error:
        unavailable(str(error))
