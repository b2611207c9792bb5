"""Sources are configuration: a new daily feed needs a YAML file, not code."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import duckdb
import pytest
import yaml

from dataops_assets.environments.loader import load_environment
from dataops_assets.partitions import daily_partitions
from dataops_assets.pillars.ingestion.assets import build_ingestion_asset
from dataops_assets.pillars.raw.assets import build_raw_asset
from dataops_assets.resources.factory import build_resources
from dataops_assets.sources.catalog import load_sources
from dataops_assets.sources.model import Source
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model

SENSOR_READINGS = {
    "name": "sensor_readings",
    "description": "A JSON-lines feed nobody wrote code for.",
    "format": "json",
    "partitioning": "daily",
    "landing": "sensor_readings/{date}/*.jsonl",
    "partition_date": {"column": "observed_at"},
    "event_time": "observed_at",
    "primary_key": ["sensor_id", "observed_at"],
    "columns": [
        {"name": "sensor_id", "type": "string", "nullable": False},
        {"name": "observed_at", "type": "timestamp", "nullable": False},
        {"name": "value", "type": "double"},
    ],
}


def test_the_catalog_declares_the_replayed_datasets():
    names = {s.name: s for s in load_sources()}
    assert {"flights", "weather", "airlines", "airports", "planes"} <= set(names)
    assert names["flights"].is_daily and not names["airlines"].is_daily
    assert names["flights"].partition_date.parts == ("year", "month", "day")  # local date, not time_hour


def test_an_undeclared_key_column_is_an_error(tmp_path):
    path = tmp_path / "sensor_readings.yaml"
    path.write_text(yaml.safe_dump(SENSOR_READINGS | {"primary_key": ["sensor"]}))
    with pytest.raises(InvalidConfig, match="primary_key names undeclared column"):
        load_yaml_model(path, Source)


@pytest.mark.slow
def test_a_new_json_source_ingests_and_publishes_with_configuration_only(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))
    sources_dir = tmp_path / "sources"
    sources_dir.mkdir()
    (sources_dir / "sensor_readings.yaml").write_text(yaml.safe_dump(SENSOR_READINGS))
    [source] = load_sources(sources_dir)

    env = load_environment("testing")
    day = env.data_scope.start
    landing = env.local_path(env.landing.path) / f"sensor_readings/{day}"
    landing.mkdir(parents=True)
    rows = [
        {"sensor_id": "a", "observed_at": f"{day} 10:00:00", "value": 1.5},
        {"sensor_id": "a", "observed_at": f"{day} 10:00:00", "value": 9.9},  # duplicate key
        {"sensor_id": "b", "observed_at": f"{day} 11:00:00", "value": "n/a"},  # wrong type
        {"sensor_id": "c", "observed_at": f"{day + dt.timedelta(days=1)} 00:30:00", "value": 2.0},  # next day
    ]
    (landing / "part-1.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    days = daily_partitions(env)
    result = dg.materialize(
        [build_ingestion_asset(source, days), build_raw_asset(source, days)],
        partition_key=day.isoformat(),
        resources=build_resources(env),
    )
    assert result.success
    ingested = result.asset_materializations_for_node("ingestion__sensor_readings")[0].metadata
    assert ingested["rows_read"].value == 4
    assert ingested["dagster/partition_row_count"].value == 1  # the day's own rows
    assert ingested["rows_quarantined"].value == 3
    raw = result.asset_materializations_for_node("raw__sensor_readings")[0].metadata
    assert raw["dagster/partition_row_count"].value == 1
    cold = env.local_path(env.cold_storage.path) / f"raw/sensor_readings/date={day}"
    [parquet] = cold.glob("part-*.parquet")
    assert duckdb.execute("SELECT sensor_id, value FROM read_parquet(?)", [str(parquet)]).fetchall() == [
        ("a", 1.5)
    ]
