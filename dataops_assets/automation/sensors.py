"""Sensors: new landing files start runs; declarative automation keeps the hot tables current."""

import datetime as dt
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from dataops_assets.automation.jobs import DAILY_PIPELINE
from dataops_assets.days import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    PARTITION_TAG,
    contiguous_ranges,
)
from dataops_assets.environments.model import Environment, S3Storage
from dataops_assets.partitions import daily_partitions
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.landing_zone import LandingZone, S3LandingZone, glob_regex
from dataops_assets.sources.model import Source

LANDING_SENSOR = "landing_zone_sensor"
ATTEMPT_TAG = "dataops/landing_attempt"
LANDING_ATTEMPTS = 3  # a landing run and two more tries: a lock, a dropped connection, a restarted S3
SENSOR_NAME_TAG = "dagster/sensor_name"
RUN_KEY_TAG = "dagster/run_key"


def _status(on: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


def landing_date_pattern(source: Source) -> re.Pattern[str]:
    """A regex over landing names that captures the partition date of a daily source's files."""
    escaped = re.escape(source.landing).replace(re.escape("{date}"), r"(?P<date>\d{4}-\d{2}-\d{2})")
    return re.compile("^" + escaped.replace(r"\*\*", ".*").replace(r"\*", "[^/]*") + "$")


@dataclass
class Arrived:
    """Landing files that appeared since the sensor's cursor."""

    days: dict[str, str] = field(default_factory=dict)  # day -> newest marker, from one-day files
    files: list[tuple[Source, str, str]] = field(
        default_factory=list
    )  # (source, name, marker): many-day files


def new_landing_partitions(
    sources: tuple[Source, ...], landing: LandingZone, cursor: float
) -> tuple[Arrived, float]:
    """Files newer than `cursor` (file times); the new cursor."""
    newest = cursor
    arrived = Arrived()
    for source in sources:
        if not source.is_daily:
            continue
        pattern = landing_date_pattern(source)
        for path, mtime in landing.files_with_mtime(source.landing_glob("*")):
            if mtime <= cursor:
                continue
            name = landing.name_of(path)
            newest = max(newest, mtime)
            if source.holds_many_days:
                arrived.files.append((source, name, str(mtime)))
            elif match := pattern.match(name):
                day = match.group("date")
                arrived.days[day] = max(arrived.days.get(day, ""), str(mtime), key=_as_time)
    return arrived, newest


def _as_time(marker: str) -> float:
    return float(marker) if marker else 0.0


def _partition_of(patterns: list[re.Pattern[str]], name: str) -> str | None:
    """The day a landing name belongs to, if it is a daily source's file."""
    for pattern in patterns:
        match = pattern.match(name)
        if match:
            return match.group("date")
    return None


def new_s3_landing_partitions(
    sources: tuple[Source, ...], landing: S3LandingZone, cursor: str | None
) -> tuple[Arrived, str | None]:
    """Objects newer than the cursor; the new cursor.

    The cursor is the newest LastModified seen plus the keys that carry it: S3 times have a coarse
    grain, so a file landing in the same second as the last one seen is still picked up, exactly once.
    """
    from dagster_aws.s3.sensor import get_objects  # here: dagster-aws costs a second at load

    state = json.loads(cursor) if cursor else {}
    since = dt.datetime.fromisoformat(state["last_modified"]) if state else None
    seen_at_since = set(state.get("keys", []))
    objects = get_objects(
        landing.bucket,
        landing.prefix,
        since_last_modified=since - dt.timedelta(microseconds=1) if since else None,
        client=landing.client,
    )
    one_day = [landing_date_pattern(s) for s in sources if s.is_daily and not s.holds_many_days]
    many_days = [(s, glob_regex(s.landing)) for s in sources if s.holds_many_days]
    arrived = Arrived()
    for obj in objects:
        if obj["LastModified"] == since and obj["Key"] in seen_at_since:
            continue
        name = landing.name_of_key(obj["Key"])
        # The key is part of the marker: two files with the same bytes can land in the same second.
        marker = f"{obj['LastModified'].isoformat()}/{obj['Key']}#{obj['ETag'].strip(chr(34))}"
        day = _partition_of(one_day, name)
        if day:
            arrived.days[day] = max(arrived.days.get(day, ""), marker)
        arrived.files += [(source, name, marker) for source, regex in many_days if regex.match(name)]
    if not objects:
        return arrived, cursor
    newest = max(o["LastModified"] for o in objects)
    keys = sorted(
        {o["Key"] for o in objects if o["LastModified"] == newest}
        | (seen_at_since if newest == since else set())
    )
    return arrived, json.dumps({"last_modified": newest.isoformat(), "keys": keys})


def days_in_file(source: Source, landing: LandingZone, name: str, cold_storage: ColdStorage) -> list[str]:
    """The days a landing file holding many days touches, inside the source's span: the days it has
    rows for, read the way ingestion reads it (one pass), and the days an earlier version of it had
    (the ledger's), which change too."""
    from dataops_assets.pillars.ingestion.ledger import read_ledger
    from dataops_assets.pillars.ingestion.validate import RefusedFile, read_landed_file

    with tempfile.TemporaryDirectory(prefix="dataops-sense-") as workdir:
        try:
            read = read_landed_file(
                source, landing.fetch(name), name, Path(workdir) / "rows.parquet", Path(workdir) / "q.parquet"
            )
        except RefusedFile:
            return []  # nothing would land; the next run over its days reports the file
    before = read_ledger(cold_storage, source.name).get(name, {}).get("days", {})
    return [day for day in sorted({*read.days, *before}) if source.expects(dt.date.fromisoformat(day))]


def range_request(first: str, last: str, markers: list[str]) -> dg.RunRequest:
    """One run of the daily pipeline over first..last (a single-run backfill). The run key names the
    range and the files that asked for it: a file's arrival requests at most one run, even across ticks."""
    digest = hashlib.sha256("\n".join(sorted(markers)).encode()).hexdigest()[:16]
    run_key = f"{first}..{last}@{digest}"
    if first == last:
        return dg.RunRequest(run_key=run_key, partition_key=first)
    return dg.RunRequest(
        run_key=run_key, tags={PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last}
    )


def run_requests(
    arrived: Arrived, landing: LandingZone, cold_storage: ColdStorage, known: set[str], log
) -> list[dg.RunRequest]:
    """One run per run of consecutive days that new files touch: thirty days landing at once are one
    run, not thirty (a run costs seconds whatever its days); a file holding many days touches exactly
    its days. Days apart stay apart, so no untouched day between them is run again."""
    markers: dict[str, list[str]] = {day: [marker] for day, marker in arrived.days.items()}
    for source, name, marker in arrived.files:
        for day in days_in_file(source, landing, name, cold_storage):
            markers.setdefault(day, []).append(marker)
    outside = sorted(set(markers) - known)
    if outside:
        log.warning(f"ignoring landing files for days outside the data scope: {', '.join(outside)}")
    requests = []
    for first, last in contiguous_ranges(sorted(set(markers) & known)):
        in_range = [m for day, held in markers.items() if first <= day <= last for m in held]
        requests.append(range_request(first, last, in_range))
    return requests


def retried_by_the_instance(run: dg.DagsterRun, instance: dg.DagsterInstance) -> bool:
    """Whether Dagster's daemon re-executes this failed run itself (`run_retries` in dagster.yaml).
    Dagster tags a failed run with its answer (`dagster/will_retry`); until it has, the answer is
    predicted the way Dagster decides it for a failed step: no retry when `retry_on_asset_or_op_failure`
    (the run's tag, else the instance's) is false. That is the shared environments' setting, so a step
    that outlasted its own retries (S3 or PostgreSQL down for longer) is left to the landing sensor."""
    from dagster._core.storage.tags import RETRY_ON_ASSET_OR_OP_FAILURE_TAG, WILL_RETRY_TAG
    from dagster._utils.tags import get_boolean_tag_value

    if not instance.run_retries_enabled:
        return False
    if WILL_RETRY_TAG in run.tags:
        return get_boolean_tag_value(run.tags[WILL_RETRY_TAG])
    return get_boolean_tag_value(
        run.tags.get(RETRY_ON_ASSET_OR_OP_FAILURE_TAG),
        default_value=instance.run_retries_retry_on_asset_or_op_failure,
    )


def retry_requests(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """The landing runs that failed, requested once more each (up to LANDING_ATTEMPTS runs in all), so
    that no landed day is left behind by a transient failure: each failed run is run again either by
    the instance (see `retried_by_the_instance`) or by this, never by neither nor both. The run key
    names the attempt, so each is requested once, across ticks; a day whose file is bad fails its
    attempts and stays failed, saying why, until a corrected file lands."""
    failed = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=DAILY_PIPELINE,
            statuses=[dg.DagsterRunStatus.FAILURE],
            tags={SENSOR_NAME_TAG: LANDING_SENSOR},
        ),
        limit=100,
    )
    requests = []
    for run in failed:
        attempt = int(run.tags.get(ATTEMPT_TAG, "1"))
        if (
            attempt >= LANDING_ATTEMPTS
            or RUN_KEY_TAG not in run.tags
            or retried_by_the_instance(run, instance)
        ):
            continue
        window = {
            t: run.tags[t] for t in (PARTITION_RANGE_START_TAG, PARTITION_RANGE_END_TAG) if t in run.tags
        }
        requests.append(
            dg.RunRequest(
                run_key=f"{run.tags[RUN_KEY_TAG].split('#')[0]}#{attempt + 1}",
                partition_key=run.tags.get(PARTITION_TAG) if not window else None,
                tags=window | {ATTEMPT_TAG: str(attempt + 1)},
            )
        )
    return requests


def landing_sensor(env: Environment, sources: tuple[Source, ...]) -> dg.SensorDefinition:
    """One sensor whatever holds the landing zone: file times locally, `get_objects` with a cursor on S3."""
    days = daily_partitions(env)
    on_s3 = isinstance(env.landing, S3Storage)

    @dg.sensor(
        name=LANDING_SENSOR,
        job_name=DAILY_PIPELINE,
        minimum_interval_seconds=env.automation.landing_interval_seconds,
        default_status=_status(env.automation.sensors),
        description="Requests a run of the daily pipeline for the days whose landing files appeared or "
        "changed, one run per range of consecutive days: a file of one day touches its day; a file "
        "holding many days, exactly the days it holds. A landing run that failed is requested again "
        f"(up to {LANDING_ATTEMPTS} runs) unless the instance retries that run itself.",
    )
    def sense(context: dg.SensorEvaluationContext, landing: LandingZone, cold_storage: ColdStorage):
        if on_s3:
            arrived, cursor = new_s3_landing_partitions(sources, landing, context.cursor)
        else:
            arrived, newest = new_landing_partitions(sources, landing, float(context.cursor or 0))
            cursor = str(newest)
        yield from run_requests(arrived, landing, cold_storage, set(days.get_partition_keys()), context.log)
        yield from retry_requests(context.instance)
        if cursor is not None:
            context.update_cursor(cursor)

    return sense


def serving_automation_sensor(env: Environment) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "serving_automation",
        target=dg.AssetSelection.groups("serving"),
        default_status=_status(env.automation.sensors),
        description="Publishes a hot table as soon as its mart has new data (AutomationCondition.eager).",
    )
