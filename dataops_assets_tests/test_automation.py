"""The landing sensor requests one run per day whose files appeared, and never twice for a file."""

from __future__ import annotations

import os

import dagster as dg

from dataops_assets.automation.sensors import landing_date_pattern, landing_sensor
from dataops_assets.environments.loader import load_environment
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.landing_zone import LocalLandingZone
from dataops_assets.sources.catalog import get_source, load_sources


def test_landing_pattern_captures_the_partition_date():
    pattern = landing_date_pattern(get_source("flights"))
    assert pattern.match("flights/date=2013-01-05/part-1.csv").group("date") == "2013-01-05"
    assert pattern.match("flights/date=2013-01-05/nested/part-1.csv") is None
    assert pattern.match("weather/date=2013-01-05/part-1.csv") is None


def test_new_files_request_one_run_per_day_once(tmp_path):
    env = load_environment("testing")
    landing = LocalLandingZone(root=str(tmp_path))
    cold = LocalColdStorage(root=str(tmp_path / "cold"))
    sensor = landing_sensor(env, load_sources())

    def drop(name: str, mtime: float) -> None:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        os.utime(path, (mtime, mtime))

    drop("flights/date=2013-01-01/a.csv", 1000)
    drop("weather/date=2013-01-01/a.csv", 1001)
    drop("flights/date=2013-01-02/a.csv", 1002)
    drop("airlines/airlines.csv", 1003)  # a dimension: not a daily partition

    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"landing": landing, "cold_storage": cold}
        )
        first = list(sensor(context))
        assert [r.partition_key for r in first] == ["2013-01-01", "2013-01-02"]
        assert context.cursor == "1002.0"

        assert (
            list(
                sensor(
                    dg.build_sensor_context(
                        instance=instance,
                        cursor=context.cursor,
                        resources={"landing": landing, "cold_storage": cold},
                    )
                )
            )
            == []
        )

        drop("flights/date=2013-01-02/late.csv", 2000)
        later = list(
            sensor(
                dg.build_sensor_context(
                    instance=instance,
                    cursor=context.cursor,
                    resources={"landing": landing, "cold_storage": cold},
                )
            )
        )
        assert [(r.partition_key, r.run_key) for r in later] == [("2013-01-02", "2013-01-02@2000.0")]


def test_days_outside_the_data_scope_are_not_requested(tmp_path):
    env = load_environment("testing")  # the first week of 2013
    landing = LocalLandingZone(root=str(tmp_path))
    cold = LocalColdStorage(root=str(tmp_path / "cold"))
    for day in ("2013-01-07", "2013-01-08"):
        path = tmp_path / f"flights/date={day}/a.csv"
        path.parent.mkdir(parents=True)
        path.write_text("x")
    with dg.instance_for_test() as instance:
        requests = list(
            landing_sensor(env, load_sources())(
                dg.build_sensor_context(
                    instance=instance, resources={"landing": landing, "cold_storage": cold}
                )
            )
        )
    assert [r.partition_key for r in requests] == ["2013-01-07"]
