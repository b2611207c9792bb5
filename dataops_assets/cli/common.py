"""What every `dataops` command shares: the environment, and failing with a one-line reason."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from dataops_assets.environments.loader import load_environment
from dataops_assets.environments.model import Environment, MissingSecretError
from dataops_assets.redact import redact
from dataops_assets.resources import postgres
from dataops_assets.yaml_config import InvalidConfig


def fail(message: str) -> NoReturn:
    click.echo(f"error: {redact(message)}", err=True)  # an error may quote a connection string
    sys.exit(1)


def environment(name: str | None = None, secrets: bool = False) -> Environment:
    """The environment NAME (default: DATAOPS_ENV); with `secrets`, every secret the pipeline needs is
    set, and every DSN among them parses."""
    try:
        env = load_environment(name)
        if secrets:
            for where, ref in env.pipeline_secrets().items():
                value = ref.resolve()
                if where.endswith("dsn"):
                    postgres.parse(value)
        return env
    except (InvalidConfig, MissingSecretError, postgres.UnparseableDSN) as error:
        fail(str(error))


def served() -> dict:
    """The served tables as the project declares them now (dbt's manifest made current first)."""
    from dataops_assets.runs.declarations import check_declarations

    try:
        return check_declarations().served
    except InvalidConfig as error:
        fail(str(error))
