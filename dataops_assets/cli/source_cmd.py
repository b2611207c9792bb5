"""`dataops source ...`: drafting a source declaration from a sample file, and checking them all."""

from __future__ import annotations

from pathlib import Path

import click

from dataops_assets.cli.common import fail

# Existence is checked when the command runs: the docs test parses shown commands without their files.
FILE = click.Path(dir_okay=False, path_type=Path)


@click.group()
def source() -> None:
    """Source declarations (sources/*.yaml): draft one from a sample file, check them all."""


@source.command("infer")
@click.argument("file", type=FILE)
@click.option("--name", required=True, help="The dataset's name: lower-case letters, digits and _.")
@click.option(
    "--partition-date",
    metavar="COLUMN",
    help="The column whose date gives each row its day (a daily source); without it, a table replaced whole.",
)
def source_infer(file: Path, name: str, partition_date: str | None) -> None:
    """Print a complete source declaration drafted from FILE (CSV, JSON or Parquet): types sniffed,
    safe names with `from:` for awkward headers, date formats, key candidates. Save it as
    sources/NAME.yaml, check it with `dataops source check NAME --file FILE`."""
    from dataops_assets.sources.infer import CannotInfer, infer_source

    try:
        click.echo(infer_source(file, name, partition_date), nl=False)
    except CannotInfer as error:
        fail(str(error))


@source.command("check")
@click.argument("name", required=False)
@click.option(
    "--file",
    "file",
    type=FILE,
    help="Dry-run this file as a landing file of NAME: rows that would land and be quarantined per "
    "day, with reasons. Nothing is written.",
)
def source_check(name: str | None, file: Path | None) -> None:
    """Validate every declaration before anything runs: the sources (sources/*.yaml), dbt's project
    with the sources generated from them, and the dbt models' serve declarations."""
    from dataops_assets.runs.declarations import InvalidDeclarations, check_declarations

    if file and not name:
        fail("--file needs NAME: the source whose declaration reads it")
    try:
        declared = check_declarations()
    except InvalidDeclarations as error:
        for problem in error.problems:
            click.echo(f"  {problem}")
        fail(f"{len(error.problems)} problem(s) in the declarations")
    sources = {s.name: s for s in declared.sources}
    click.echo(f"sources: {len(sources)} declared, valid ({', '.join(sources)})")
    served = [f"{t.name} (model {t.model})" for t in declared.served.values() if t.model]
    click.echo(f"served tables: {', '.join(served) or 'none declared'}")
    if name is None:
        return
    if name not in sources:
        fail(f"no source {name!r} in sources/; declared: {', '.join(sources)}")
    click.echo(_describe(sources[name]))
    if file:
        _dry_run(sources[name], file)


def _describe(source) -> str:
    if not source.is_daily:
        layout = "loaded whole (partitioning: none)"
    elif source.holds_many_days:
        layout = "daily, files holding many days"
    else:
        layout = "daily, one folder of files per day"
    return (
        f"{source.name}: {layout}, landing {source.landing!r} ({source.format}), span {source.span}, "
        f"missing: {source.missing}, key ({', '.join(source.primary_key)})"
    )


def _dry_run(source, file: Path) -> None:
    from dataops_assets.pillars.ingestion.dry_run import dry_run
    from dataops_assets.pillars.ingestion.validate import RefusedFile

    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        result = dry_run(source, file)
    except RefusedFile as refused:
        fail(f"the file would be refused whole: {refused}")
    click.echo(f"dry run of {file} as {source.name} (nothing written): {result.rows_read:,} row(s) read")
    click.echo(f"{'day':<12} {'rows':>7} {'land':>7} {'quarantine':>10}  reasons")
    for day in result.days:
        if day.expected:
            reasons = ", ".join(f"{kind}: {n}" for kind, n in day.reasons.most_common())
            click.echo(f"{day.day:<12} {day.rows:>7} {day.land:>7} {day.quarantine:>10}  {reasons}".rstrip())
        else:
            click.echo(f"{day.day:<12} {day.rows:>7} {'-':>7} {'-':>10}  not expected (span {source.span})")
    if result.undated:
        reasons = ", ".join(f"{kind}: {n}" for kind, n in result.undated_reasons.most_common())
        click.echo(f"{'(no day)':<12} {result.undated:>7} {'-':>7} {result.undated:>10}  {reasons}")
    click.echo(
        f"read {result.rows_read:,} = land {result.landed:,} + quarantine {result.quarantined:,}"
        + (f" + not expected {result.not_expected:,}" if result.not_expected else "")
    )
