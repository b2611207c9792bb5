"""The `ingestion` group: one asset per declared source, built from its configuration alone.

Each materialization reads the partition's landing files, validates them (validate.py), stages the
typed rows in cold storage for the raw pillar to publish, and writes the quarantine. A blocking check
proves every row read was landed or quarantined before anything downstream runs.
"""

import datetime as dt
import json
import tempfile
from pathlib import Path

import dagster as dg

from dataops_assets import layout
from dataops_assets.failpoints import failpoint
from dataops_assets.integrity import canonical_json, sha256_file
from dataops_assets.partitions import partition_keys
from dataops_assets.pillars.ingestion.validate import IngestOutcome, RefusedFile, validate_partition
from dataops_assets.pillars.metadata import markdown_table, parquet_preview, table_schema
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.landing_zone import LandingZone
from dataops_assets.sources.model import Source

ACCOUNTED_CHECK = "rows_accounted_for"


def ingestion_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["ingestion", source.name])


def ingest_partition(
    source: Source, partition: str | None, landing: LandingZone, cold_storage: ColdStorage, workdir: Path
) -> IngestOutcome:
    """Validate one partition's landing files and stage the result; the unit of work of the asset."""
    pattern = source.landing_glob(partition)
    files = landing.files(pattern)
    if not files:
        raise RefusedFile(
            pattern, f"no landing files for {source.name} {partition or ''} in the landing zone"
        )
    landed = workdir / f"{source.name}-{partition}-landed.parquet"
    quarantined = workdir / f"{source.name}-{partition}-quarantine.parquet"
    day = dt.date.fromisoformat(partition) if partition else None
    outcome = validate_partition(source, files, day, landed, quarantined, [landing.name_of(f) for f in files])
    report = outcome.as_dict() | {"sha256": sha256_file(landed), "bytes": landed.stat().st_size}
    cold_storage.put_file(quarantined, layout.quarantine_key(source.name, partition))
    cold_storage.put_file(landed, layout.staged_key(source.name, partition))
    failpoint("ingestion.before_report")
    # The report goes last: its presence says the staged file beside it is complete.
    cold_storage.put_bytes(layout.staged_report_key(source.name, partition), canonical_json(report))
    return outcome


def build_ingestion_asset(
    source: Source, partitions_def: dg.PartitionsDefinition | None
) -> dg.AssetsDefinition:
    key = ingestion_key(source)

    @dg.asset(
        key=key,
        group_name="ingestion",
        description=f"{source.description}\n\nLanding files `{source.landing}` ({source.format}), validated "
        f"against the declared schema and de-duplicated on ({', '.join(source.primary_key)}); bad rows "
        "are quarantined with a reason.",
        partitions_def=partitions_def if source.is_daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if source.is_daily else None,
        check_specs=[
            dg.AssetCheckSpec(
                ACCOUNTED_CHECK,
                asset=key,
                blocking=True,
                description="rows read = rows landed + rows quarantined, for every partition",
            )
        ],
        kinds={"duckdb", source.format},
        metadata={"dagster/column_schema": table_schema(source), "primary_key": list(source.primary_key)},
    )
    def ingest(context: dg.AssetExecutionContext, landing: LandingZone, cold_storage: ColdStorage):
        outcomes: list[IngestOutcome] = []
        with tempfile.TemporaryDirectory(prefix="dataops-ingest-") as workdir:
            for partition in partition_keys(context):
                try:
                    outcome = ingest_partition(source, partition, landing, cold_storage, Path(workdir))
                except RefusedFile as refused:
                    raise dg.Failure(str(refused)) from None
                context.log.info(
                    f"{source.name} {partition or ''}: read {outcome.rows_read}, landed {outcome.rows_landed}, "
                    f"quarantined {outcome.rows_quarantined}"
                )
                outcomes.append(outcome)
            last = outcomes[-1].partition
            preview = parquet_preview(str(Path(workdir) / f"{source.name}-{last}-landed.parquet"))
            quarantine_preview = parquet_preview(
                str(Path(workdir) / f"{source.name}-{last}-quarantine.parquet")
            )

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
        unaccounted = [o.partition for o in outcomes if not o.accounted]
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(o.rows_landed for o in outcomes),
                "rows_read": sum(o.rows_read for o in outcomes),
                "rows_quarantined": sum(o.rows_quarantined for o in outcomes),
                "quarantine_reasons": dg.MetadataValue.json(reasons),
                # Columns landing files added or lacked that the source's schema_drift policy accepted.
                "schema_drift": dg.MetadataValue.json(
                    {o.partition or "full": o.drift for o in outcomes if o.drift}
                ),
                "per_partition": markdown_table(per_partition),
                "preview": preview,
                "quarantine_preview": quarantine_preview,
            }
        )
        yield dg.AssetCheckResult(
            check_name=ACCOUNTED_CHECK,
            passed=not unaccounted,
            metadata={
                "partitions_checked": len(outcomes),
                "unaccounted_partitions": dg.MetadataValue.json(unaccounted),
                "detail": dg.MetadataValue.json(json.loads(json.dumps(per_partition))),
            },
        )

    return ingest
