"""A staging-shaped deployment running unattended, for the unattended test and bench/unattended.py:
`dagster-daemon` (which starts the code server) over an environment provisioned by `env apply`, with
Dagster's storage in PostgreSQL, the queued run coordinator and S3 landing on moto (steps run in the
run's process: the in-process executor). Files are dropped
into the landing zone as the upstream system would; nothing else is run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG, PARTITION_TAG
from dataops_assets.environments.model import Environment

WORKSPACE = (
    "load_from:\n  - python_module: {module_name: dataops_assets.definitions, location_name: dataops}\n"
)


class NotInTime(AssertionError):
    pass


@dataclass
class Deployment:
    env: Environment
    dsn: str  # the warehouse's and hot store's PostgreSQL
    daemon: subprocess.Popen
    log: Path
    deadline_s: float

    def land(self, days: list[dt.date]) -> None:
        """The upstream system drops the days' files into the S3 landing zone."""
        from dataops_assets.runs.pipeline import replay_into_landing

        replay_into_landing(self.env, days, echo=lambda *_: None)

    def wait_for(self, condition: Callable, what: str):
        """Poll `condition` until it returns something truthy (returned); the daemon must stay up."""
        deadline = time.monotonic() + self.deadline_s
        while not (found := condition()):
            if self.daemon.poll() is not None:
                raise NotInTime(f"dagster-daemon exited: {self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise NotInTime(f"{what}: not within {self.deadline_s:g} s: {self.log.read_text()[-3000:]}")
            time.sleep(0.5)
        return found

    def hot_flights(self, days: list[dt.date]) -> dict[str, int]:
        """Flights per day the hot table carrier_origin_daily counts, for those of `days` it holds."""
        import psycopg

        with psycopg.connect(self.dsn) as con:
            if con.execute("SELECT to_regclass('serving.carrier_origin_daily')").fetchone()[0] is None:
                return {}
            rows = con.execute(
                "SELECT flight_date::text, sum(flights) FROM serving.carrier_origin_daily "
                "WHERE flight_date = ANY(%s) GROUP BY 1",
                [days],
            ).fetchall()
        return {day: int(flights) for day, flights in rows}


def days_of(run) -> set[str]:
    """The days a run covers: its partition, or every day of its range; none for an unpartitioned run."""
    first = run.tags.get(PARTITION_RANGE_START_TAG) or run.tags.get(PARTITION_TAG)
    last = run.tags.get(PARTITION_RANGE_END_TAG) or run.tags.get(PARTITION_TAG)
    if not first:
        return set()
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return {str(start + dt.timedelta(days=i)) for i in range((end - start).days + 1)}


def sensor_ticks(instance, name: str) -> list:
    """Every tick of the sensor `name` so far, newest first."""
    from dagster._core.scheduler.instigation import InstigatorType

    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == name:
            return list(instance.get_ticks(state.instigator_origin_id, state.selector_id))
    return []


@contextlib.contextmanager
def unattended_staging(env: Environment, dsn: str, root: Path, deadline_s: float) -> Iterator[Deployment]:
    """`env` (staging-shaped, its services reachable through the process's environment variables)
    provisioned, its instance config rendered into DAGSTER_HOME, and dagster-daemon running over it."""
    from dataops_assets.environments.render import render_instance_yaml
    from dataops_assets.pillars.processing.dbt_project import ensure_manifest
    from dataops_assets.provisioning.plan import apply, plan
    from dataops_assets_tests.services import environ, project_with

    ensure_manifest()  # built once here, not by each process that loads the code
    # No schedule (it would ask for today, outside 2013); steps in the run's own process: a step
    # process per step costs seconds each, which this machine's test budget cannot pay.
    env = env.model_copy(
        update={
            "automation": env.automation.model_copy(update={"schedules": False}),
            "scale": env.scale.model_copy(update={"executor": "in_process"}),
        }
    )
    apply(plan(env), echo=lambda *_: None)
    home = root / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(render_instance_yaml(env))
    (root / "workspace.yaml").write_text(WORKSPACE)
    log = root / "daemon.log"
    variables = {
        "DATAOPS_ENV": env.name,
        "DATAOPS_DATA_DIR": str(root),
        "DAGSTER_HOME": str(home),
        "DATAOPS_PROJECT_DIR": str(project_with(env, root)),
    }
    with environ(**variables), log.open("w") as output:
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(root / "workspace.yaml")],
            env=os.environ.copy(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the code server and the runs it launches are in its process group
        )
        try:
            yield Deployment(env, dsn, daemon, log, deadline_s)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
