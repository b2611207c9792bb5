"""`dataops pipeline ...`: the data pipeline track."""

from __future__ import annotations

import os
import sys

import click

from dataops_assets.cli.common import environment, fail
from dataops_assets.yaml_config import InvalidConfig


@click.group()
def pipeline() -> None:
    """The data pipeline track."""


@pipeline.command("run")
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day (inclusive).")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="Last day (inclusive).")
def pipeline_run(start: str, end: str) -> None:
    """Run every pillar for the days START..END as one run in the Dagster instance at DAGSTER_HOME."""
    from rich.console import Console

    from dataops_assets.runs.pipeline import PipelineError, parse_window, run_pipeline

    env = environment(secrets=True)
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        days = parse_window(env, start, end)
        outcome = run_pipeline(env, days, echo=console.print)
    except (PipelineError, InvalidConfig) as error:
        fail(str(error))

    summary = outcome.summary
    run = outcome.run_id[:8]
    console.print(_table(f"{env.name}: rows per pillar per day (run {run})", summary.datasets))
    if summary.served:
        console.print(_table(f"{env.name}: served tables per day (run {run})", summary.served))
    console.print(
        f"checks: {outcome.checks_passed} passed, {len(outcome.checks_failed)} failed"
        + (f" ({', '.join(outcome.checks_failed)})" if outcome.checks_failed else "")
    )
    console.print(f"runs are recorded in DAGSTER_HOME={os.environ['DAGSTER_HOME']}")
    if summary.incomplete:
        console.print("did not complete:")
        for line in summary.incomplete:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    if not outcome.success:
        fail(f"run {outcome.run_id} failed: {outcome.failure}")
    if outcome.checks_failed:
        fail(f"{len(outcome.checks_failed)} check(s) failed: {', '.join(outcome.checks_failed)}")


def _table(title: str, rows: list[dict]):
    from rich.table import Table

    table = Table(title=title)
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(
            column, justify="right" if column not in ("day", "dataset", "table", "status") else "left"
        )
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    return table
