"""The dbt models as Dagster assets: daily models run per window, dimensions as a whole.

dbt's tests surface as asset checks; each model reports its row count and column schema. The window of a (single-run) backfill goes to dbt as vars, so a
year of days is one `dbt build`, not 365.
"""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dataops_assets.pillars.processing.dbt_project import ensure_manifest
from dataops_assets.pillars.processing.warehouse_load import WAREHOUSE_POOL
from dataops_assets.resources.warehouse import Warehouse


class ProcessingTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "processing"


# Warehouses whose models' row counts and column schemas are read back after dbt builds them (through
# dbt's adapter, in this process). Not DuckDB: the adapter must wait for dbt to let go of the file and
# reopen it, which added 30-53 s to a 3-day run of 42 s (docs/pipeline.md); there the column schema
# is the one dbt's YAML declares. Not Spark: that adapter would start a second Spark driver.
METADATA_TARGETS = ("postgres",)


def manifest_in(database: str) -> dict:
    """The parsed manifest with every model in `database`. dbt parses once, against DuckDB in memory
    (database "memory"), and the row counts and column schemas read back after a build must name the
    run's own database, or they name none."""
    manifest = json.loads(ensure_manifest().read_text())
    for node in manifest["nodes"].values():  # models, and the tests the column reader looks up too
        if node.get("database") is not None:
            node["database"] = database
        if node.get("relation_name"):
            node["relation_name"] = ".".join(
                f'"{part}"' for part in (database, node["schema"], node["alias"])
            )
    return manifest


def _run_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, extra: list[str]):
    # dbt runs as a subprocess and reads its connection from the profile's env_var()s.
    env = warehouse.dbt_env()
    os.environ.update(env)
    with warehouse.exclusive():  # dbt fails at once on a DuckDB file another process holds
        if warehouse.dbt_target() not in METADATA_TARGETS:
            yield from dbt.cli(["build", *extra], context=context).stream()
            return
        database = env["DATAOPS_PG_DATABASE"]
        invocation = dbt.cli(["build", *extra], context=context)
        # The invocation takes the assets' manifest whatever `manifest=` says; its node ids, and so the
        # asset keys, are the same in the run's database.
        invocation.manifest = manifest_in(database)
        # dagster/row_count and dagster/column_schema on each model (the column-schema-change checks
        # compare the latter between materializations).
        try:
            yield from invocation.stream().fetch_row_counts().fetch_column_metadata(with_column_lineage=False)
        finally:
            # The adapter that read them lives on in this process: let go of its connections.
            if invocation.adapter is not None:
                invocation.adapter.cleanup_connections()


def _model_tags(manifest_path) -> set[str]:
    nodes = json.loads(manifest_path.read_text())["nodes"].values()
    return {tag for node in nodes if node["resource_type"] == "model" for tag in node["tags"]}


def build_dbt_assets(partitions_def: dg.PartitionsDefinition) -> dict[str, dg.AssetsDefinition]:
    """The dbt models as assets, by tag: `daily` ones per window, `dimension` ones whole. A project
    without models of a tag (a user's own project may have no dimensions) has no asset for it."""
    manifest = ensure_manifest()
    translator = ProcessingTranslator()
    tags = _model_tags(manifest)
    built: dict[str, dg.AssetsDefinition] = {}

    if "daily" in tags:

        @dbt_assets(
            manifest=manifest,
            select="tag:daily",
            name="dbt_daily_models",
            partitions_def=partitions_def,
            backfill_policy=dg.BackfillPolicy.single_run(),
            dagster_dbt_translator=translator,
            pool=WAREHOUSE_POOL,
        )
        def daily_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
            window = context.partition_time_window  # the whole range of a single-run backfill
            dbt_vars = {
                "start_date": window.start.date().isoformat(),
                "end_date": window.end.date().isoformat(),
            }
            yield from _run_dbt(context, dbt, warehouse, ["--vars", json.dumps(dbt_vars)])

        built["daily"] = daily_models

    if "dimension" in tags:

        @dbt_assets(
            manifest=manifest,
            select="tag:dimension",
            name="dbt_dimension_models",
            dagster_dbt_translator=translator,
            pool=WAREHOUSE_POOL,
        )
        def dimension_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
            yield from _run_dbt(context, dbt, warehouse, [])

        built["dimension"] = dimension_models

    return built
