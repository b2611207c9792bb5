"""Sensors: new landing files start runs; declarative automation keeps the hot tables current."""

import datetime as dt
import json
import re

import dagster as dg

from dataops_assets.automation.jobs import DAILY_PIPELINE
from dataops_assets.environments.model import Environment, S3Storage
from dataops_assets.partitions import daily_partitions
from dataops_assets.resources.landing_zone import LandingZone, S3LandingZone
from dataops_assets.sources.model import Source


def _status(on: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


def landing_date_pattern(source: Source) -> re.Pattern[str]:
    """A regex over landing names that captures the partition date of a daily source's files."""
    escaped = re.escape(source.landing).replace(re.escape("{date}"), r"(?P<date>\d{4}-\d{2}-\d{2})")
    return re.compile("^" + escaped.replace(r"\*\*", ".*").replace(r"\*", "[^/]*") + "$")


def new_landing_partitions(
    sources: tuple[Source, ...], landing: LandingZone, cursor: float
) -> tuple[dict[str, float], float]:
    """Partitions with a landing file newer than `cursor`, each with its newest file time; new cursor."""
    newest = cursor
    partitions: dict[str, float] = {}
    for source in sources:
        if not source.is_daily:
            continue
        pattern = landing_date_pattern(source)
        for path, mtime in landing.files_with_mtime(source.landing_glob("*")):
            match = pattern.match(landing.name_of(path))
            if match and mtime > cursor:
                day = match.group("date")
                partitions[day] = max(partitions.get(day, 0.0), mtime)
                newest = max(newest, mtime)
    return partitions, newest


def _partition_of(patterns: list[re.Pattern[str]], name: str) -> str | None:
    """The day a landing name belongs to, if it is a daily source's file."""
    for pattern in patterns:
        match = pattern.match(name)
        if match:
            return match.group("date")
    return None


def new_s3_landing_partitions(
    sources: tuple[Source, ...], landing: S3LandingZone, cursor: str | None
) -> tuple[dict[str, str], str | None]:
    """Days with an object newer than the cursor, each with its newest object's marker; new cursor.

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
    daily = [landing_date_pattern(source) for source in sources if source.is_daily]
    partitions: dict[str, str] = {}
    for obj in objects:
        if obj["LastModified"] == since and obj["Key"] in seen_at_since:
            continue
        day = _partition_of(daily, landing.name_of_key(obj["Key"]))
        if day:
            # The key is part of the marker: two files with the same bytes can land in the same second.
            marker = f"{obj['LastModified'].isoformat()}/{obj['Key']}#{obj['ETag'].strip(chr(34))}"
            partitions[day] = max(partitions.get(day, ""), marker)
    if not objects:
        return partitions, cursor
    newest = max(o["LastModified"] for o in objects)
    keys = sorted(
        {o["Key"] for o in objects if o["LastModified"] == newest}
        | (seen_at_since if newest == since else set())
    )
    return partitions, json.dumps({"last_modified": newest.isoformat(), "keys": keys})


def landing_sensor(env: Environment, sources: tuple[Source, ...]) -> dg.SensorDefinition:
    """One sensor whatever holds the landing zone: file times locally, `get_objects` with a cursor on S3."""
    days = daily_partitions(env)
    on_s3 = isinstance(env.landing, S3Storage)

    @dg.sensor(
        name="landing_zone_sensor",
        job_name=DAILY_PIPELINE,
        minimum_interval_seconds=60,
        default_status=_status(env.automation.sensors),
        description="Requests a run of the daily pipeline for each day whose landing files appeared or changed.",
    )
    def sense(context: dg.SensorEvaluationContext, landing: LandingZone):
        if on_s3:
            partitions, cursor = new_s3_landing_partitions(sources, landing, context.cursor)
        else:
            found, newest = new_landing_partitions(sources, landing, float(context.cursor or 0))
            partitions, cursor = {d: str(m) for d, m in found.items()}, str(newest)
        known = days.get_partition_keys()
        outside = sorted(set(partitions) - set(known))
        if outside:
            context.log.warning(
                f"ignoring landing files for days outside the data scope: {', '.join(outside)}"
            )
        for day, marker in sorted((d, m) for d, m in partitions.items() if d in known):
            # The run key makes a file's arrival request at most one run, even across ticks.
            yield dg.RunRequest(run_key=f"{day}@{marker}", partition_key=day)
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
