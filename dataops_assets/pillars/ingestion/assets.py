"""The `ingestion` group: one asset per declared source, built from its configuration alone.

Each materialization reads the partition's landing files, validates them (validate.py), stages the
typed rows in cold storage for the raw pillar to publish, and writes the quarantine. Files that hold
many days are read once each and their rows kept by day (ledger.py); a day is assembled from them.
Days outside the source's span are not expected (nothing to land); a day inside it with no landing
data fails the step naming the day, or is published empty (`missing: empty`). A blocking check
proves every row read was landed or quarantined before anything downstream runs.
"""

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from dataops_assets import layout
from dataops_assets.days import contiguous_ranges
from dataops_assets.failpoints import failpoint
from dataops_assets.integrity import canonical_json, sha256_file
from dataops_assets.partitions import expected_keys
from dataops_assets.pillars.ingestion.ledger import assemble, land_new_files
from dataops_assets.pillars.ingestion.validate import FileRead, IngestOutcome, RefusedFile, validate_partition
from dataops_assets.pillars.metadata import markdown_table, parquet_preview, row_counts, table_schema
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.landing_zone import LandingZone
from dataops_assets.sources.model import Source

ACCOUNTED_CHECK = "rows_accounted_for"


def ingestion_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["ingestion", source.name])


def _work_files(source: Source, partition: str | None, workdir: Path) -> tuple[Path, Path]:
    return (
        workdir / f"{source.name}-{partition}-landed.parquet",
        workdir / f"{source.name}-{partition}-quarantine.parquet",
    )


def stage(
    source: Source, outcome: IngestOutcome, landed: Path, quarantined: Path, cold_storage: ColdStorage
) -> None:
    """Put a validated partition where the raw pillar publishes it from; the report goes last."""
    partition = outcome.partition
    report = outcome.as_dict() | {"sha256": sha256_file(landed), "bytes": landed.stat().st_size}
    cold_storage.put_file(quarantined, layout.quarantine_key(source.name, partition))
    cold_storage.put_file(landed, layout.staged_key(source.name, partition))
    failpoint("ingestion.before_report")
    # The report goes last: its presence says the staged file beside it is complete.
    cold_storage.put_bytes(layout.staged_report_key(source.name, partition), canonical_json(report))


def ingest_partition(
    source: Source, partition: str | None, landing: LandingZone, cold_storage: ColdStorage, workdir: Path
) -> IngestOutcome | None:
    """Validate and stage one partition's landing files (a daily folder, or a dimension's files);
    None when there are none."""
    files = landing.files(source.landing_glob(partition))
    if not files:
        return None
    landed, quarantined = _work_files(source, partition, workdir)
    day = dt.date.fromisoformat(partition) if partition else None
    outcome = validate_partition(source, files, day, landed, quarantined, [landing.name_of(f) for f in files])
    stage(source, outcome, landed, quarantined, cold_storage)
    return outcome


def stage_empty(
    source: Source, partition: str | None, cold_storage: ColdStorage, workdir: Path
) -> IngestOutcome:
    """A partition with no landing data, published empty (`missing: empty`)."""
    landed, quarantined = _work_files(source, partition, workdir)
    day = dt.date.fromisoformat(partition) if partition else None
    outcome = validate_partition(source, [], day, landed, quarantined)
    stage(source, outcome, landed, quarantined, cold_storage)
    return outcome


def missing_data(source: Source, partitions: list[str | None]) -> str:
    where = f"{source.landing!r}"
    if partitions == [None]:
        return f"no landing files for {source.name} ({where}) in the landing zone (missing: fail)"
    days = ", ".join(a if a == b else f"{a}..{b}" for a, b in contiguous_ranges(partitions))  # type: ignore[arg-type]
    holder = "no landing file holds rows" if source.holds_many_days else "no landing files"
    return (
        f"{holder} for {source.name} {days} ({where}; inside its span {source.span}, missing: fail; "
        "declare `missing: empty` to publish such days empty)"
    )


@dataclass
class Ingested:
    """What one step of a source's ingestion did, for its metadata and its check."""

    outcomes: list[IngestOutcome] = field(default_factory=list)  # the partitions staged
    empty: list[str] = field(default_factory=list)  # staged empty: no landing data (missing: empty)
    missing: list[str | None] = field(default_factory=list)  # no landing data (missing: fail)
    reads: list[FileRead] = field(default_factory=list)  # the many-day files read in this step


def ingest_step(
    source: Source,
    partitions: list[str | None],
    landing: LandingZone,
    cold_storage: ColdStorage,
    workdir: Path,
) -> Ingested:
    done = Ingested()
    ledger = None
    if source.holds_many_days:
        ledger, done.reads = land_new_files(source, landing, cold_storage, workdir)
    for partition in partitions:
        if ledger is not None:
            landed, quarantined = _work_files(source, partition, workdir)
            outcome = assemble(source, partition, ledger, cold_storage, workdir, landed, quarantined)  # type: ignore[arg-type]
            if outcome is not None:
                stage(source, outcome, landed, quarantined, cold_storage)
        else:
            outcome = ingest_partition(source, partition, landing, cold_storage, workdir)
        if outcome is None and source.missing == "empty":
            outcome = stage_empty(source, partition, cold_storage, workdir)
            done.empty.append(partition or "full")
        if outcome is None:
            done.missing.append(partition)
        else:
            done.outcomes.append(outcome)
    return done


def _files_read(reads: list[FileRead]) -> list[dict]:
    return [
        {
            "file": r.name,
            "read": r.rows_read,
            "days": f"{min(r.days)} .. {max(r.days)} ({len(r.days)})" if r.days else "none",
            "routed to days": sum(r.days.values()),
            "quarantined without a day": r.undated,
            "days changed": len(set(r.days) | set(r.previous_days)),
        }
        for r in reads
    ]


def build_ingestion_asset(
    source: Source, partitions_def: dg.PartitionsDefinition | None
) -> dg.AssetsDefinition:
    key = ingestion_key(source)
    files = "each file holding many days, read once" if source.holds_many_days else "files"

    @dg.asset(
        key=key,
        group_name="ingestion",
        description=f"{source.description}\n\nLanding {files} `{source.landing}` ({source.format}), validated "
        f"against the declared schema and de-duplicated on ({', '.join(source.primary_key)}); bad rows "
        f"are quarantined with a reason. Span {source.span}, missing days: {source.missing}.",
        partitions_def=partitions_def if source.is_daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if source.is_daily else None,
        check_specs=[
            dg.AssetCheckSpec(
                ACCOUNTED_CHECK,
                asset=key,
                blocking=True,
                description="rows read = rows landed + rows quarantined, for every partition and every file",
            )
        ],
        kinds={"duckdb", source.format},
        metadata={"dagster/column_schema": table_schema(source), "primary_key": list(source.primary_key)},
    )
    def ingest(context: dg.AssetExecutionContext, landing: LandingZone, cold_storage: ColdStorage):
        expected, not_expected = expected_keys(source, context)
        with tempfile.TemporaryDirectory(prefix="dataops-ingest-") as workdir:
            try:
                done = ingest_step(source, expected, landing, cold_storage, Path(workdir))
            except RefusedFile as refused:
                raise dg.Failure(str(refused), allow_retries=False) from None
            if done.missing:
                raise dg.Failure(missing_data(source, done.missing), allow_retries=False)
            for o in done.outcomes:
                context.log.info(
                    f"{source.name} {o.partition or ''}: read {o.rows_read}, landed {o.rows_landed}, "
                    f"quarantined {o.rows_quarantined}"
                )
            previews = {}
            if done.outcomes:
                landed, quarantined = _work_files(source, done.outcomes[-1].partition, Path(workdir))
                previews = {
                    "preview": parquet_preview(str(landed)),
                    "quarantine_preview": parquet_preview(str(quarantined)),
                }

        outcomes = done.outcomes
        reasons: dict[str, int] = {}
        for o in outcomes:
            for reason, n in o.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + n
        per_partition = [
            {
                "partition": o.partition or "full",
                "files": len(o.files),
                "read": o.rows_read,
                "landed": o.rows_landed,
                "quarantined": o.rows_quarantined,
            }
            for o in outcomes
        ]
        unaccounted = [o.partition or "full" for o in outcomes if not o.accounted]
        unaccounted += [r.name for r in done.reads if not r.accounted]
        yield dg.MaterializeResult(
            metadata={
                **row_counts(context, {o.partition: o.rows_landed for o in outcomes}),
                "rows_landed": sum(o.rows_landed for o in outcomes),
                "rows_read": sum(o.rows_read for o in outcomes),
                "rows_quarantined": sum(o.rows_quarantined for o in outcomes),
                "quarantine_reasons": dg.MetadataValue.json(reasons),
                # Columns landing files added or lacked that the source's schema_drift policy accepted.
                "schema_drift": dg.MetadataValue.json(
                    {o.partition or "full": o.drift for o in outcomes if o.drift}
                ),
                "per_partition": markdown_table(per_partition),
                # Outside the source's span: nothing was expected, nothing landed, nothing failed.
                "not_expected": f"{len(not_expected)} partition(s) outside the span {source.span}"
                if not_expected
                else "none",
                "published_empty": dg.MetadataValue.json(done.empty),
                **({"files_read": markdown_table(_files_read(done.reads))} if source.holds_many_days else {}),
                **previews,
            }
        )
        yield dg.AssetCheckResult(
            check_name=ACCOUNTED_CHECK,
            passed=not unaccounted,
            metadata={
                "partitions_checked": len(outcomes),
                "files_checked": len(done.reads),
                "unaccounted": dg.MetadataValue.json(unaccounted),
                "detail": dg.MetadataValue.json(json.loads(json.dumps(per_partition))),
            },
        )

    return ingest
