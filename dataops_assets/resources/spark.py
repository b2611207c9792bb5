"""The warehouse on Apache Spark: raw tables registered over cold storage, dbt through dbt-spark.

Zero-copy raw tables. A dataset's published partitions are not copied: `raw_files.<dataset>` is an
external Parquet table whose partitions are cold storage's own day directories, and `raw.<dataset>`
(what dbt's `source('raw', ...)` reads) is a view of it that keeps only the files the manifests call
current, listed per day in `raw_files.<dataset>__current`. A file a correction superseded stays in its
directory (cold storage is immutable) but is never read. Dropping or re-registering a table never
touches cold storage: the tables are external.

Processes. dbt runs in its own process with dbt-spark's session method: that process is a Spark
driver on the environment's master, sized by the environment file. The platform's own session (this
resource: registering tables, reading marts for the hot store) is a small driver in local mode in
the orchestrator's process, so it never holds the cluster's executors while dbt waits for them.
Both meet in the Hive metastore service the environment names: an embedded Derby metastore admits a
single process, and here two (or more) must see the same tables.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING

from dataops_assets.names import checked_name
from dataops_assets.resources.s3 import arrow_filesystem
from dataops_assets.resources.warehouse import Fetched, Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

FILES_DATABASE = "raw_files"  # external tables over cold storage, every file
RAW_DATABASE = "raw"  # views of them: only the current files
PARTITION_COLUMN = "partition_date"
S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"

# pyspark warns on every import that it has not been certified with pandas 3; nothing here uses pandas.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

# The platform's own session: a local driver that sees what other processes (dbt) just wrote.
CLIENT_CONF = {
    "spark.master": "local[1]",
    "spark.ui.enabled": "false",
    "spark.sql.filesourceTableRelationCacheSize": "0",
    "spark.sql.hive.filesourcePartitionFileCacheSize": "0",
    "spark.sql.ansi.enabled": "false",  # as dbt-spark sets it, so both read SQL alike
    "spark.ui.showConsoleProgress": "false",
}
_CLUSTER_ONLY = ("spark.executor.", "spark.cores.max", "spark.dynamicAllocation.")

# Spark's type names as the warehouse type names the hot stores know (DuckDB's).
_HOT_TYPES = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "REAL",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "timestamp_ntz": "TIMESTAMP",
}


class SparkUnavailable(RuntimeError):
    """Spark cannot start here: pyspark or Java is missing, or another Spark warehouse holds this process."""


def hot_type(spark_type: str) -> str:
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    return _HOT_TYPES.get(spark_type, "VARCHAR")


def spark_path(readable: str) -> str:
    """Cold storage's path for a reader, as Spark's Hadoop filesystems name it (s3:// is s3a://)."""
    return "s3a://" + readable.removeprefix("s3://") if readable.startswith("s3://") else readable


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _parent(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[0]


def _file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def _columns_ddl(first_file: str) -> str:
    """The columns of a raw file, as Spark DDL, read from its Parquet footer (no Spark job)."""
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_schema

    filesystem, inner = arrow_filesystem(first_file)
    schema = from_arrow_schema(pq.read_schema(inner, filesystem=filesystem))
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)


def _date(day: str) -> str:
    return f"DATE {_literal(day)}"


def _one_directory(dataset: str, partition: str | None, files: list[str]) -> str:
    found = {_parent(f) for f in files}
    if len(found) != 1:
        raise ValueError(f"raw/{dataset} {partition or 'full'}: its current files are not in one directory")
    return found.pop()


def _daily_statements(
    table: str, current: str, columns: str, directories: dict, files: dict[str, list[str]]
) -> list[str]:
    """The table over the dataset's day directories (each day a partition), and the days' current files."""
    location = _parent(next(iter(directories.values())))
    partitions = " ".join(
        f"PARTITION ({PARTITION_COLUMN}={_literal(day)}) LOCATION {_literal(path)}"
        for day, path in directories.items()
    )
    current_files = ", ".join(
        f"({_literal(_file_name(f))}, {_date(day)})" for day, fs in files.items() for f in fs
    )
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ({columns}, {PARTITION_COLUMN} date) USING parquet "
        f"PARTITIONED BY ({PARTITION_COLUMN}) LOCATION {_literal(location)}",
        f"ALTER TABLE {table} ADD IF NOT EXISTS {partitions}",
        f"CREATE TABLE IF NOT EXISTS {current} (file_name string, {PARTITION_COLUMN} date) "
        f"USING parquet PARTITIONED BY ({PARTITION_COLUMN})",
        # Dynamic partition overwrite: only these days' lists are replaced.
        f"INSERT OVERWRITE TABLE {current} PARTITION ({PARTITION_COLUMN}) VALUES {current_files}",
    ]


def _dimension_statements(
    table: str, current: str, columns: str, directory: str, files: list[str]
) -> list[str]:
    """A dimension is replaced whole: its table is made anew over its one directory."""
    return [
        f"DROP TABLE IF EXISTS {table}",  # external: its files stay
        f"CREATE TABLE {table} ({columns}) USING parquet LOCATION {_literal(directory)}",
        f"CREATE TABLE IF NOT EXISTS {current} (file_name string) USING parquet",
        f"INSERT OVERWRITE TABLE {current} VALUES {', '.join(f'({_literal(_file_name(f))})' for f in files)}",
    ]


def _databases() -> list[str]:
    return [
        f"CREATE DATABASE IF NOT EXISTS {FILES_DATABASE}",
        f"CREATE DATABASE IF NOT EXISTS {RAW_DATABASE}",
    ]


def _view(dataset: str, daily: bool) -> str:
    """raw.<dataset>, what dbt's source reads: the registered files that are current, no others."""
    table, current = f"{FILES_DATABASE}.{dataset}", f"{FILES_DATABASE}.{dataset}__current"
    on = "c.file_name = f._metadata.file_name"
    if daily:
        on = f"c.{PARTITION_COLUMN} = f.{PARTITION_COLUMN} AND {on}"
    return f"CREATE OR REPLACE VIEW {RAW_DATABASE}.{dataset} AS SELECT f.* FROM {table} f LEFT SEMI JOIN {current} c ON {on}"


class SparkWarehouse(Warehouse):
    conf: dict[str, str]  # the Spark properties the environment implies (environments/spark.py)
    dbt_threads: int = 1

    # Sessions --------------------------------------------------------------------------------------

    def client_conf(self) -> dict[str, str]:
        kept = {k: v for k, v in self.conf.items() if not k.startswith(_CLUSTER_ONLY)}
        return (
            kept | CLIENT_CONF | {"spark.app.name": f"{self.conf.get('spark.app.name', 'dataops')}-platform"}
        )

    def session(self) -> SparkSession:
        """This process's Spark session for the warehouse (made once, then shared)."""
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise SparkUnavailable(
                "the spark warehouse needs pyspark and dbt-spark: pip install -e '.[spark]'"
            ) from None
        conf = self.client_conf()
        active = SparkSession.getActiveSession()
        if active is not None:
            metastore = active.sparkContext.getConf().get("spark.hadoop.hive.metastore.uris")
            if metastore != conf["spark.hadoop.hive.metastore.uris"]:
                raise SparkUnavailable(
                    f"this process already has a Spark session on metastore {metastore}; "
                    "one process serves one Spark warehouse"
                )
            return active
        builder = SparkSession.builder.enableHiveSupport()
        for key, value in conf.items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as error:  # pyspark's: Java missing or the JVM would not start
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise SparkUnavailable(f"Spark did not start ({first}); it needs Java 17 on PATH") from None
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    def _sql(self, *statements: str) -> None:
        spark = self.session()
        for statement in statements:
            spark.sql(statement)

    # Loading: registering cold storage's files ------------------------------------------------------

    def load_partitions(self, dataset: str, files_by_partition: dict[str, list[str]]) -> int:
        """Register these days' current files as raw.<dataset>; re-registering a day replaces its files."""
        return self._register(dataset, files_by_partition)

    def replace_table(self, dataset: str, files: list[str]) -> int:
        return self._register(dataset, {None: files})

    def _register(self, dataset: str, files_by_partition: dict[str | None, list[str]]) -> int:
        checked_name("dataset", dataset)
        files = {p: [spark_path(f) for f in paths] for p, paths in files_by_partition.items()}
        directories = {p: _one_directory(dataset, p, paths) for p, paths in files.items()}
        if any(f.startswith("s3a://") for paths in files.values() for f in paths):
            self._require_s3a()
        columns = _columns_ddl(next(iter(files_by_partition.values()))[0])
        table, current = f"{FILES_DATABASE}.{dataset}", f"{FILES_DATABASE}.{dataset}__current"
        daily = None not in files
        self._check_schema(table, columns, daily)
        if daily:
            statements = _daily_statements(table, current, columns, directories, files)
            where = f" WHERE {PARTITION_COLUMN} IN ({', '.join(_date(p) for p in files)})"
        else:
            statements = _dimension_statements(table, current, columns, directories[None], files[None])
            where = ""
        self._sql(*_databases(), *statements, _view(dataset, daily))
        return self.session().sql(f"SELECT count(*) FROM {RAW_DATABASE}.{dataset}{where}").collect()[0][0]

    def ensure_table(self, dataset: str, schema_file: str, partitioned: bool) -> None:
        """raw.<dataset> with the declared columns and no rows, until its first files are registered
        (the file tables start as managed, empty ones; registering gives them their files)."""
        checked_name("dataset", dataset)
        columns = _columns_ddl(schema_file)
        table, current = f"{FILES_DATABASE}.{dataset}", f"{FILES_DATABASE}.{dataset}__current"
        by_day = f", {PARTITION_COLUMN} date) USING parquet PARTITIONED BY ({PARTITION_COLUMN})"
        tail = by_day if partitioned else ") USING parquet"
        if self.session().catalog.tableExists(f"{RAW_DATABASE}.{dataset}"):
            return
        self._sql(
            *_databases(),
            f"CREATE TABLE IF NOT EXISTS {table} ({columns}{tail}",
            f"CREATE TABLE IF NOT EXISTS {current} (file_name string{tail}",
            _view(dataset, partitioned),
        )

    def _require_s3a(self) -> None:
        """Cold storage on S3 is read through Hadoop's S3 connector, which a real cluster provides."""
        try:
            self.session()._jvm.java.lang.Class.forName(S3A_FILESYSTEM)
        except Exception:  # py4j's error for a class the JVM cannot load
            raise SparkUnavailable(
                f"cold storage on S3 needs Hadoop's S3 connector ({S3A_FILESYSTEM}: the hadoop-aws jar "
                "and the AWS SDK bundle) on Spark's classpath, which pyspark's wheel does not have; "
                "see docs/spark.md"
            ) from None

    def _check_schema(self, table: str, columns: str, daily: bool) -> None:
        """A daily table keeps its columns: files of another shape are refused, not half-read."""
        spark = self.session()
        if not daily or not spark.catalog.tableExists(table):
            return
        registered = ", ".join(
            f"`{f.name}` {f.dataType.simpleString()}"
            for f in spark.table(table).schema.fields
            if f.name != PARTITION_COLUMN
        )
        if registered != columns:
            raise ValueError(
                f"{table} is registered with columns ({registered}) but the published files have "
                f"({columns}); a changed schema needs a new dataset or a rebuilt warehouse"
            )

    # Reading ----------------------------------------------------------------------------------------

    def fetch(self, sql: str, params: list | None = None) -> Fetched:
        frame = self.session().sql(sql, args=list(params) if params else None)
        columns = frame.columns
        types = [hot_type(f.dataType.simpleString()) for f in frame.schema.fields]
        data = frame.toArrow()  # timestamps arrive zone-aware (UTC), dates as dates
        rows = list(zip(*(c.to_pylist() for c in data.columns), strict=True)) if columns else []
        return Fetched(columns, types, rows)

    # dbt ----------------------------------------------------------------------------------------------

    def dbt_target(self) -> str:
        return "spark"

    def dbt_env(self) -> dict[str, str]:
        return {"DATAOPS_SPARK_CONF": json.dumps(self.conf), "DATAOPS_DBT_THREADS": str(self.dbt_threads)}
