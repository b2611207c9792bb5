"""A spark warehouse in an environment file: validated, its size rendered into the Spark session config
and dbt's profile, and the resource built from it. No Spark runs here (test_spark_warehouse does)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from dataops_assets.environments.loader import load_environment
from dataops_assets.environments.model import Environment
from dataops_assets.environments.render import render_dbt_profile
from dataops_assets.environments.spark import spark_conf
from dataops_assets.paths import PROJECT_DIR
from dataops_assets.resources.factory import open_resource
from dataops_assets.resources.spark import SparkWarehouse, hot_type, spark_path
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model

# The warehouse section docs/spark.md shows production switching to a standalone cluster with.
_DOC = (PROJECT_DIR / "docs" / "spark.md").read_text()
STANDALONE = yaml.safe_load(_DOC.split("```yaml\n", 1)[1].split("```", 1)[0])["warehouse"]


def with_warehouse(tmp_path, name: str, warehouse: dict) -> Environment:
    """Environment `name` as declared in Git with only its warehouse section replaced."""
    data = yaml.safe_load((PROJECT_DIR / "environments" / f"{name}.yaml").read_text())
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data | {"warehouse": warehouse}))
    return load_yaml_model(path, Environment)


def test_production_switches_to_a_spark_cluster_by_its_warehouse_section_alone(tmp_path):
    env = with_warehouse(tmp_path, "production", STANDALONE)
    conf = spark_conf(env)
    assert conf["spark.master"] == "spark://spark-master.internal:7077"
    assert conf["spark.hadoop.hive.metastore.uris"] == "thrift://spark-master.internal:9083"
    assert (conf["spark.executor.instances"], conf["spark.executor.cores"]) == ("8", "4")
    assert (conf["spark.executor.memory"], conf["spark.driver.memory"]) == ("16g", "4g")
    assert conf["spark.sql.shuffle.partitions"] == "64"
    # A standalone master sizes an application by cores: 8 executors of 4 cores.
    assert conf["spark.cores.max"] == "32"
    profile = yaml.safe_load(render_dbt_profile(env))["dataops"]
    assert profile["target"] == "spark"
    output = profile["outputs"]["spark"]
    assert (output["type"], output["method"]) == ("spark", "session")
    assert output["server_side_parameters"] == conf


def test_a_local_master_and_relative_warehouse_dir_resolve_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path / "data"))
    spec = {"kind": "spark", "master": "local[2]", "metastore": "thrift://127.0.0.1:9083"}
    conf = spark_conf(with_warehouse(tmp_path, "sandbox", spec))
    assert conf["spark.sql.warehouse.dir"] == str((tmp_path / "data" / "spark-warehouse").resolve())
    assert "spark.cores.max" not in conf  # only a standalone master counts cores


def test_extra_conf_is_passed_as_given_and_wins(tmp_path):
    extra = {
        "spark.sql.shuffle.partitions": "7",
        "spark.hadoop.fs.s3a.endpoint": "s3.eu-west-1.amazonaws.com",
    }
    conf = spark_conf(with_warehouse(tmp_path, "production", STANDALONE | {"conf": extra}))
    assert conf["spark.sql.shuffle.partitions"] == "7"
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "s3.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("master", "spark://no-port", "warehouse.spark.master"),
        ("master", "local[0]", "warehouse.spark.master"),
        ("metastore", "derby", "warehouse.spark.metastore"),
        ("size", {"executor_memory": "lots"}, "warehouse.spark.size.executor_memory"),
        ("size", {"executor_instances": 0}, "warehouse.spark.size.executor_instances"),
        ("size", {"executors": 2}, "warehouse.spark.size.executors"),
    ],
)
def test_a_bad_spark_setting_is_an_error_naming_its_key(tmp_path, key, value, message):
    with pytest.raises(InvalidConfig, match=re.escape(message)):
        with_warehouse(tmp_path, "production", STANDALONE | {key: value})


def test_the_resource_hands_dbt_the_same_session_config(tmp_path):
    env = with_warehouse(tmp_path, "production", STANDALONE)
    warehouse = open_resource(env, "warehouse")
    assert isinstance(warehouse, SparkWarehouse) and warehouse.dbt_target() == "spark"
    dbt_env = warehouse.dbt_env()
    assert json.loads(dbt_env["DATAOPS_SPARK_CONF"]) == spark_conf(env)
    assert dbt_env["DATAOPS_DBT_THREADS"] == str(env.scale.dbt_threads)
    # The platform's own session is a local driver on the same metastore, holding no executors.
    client = warehouse.client_conf()
    assert client["spark.master"] == "local[1]"
    assert client["spark.hadoop.hive.metastore.uris"] == "thrift://spark-master.internal:9083"
    assert not any(k.startswith("spark.executor.") or k == "spark.cores.max" for k in client)


def test_the_checked_in_dbt_profile_reads_the_session_config_the_resource_sets():
    output = yaml.safe_load((PROJECT_DIR / "dbt_project" / "profiles.yml").read_text())["dataops"]["outputs"]
    spark = output["spark"]
    assert (spark["type"], spark["method"]) == ("spark", "session")
    assert "DATAOPS_SPARK_CONF" in spark["server_side_parameters"]


def test_spark_types_and_paths_translate_for_the_hot_store_and_hadoop():
    assert [hot_type(t) for t in ("date", "bigint", "double", "string", "decimal(10,2)")] == [
        "DATE",
        "BIGINT",
        "DOUBLE",
        "VARCHAR",
        "DECIMAL(10,2)",
    ]
    assert spark_path("s3://bucket/cold/raw/x.parquet") == "s3a://bucket/cold/raw/x.parquet"
    assert spark_path("/data/cold/raw/x.parquet") == "/data/cold/raw/x.parquet"


def test_every_declared_environment_still_validates_with_a_spark_kind_known():
    for name in ("sandbox", "testing", "development", "staging", "production"):
        assert load_environment(name).warehouse.kind in ("duckdb", "postgres")
