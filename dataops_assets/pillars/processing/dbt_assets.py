"""The dbt models as Dagster assets: daily models run per window, dimensions as a whole.

dbt's tests surface as asset checks. The window of a (single-run) backfill goes to dbt as vars, so a
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


def _run_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, extra: list[str]):
    # dbt runs as a subprocess and reads its connection from the profile's env_var()s.
    os.environ.update(warehouse.dbt_env())
    with warehouse.exclusive():  # dbt fails at once on a DuckDB file another process holds
        yield from dbt.cli(["build", *extra], context=context).stream()


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
