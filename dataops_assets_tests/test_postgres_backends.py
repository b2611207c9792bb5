"""The warehouse and the hot store on PostgreSQL (a database of this module's own on 127.0.0.1:5432),
through the interfaces the pillars use: idempotent loads, atomic publishes, a read-only API role."""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataops_assets.resources.hot_store import PostgresHotStore
from dataops_assets.resources.warehouse import PostgresWarehouse


@pytest.fixture(scope="module")
def warehouse(pg_database) -> PostgresWarehouse:
    return PostgresWarehouse(dsn=pg_database.dsn, dbt_threads=2)


@pytest.fixture(scope="module")
def hot(pg_database) -> PostgresHotStore:
    return PostgresHotStore(dsn=pg_database.dsn, readonly_role=pg_database.api_role)


def _parquet(path, n: int, day: int) -> str:
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int32()),
            "name": pa.array([f"x{i}" if i % 3 else ("" if i % 2 else None) for i in range(n)]),
            "value": pa.array([i / 7 for i in range(n)], pa.float64()),
            "at": pa.array([dt.datetime(2013, 1, day, 5, tzinfo=dt.UTC)] * n, pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(table, path)
    return str(path)


def test_partitions_load_idempotently_with_nulls_and_empty_strings_kept(warehouse, tmp_path):
    one, two = _parquet(tmp_path / "1.parquet", 50, 1), _parquet(tmp_path / "2.parquet", 30, 2)
    assert warehouse.load_partitions("events", {"2013-01-01": [one], "2013-01-02": [two]}) == 80
    assert warehouse.load_partitions("events", {"2013-01-01": [one]}) == 50  # re-run of a day
    counts = warehouse.fetch(
        "SELECT partition_date::text, count(*), count(name), sum((name = '')::int) FROM raw.events "
        "WHERE partition_date BETWEEN ?::DATE AND ?::DATE GROUP BY 1 ORDER BY 1",
        ["2013-01-01", "2013-01-02"],
    )
    assert counts.rows == [("2013-01-01", 50, 41, 8), ("2013-01-02", 30, 25, 5)]


def test_fetch_reports_sql_types(warehouse, tmp_path):
    warehouse.load_partitions("typed", {"2013-01-01": [_parquet(tmp_path / "t.parquet", 3, 1)]})
    fetched = warehouse.fetch("SELECT id, name, value, at, partition_date FROM raw.typed LIMIT 1")
    assert fetched.types == ["INTEGER", "TEXT", "DOUBLE PRECISION", "TIMESTAMP WITH TIME ZONE", "DATE"]


def test_a_dimension_is_replaced_whole(warehouse, tmp_path):
    assert warehouse.replace_table("dim", [_parquet(tmp_path / "a.parquet", 10, 1)]) == 10
    assert warehouse.replace_table("dim", [_parquet(tmp_path / "b.parquet", 4, 1)]) == 4
    assert warehouse.fetch("SELECT count(*) FROM raw.dim").rows == [(4,)]


def test_dbt_reaches_the_same_database(warehouse, pg_database):
    env = warehouse.dbt_env()
    assert warehouse.dbt_target() == "postgres"
    assert env["DATAOPS_PG_DATABASE"] == pg_database.dsn.rsplit("/", 1)[1]
    assert env["DATAOPS_DBT_THREADS"] == "2"


COLUMNS = [("flight_date", "DATE"), ("carrier", "VARCHAR"), ("flights", "BIGINT"), ("delay", "DOUBLE")]


def _rows(day: str, n: int, delay: float = 1.5):
    return [(dt.date.fromisoformat(day), f"C{i}", i, delay) for i in range(n)]


def test_publish_replaces_days_and_keeps_the_catalog(hot, pg_database):
    assert (
        hot.publish(
            "daily",
            COLUMNS,
            _rows("2013-01-01", 3) + _rows("2013-01-02", 2),
            "flight_date",
            ["2013-01-01", "2013-01-02"],
        )
        == 5
    )
    assert hot.publish("daily", COLUMNS, _rows("2013-01-02", 4), "flight_date", ["2013-01-02"]) == 4
    assert hot.count_by_date("daily", "flight_date", ["2013-01-01", "2013-01-02", "2013-01-03"]) == {
        "2013-01-01": 3,
        "2013-01-02": 4,
    }
    with psycopg.connect(pg_database.dsn) as con:
        catalog = con.execute(
            "SELECT last_partition, rows FROM serving._published WHERE table_name = 'daily'"
        ).fetchone()
    assert catalog == ("2013-01-02", 7)
    assert hot.count_by_date("never_published", "flight_date", ["2013-01-01"]) == {}


def test_a_failed_publish_leaves_the_previous_version(hot):
    hot.publish("atomic", COLUMNS, _rows("2013-01-01", 5), "flight_date", ["2013-01-01"])
    bad = _rows("2013-01-01", 3) + [(dt.date(2013, 1, 1), "X", "not a number", 0.0)]
    with pytest.raises(psycopg.Error):
        hot.publish("atomic", COLUMNS, bad, "flight_date", ["2013-01-01"])
    assert hot.count_by_date("atomic", "flight_date", ["2013-01-01"]) == {"2013-01-01": 5}


def test_readers_never_see_half_a_publish(hot, pg_database):
    hot.publish("swap", COLUMNS, _rows("2013-01-01", 200), "flight_date", ["2013-01-01"])
    seen: set[int] = set()
    done = threading.Event()

    def read():
        with psycopg.connect(pg_database.dsn, autocommit=True) as con:
            while not done.is_set():
                seen.add(con.execute("SELECT count(*) FROM serving.swap").fetchone()[0])

    reader = threading.Thread(target=read)
    reader.start()
    for n in (300, 200, 300, 200):
        hot.publish("swap", COLUMNS, _rows("2013-01-01", n), "flight_date", ["2013-01-01"])
    done.set()
    reader.join()
    assert seen and seen <= {200, 300}


def test_the_api_role_reads_and_cannot_write(hot, pg_database):
    with psycopg.connect(pg_database.dsn, autocommit=True) as con:
        con.execute(f'CREATE ROLE "{pg_database.api_role}" LOGIN')
        con.execute(f'GRANT USAGE ON SCHEMA serving TO "{pg_database.api_role}"')
    hot.publish("granted", COLUMNS, _rows("2013-01-01", 2), "flight_date", ["2013-01-01"])
    api_dsn = pg_database.dsn.replace("postgres@", f"{pg_database.api_role}@")
    with psycopg.connect(api_dsn) as con:
        assert con.execute("SELECT count(*) FROM serving.granted").fetchone() == (2,)
    with psycopg.connect(api_dsn) as con, pytest.raises(psycopg.errors.InsufficientPrivilege):
        con.execute("DELETE FROM serving.granted")


def test_retention_reads_and_deletes_only_the_days_it_counted(hot):
    """The hot-store side of retention (pillars/serving/retention.py) on PostgreSQL."""
    hot.publish(
        "aging",
        COLUMNS,
        _rows("2013-01-01", 3) + _rows("2013-01-02", 2),
        "flight_date",
        ["2013-01-01", "2013-01-02"],
    )
    assert hot.columns("aging") == COLUMNS
    assert hot.partition_counts("aging", "flight_date") == {"2013-01-01": 3, "2013-01-02": 2}
    names, rows = hot.read_partitions("aging", "flight_date", ["2013-01-01"])
    assert names == [name for name, _ in COLUMNS]
    assert len(rows) == 3 and {row[0] for row in rows} == {"2013-01-01"}

    with pytest.raises(ValueError, match="holds 3 row"):
        hot.delete_partitions("aging", "flight_date", {"2013-01-01": 2})
    assert hot.partition_counts("aging", "flight_date") == {"2013-01-01": 3, "2013-01-02": 2}

    assert hot.delete_partitions("aging", "flight_date", {"2013-01-01": 3}) == 3
    assert hot.partition_counts("aging", "flight_date") == {"2013-01-02": 2}
    [entry] = [e for e in hot.catalog() if e["table_name"] == "aging"]
    assert entry["rows"] == 2
    assert hot.partition_counts("never_published", "flight_date") == {}
