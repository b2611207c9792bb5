"""The ingestion data path the benchmarks tuned: arrival order, positions in the quarantine, cheap copies."""

from __future__ import annotations

import datetime as dt

import duckdb

from dataops_assets.pillars.ingestion.validate import DUPLICATE, validate_partition
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.sources.catalog import get_source

DAY = dt.date(2013, 1, 5)
HEADER = ",".join(get_source("flights").column_names)


def row(flight: int, dep: str = "559") -> str:
    return f"2013,1,5,{dep},600,-1,830,840,-10,UA,{flight},N123UA,EWR,ORD,130,719,6,0,2013-01-05T11:00:00Z"


def test_quarantine_positions_count_within_each_file_and_landed_rows_keep_arrival_order(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("\n".join([HEADER, row(30), row(10), row(20, dep="x")]) + "\n")
    second.write_text("\n".join([HEADER, row(5), row(10, dep="601"), row(30)]) + "\n")
    landed, quarantine = tmp_path / "l.parquet", tmp_path / "q.parquet"
    outcome = validate_partition(get_source("flights"), [first, second], DAY, landed, quarantine, ["a", "b"])

    assert (outcome.rows_read, outcome.rows_landed, outcome.rows_quarantined) == (6, 3, 3)
    flights = duckdb.execute("SELECT flight, dep_time FROM read_parquet(?)", [str(landed)]).fetchall()
    assert flights == [(30, 559), (10, 559), (5, 559)]  # file a's rows first, each file in its order
    quarantined = duckdb.execute(
        "SELECT source_file, record, reason, raw FROM read_parquet(?)", [str(quarantine)]
    ).fetchall()
    assert [(f, r) for f, r, _, _ in quarantined] == [("a", 3), ("b", 2), ("b", 3)]
    assert quarantined[0][2] == "dep_time: cannot read x as integer"
    assert '"dep_time":"x"' in quarantined[0][3]  # a bad row keeps its text as it arrived
    assert quarantined[1][2] == quarantined[2][2] == DUPLICATE
    assert '"flight":"10"' in quarantined[1][3] and '"dep_time":"601"' in quarantined[1][3]


def test_the_same_files_give_byte_identical_parquet(tmp_path):
    landing = tmp_path / "a.csv"
    landing.write_text("\n".join([HEADER, *(row(n) for n in range(300, 0, -1)), row(7)]) + "\n")
    outputs = []
    for attempt in ("1", "2"):
        landed = tmp_path / attempt / "l.parquet"
        validate_partition(get_source("flights"), [landing], DAY, landed, tmp_path / attempt / "q.parquet")
        outputs.append(landed.read_bytes())
    assert outputs[0] == outputs[1]


def test_a_copy_in_cold_storage_keeps_its_bytes_when_the_source_is_rewritten(tmp_path):
    storage = LocalColdStorage(root=str(tmp_path))
    storage.put_bytes("_staging/x/part.parquet", b"first")
    storage.copy("_staging/x/part.parquet", "raw/x/part-1.parquet")
    storage.put_bytes("_staging/x/part.parquet", b"second")
    assert storage.get_bytes("raw/x/part-1.parquet") == b"first"
    assert storage.get_bytes("_staging/x/part.parquet") == b"second"
    assert storage.list_keys("raw") == ["raw/x/part-1.parquet"]  # no temporary link left behind
