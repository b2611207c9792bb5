"""`dataops verify`: cold storage against its manifests."""

from __future__ import annotations

import click

from dataops_assets.cli.common import environment, fail


@click.command()
def verify() -> None:
    """Re-hash cold storage against its manifests; exit non-zero on any difference."""
    from dataops_assets.pillars.raw.verify import verify_cold_storage
    from dataops_assets.resources.factory import open_resource

    report = verify_cold_storage(open_resource(environment(), "cold_storage"))
    for problem in report.problems:
        click.echo(problem)
    for key in report.unpublished:
        click.echo(
            f"unpublished: {key} (whole, but no manifest names it yet: an interrupted publish; harmless)"
        )
    click.echo(
        f"verified {report.files_checked} file(s) in {report.manifests_checked} manifest(s): "
        f"{len(report.problems)} problem(s)"
    )
    if report.problems:
        fail(f"cold storage differs from its manifests ({len(report.problems)} problem(s))")
