"""What an environment implies for Dagster and dbt: its instance config (dagster.yaml) and its dbt
profile (profiles.yml). Secrets stay references: Dagster's `{env: VAR}` and dbt's
`env_var('VAR')` read them where the platform runs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from dataops_assets.environments import model
from dataops_assets.environments.model import Environment
from dataops_assets.environments.spark import spark_conf

HEADER = "# Rendered from environments/{name}.yaml by dataops: edit that file, not this one.\n"

QUEUED_RUN_COORDINATOR = ("dagster._core.run_coordinator", "QueuedRunCoordinator")
ECS_RUN_LAUNCHER = ("dagster_aws.ecs", "EcsRunLauncher")
S3_COMPUTE_LOGS = ("dagster_aws.s3.compute_log_manager", "S3ComputeLogManager")
S3_ENDPOINT_VARIABLE = "DATAOPS_S3_ENDPOINT_URL"  # what resources/s3.py reads for the same override


def _configurable(module_and_class: tuple[str, str], config: dict | None = None) -> dict:
    module, cls = module_and_class
    return {"module": module, "class": cls} | ({"config": config} if config else {})


def _runs(env: Environment) -> dict:
    runs: dict = {"max_concurrent_runs": env.scale.max_concurrent_runs}
    if env.scale.tag_concurrency_limits:
        runs["tag_concurrency_limits"] = [
            {"key": t.key} | ({"value": t.value} if t.value is not None else {}) | {"limit": t.limit}
            for t in env.scale.tag_concurrency_limits
        ]
    return runs


def instance_config(env: Environment) -> dict:
    spec = env.dagster
    config: dict = {"telemetry": {"enabled": False}}
    if isinstance(spec.storage, model.PostgresInstanceStorage):
        config["storage"] = {"postgres": {"postgres_url": {"env": spec.storage.dsn.env}}}
    if isinstance(spec.run_coordinator, model.QueuedRunCoordinator):
        config["run_coordinator"] = _configurable(QUEUED_RUN_COORDINATOR)
    if isinstance(spec.run_launcher, model.EcsRunLauncher):
        launcher = spec.run_launcher
        ecs: dict = {
            "container_name": launcher.container_name,
            "run_resources": {"cpu": str(launcher.cpu), "memory": str(launcher.memory)},
        }
        if launcher.task_definition:
            ecs["task_definition"] = launcher.task_definition
        if launcher.cluster:
            ecs["run_task_kwargs"] = {"cluster": launcher.cluster}
        config["run_launcher"] = _configurable(ECS_RUN_LAUNCHER, ecs)
    config |= _unattended(env)
    config["concurrency"] = {
        "runs": _runs(env),
        # Pools not named in the environment (none today) get the strictest limit.
        "pools": {"default_limit": min(env.scale.pool_limits.values(), default=1)},
    }
    return config


def _unattended(env: Environment) -> dict:
    """Run monitoring, run retries and, where cold storage is S3, compute logs beside it: a run on ECS
    takes its stdout/stderr with it when its task ends. Elsewhere compute logs stay local (Dagster's
    default, under DAGSTER_HOME)."""
    reliability = env.reliability
    config: dict = {
        "run_monitoring": reliability.run_monitoring.model_dump(),
        "run_retries": {"enabled": reliability.run_retries.max_retries > 0}
        | reliability.run_retries.model_dump(),
    }
    if isinstance(env.cold_storage, model.S3Storage):
        logs: dict = {
            "bucket": env.cold_storage.bucket,
            "prefix": f"{env.cold_storage.prefix}compute-logs",
            "skip_empty_files": True,
            "upload_interval": 30,  # a long run's output is readable while it runs
        }
        if os.environ.get(S3_ENDPOINT_VARIABLE):  # an S3-compatible server (moto in tests), as a reference
            logs["endpoint_url"] = {"env": S3_ENDPOINT_VARIABLE}
        config["compute_logs"] = _configurable(S3_COMPUTE_LOGS, logs)
    return config


def render_instance_yaml(env: Environment) -> str:
    return HEADER.format(name=env.name) + yaml.safe_dump(instance_config(env), sort_keys=False)


class InvalidInstanceConfig(ValueError):
    """A rendered dagster.yaml that Dagster itself would refuse."""


def validate_instance_yaml(text: str) -> dict:
    """Validate dagster.yaml text with Dagster's own schema: the instance's, and each configured class's.

    Returns the processed config (defaults filled in); raises InvalidInstanceConfig with Dagster's reasons.
    """
    from dagster._config import process_config
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes import class_from_code_pointer

    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "dagster.yaml").write_text(text)
        try:
            config, _ = dagster_instance_config(home)
        except DagsterInvalidConfigError as error:
            raise InvalidInstanceConfig(_reasons(error)) from None
    # The instance schema takes any `config` for a pluggable class; check it against the class's own.
    for section in ("run_coordinator", "run_launcher", "compute_logs"):
        if section in config:
            try:
                cls = class_from_code_pointer(config[section]["module"], config[section]["class"])
            except Exception as error:  # dagster's check error: the class cannot be imported
                raise InvalidInstanceConfig(f"{section}: {error}") from None
            result = process_config(cls.config_type(), config[section].get("config") or {})
            if not result.success:
                raise InvalidInstanceConfig(
                    f"{section} ({cls.__name__}): " + "; ".join(_short(e.message) for e in result.errors)
                )
    return config


def _short(message: str) -> str:
    return message.split(' Expected: "')[0]  # Dagster appends the whole schema


def _reasons(error) -> str:
    return "; ".join(_short(e.message) for e in getattr(error, "errors", [])) or str(error).splitlines()[0]


def _env_var(name: str, default: str | None = None, cast: str = "") -> str:
    args = f'"{name}"' + (f', "{default}"' if default is not None else "")
    return "{{ env_var(" + args + ")" + (f" | {cast}" if cast else "") + " }}"


def render_dbt_profile(env: Environment) -> str:
    """The dbt profile this environment implies: its one target, connection details from the variables
    the warehouse resource sets (dbt_env), so no secret is written."""
    threads = _env_var("DATAOPS_DBT_THREADS", str(env.scale.dbt_threads), "int")
    if isinstance(env.warehouse, model.PostgresWarehouse):
        output = {
            "type": "postgres",
            "host": _env_var("DATAOPS_PG_HOST"),
            "port": _env_var("DATAOPS_PG_PORT", "5432", "int"),
            "user": _env_var("DATAOPS_PG_USER"),
            "password": _env_var("DATAOPS_PG_PASSWORD", ""),
            "dbname": _env_var("DATAOPS_PG_DATABASE"),
            "schema": "analytics",
            "threads": threads,
        }
    elif isinstance(env.warehouse, model.SparkWarehouse):
        output = {
            "type": "spark",
            "method": "session",  # dbt's own process is the Spark driver, on the declared master
            "host": "NA",
            "schema": "analytics",
            "threads": threads,
            "server_side_parameters": spark_conf(env),
        }
    else:
        output = {
            "type": "duckdb",
            "path": _env_var("DATAOPS_WAREHOUSE_PATH"),
            "schema": "analytics",
            "threads": threads,
        }
    target = env.warehouse.dbt_target
    profile = {"dataops": {"target": target, "outputs": {target: output}}}
    return HEADER.format(name=env.name) + yaml.safe_dump(profile, sort_keys=False, width=200)
