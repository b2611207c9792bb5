"""The daily schedule: yesterday's partition every morning (declared per environment, on or off)."""

from __future__ import annotations

import dagster as dg

from dataops_assets.automation.jobs import daily_pipeline
from dataops_assets.environments.model import Environment


def daily_schedule(env: Environment) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        daily_pipeline,
        name="daily_pipeline_schedule",
        hour_of_day=env.automation.schedule_hour,
        minute_of_hour=env.automation.schedule_minute,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if env.automation.schedules
        else dg.DefaultScheduleStatus.STOPPED,
        description="Runs every pillar for the day that just ended.",
    )
