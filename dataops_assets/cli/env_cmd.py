"""`dataops env ...`: environments as code."""

from __future__ import annotations

import click

from dataops_assets.cli.common import environment


@click.group()
def env() -> None:
    """Environments as code: environments/<name>.yaml."""


@env.command("list")
def env_list() -> None:
    """Every environment and what backs it."""
    from dataops_assets.environments.model import ENVIRONMENT_NAMES
    from dataops_assets.paths import ENVIRONMENTS_DIR

    for name in ENVIRONMENT_NAMES:
        if (ENVIRONMENTS_DIR / f"{name}.yaml").exists():
            e = environment(name)
            click.echo(
                f"{name:<12} warehouse={e.warehouse.kind:<8} hot={e.hot_store.kind:<8} {e.description}"
            )


@env.command("show")
@click.argument("name")
def env_show(name: str) -> None:
    """The validated desired state of environment NAME, as YAML."""
    import yaml

    click.echo(yaml.safe_dump(environment(name).model_dump(mode="json"), sort_keys=False).rstrip())
