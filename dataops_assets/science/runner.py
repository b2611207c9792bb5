"""Runs one experiment (the science group, for a snapshot and a model) as one in-process Dagster run,
recorded in the instance at DAGSTER_HOME like the pipeline's runs, and returns its ledger record."""

from __future__ import annotations

from dataops_assets.environments.model import Environment
from dataops_assets.science.assets import SCIENCE_JOB


class ExperimentFailed(RuntimeError):
    """A one-line reason the experiment's run did not succeed."""


def run_experiment(
    env: Environment,
    snapshot: str,
    model: str,
    seed: int | None = None,
    test_fraction: float | None = None,
    echo=lambda _: None,
) -> dict:
    import dagster as dg

    from dataops_assets.cli.pipeline import _root_cause, ensure_dagster_home
    from dataops_assets.definitions import build_definitions
    from dataops_assets.environments.render import apply_pool_limits
    from dataops_assets.resources.factory import cold_storage
    from dataops_assets.science import ledger
    from dataops_assets.science.models import make_model
    from dataops_assets.science.snapshots import load_snapshot

    storage = cold_storage(env)
    frozen = load_snapshot(storage, snapshot)  # fail fast, before a run is started, on a bad name
    make_model(model)
    settings = {"snapshot": snapshot, "model": model}
    settings |= {"seed": seed} if seed is not None else {}
    settings |= {"test_fraction": test_fraction} if test_fraction is not None else {}

    echo(f"running {model} on snapshot {snapshot} ({frozen.id[:12]}) in {env.name} ...")
    ensure_dagster_home(env)
    job = build_definitions(env).resolve_job_def(SCIENCE_JOB)
    with dg.DagsterInstance.get() as instance:
        apply_pool_limits(instance, env)
        result = job.execute_in_process(
            instance=instance,
            run_config={
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
                "resources": {"experiment": {"config": settings}},
            },
            tags={"dataops/snapshot": snapshot, "dataops/model": model},
            raise_on_error=False,
        )
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        reason = _root_cause(failures[0].step_failure_data) if failures else "the run failed"
        raise ExperimentFailed(f"run {result.run_id} failed: {reason}")
    [record] = [r for r in ledger.runs(storage, frozen.id) if r["run_id"] == result.run_id]
    return record
