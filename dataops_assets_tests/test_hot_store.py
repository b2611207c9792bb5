"""The hot store: a publish is atomic, and readers keep reading while it runs."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from dataops_assets.resources.hot_store import SQLiteHotStore

DAYS = ["2013-01-01", "2013-01-02"]
COLUMNS = [("flight_date", "DATE"), ("carrier", "VARCHAR"), ("flights", "BIGINT")]


def rows(version: int, per_day: int) -> list[tuple]:
    return [(day, f"C{i:03d}", version) for day in DAYS for i in range(per_day)]


def test_publish_replaces_only_its_days(tmp_path):
    store = SQLiteHotStore(path=str(tmp_path / "hot.sqlite"))
    store.publish("t", COLUMNS, rows(1, 3), "flight_date", DAYS)
    store.publish("t", COLUMNS, [("2013-01-02", "X", 2)], "flight_date", ["2013-01-02"])
    assert store.count_by_date("t", "flight_date", DAYS) == {"2013-01-01": 3, "2013-01-02": 1}
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT last_partition, rows FROM _published WHERE table_name='t'").fetchone() == (
            "2013-01-02",
            4,
        )


def test_a_failed_publish_leaves_the_previous_version(tmp_path):
    store = SQLiteHotStore(path=str(tmp_path / "hot.sqlite"))
    store.publish("t", COLUMNS, rows(1, 3), "flight_date", DAYS)
    broken = [*rows(2, 3), ("2013-01-01", "too", "many", "values")]
    with pytest.raises(sqlite3.ProgrammingError):
        store.publish("t", COLUMNS, broken, "flight_date", DAYS)
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT DISTINCT flights FROM t").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 6


def test_readers_see_the_old_or_the_new_version_never_a_mix(tmp_path):
    store = SQLiteHotStore(path=str(tmp_path / "hot.sqlite"))
    per_day = 2000
    store.publish("t", COLUMNS, rows(0, per_day), "flight_date", DAYS)
    seen: list[tuple] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        with store.connect(read_only=True) as con:
            while not done.is_set():
                try:
                    seen.append(
                        tuple(con.execute("SELECT count(*), min(flights), max(flights) FROM t").fetchone())
                    )
                except BaseException as error:  # a lock error or a partial read would land here
                    errors.append(error)
                    return

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for version in range(1, 11):
        store.publish("t", COLUMNS, rows(version, per_day), "flight_date", DAYS)
    done.set()
    for reader in readers:
        reader.join()

    assert errors == []
    assert len(seen) > 10
    # every read saw one whole version: all rows, and a single version number
    assert all(count == 2 * per_day and low == high for count, low, high in seen)


def test_columns_keep_the_warehouse_types_whatever_the_first_rows_hold(tmp_path):
    store = SQLiteHotStore(path=str(tmp_path / "hot.sqlite"))
    columns = [("flight_date", "DATE"), ("avg_delay", "DOUBLE"), ("flights", "BIGINT")]
    store.publish("t", columns, [("2013-01-01", None, 3)], "flight_date", ["2013-01-01"])
    store.publish("t", columns, [("2013-01-02", 1.5, 4)], "flight_date", ["2013-01-02"])
    with sqlite3.connect(store.path) as con:
        declared = {r[1]: r[2] for r in con.execute("PRAGMA table_info(t)")}
        stored = con.execute(
            "SELECT typeof(avg_delay), typeof(flights) FROM t WHERE avg_delay IS NOT NULL"
        ).fetchone()
    assert declared == {"flight_date": "TEXT", "avg_delay": "REAL", "flights": "INTEGER"}
    assert stored == ("real", "integer")
