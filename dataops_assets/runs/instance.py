"""One of the environment's jobs, executed in this process and recorded in its Dagster instance."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from dataops_assets.environments.model import Environment
from dataops_assets.environments.render import HEADER, render_instance_yaml
from dataops_assets.redact import redact


def ensure_dagster_home(env: Environment) -> Path:
    """DAGSTER_HOME as set, or the environment's own, holding the instance config the environment implies.

    A dagster.yaml someone wrote by hand is left alone; one rendered by dataops is kept current.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or env.data_path / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text().startswith(HEADER.split("{")[0]):
        config.write_text(render_instance_yaml(env))
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def apply_pool_limits(instance, env: Environment) -> None:
    """Per-pool limits live in the instance's storage, not in dagster.yaml: set them there."""
    for pool, limit in env.scale.pool_limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)


def root_cause(failure_data) -> str:
    """The first line of the innermost error: the user's problem, not Dagster's wrapper around it
    (with any password redacted)."""
    if failure_data.user_failure_data and failure_data.user_failure_data.description:
        return redact(failure_data.user_failure_data.description.strip().splitlines()[0])
    error = failure_data.error
    while error.cause is not None:
        error = error.cause
    return redact(error.message.strip().splitlines()[0])


def failure_reason(result) -> str | None:
    """None for a successful run, else `step: root cause` of its first failed step."""
    if result.success:
        return None
    failures = [e for e in result.all_events if e.is_step_failure]
    if not failures:
        return "the run failed"
    return f"{failures[0].step_key}: {root_cause(failures[0].step_failure_data)}"


def execute_job(env: Environment, job_name: str, *, run_config=None, tags=None, stdout=None, echo=print):
    """Run one of the environment's jobs in this process, recorded in its Dagster instance.

    The full event log is in the instance (and the UI); the console logger is silenced so the
    terminal gets a summary and, on failure, the one-line root cause instead of stack traces. Runs
    left STARTED by a killed process are marked failed first, so their pool slots are freed.
    """
    import dagster as dg

    from dataops_assets.definitions import build_definitions
    from dataops_assets.runs.guard import reclaim_dead_runs, run_tags

    ensure_dagster_home(env)
    job = build_definitions(env).resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        apply_pool_limits(instance, env)
        for run_id in reclaim_dead_runs(instance):
            echo(f"run {run_id} was killed before it finished: marked failed, its pool slots freed")
        with contextlib.redirect_stdout(stdout) if stdout else contextlib.nullcontext():
            return job.execute_in_process(
                instance=instance,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
                | (run_config or {}),
                tags=(tags or {}) | run_tags(),
                raise_on_error=False,
            )
