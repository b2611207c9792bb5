"""The run-failure sensor: every failed run reported where the environment's file says
(`reliability.failure_alerts`), as one JSON object — appended as a line to a log file, or POSTed to a
webhook whose URL is a secret. The report holds the run, its job, its days, the failed steps and the
first line of each one's error (passwords redacted), never data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
from pathlib import Path

import dagster as dg

from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from dataops_assets.environments.model import Environment, FailureAlerts
from dataops_assets.redact import redact

WEBHOOK_TIMEOUT_S = 10


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return redact(lines[0]) if lines else ""


def failure_report(context: dg.RunFailureSensorContext) -> dict:
    run = context.dagster_run
    steps = {}
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data.description if data.user_failure_data else None
        error = data.error
        while error is not None and error.cause is not None:  # the innermost: the user's problem
            error = error.cause
        steps[event.step_key] = _first_line(user or (error.message if error else None))
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "days": [run.tags.get(PARTITION_RANGE_START_TAG), run.tags.get(PARTITION_RANGE_END_TAG)]
        if PARTITION_RANGE_START_TAG in run.tags
        else run.tags.get("dagster/partition"),
        "failed_steps": steps,
        "reason": _first_line(context.failure_event.message),
        "reported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def deliver(alerts: FailureAlerts, data_path: Path, report: dict) -> None:
    """Append `report` to the log file, or POST it to the webhook (an error names the destination's
    kind, never the URL: it may carry a token)."""
    body = json.dumps(report, sort_keys=True)
    if alerts.log_file is not None:
        path = data_path / alerts.log_file
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line: reports from concurrent ticks never interleave within a line.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (body + "\n").encode())
        finally:
            os.close(fd)
        return
    assert alerts.webhook_url is not None
    request = urllib.request.Request(
        alerts.webhook_url.resolve(), data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as answer:
            answer.read()
    except OSError as error:  # URLError, HTTPError, timeouts
        reason = getattr(error, "code", None) or type(error).__name__
        raise RuntimeError(
            f"the failure webhook (${alerts.webhook_url.env}) did not take the report: {reason}"
        ) from None


def run_failure_sensor(env: Environment) -> dg.SensorDefinition | None:
    """The sensor reporting failed runs, when the environment declares where; None otherwise."""
    alerts = env.reliability.failure_alerts
    if alerts is None:
        return None

    @dg.run_failure_sensor(
        name="report_failed_runs",
        description="Reports every failed run to "
        + (
            f"the log file {alerts.log_file}"
            if alerts.log_file
            else f"the webhook in ${alerts.webhook_url.env}"
        ),
        default_status=dg.DefaultSensorStatus.RUNNING,
        monitor_all_code_locations=False,
    )
    def report_failed_runs(context: dg.RunFailureSensorContext):
        deliver(alerts, env.data_path, failure_report(context))

    return report_failed_runs
