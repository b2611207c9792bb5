"""`dataops archive ...`: hot rows that retention moved back to cold storage, read back."""

from __future__ import annotations

import datetime as dt

import click

from dataops_assets.cli.common import environment, fail, served


def _day(_ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param=param) from None


def _tampered_is_an_error(read, *args):
    """What `read` returns; a manifest or file that is not what the platform archived is one line."""
    from dataops_assets.layout import BadManifest
    from dataops_assets.names import UnsafeName

    try:
        return read(*args)
    except (BadManifest, UnsafeName) as error:
        fail(str(error))


@click.group()
def archive() -> None:
    """Hot rows past the retention window, archived in cold storage (archive/<table>/date=…/)."""


@archive.command("list")
def archive_list() -> None:
    """Each served table's archived days and rows."""
    from dataops_assets.pillars.serving.archive import archived_files
    from dataops_assets.resources.factory import open_resource

    storage = open_resource(environment(), "cold_storage")
    for table in served():
        files = _tampered_is_an_error(archived_files, storage, table, None, None)
        days = sorted({f["day"] for f in files})
        span = f"{days[0]} .. {days[-1]}" if days else "-"
        click.echo(f"{table:<28} {len(days):>5} day(s)  {sum(f['rows'] for f in files):>9} row(s)  {span}")


@archive.command("read")
@click.argument("table")
@click.option("--start", callback=_day, metavar="YYYY-MM-DD", help="First day (inclusive).")
@click.option("--end", callback=_day, metavar="YYYY-MM-DD", help="Last day (inclusive).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the rows to a .parquet or .csv file.")
def archive_read(table: str, start: str | None, end: str | None, out: str | None) -> None:
    """Read TABLE's archived rows back: a preview, or all of them into --out."""
    import duckdb

    from dataops_assets.pillars.serving.archive import read_archive
    from dataops_assets.resources.factory import open_resource

    tables = served()
    if table not in tables:
        fail(f"no served table {table!r}; served: {', '.join(tables)}")
    if out and not out.endswith((".parquet", ".csv")):
        fail(f"--out must end in .parquet or .csv, not {out!r}")
    con = duckdb.connect()
    rows = _tampered_is_an_error(
        read_archive, con, open_resource(environment(), "cold_storage"), table, start, end
    )
    if rows is None:
        fail(f"nothing of {table} is archived for {start or 'the start'} .. {end or 'the end'}")
    count = rows.count("*").fetchone()[0]
    if out:
        if out.endswith(".csv"):
            rows.write_csv(out)
        else:
            rows.write_parquet(out)
        click.echo(f"wrote {count} archived row(s) of {table} to {out}")
    else:
        click.echo(f"{count} archived row(s) of {table}; the first ones:")
        click.echo(str(rows.limit(10)))
