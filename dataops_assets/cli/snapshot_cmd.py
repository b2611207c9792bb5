"""`dataops snapshot ...`: frozen, zero-copy snapshots of cold storage for the science track."""

from __future__ import annotations

import time
from pathlib import Path

import click

from dataops_assets.cli.common import environment, fail


def _cold_storage():
    from dataops_assets.resources.factory import open_resource

    return open_resource(environment(), "cold_storage")


def _load(name: str):
    from dataops_assets.science.snapshots import SnapshotError, load_snapshot

    try:
        return load_snapshot(_cold_storage(), name)
    except SnapshotError as error:
        fail(str(error))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


@click.group()
def snapshot() -> None:
    """Frozen, zero-copy snapshots of cold storage partitions (the science track's inputs)."""


@snapshot.command("create")
@click.argument("name")
@click.option(
    "--datasets", required=True, metavar="A,B", help="Datasets to pin, e.g. flights,weather,planes."
)
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day (inclusive).")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="Last day (inclusive).")
def snapshot_create(name: str, datasets: str, start: str, end: str) -> None:
    """Pin the current files of DATASETS for START..END as snapshot NAME (copies no data).

    A dataset replaced as a whole (a dimension such as planes) is pinned as it is now.
    """
    from dataops_assets.science.snapshots import SnapshotError, create_snapshot
    from dataops_assets.yaml_config import InvalidConfig

    storage = _cold_storage()
    started = time.perf_counter()
    try:
        frozen = create_snapshot(
            storage, name, [d.strip() for d in datasets.split(",") if d.strip()], start, end
        )
    except (SnapshotError, InvalidConfig) as error:
        fail(str(error))
    click.echo(
        f"snapshot {frozen.name}: id {frozen.id[:16]}, pins {len(frozen.files)} file(s), "
        f"{frozen.rows:,} rows, {_size(frozen.bytes)} of {', '.join(frozen.datasets)} "
        f"({frozen.content['window']['start']}..{frozen.content['window']['end']}); "
        f"no data copied, {time.perf_counter() - started:.2f} s"
    )


@snapshot.command("list")
def snapshot_list() -> None:
    """Every snapshot in this environment's cold storage."""
    from dataops_assets.science.snapshots import SnapshotError, list_snapshots

    try:
        snapshots = list_snapshots(_cold_storage())
    except SnapshotError as error:
        fail(str(error))
    if not snapshots:
        click.echo("no snapshots yet: dataops snapshot create NAME --datasets flights,weather,planes ...")
    for s in snapshots:
        window = s.content["window"]
        click.echo(
            f"{s.name:<20} {s.id[:12]}  {window['start']}..{window['end']}  {','.join(s.datasets):<24} "
            f"{len(s.files):>5} files {s.rows:>10,} rows  created {s.created_at}"
        )


@snapshot.command("show")
@click.argument("name")
@click.option("--files", "list_files", is_flag=True, help="List every pinned file.")
def snapshot_show(name: str, list_files: bool) -> None:
    """What snapshot NAME pins, per dataset."""
    frozen = _load(name)
    window = frozen.content["window"]
    click.echo(f"snapshot   {frozen.name}\nid         {frozen.id}\ncreated    {frozen.created_at}")
    click.echo(f"window     {window['start']}..{window['end']}")
    click.echo(f"pins       {len(frozen.files)} file(s), {frozen.rows:,} rows, {_size(frozen.bytes)}")
    for dataset in frozen.datasets:
        files = frozen.files_of(dataset)
        click.echo(
            f"  {dataset:<10} {len(files):>4} partition(s) {sum(f['rows'] for f in files):>10,} rows "
            f"{_size(sum(f['bytes'] for f in files)):>10}  schema {files[0]['schema_fingerprint'][:12]}"
        )
    if list_files:
        for f in frozen.files:
            click.echo(f"{f['path']}  {f['sha256'][:16]}  {f['rows']:>7,} rows")


@snapshot.command("verify")
@click.argument("name")
def snapshot_verify(name: str) -> None:
    """Re-hash every file snapshot NAME pins; exit non-zero naming any that is missing or changed."""
    from dataops_assets.cli.progress import progress
    from dataops_assets.science.snapshots import verify_snapshot

    frozen = _load(name)
    report = verify_snapshot(_cold_storage(), frozen, progress)
    for problem in report.problems:
        click.echo(problem)
    click.echo(f"verified {report.files_checked} pinned file(s) of {name}: {len(report.problems)} problem(s)")
    if report.problems:
        fail(f"snapshot {name} differs from what it pinned: {report.problems[0]}")


@snapshot.command("export")
@click.argument("name")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A data directory for a sandbox; its cold storage is written inside it.",
)
def snapshot_export(name: str, target: Path) -> None:
    """Copy snapshot NAME into a local sandbox data directory (a laptop's working copy)."""
    from dataops_assets.cli.progress import progress
    from dataops_assets.environments.loader import load_environment
    from dataops_assets.resources.cold_storage import LocalColdStorage
    from dataops_assets.science.snapshots import export_snapshot

    frozen = _load(name)
    storage = _cold_storage()
    started = time.perf_counter()
    data_dir = target.resolve()
    root = data_dir / load_environment("sandbox").cold_storage.path
    copied = export_snapshot(storage, frozen, LocalColdStorage(root=str(root)), progress)
    click.echo(
        f"exported {name} ({len(frozen.files)} file(s), {_size(copied)} copied) to {root} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    click.echo(
        f"use it: DATAOPS_ENV=sandbox DATAOPS_DATA_DIR={data_dir} "
        f"dataops experiment run --snapshot {name} --model baseline"
    )
