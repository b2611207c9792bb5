"""The resources an environment declares, built from its file: the one place that swaps them.

Two doors, one set of builders:
- `build_resources(env)` for Dagster: secrets stay `EnvVar`s, read when a run launches (a missing one
  fails the launch with the variable's name, never a silently empty value; the UI never shows them).
- `open_resource(env, name)` for code outside a Dagster run (the CLI, provisioning, the tests): the
  same resource with its secrets read now, so a missing one is a `MissingSecretError` naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

import dagster as dg

from dataops_assets.environments import model
from dataops_assets.environments.model import Environment
from dataops_assets.environments.spark import spark_conf
from dataops_assets.paths import DBT_PROJECT_DIR
from dataops_assets.resources.cold_storage import ColdStorage, LocalColdStorage, S3ColdStorage
from dataops_assets.resources.dbt import dbt_executable
from dataops_assets.resources.hot_store import HotStore, PostgresHotStore, SQLiteHotStore
from dataops_assets.resources.landing_zone import LandingZone, LocalLandingZone, S3LandingZone
from dataops_assets.resources.spark import SparkWarehouse
from dataops_assets.resources.warehouse import DuckDBWarehouse, PostgresWarehouse, Warehouse

if TYPE_CHECKING:
    from dagster_dbt import DbtCliResource


def _secret(ref: model.SecretRef, resolve: bool) -> str:
    return ref.resolve() if resolve else dg.EnvVar(ref.env)


def _landing_zone(env: Environment, resolve: bool) -> LandingZone:
    spec = env.landing
    if isinstance(spec, model.S3Storage):
        return S3LandingZone(
            bucket=spec.bucket,
            prefix=spec.prefix,
            cache_dir=str(env.data_path / "landing-cache"),
            region=spec.region,
        )
    return LocalLandingZone(root=str(env.local_path(spec.path)))


def _cold_storage(env: Environment, resolve: bool) -> ColdStorage:
    spec = env.cold_storage
    if isinstance(spec, model.S3Storage):
        return S3ColdStorage(bucket=spec.bucket, prefix=spec.prefix, region=spec.region)
    return LocalColdStorage(root=str(env.local_path(spec.path)))


def _warehouse(env: Environment, resolve: bool) -> Warehouse:
    spec = env.warehouse
    if isinstance(spec, model.PostgresWarehouse):
        return PostgresWarehouse(dsn=_secret(spec.dsn, resolve), dbt_threads=env.scale.dbt_threads)
    if isinstance(spec, model.SparkWarehouse):
        return SparkWarehouse(conf=spark_conf(env), dbt_threads=env.scale.dbt_threads)
    return DuckDBWarehouse(path=str(env.local_path(spec.path)), dbt_threads=env.scale.dbt_threads)


def _hot_store(env: Environment, resolve: bool) -> HotStore:
    spec = env.hot_store
    if isinstance(spec, model.PostgresHotStore):
        return PostgresHotStore(
            dsn=_secret(spec.dsn, resolve), schema_name=spec.schema_name, readonly_role=spec.readonly_role
        )
    return SQLiteHotStore(path=str(env.local_path(spec.path)))


def _dbt(env: Environment) -> DbtCliResource:
    from dagster_dbt import DbtCliResource

    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        target=env.warehouse.dbt_target,
        dbt_executable=dbt_executable(),
    )


_BUILDERS = {
    "landing": _landing_zone,
    "cold_storage": _cold_storage,
    "warehouse": _warehouse,
    "hot_store": _hot_store,
}
ResourceName = Literal["landing", "cold_storage", "warehouse", "hot_store"]


def build_resources(env: Environment) -> dict[str, object]:
    """Every resource of the environment for its Definitions, secrets as EnvVars."""
    return {name: build(env, resolve=False) for name, build in _BUILDERS.items()} | {"dbt": _dbt(env)}


@overload
def open_resource(env: Environment, name: Literal["landing"]) -> LandingZone: ...
@overload
def open_resource(env: Environment, name: Literal["cold_storage"]) -> ColdStorage: ...
@overload
def open_resource(env: Environment, name: Literal["warehouse"]) -> Warehouse: ...
@overload
def open_resource(env: Environment, name: Literal["hot_store"]) -> HotStore: ...
def open_resource(env: Environment, name: ResourceName):
    """Resource `name` for use outside a Dagster run, its secrets read now (MissingSecretError if unset)."""
    return _BUILDERS[name](env, resolve=True)
