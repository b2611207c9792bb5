"""`dataops env ...`: environments as code."""

from __future__ import annotations

from pathlib import Path

import click

from dataops_assets.cli.common import environment, fail


@click.group()
def env() -> None:
    """Environments as code: environments/<name>.yaml is the desired state."""


@env.command("list")
def env_list() -> None:
    """Every environment and what backs it."""
    from dataops_assets.environments.model import ENVIRONMENT_NAMES
    from dataops_assets.paths import ENVIRONMENTS_DIR

    for name in ENVIRONMENT_NAMES:
        if (ENVIRONMENTS_DIR / f"{name}.yaml").exists():
            e = environment(name)
            click.echo(
                f"{name:<12} storage={e.cold_storage.kind:<6} warehouse={e.warehouse.kind:<9} "
                f"hot={e.hot_store.kind:<9} launcher={e.dagster.run_launcher.kind:<8} {e.description}"
            )


def describe_secret(variable: str) -> str:
    """A secret as `env show` may print it: whether it is set and, for a DSN, where it points."""
    import os

    from dataops_assets.resources.postgres import redact_dsn

    value = os.environ.get(variable)
    if not value:
        return f"{variable} (not set)"
    if value.startswith("postgres") or "host=" in value or "dbname=" in value:
        return f"{variable} = {redact_dsn(value)} (password hidden)"
    return f"{variable} (set, hidden)"


def describe_consumer(consumer) -> str:
    """One consumer as `env show` prints it: its scope, how it proves who it is, its limit."""
    if consumer.token is not None:
        proof = f"token {describe_secret(consumer.token.env)}"
    else:
        proof = "token by SHA-256" if consumer.token_sha256 else "open (no token)"
    limit = consumer.rate_limit
    return (
        f"{consumer.name}: tables {', '.join(consumer.tables) or '(none)'}; {proof}; "
        f"{limit.per_second:g}/s, burst {limit.burst}" + ("; metrics" if consumer.metrics else "")
    )


@env.command("show")
@click.argument("name")
def env_show(name: str) -> None:
    """The validated desired state of environment NAME, as YAML; secrets are shown masked."""
    import yaml

    e = environment(name)
    click.echo(yaml.safe_dump(e.model_dump(mode="json"), sort_keys=False).rstrip())
    secrets = e.secrets()
    if secrets:
        click.echo("# secrets (references; values are never printed):")
        for where, ref in secrets.items():
            click.echo(f"#   {where}: {describe_secret(ref.env)}")
    if e.api.consumers:
        click.echo("# api consumers (tables they may read; tokens are never printed):")
        for consumer in e.api.consumers:
            click.echo(f"#   {describe_consumer(consumer)}")


@env.command("render")
@click.argument("name")
@click.option(
    "--to",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write dagster.yaml and profiles.yml into (default: print them).",
)
def env_render(name: str, target: Path | None) -> None:
    """The dagster.yaml and dbt profiles.yml that environment NAME implies, checked by Dagster's schema."""
    from dataops_assets.environments.render import (
        InvalidInstanceConfig,
        render_dbt_profile,
        render_instance_yaml,
        validate_instance_yaml,
    )

    e = environment(name)
    instance_yaml, profile_yaml = render_instance_yaml(e), render_dbt_profile(e)
    try:
        validate_instance_yaml(instance_yaml)
    except InvalidInstanceConfig as error:
        fail(f"the rendered dagster.yaml for {name} is not valid Dagster config: {error}")
    if target is None:
        click.echo("# --- dagster.yaml\n" + instance_yaml + "# --- profiles.yml\n" + profile_yaml.rstrip())
        return
    target.mkdir(parents=True, exist_ok=True)
    for filename, text in (("dagster.yaml", instance_yaml), ("profiles.yml", profile_yaml)):
        (target / filename).write_text(text)
        click.echo(f"wrote {target / filename}")


def _plan(name: str):
    from dataops_assets.provisioning.changes import PlanError
    from dataops_assets.provisioning.plan import plan

    e = environment(name, secrets=True)
    try:
        return plan(e)
    except PlanError as error:
        fail(str(error))
    except Exception as error:  # botocore's endpoint/credential errors: one line, no traceback
        fail(f"cannot compare {name} with what exists: {str(error).splitlines()[0]}")


@env.command("plan")
@click.argument("name")
def env_plan(name: str) -> None:
    """Compare environment NAME's desired state with what exists: + create, ~ update, = unchanged, ! drift."""
    click.echo(_plan(name).render())


@env.command("apply")
@click.argument("name")
def env_apply(name: str) -> None:
    """Make what exists match environment NAME's file (idempotent: a second apply changes nothing)."""
    from dataops_assets.provisioning.plan import apply

    current = _plan(name)
    if not current.pending:
        click.echo(current.render())
        return
    click.echo(f"applying {len(current.pending)} change(s) to {name}:")
    try:
        done = apply(current, echo=click.echo)
    except Exception as error:
        fail(f"apply stopped: {str(error).splitlines()[0]}")
    click.echo(f"Apply complete: {len(done)} change(s) made.")
