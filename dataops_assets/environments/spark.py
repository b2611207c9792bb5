"""What a `spark` warehouse implies for Spark: the session properties every session of the platform
starts with (dbt's, through its profile's server_side_parameters, and the platform's own), rendered
from the environment file the way `scale` renders dagster.yaml."""

from __future__ import annotations

from dataops_assets.environments.model import Environment, SparkWarehouse


def spark_warehouse_dir(env: Environment, spec: SparkWarehouse) -> str:
    """A URI as given (s3a://...), or a path relative to the environment's data directory."""
    if "://" in spec.warehouse_dir:
        return spec.warehouse_dir
    return str(env.local_path(spec.warehouse_dir))


def spark_conf(env: Environment) -> dict[str, str]:
    spec = env.warehouse
    if not isinstance(spec, SparkWarehouse):
        raise ValueError(f"the {env.name} environment's warehouse is {spec.kind}, not spark")
    size = spec.size
    conf = {
        "spark.master": spec.master,
        "spark.app.name": f"dataops-{env.name}",
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": spec.metastore,
        "spark.sql.warehouse.dir": spark_warehouse_dir(env, spec),
        "spark.executor.instances": str(size.executor_instances),
        "spark.executor.cores": str(size.executor_cores),
        "spark.executor.memory": size.executor_memory,
        "spark.driver.memory": size.driver_memory,
        "spark.sql.shuffle.partitions": str(size.shuffle_partitions),
        # Dates and times mean the same in every session, whatever the machines' zones.
        "spark.sql.session.timeZone": "UTC",
        # dbt-spark's insert_overwrite replaces only the partitions (days) a run writes.
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
    }
    if spec.master.startswith("spark://"):
        # A standalone master sizes an application by its cores: this many make executor_instances.
        conf["spark.cores.max"] = str(size.executor_instances * size.executor_cores)
    return conf | spec.conf
