"""Sensors: new landing files start runs; declarative automation keeps the hot tables current."""

import re

import dagster as dg

from dataops_assets.automation.jobs import DAILY_PIPELINE
from dataops_assets.environments.model import Environment
from dataops_assets.partitions import daily_partitions
from dataops_assets.resources.landing_zone import LandingZone
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


def landing_sensor(env: Environment, sources: tuple[Source, ...]) -> dg.SensorDefinition:
    days = daily_partitions(env)

    @dg.sensor(
        name="landing_zone_sensor",
        job_name=DAILY_PIPELINE,
        minimum_interval_seconds=60,
        default_status=_status(env.automation.sensors),
        description="Requests a run of the daily pipeline for each day whose landing files appeared or changed.",
    )
    def sense(context: dg.SensorEvaluationContext, landing: LandingZone):
        cursor = float(context.cursor or 0)
        partitions, newest = new_landing_partitions(sources, landing, cursor)
        known = days.get_partition_keys()
        outside = sorted(set(partitions) - set(known))
        if outside:
            context.log.warning(
                f"ignoring landing files for days outside the data scope: {', '.join(outside)}"
            )
        for day, mtime in sorted((d, m) for d, m in partitions.items() if d in known):
            # The run key makes a file's arrival request at most one run, even across ticks.
            yield dg.RunRequest(run_key=f"{day}@{mtime}", partition_key=day)
        context.update_cursor(str(newest))

    return sense


def serving_automation_sensor(env: Environment) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "serving_automation",
        target=dg.AssetSelection.groups("serving"),
        default_status=_status(env.automation.sensors),
        description="Publishes a hot table as soon as its mart has new data (AutomationCondition.eager).",
    )
