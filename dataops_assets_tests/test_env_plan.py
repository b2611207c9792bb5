"""`env plan` / `env apply` against a real PostgreSQL and S3: apply converges, a second plan is empty,
and something removed by hand shows as drift."""

from __future__ import annotations

import psycopg
import pytest

from dataops_assets.provisioning.plan import apply, plan
from dataops_assets.resources.s3 import s3_client
from dataops_assets_tests.services import shared_environment


@pytest.fixture(scope="module")
def staging(pg_database, s3_endpoint, tmp_path_factory):
    return shared_environment("staging", pg_database, tmp_path_factory.mktemp("staging"))


def _actions(p) -> dict[str, str]:
    return {c.address: c.action for c in p.changes}


def test_plan_apply_plan_converges_and_drift_is_reported(staging, pg_database):
    first = plan(staging)
    bucket = staging.landing.bucket
    actions = _actions(first)
    assert actions[f"s3 bucket {bucket}"] == "create"
    assert actions["postgres schema serving"] == "create"
    assert actions[f"postgres role {pg_database.api_role} (read-only API)"] == "create"
    assert "Plan: " in first.render() and " to create" in first.render()

    apply(first, echo=lambda *_: None)
    second = plan(staging)
    assert second.pending == [], second.render()
    assert second.render().endswith("No changes. The environment matches its file.")
    assert apply(second) == []  # idempotent: nothing to do

    # The API role: reads the hot schema, writes nothing.
    api = pg_database.dsn.replace("postgres@", f"{pg_database.api_role}@")
    with psycopg.connect(api) as con:
        assert con.execute("SELECT count(*) FROM serving._published").fetchone() == (0,)
    with psycopg.connect(api) as con, pytest.raises(psycopg.errors.InsufficientPrivilege):
        con.execute("INSERT INTO serving._published (table_name) VALUES ('x')")

    # Drift: a schema and a bucket removed, a write privilege granted by hand.
    with psycopg.connect(pg_database.dsn, autocommit=True) as con:
        con.execute("DROP SCHEMA marts CASCADE")
        con.execute("CREATE TABLE raw.sneaky (a int)")
        con.execute(f'GRANT INSERT ON raw.sneaky TO "{pg_database.api_role}"')
    client = s3_client("us-east-1")
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=bucket)

    drifted = plan(staging)
    actions = _actions(drifted)
    assert actions["postgres schema marts"] == "drift"
    assert actions[f"s3 bucket {bucket}"] == "drift"
    grants = next(c for c in drifted.changes if c.address.startswith("postgres grants"))
    assert grants.action == "drift" and "can write raw.sneaky" in grants.reason
    assert "! postgres schema marts  (made by apply, now missing)" in drifted.render()

    apply(drifted, echo=lambda *_: None)
    assert plan(staging).pending == []


def test_the_cli_plans_the_declared_file_against_the_same_server(staging, pg_database):
    from click.testing import CliRunner

    from dataops_assets.cli.main import main

    apply(plan(staging), echo=lambda *_: None)
    result = CliRunner().invoke(main, ["env", "plan", "staging"])  # the file as declared in Git
    assert result.exit_code == 0, result.output
    assert "  = postgres schema serving\n" in result.output  # made above, in the same database
    assert "s3 bucket dataops-staging" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith(("Plan: ", "No changes."))
