"""The `raw` group (cold storage): immutable Parquet partitions with a manifest each."""

import dagster as dg

from dataops_assets.partitions import expected_keys
from dataops_assets.pillars.ingestion.assets import ingestion_key
from dataops_assets.pillars.metadata import markdown_table, parquet_preview, row_counts, table_schema
from dataops_assets.pillars.raw.publish import NothingStaged, publish_partition
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.sources.model import Source


def raw_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["raw", source.name])


def build_raw_asset(source: Source, partitions_def: dg.PartitionsDefinition | None) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(source),
        group_name="raw",
        deps=[ingestion_key(source)],
        description=f"Immutable Parquet for {source.name} in cold storage (Hive layout, date=YYYY-MM-DD), "
        "one manifest per partition with rows, bytes, sha256 and schema fingerprint.",
        partitions_def=partitions_def if source.is_daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if source.is_daily else None,
        kinds={"parquet"},
        metadata={"dagster/column_schema": table_schema(source)},
    )
    def publish(context: dg.AssetExecutionContext, cold_storage: ColdStorage) -> dg.MaterializeResult:
        expected, not_expected = expected_keys(source, context)
        published = []
        for partition in expected:
            try:
                published.append(publish_partition(source, partition, cold_storage))
            except NothingStaged as missing:
                raise dg.Failure(str(missing), allow_retries=False) from None
        if not published:  # every day of the step lies outside the source's span
            return dg.MaterializeResult(
                metadata={"rows": 0, "not_expected": f"outside the span {source.span}"}
            )
        last = published[-1].manifest
        return dg.MaterializeResult(
            metadata={
                **row_counts(context, {p.manifest["partition"]: p.manifest["rows"] for p in published}),
                "rows": sum(p.manifest["rows"] for p in published),
                "bytes": sum(p.manifest["bytes"] for p in published),
                "partitions_changed": sum(p.changed for p in published),
                "partitions_not_expected": len(not_expected),
                "schema_fingerprint": last["schema_fingerprint"],
                "per_partition": markdown_table(
                    [
                        {
                            "partition": p.manifest["partition"] or "full",
                            "rows": p.manifest["rows"],
                            "bytes": p.manifest["bytes"],
                            "sha256": p.manifest["files"][0]["sha256"][:16],
                            "changed": p.changed,
                        }
                        for p in published
                    ]
                ),
                "latest_file": dg.MetadataValue.path(cold_storage.uri(last["files"][0]["path"])),
                "preview": parquet_preview(cold_storage.readable_path(last["files"][0]["path"])),
            }
        )

    return publish
