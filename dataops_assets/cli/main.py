"""The `dataops` command line. Every command exits 0 on success, non-zero with a one-line reason."""

from __future__ import annotations

import sys

import click

from dataops_assets.environments.loader import load_environment
from dataops_assets.yaml_config import InvalidConfig


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _environment(name: str | None = None):
    try:
        return load_environment(name)
    except InvalidConfig as error:
        fail(str(error))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dataops: ingestion -> cold raw storage -> dbt processing -> hot serving, on Dagster.

    The environment comes from DATAOPS_ENV (sandbox, testing, development, staging, production;
    default sandbox) and its file in environments/.
    """


@main.group()
def pipeline() -> None:
    """The data pipeline track."""


@pipeline.command("run")
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day (inclusive).")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="Last day (inclusive).")
def pipeline_run(start: str, end: str) -> None:
    """Run every pillar for the days START..END as one run in the Dagster instance at DAGSTER_HOME."""
    from rich.console import Console
    from rich.table import Table

    from dataops_assets.cli.pipeline import PipelineError, parse_window, run_pipeline

    env = _environment()
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        days = parse_window(env, start, end)
        outcome = run_pipeline(env, days, echo=console.print)
    except (PipelineError, InvalidConfig) as error:
        fail(str(error))

    table = Table(title=f"{env.name}: rows per pillar per day (run {outcome.run_id[:8]})")
    columns = list(outcome.summary[0]) if outcome.summary else []
    for column in columns:
        table.add_column(column, justify="left" if column in ("day", "dataset") else "right")
    for row in outcome.summary:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)
    console.print(
        f"checks: {outcome.checks_passed} passed, {len(outcome.checks_failed)} failed"
        + (f" ({', '.join(outcome.checks_failed)})" if outcome.checks_failed else "")
    )
    console.print(f"runs are recorded in DAGSTER_HOME={__import__('os').environ['DAGSTER_HOME']}")
    if not outcome.success:
        fail(f"run {outcome.run_id} failed: {outcome.failure}")
    if outcome.checks_failed:
        fail(f"{len(outcome.checks_failed)} check(s) failed: {', '.join(outcome.checks_failed)}")


@main.group()
def env() -> None:
    """Environments as code: environments/<name>.yaml."""


@env.command("list")
def env_list() -> None:
    """Every environment and what backs it."""
    from dataops_assets.environments.model import ENVIRONMENT_NAMES
    from dataops_assets.paths import ENVIRONMENTS_DIR

    for name in ENVIRONMENT_NAMES:
        if not (ENVIRONMENTS_DIR / f"{name}.yaml").exists():
            continue
        e = _environment(name)
        click.echo(f"{name:<12} warehouse={e.warehouse.kind:<8} hot={e.hot_store.kind:<8} {e.description}")


@env.command("show")
@click.argument("name")
def env_show(name: str) -> None:
    """The validated desired state of environment NAME, as YAML."""
    import yaml

    click.echo(yaml.safe_dump(_environment(name).model_dump(mode="json"), sort_keys=False).rstrip())


@main.command()
def verify() -> None:
    """Re-hash cold storage against its manifests; exit non-zero on any difference."""
    from dataops_assets.pillars.raw.verify import verify_cold_storage
    from dataops_assets.resources.factory import cold_storage

    report = verify_cold_storage(cold_storage(_environment()))
    for problem in report.problems:
        click.echo(problem)
    click.echo(f"verified {report.files_checked} file(s) in {report.manifests_checked} manifest(s): "
               f"{len(report.problems)} problem(s)")
    if report.problems:
        fail(f"cold storage differs from its manifests ({len(report.problems)} problem(s))")


if __name__ == "__main__":
    main()
