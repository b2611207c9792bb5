"""Curated data flows back to cold storage: served marts and `archive: true` dbt models are exported
per day as immutable Parquet with a manifest, verified like raw partitions, and pinnable by snapshots.

The declaration tests read synthetic dbt manifests; the export tests read the session's shared
pipeline run (its served marts are curated).
"""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from dataops_assets import layout
from dataops_assets.curated import InvalidArchiveDeclaration, declared_models
from dataops_assets.pillars.raw.curated import rows_by_day
from dataops_assets.pillars.raw.publish import read_manifest
from dataops_assets.pillars.raw.table_days import publish_day
from dataops_assets.pillars.raw.verify import verify_cold_storage
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.factory import open_resource
from dataops_assets.science.snapshots import (
    SnapshotError,
    create_snapshot,
    export_snapshot,
    pinned_problem,
    read_dataset,
    verify_snapshot,
)
from dataops_assets_tests.conftest import PIPELINE_DAYS

MART = "mart_carrier_origin_daily"
DAYS = [d.isoformat() for d in PIPELINE_DAYS]


def _node(name: str, meta: dict | None, tags=("daily",), unique_key="event_date", columns=()) -> dict:
    return {
        "resource_type": "model",
        "name": name,
        "schema": "marts",
        "alias": name,
        "tags": list(tags),
        "original_file_path": f"models/{name}.sql",
        "patch_path": f"project://models/{name}.yml",
        "config": {"meta": {"dataops": meta} if meta is not None else {}, "unique_key": unique_key},
        "columns": {c: {} for c in columns},
        "description": "",
    }


def _manifest(*nodes: dict) -> dict:
    return {"nodes": {f"model.p.{n['name']}": n for n in nodes}}


def test_served_and_archive_true_models_are_curated_with_their_date_column_and_key():
    served = _node(
        "mart_sales",
        {"serve": {"table": "sales", "key": ["day", "shop"], "date_column": "day"}},
        columns=("day", "shop"),
    )
    archived = _node("int_readings", {"archive": True})
    named = _node("mart_named", {"archive": {"date_column": "reading_day", "key": ["sensor"]}})
    opted_out = _node(
        "mart_hot_only",
        {"serve": {"table": "hot_only", "key": ["day"], "date_column": "day"}, "archive": False},
        columns=("day",),
    )
    plain = _node("stg_other", None)
    curated = {m.name: m for m in declared_models(_manifest(served, archived, named, opted_out, plain))}
    assert sorted(curated) == ["int_readings", "mart_named", "mart_sales"]
    assert (curated["mart_sales"].date_column, curated["mart_sales"].key) == ("day", ("day", "shop"))
    assert (curated["int_readings"].date_column, curated["int_readings"].key) == ("event_date", ())
    assert (curated["mart_named"].date_column, curated["mart_named"].key) == ("reading_day", ("sensor",))
    assert curated["mart_sales"].relation == "marts.mart_sales"


@pytest.mark.parametrize(
    "node, message",
    [
        (
            _node("dim_shops", {"archive": True}, tags=("dimension",)),
            "models/dim_shops.yml: model dim_shops is not a daily model",
        ),
        (
            _node("int_x", {"archive": True}, unique_key=["a", "b"]),
            "model int_x: meta.dataops.archive names no date_column",
        ),
        (_node("int_y", {"archive": "yes"}), "meta.dataops.archive is 'yes': write true, false or"),
        (_node("int_z", {"archive": {"when": "daily"}}), "model int_z: meta.dataops.archive: "),
    ],
)
def test_a_bad_archive_declaration_is_one_line_naming_the_yaml(node, message):
    with pytest.raises(InvalidArchiveDeclaration) as error:
        declared_models(_manifest(node))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_rows_are_split_by_day_with_every_day_present():
    rows = [("2013-01-02", 1), ("2013-01-01", 2), ("2013-01-02", 3)]
    assert rows_by_day(["day", "n"], rows, "day", ["2013-01-01", "2013-01-02", "2013-01-03"]) == {
        "2013-01-01": [("2013-01-01", 2)],
        "2013-01-02": [("2013-01-02", 1), ("2013-01-02", 3)],
        "2013-01-03": [],
    }


@pytest.fixture(scope="module")
def cold(pipeline_run, testing_env):
    return open_resource(testing_env, "cold_storage")


def _mart_rows(testing_env, day: str):
    warehouse = open_resource(testing_env, "warehouse")
    return warehouse.fetch(f"SELECT * FROM marts.{MART} WHERE flight_date = ?::DATE", [day])


def test_every_served_mart_is_exported_per_day_with_the_warehouse_rows(cold, testing_env):
    for day in DAYS:
        manifest = read_manifest(cold, MART, day, layout.CURATED)
        columns, _, rows = _mart_rows(testing_env, day)
        assert manifest["rows"] == len(rows) > 0
        assert manifest["curated_from"] == f"marts.{MART}"
        (entry,) = manifest["files"]
        assert entry["path"].startswith(f"curated/{MART}/date={day}/part-")
        table = pq.read_table(io.BytesIO(cold.get_bytes(entry["path"])))
        assert table.column_names == columns
        assert table.num_rows == len(rows)
        # The mart's own invariant survives the trip: its flights add up to the day's raw flights.
        raw = read_manifest(cold, "flights", day)
        assert sum(table.column("flights").to_pylist()) == raw["rows"]


def test_exporting_a_day_again_is_a_no_op_with_the_same_bytes(cold, testing_env):
    day = DAYS[0]
    before = cold.get_bytes(layout.manifest_key(MART, day, layout.CURATED))
    columns, types, rows = _mart_rows(testing_env, day)
    key = ["flight_date", "carrier", "origin"]
    again = publish_day(
        cold,
        layout.CURATED,
        MART,
        day,
        list(zip(columns, types, strict=True)),
        rows[::-1],
        key,
        {"curated_from": f"marts.{MART}"},
    )
    assert again.changed is False
    assert cold.get_bytes(layout.manifest_key(MART, day, layout.CURATED)) == before


def test_verify_checks_curated_files_and_finds_a_changed_one(cold, tmp_path):
    report = verify_cold_storage(cold)
    assert report.problems == []
    curated = [k for k in cold.list_keys(layout.CURATED) if k.endswith(".parquet")]
    assert len(curated) >= len(DAYS)
    copy = LocalColdStorage(root=str(tmp_path / "cold"))
    for key in cold.list_keys(layout.CURATED):
        copy.put_bytes(key, cold.get_bytes(key))
    copy.put_bytes(curated[0], b"not the exported bytes")
    assert verify_cold_storage(copy).problems == [
        f"changed: {curated[0]} (sha256 differs from {curated[0].rsplit('/', 1)[0]}/_manifest.json)"
    ]


def test_a_snapshot_pins_a_curated_mart_beside_raw_data_and_exports_it(cold, tmp_path):
    snapshot = create_snapshot(cold, "curated_and_raw", [MART, "flights"], DAYS[0], DAYS[-1])
    curated = snapshot.files_of(MART)
    assert [f["partition"] for f in curated] == DAYS
    assert {f["zone"] for f in curated} == {layout.CURATED}
    assert all("zone" not in f for f in snapshot.files_of("flights"))
    table = read_dataset(cold, snapshot, MART)
    assert table.num_rows == sum(f["rows"] for f in curated)
    assert verify_snapshot(cold, snapshot).problems == []
    laptop = LocalColdStorage(root=str(tmp_path / "laptop"))
    export_snapshot(cold, snapshot, laptop)
    assert verify_cold_storage(laptop).problems == []
    assert laptop.exists(layout.manifest_key(MART, DAYS[0], layout.CURATED))


def test_an_unknown_dataset_names_the_sources_and_the_curated_models(cold):
    with pytest.raises(
        SnapshotError, match=f"unknown dataset 'nope'; declared sources: .*curated models: .*{MART}"
    ):
        create_snapshot(cold, "unknown_dataset", ["nope"], DAYS[0], DAYS[-1])


def test_a_pinned_entry_in_another_zone_is_refused():
    entry = {"dataset": MART, "partition": DAYS[0], "zone": "archive", "path": "x", "sha256": "0" * 64}
    assert "zone 'archive' is not one a snapshot pins" in pinned_problem(entry)
