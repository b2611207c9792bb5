"""The resources an environment declares, built from its file: the one place that swaps them.

Secrets reach Dagster as `EnvVar`s: they are read when a run launches, and a missing one fails the
launch with the variable's name, never a silently empty value.
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from dataops_assets.environments import model
from dataops_assets.environments.model import Environment
from dataops_assets.paths import DBT_PROJECT_DIR
from dataops_assets.pillars.processing.dbt_project import dbt_executable
from dataops_assets.resources.cold_storage import ColdStorage, LocalColdStorage, S3ColdStorage
from dataops_assets.resources.hot_store import HotStore, PostgresHotStore, SQLiteHotStore
from dataops_assets.resources.landing_zone import LandingZone, LocalLandingZone, S3LandingZone
from dataops_assets.resources.warehouse import DuckDBWarehouse, PostgresWarehouse, Warehouse


def _secret(ref: model.SecretRef, resolve: bool) -> str:
    # In Definitions a secret stays an EnvVar: Dagster reads it at launch and never shows its value.
    return ref.resolve() if resolve else dg.EnvVar(ref.env)


def landing_zone(env: Environment, resolve_secrets: bool = False) -> LandingZone:
    spec = env.landing
    if isinstance(spec, model.S3Storage):
        return S3LandingZone(
            bucket=spec.bucket,
            prefix=spec.prefix,
            cache_dir=str(env.data_path / "landing-cache"),
            region=spec.region,
        )
    return LocalLandingZone(root=str(env.local_path(spec.path)))


def cold_storage(env: Environment, resolve_secrets: bool = False) -> ColdStorage:
    spec = env.cold_storage
    if isinstance(spec, model.S3Storage):
        return S3ColdStorage(bucket=spec.bucket, prefix=spec.prefix, region=spec.region)
    return LocalColdStorage(root=str(env.local_path(spec.path)))


def warehouse(env: Environment, resolve_secrets: bool = False) -> Warehouse:
    spec = env.warehouse
    if isinstance(spec, model.PostgresWarehouse):
        return PostgresWarehouse(dsn=_secret(spec.dsn, resolve_secrets), dbt_threads=env.scale.dbt_threads)
    return DuckDBWarehouse(path=str(env.local_path(spec.path)), dbt_threads=env.scale.dbt_threads)


def hot_store(env: Environment, resolve_secrets: bool = False) -> HotStore:
    spec = env.hot_store
    if isinstance(spec, model.PostgresHotStore):
        return PostgresHotStore(
            dsn=_secret(spec.dsn, resolve_secrets),
            schema_name=spec.schema_name,
            readonly_role=spec.readonly_role,
        )
    return SQLiteHotStore(path=str(env.local_path(spec.path)))


def dbt(env: Environment) -> DbtCliResource:
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        target=env.warehouse.dbt_target,
        dbt_executable=dbt_executable(),
    )


def build_resources(env: Environment) -> dict[str, object]:
    return {
        "landing": landing_zone(env),
        "cold_storage": cold_storage(env),
        "warehouse": warehouse(env),
        "hot_store": hot_store(env),
        "dbt": dbt(env),
    }


def open_resource(env: Environment, name: str):
    """Resource `name` for use outside a Dagster run (the CLI, the API), its secrets read now.

    `name` is one of landing, cold_storage, warehouse, hot_store; a missing secret raises
    MissingSecretError naming the variable.
    """
    builders = {
        "landing": landing_zone,
        "cold_storage": cold_storage,
        "warehouse": warehouse,
        "hot_store": hot_store,
    }
    return builders[name](env, resolve_secrets=True)
