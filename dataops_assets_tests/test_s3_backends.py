"""Cold storage and the landing zone on S3 (a moto server on loopback), through the same interfaces
the pillars use locally; the landing sensor requests each S3 file once."""

from __future__ import annotations

import uuid

import boto3
import dagster as dg
import pytest

from dataops_assets.automation.sensors import landing_sensor
from dataops_assets.environments.loader import load_environment
from dataops_assets.pillars.metadata import parquet_preview
from dataops_assets.resources.cold_storage import LocalColdStorage, S3ColdStorage
from dataops_assets.resources.landing_zone import S3LandingZone
from dataops_assets.resources.s3 import s3_client
from dataops_assets.resources.warehouse import read_parquet_files
from dataops_assets.sources.catalog import load_sources


@pytest.fixture
def bucket(s3_endpoint) -> str:
    name = f"dataops-i3-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


def test_cold_storage_contract_on_s3(bucket, tmp_path):
    storage = S3ColdStorage(bucket=bucket, prefix="cold/", region="us-east-1")
    local = tmp_path / "part.bin"
    local.write_bytes(b"0123456789")
    storage.put_file(local, "raw/flights/date=2013-01-01/part-a.bin")
    storage.put_bytes("raw/flights/date=2013-01-01/_manifest.json", b"{}")
    storage.put_bytes("raw_archive/x.bin", b"x")  # shares a prefix, not the folder
    storage.copy("raw/flights/date=2013-01-01/part-a.bin", "raw/flights/date=2013-01-02/part-a.bin")

    assert storage.get_bytes("raw/flights/date=2013-01-02/part-a.bin") == b"0123456789"
    assert storage.exists("raw/flights/date=2013-01-01/_manifest.json")
    assert not storage.exists("raw/flights/date=2013-01-03/_manifest.json")
    assert storage.list_keys("raw") == [
        "raw/flights/date=2013-01-01/_manifest.json",
        "raw/flights/date=2013-01-01/part-a.bin",
        "raw/flights/date=2013-01-02/part-a.bin",
    ]
    assert storage.uri("raw/x") == f"s3://{bucket}/cold/raw/x"
    keys = [o["Key"] for o in s3_client("us-east-1").list_objects_v2(Bucket=bucket)["Contents"]]
    assert all(k.startswith("cold/") for k in keys)  # everything under the declared prefix
    with pytest.raises(ValueError, match="escapes"):
        storage.put_bytes("../outside", b"")


def test_parquet_in_s3_reads_through_its_readable_path(bucket, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    storage = S3ColdStorage(bucket=bucket, prefix="", region="us-east-1")
    pq.write_table(pa.table({"n": [1, 2, 3], "s": ["a", None, "c"]}), tmp_path / "t.parquet")
    storage.put_file(tmp_path / "t.parquet", "raw/t/part.parquet")
    path = storage.readable_path("raw/t/part.parquet")
    assert read_parquet_files([path, path]).num_rows == 6
    assert "| 1 | a |" in parquet_preview(path).value


def test_landing_zone_on_s3_fetches_what_matches(bucket, tmp_path):
    zone = S3LandingZone(
        bucket=bucket, prefix="landing/", cache_dir=str(tmp_path / "cache"), region="us-east-1"
    )
    source = tmp_path / "f.csv"
    source.write_text("a,b\n1,2\n")
    for name in (
        "flights/date=2013-01-01/a.csv",
        "flights/date=2013-01-01/b.csv",
        "flights/date=2013-01-02/a.csv",
    ):
        zone.put_file(source, name)
    files = zone.files("flights/date=2013-01-01/*.csv")
    assert [zone.name_of(f) for f in files] == [
        "flights/date=2013-01-01/a.csv",
        "flights/date=2013-01-01/b.csv",
    ]
    assert files[0].read_text() == "a,b\n1,2\n"
    assert zone.names("**") == [
        "flights/date=2013-01-01/a.csv",
        "flights/date=2013-01-01/b.csv",
        "flights/date=2013-01-02/a.csv",
    ]


def _days(request) -> str:
    from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG

    first = request.partition_key or request.tags[PARTITION_RANGE_START_TAG]
    return f"{first}..{request.partition_key or request.tags[PARTITION_RANGE_END_TAG]}"


def test_the_s3_landing_sensor_requests_each_file_once(bucket, tmp_path):
    env = load_environment("staging")
    env = env.model_copy(update={"landing": env.landing.model_copy(update={"bucket": bucket})})
    zone = S3LandingZone(bucket=bucket, prefix="landing/", cache_dir=str(tmp_path), region="us-east-1")
    sensor = landing_sensor(env, load_sources())
    source = tmp_path / "f.csv"
    source.write_text("x")

    def tick(instance, cursor):
        with dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"landing": zone, "cold_storage": LocalColdStorage(root=str(tmp_path / "cold"))},
        ) as context:
            return [(_days(r), r.run_key) for r in sensor(context)], context.cursor

    zone.put_file(source, "flights/date=2013-01-01/a.csv")
    zone.put_file(source, "weather/date=2013-01-01/a.csv")
    zone.put_file(source, "flights/date=2013-01-02/a.csv")
    zone.put_file(source, "airlines/airlines.csv")  # a dimension: no partition
    with dg.instance_for_test() as instance:
        first, cursor = tick(instance, None)
        assert [days for days, _ in first] == ["2013-01-01..2013-01-02"]  # one run for consecutive days
        again, cursor = tick(instance, cursor)
        assert again == []  # nothing new: nothing requested, even within the same second
        zone.put_file(source, "flights/date=2013-01-02/late.csv")
        later, cursor = tick(instance, cursor)
        assert [days for days, _ in later] == ["2013-01-02..2013-01-02"]
        assert later[0][1] not in {key for _, key in first}  # a new run key: a new run
        assert tick(instance, cursor)[0] == []


def test_a_run_before_apply_fails_in_one_line(s3_endpoint, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from dataops_assets.cli.main import main

    monkeypatch.setenv("DATAOPS_ENV", "development")
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATAOPS_PG_DSN", "postgresql://postgres:pw@127.0.0.1:5432/unused")
    monkeypatch.setenv("DATAOPS_DAGSTER_PG_DSN", "postgresql://postgres:pw@127.0.0.1:5432/unused")
    result = CliRunner().invoke(main, ["pipeline", "run", "--start", "2013-10-01", "--end", "2013-10-01"])
    assert result.exit_code == 1
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("error: cannot list the landing zone s3://dataops-development/landing/")
    assert error.endswith("has `dataops env apply development` run?")


def test_on_s3_a_file_holding_many_days_requests_exactly_its_days_once(bucket, tmp_path):
    from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
    from dataops_assets.sources.model import Source

    counts = Source.model_validate(
        {
            "name": "counts",
            "description": "Counts exported monthly: one file holds many days.",
            "format": "csv",
            "partitioning": "daily",
            "landing": "counts/*.csv",
            "partition_date": {"column": "day"},
            "primary_key": ["day"],
            "columns": [
                {"name": "day", "from": "Day", "type": "date", "format": "%d/%m/%Y"},
                {"name": "n", "type": "integer"},
            ],
        }
    )
    env = load_environment("staging")
    env = env.model_copy(update={"landing": env.landing.model_copy(update={"bucket": bucket})})
    zone = S3LandingZone(
        bucket=bucket, prefix="landing/", cache_dir=str(tmp_path / "cache"), region="us-east-1"
    )
    resources = {"landing": zone, "cold_storage": LocalColdStorage(root=str(tmp_path / "cold"))}
    sensor = landing_sensor(env, (counts,))
    month = tmp_path / "month.csv"
    month.write_text("Day,n\n" + "".join(f"{d:02d}/01/2013,{d}\n" for d in (2, 3, 4, 20)))

    def tick(instance, cursor):
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            requests = [
                (r.tags.get(PARTITION_RANGE_START_TAG), r.tags.get(PARTITION_RANGE_END_TAG), r.partition_key)
                for r in sensor(context)
            ]
            return requests, context.cursor

    zone.put_file(month, "counts/2013-01.csv")
    with dg.instance_for_test() as instance:
        first, cursor = tick(instance, None)
        assert first == [("2013-01-02", "2013-01-04", None), (None, None, "2013-01-20")]
        assert tick(instance, cursor)[0] == []
