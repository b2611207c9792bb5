"""The landing sensor turns newly landed days into one run per range of consecutive days, never twice
for a file; the serving automation re-runs a day only when that day's inputs changed."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from dataops_assets.automation.sensors import landing_date_pattern, landing_sensor
from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from dataops_assets.environments.loader import load_environment
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.landing_zone import LocalLandingZone
from dataops_assets.sources.catalog import get_source, load_sources


def _window(request: dg.RunRequest) -> tuple[str, str]:
    """The days a run request covers: its partition, or its range."""
    if request.partition_key:
        return request.partition_key, request.partition_key
    return request.tags[PARTITION_RANGE_START_TAG], request.tags[PARTITION_RANGE_END_TAG]


def test_landing_pattern_captures_the_partition_date():
    pattern = landing_date_pattern(get_source("flights"))
    assert pattern.match("flights/date=2013-01-05/part-1.csv").group("date") == "2013-01-05"
    assert pattern.match("flights/date=2013-01-05/nested/part-1.csv") is None
    assert pattern.match("weather/date=2013-01-05/part-1.csv") is None


def test_new_files_request_one_run_per_range_of_days_once(tmp_path):
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
    drop("flights/date=2013-01-03/a.csv", 1002)
    drop("weather/date=2013-01-05/a.csv", 1002)  # the 4th did not land: the 5th is a run of its own
    drop("airlines/airlines.csv", 1003)  # a dimension: not a daily partition

    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"landing": landing, "cold_storage": cold}
        )
        first = list(sensor(context))
        assert [_window(r) for r in first] == [("2013-01-01", "2013-01-03"), ("2013-01-05", "2013-01-05")]
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
        assert [_window(r) for r in later] == [("2013-01-02", "2013-01-02")]
        assert later[0].run_key.startswith("2013-01-02..2013-01-02@")
        assert later[0].run_key not in {r.run_key for r in first}  # a new file: a new run


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


# --- the serving automation: what a landing run leaves it to do -------------------------------------


@pytest.fixture(scope="module")
def testing_definitions():
    from dataops_assets.definitions import build_definitions

    return build_definitions(load_environment("testing"))


def _land(instance, defs: dg.Definitions, day: str, serving_too: bool = True) -> None:
    """Record what a landing run for `day` materializes: every pipeline asset's `day`, and the
    unpartitioned ones (dimensions) whole; the hot tables' `day` too unless `serving_too` is False
    (a run that stopped before publishing)."""
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        partitioned = node.partitions_def is not None
        if node.group_name == "science" or (
            node.group_name == "serving" and not (partitioned and serving_too)
        ):
            continue
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=key, partition=day if partitioned else None)
        )


def _requested_days(result, defs: dg.Definitions) -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string(): result.get_requested_partitions(key)
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == "serving" and graph.get(key).partitions_def is not None
    }


def test_a_landing_re_runs_no_hot_table_for_the_days_before_it(testing_definitions):
    """raw/planes (unpartitioned) is re-published by every landing run: it is no new data for earlier
    days, so no hot table (the champion's predictions included) is re-run for them."""
    defs = testing_definitions
    hot = dg.AssetSelection.groups("serving")
    with dg.instance_for_test() as instance:
        for day in ("2013-01-01", "2013-01-02", "2013-01-03"):
            _land(instance, defs, day)
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=hot)
        _land(instance, defs, "2013-01-04")
        after = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, asset_selection=hot, cursor=first.cursor
        )
        requested = _requested_days(after, defs)
        assert "serving/flight_delay_predictions" in requested
        assert requested == {table: set() for table in requested}  # the run published its own day

        # A run that stopped before publishing: its day, and only its day, is published by automation.
        _land(instance, defs, "2013-01-05", serving_too=False)
        later = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, asset_selection=hot, cursor=after.cursor
        )
        assert _requested_days(later, defs) == {table: {"2013-01-05"} for table in requested}
