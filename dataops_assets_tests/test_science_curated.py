"""A task may name a curated dbt model beside raw datasets: the snapshot pins the mart's exported days,
the features query joins them with raw flights, and the daily scoring asset depends on the curated
export. On the session's pipeline run (its served marts are curated)."""

from __future__ import annotations

import math

import pytest

from dataops_assets_tests.conftest import PIPELINE_DAYS

pytestmark = pytest.mark.slow

MART = "mart_carrier_origin_daily"
DAYS = [d.isoformat() for d in PIPELINE_DAYS]
TASK = f"""\
name: on_time
description: Each carrier's share of on-time arrivals at an origin, per day.
datasets: [{MART}, flights]
features: on_time.sql
key: [flight_date, carrier, origin]
date_column: flight_date
target: on_time_rate
kind: regression
metric: mae
test_days: 1
serve: {{table: on_time_predictions}}
"""
SQL = f"""\
SELECT m.flight_date, m.carrier, m.origin, CAST(m.flights AS DOUBLE) AS flights,
       avg(f.distance) AS mean_distance, m.on_time_rate
FROM {MART} m
JOIN flights f
  ON f.carrier = m.carrier AND f.origin = m.origin AND make_date(f.year, f.month, f.day) = m.flight_date
GROUP BY ALL
"""
RIDGE = """\
estimator: sklearn.linear_model.Ridge
params: {alpha: 1.0}
features: [carrier, origin, flights, mean_distance]
"""


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    from dataops_assets import paths
    from dataops_assets.task_declarations import load_task

    science = tmp_path_factory.mktemp("curated-science") / "science"
    (science / "tasks").mkdir(parents=True)
    (science / "models").mkdir()
    (science / "tasks" / "on_time.yaml").write_text(TASK)
    (science / "tasks" / "on_time.sql").write_text(SQL)
    (science / "models" / "ridge.yaml").write_text(RIDGE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paths, "SCIENCE_DIR", science)
        yield load_task()


def test_a_task_over_a_curated_mart_and_raw_flights_runs_and_is_scored_daily_from_both(
    task, pipeline_run, testing_env
):
    import dagster as dg

    from dataops_assets.resources.factory import open_resource
    from dataops_assets.runs.experiment import run_experiment
    from dataops_assets.science.serving import build_champion_predictions_asset
    from dataops_assets.science.snapshots import create_snapshot

    cold = open_resource(testing_env, "cold_storage")
    snapshot = create_snapshot(cold, "curated_task", [MART, "flights"], DAYS[0], DAYS[-1])
    record = run_experiment(testing_env, snapshot.name, "ridge")
    assert record["task"]["name"] == "on_time" and record["snapshot"]["id"] == snapshot.id
    assert record["split"]["first_test_day"] == DAYS[-1] and record["split"]["test_rows"] > 0
    assert 0 <= record["metrics"]["mae"] < 1 and not math.isnan(record["metrics"]["r2"])

    asset = build_champion_predictions_asset(task, dg.DailyPartitionsDefinition(start_date=DAYS[0]))
    assert asset.key == dg.AssetKey(["serving", "on_time_predictions"])
    assert set(asset.dependency_keys) == {dg.AssetKey(["curated", MART]), dg.AssetKey(["raw", "flights"])}
