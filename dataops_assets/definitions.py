"""The code location: every pillar's assets, built for the environment DATAOPS_ENV selects."""

from __future__ import annotations

import warnings

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from dataops_assets.automation.jobs import daily_pipeline
from dataops_assets.automation.monitoring import run_failure_sensor
from dataops_assets.automation.reconciliation import reconciliation
from dataops_assets.automation.schedules import daily_schedule
from dataops_assets.automation.sensors import landing_sensor, serving_automation_sensor
from dataops_assets.curated import curated_models
from dataops_assets.environments.loader import load_environment
from dataops_assets.environments.model import Environment
from dataops_assets.partitions import daily_partitions
from dataops_assets.pillars.ingestion.assets import build_ingestion_asset
from dataops_assets.pillars.processing.dbt_assets import METADATA_TARGETS, build_dbt_assets
from dataops_assets.pillars.processing.warehouse_load import build_warehouse_load_asset
from dataops_assets.pillars.raw.assets import build_raw_asset
from dataops_assets.pillars.raw.curated import build_curated_asset
from dataops_assets.pillars.retries import with_step_retries
from dataops_assets.pillars.serving.assets import build_serving_asset
from dataops_assets.pillars.serving.retention import build_retention_asset
from dataops_assets.resources.factory import build_resources
from dataops_assets.science.assets import SCIENCE_ASSETS, SCIENCE_RESOURCES, science_experiment
from dataops_assets.science.serving import build_champion_predictions_assets
from dataops_assets.served import published_by_dbt, served_tables
from dataops_assets.sources.catalog import load_sources

# Single-run backfill policies and pools are what this design relies on; their beta notice is noise.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(env: Environment) -> dg.Definitions:
    days = daily_partitions(env)
    sources = load_sources()
    assets: list[dg.AssetsDefinition] = []
    for source in sources:
        assets += [
            build_ingestion_asset(source, days),
            build_raw_asset(source, days),
            build_warehouse_load_asset(source, days, env.warehouse.kind),
        ]
    dbt = build_dbt_assets(days)
    assets += dbt.values()
    # The dbt models that declare meta.dataops.serve, all daily (build_dbt_assets made the manifest current).
    served = served_tables()
    # Kind badges in the UI name the environment's own warehouse and hot store.
    hot = env.hot_store.kind
    hot_tables = [
        build_serving_asset(table, days, get_asset_key_for_model([dbt["daily"]], table.model), hot)
        for table in published_by_dbt(served)
    ]
    assets += hot_tables
    assets += [
        build_curated_asset(model, days, get_asset_key_for_model([dbt["daily"]], model.name))
        for model in curated_models().values()
    ]
    assets += [*build_champion_predictions_assets(days, hot), *SCIENCE_ASSETS]  # one per task that serves
    assets.append(build_retention_asset(env.retention.hot_window_days, served, hot))

    executor = (
        dg.multiprocess_executor.configured({"max_concurrent": env.scale.executor_workers})
        if env.scale.executor == "multiprocess"
        else dg.in_process_executor
    )
    platform, platform_checks, platform_schedules = reconciliation(env)
    failure_sensor = run_failure_sensor(env)
    return dg.Definitions(
        assets=[*with_step_retries(assets, env), *platform],
        # A hot table's columns changing (added, removed, retyped) fails a check; a dbt model's too
        # where its columns are read back after the build (not on DuckDB: dbt_assets.py).
        asset_checks=[
            *dg.build_column_schema_change_checks(
                assets=[*hot_tables, *(dbt.values() if env.warehouse.kind in METADATA_TARGETS else [])]
            ),
            *platform_checks,
        ],
        jobs=[daily_pipeline, science_experiment],
        schedules=[daily_schedule(env), *platform_schedules],
        sensors=[landing_sensor(env, sources), serving_automation_sensor(env)]
        + ([failure_sensor] if failure_sensor else []),
        # The science group's experiment (task, snapshot, model) is set per run, in the run's config.
        resources=build_resources(env) | SCIENCE_RESOURCES,
        executor=executor,
        metadata={"environment": env.name},
    )


defs = build_definitions(load_environment())
