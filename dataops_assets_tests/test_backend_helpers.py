"""The small pure helpers the PostgreSQL and S3 backends share."""

from __future__ import annotations

import pytest

from dataops_assets.resources.landing_zone import glob_regex
from dataops_assets.resources.postgres import (
    dbt_profile_env,
    pg_type,
    qmark_to_format,
    redact_dsn,
    redact_text,
)


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://app:s3cr%40t@db:6543/wh", "postgresql://app@db:6543/wh"),
        ("host=db port=5433 user=app password=s3cret dbname=wh", "postgresql://app@db:5433/wh"),
        ("postgresql://postgres@127.0.0.1/x", "postgresql://postgres@127.0.0.1:5432/x"),
        ("not a dsn password=s3cret ===", "<unparseable DSN>"),
    ],
)
def test_a_dsn_is_shown_without_its_password(dsn, shown):
    assert redact_dsn(dsn) == shown
    assert "s3cr" not in redact_dsn(dsn)


def test_a_message_quoting_the_password_is_redacted():
    assert redact_text("auth failed for s3cret", "postgresql://app:s3cret@db/wh") == "auth failed for ***"


def test_dbt_gets_the_connection_as_its_profile_variables():
    env = dbt_profile_env("postgresql://app:pw@db:6543/wh")
    assert env == {
        "DATAOPS_PG_HOST": "db",
        "DATAOPS_PG_PORT": "6543",
        "DATAOPS_PG_USER": "app",
        "DATAOPS_PG_PASSWORD": "pw",
        "DATAOPS_PG_DATABASE": "wh",
    }


def test_qmark_placeholders_become_psycopg_ones_and_percent_signs_survive():
    assert qmark_to_format("SELECT '5%' FROM t WHERE d BETWEEN ?::DATE AND ?") == (
        "SELECT '5%%' FROM t WHERE d BETWEEN %s::DATE AND %s"
    )


@pytest.mark.parametrize(
    ("warehouse_type", "postgres_type"),
    [
        ("DOUBLE", "double precision"),
        ("DOUBLE PRECISION", "double precision"),
        ("HUGEINT", "numeric"),
        ("DECIMAL(18,3)", "numeric(18,3)"),
        ("VARCHAR", "text"),
        ("DATE", "date"),
        ("TIMESTAMP WITH TIME ZONE", "timestamptz"),
        ("BIGINT", "bigint"),
    ],
)
def test_warehouse_types_map_to_postgres(warehouse_type, postgres_type):
    assert pg_type(warehouse_type) == postgres_type


def test_landing_globs_match_as_path_glob_does():
    pattern = glob_regex("flights/date=2013-01-01/*.csv")
    assert pattern.match("flights/date=2013-01-01/a.csv")
    assert not pattern.match("flights/date=2013-01-01/nested/a.csv")
    assert not pattern.match("flights/date=2013-01-011/a.csv")
    assert glob_regex("**").match("a/b/c.csv")
