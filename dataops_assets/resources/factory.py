"""The resources an environment declares, built from its file: the one place that swaps them."""

from __future__ import annotations

from dagster_dbt import DbtCliResource

from dataops_assets.environments.model import Environment
from dataops_assets.paths import DBT_PROJECT_DIR
from dataops_assets.pillars.processing.dbt_project import dbt_executable
from dataops_assets.resources.cold_storage import ColdStorage, LocalColdStorage
from dataops_assets.resources.hot_store import HotStore, SQLiteHotStore
from dataops_assets.resources.landing_zone import LandingZone, LocalLandingZone
from dataops_assets.resources.warehouse import DuckDBWarehouse, Warehouse


def landing_zone(env: Environment) -> LandingZone:
    return LocalLandingZone(root=str(env.local_path(env.landing.path)))


def cold_storage(env: Environment) -> ColdStorage:
    return LocalColdStorage(root=str(env.local_path(env.cold_storage.path)))


def warehouse(env: Environment) -> Warehouse:
    return DuckDBWarehouse(path=str(env.local_path(env.warehouse.path)), dbt_threads=env.scale.dbt_threads)


def hot_store(env: Environment) -> HotStore:
    return SQLiteHotStore(path=str(env.local_path(env.hot_store.path)))


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
