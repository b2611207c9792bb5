"""Runs one experiment (the science group, for a snapshot and a model) as one in-process Dagster run,
recorded in the instance at DAGSTER_HOME like the pipeline's runs, and returns its ledger record."""

from __future__ import annotations

from dataops_assets.environments.model import Environment
from dataops_assets.runs.instance import execute_job, failure_reason
from dataops_assets.science.assets import SCIENCE_JOB


class ExperimentFailed(RuntimeError):
    """A one-line reason the experiment's run did not succeed."""


def run_experiment(
    env: Environment,
    snapshot: str,
    model: str,
    params: dict | None = None,
    seed: int | None = None,
    test_fraction: float | None = None,
    echo=lambda _: None,
) -> dict:
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science import ledger
    from dataops_assets.science.models import make_model
    from dataops_assets.science.snapshots import load_snapshot

    storage = open_resource(env, "cold_storage")
    frozen = load_snapshot(storage, snapshot)  # fail fast, before a run is started, on a bad name
    make_model(model, params)  # and on an unknown model, parameter or a parameter's type
    settings = {"snapshot": snapshot, "model": model}
    settings |= {"params": params} if params else {}
    settings |= {"seed": seed} if seed is not None else {}
    settings |= {"test_fraction": test_fraction} if test_fraction is not None else {}

    echo(f"running {model} on snapshot {snapshot} ({frozen.id[:12]}) in {env.name} ...")
    result = execute_job(
        env,
        SCIENCE_JOB,
        run_config={"resources": {"experiment": {"config": settings}}},
        tags={"dataops/snapshot": snapshot, "dataops/model": model},
        echo=echo,
    )
    reason = failure_reason(result)
    if reason:
        raise ExperimentFailed(f"run {result.run_id} failed: {reason}")
    [record] = [r for r in ledger.runs(storage, frozen.id) if r["run_id"] == result.run_id]
    return record
