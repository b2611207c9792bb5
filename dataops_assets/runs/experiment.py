"""Runs one experiment (the science group, for a task, a snapshot and a model) as one in-process
Dagster run, recorded in the instance at DAGSTER_HOME like the pipeline's runs, and returns its
ledger record."""

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
    test_days: int | None = None,
    task: str | None = None,
    echo=lambda _: None,
) -> dict:
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science import ledger
    from dataops_assets.science.features import build_features, split_by_date
    from dataops_assets.science.models import load_model_file
    from dataops_assets.science.snapshots import load_snapshot
    from dataops_assets.task_declarations import load_task

    # Everything that can be refused is refused here, in one line, before a run starts: the task, the
    # snapshot (and the datasets it pins), the model, its parameters, the features query and its key.
    declared = load_task(task)
    storage = open_resource(env, "cold_storage")
    frozen = load_snapshot(storage, snapshot)
    load_model_file(model).resolve(params or {})
    split_by_date(build_features(storage, frozen, declared), declared, test_days)

    settings = {"task": declared.name, "snapshot": snapshot, "model": model}
    settings |= {"params": params} if params else {}
    settings |= {"seed": seed} if seed is not None else {}
    settings |= {"test_days": test_days} if test_days is not None else {}
    echo(
        f"running {model} for task {declared.name} on snapshot {snapshot} ({frozen.id[:12]}) in {env.name} ..."
    )
    result = execute_job(
        env,
        SCIENCE_JOB,
        run_config={"resources": {"experiment": {"config": settings}}},
        tags={"dataops/task": declared.name, "dataops/snapshot": snapshot, "dataops/model": model},
        echo=echo,
    )
    reason = failure_reason(result)
    if reason:
        raise ExperimentFailed(f"run {result.run_id} failed: {reason}")
    [record] = [r for r in ledger.runs(storage, frozen.id, declared.name) if r["run_id"] == result.run_id]
    return record
