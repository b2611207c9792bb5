"""Loads published raw partitions into the warehouse's `raw` schema, where dbt's sources point.

Idempotent per partition: a day's rows are deleted and re-inserted in one transaction. Days outside
the source's span are not loaded (nothing was published for them); the table exists anyway, empty
until a day is loaded, so dbt's models over it build for any window.
"""

import tempfile
from pathlib import Path

import dagster as dg

from dataops_assets.partitions import expected_keys
from dataops_assets.pillars.ingestion.validate import validate_partition
from dataops_assets.pillars.metadata import row_counts
from dataops_assets.pillars.raw.assets import raw_key
from dataops_assets.pillars.raw.publish import read_manifest
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.warehouse import Warehouse
from dataops_assets.sources.model import Source

WAREHOUSE_POOL = "warehouse"


def warehouse_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", source.name])


def ensure_declared_table(source: Source, warehouse: Warehouse) -> None:
    """raw.<name> with the declared columns, empty, unless it exists."""
    with tempfile.TemporaryDirectory(prefix="dataops-schema-") as workdir:
        empty = Path(workdir) / "empty.parquet"
        validate_partition(source, [], None, empty, Path(workdir) / "quarantine.parquet")
        warehouse.ensure_table(source.name, str(empty), partitioned=source.is_daily)


def build_warehouse_load_asset(
    source: Source, partitions_def: dg.PartitionsDefinition | None, warehouse_kind: str = "duckdb"
) -> dg.AssetsDefinition:
    @dg.asset(
        key=warehouse_key(source),
        group_name="processing",
        deps=[raw_key(source)],
        description=f"raw.{source.name} in the warehouse: the published cold partitions, loaded for dbt.",
        partitions_def=partitions_def if source.is_daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if source.is_daily else None,
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind},
    )
    def load(context: dg.AssetExecutionContext, cold_storage: ColdStorage, warehouse: Warehouse):
        files: dict[str | None, list[str]] = {}
        rows_by_partition: dict[str | None, int] = {}
        expected, _ = expected_keys(source, context)
        for partition in expected:
            manifest = read_manifest(cold_storage, source.name, partition)
            if manifest is None:
                raise dg.Failure(
                    f"raw/{source.name} {partition or ''} is not published: materialize it first",
                    allow_retries=False,
                )
            files[partition] = [cold_storage.readable_path(f["path"]) for f in manifest["files"]]
            rows_by_partition[partition] = manifest["rows"]
        if not files:
            ensure_declared_table(source, warehouse)
            rows = 0
        elif source.is_daily:
            rows = warehouse.load_partitions(source.name, files)  # type: ignore[arg-type]
        else:
            rows = warehouse.replace_table(source.name, files[None])
        (table_rows,) = warehouse.fetch(f"SELECT count(*) FROM raw.{source.name}").rows[0]
        return dg.MaterializeResult(
            metadata={
                **row_counts(context, rows_by_partition, table_rows),
                "rows_loaded": rows,
                "table": f"raw.{source.name}",
                "partitions_loaded": len(files),
            }
        )

    return load
