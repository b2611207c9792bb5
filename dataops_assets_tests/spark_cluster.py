"""A Spark standalone cluster on loopback, made of the installed pyspark's own jars (no downloads):
a master, N one-core workers, and a Hive metastore service (Derby in the cluster's directory) that
every Spark session of the platform shares. For the tests and the benchmarks; a real cluster is
declared in an environment file instead (docs/spark.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path

START_TIMEOUT_S = 180  # a loaded two-core machine starts a JVM in seconds, a dozen of them in minutes


def missing() -> str | None:
    """Why a local Spark cluster cannot run here, or None."""
    if find_spec("pyspark") is None or find_spec("dbt.adapters.spark") is None:
        return "pyspark / dbt-spark are not installed (pip install -e '.[dev,spark]')"
    if shutil.which("java") is None:
        return "Java is not on PATH (Spark needs Java 17)"
    return None


def spark_home() -> Path:
    return Path(find_spec("pyspark").submodule_search_locations[0])  # type: ignore[index, union-attr]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LocalSparkCluster:
    master: str  # spark://127.0.0.1:PORT
    metastore: str  # thrift://127.0.0.1:PORT
    web_url: str  # the master's web UI, whose /json/ lists workers and applications
    workers: int
    worker_pids: tuple[int, ...] = ()  # each leads a process group holding its executors

    # What a Spark session on loopback needs, whatever the environment declares.
    LOOPBACK_CONF = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as response:
            return json.load(response)


class ClusterDidNotStart(RuntimeError):
    pass


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def local_spark_cluster(
    root: Path, workers: int = 2, worker_memory: str = "1g"
) -> Iterator[LocalSparkCluster]:
    """Start the metastore, the master and `workers` workers under `root`; stop them all on exit."""
    root.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    env = os.environ | {
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",
    }
    spark_class = str(home / "bin" / "spark-class")
    metastore_port, master_port, web_port = free_port(), free_port(), free_port()
    processes: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(name: str, command: list[str]) -> None:
        log = root / f"{name}.log"
        logs.append(log)
        with open(log, "wb") as out:
            # A session of its own: stopping it stops the JVMs it started (a worker's executors).
            processes.append(
                subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            )  # fmt: skip

    def alive_workers() -> int:
        with contextlib.suppress(OSError, ValueError):
            return int(cluster.state()["aliveworkers"])
        return 0

    cluster = LocalSparkCluster(
        master=f"spark://127.0.0.1:{master_port}",
        metastore=f"thrift://127.0.0.1:{metastore_port}",
        web_url=f"http://127.0.0.1:{web_port}",
        workers=workers,
    )
    try:
        metastore_db = root / "metastore_db"
        start(
            "metastore",
            [
                "java", "-Xmx256m", f"-Dderby.system.home={root}",
                # Hive's default log4j setup asks for an async logger whose jar Spark does not ship.
                "-Dlog4j2.contextSelector=org.apache.logging.log4j.core.selector.BasicContextSelector",
                "-cp", f"{home / 'jars'}/*", "org.apache.hadoop.hive.metastore.HiveMetaStore",
                "-p", str(metastore_port),
                "--hiveconf", f"javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={metastore_db};create=true",
                "--hiveconf", "datanucleus.schema.autoCreateAll=true",
                "--hiveconf", "hive.metastore.schema.verification=false",
            ],
        )  # fmt: skip
        start(
            "master",
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(master_port), "--webui-port", str(web_port)],
        )  # fmt: skip
        for i in range(workers):
            start(
                f"worker-{i + 1}",
                [spark_class, "org.apache.spark.deploy.worker.Worker", cluster.master, "--host", "127.0.0.1",
                 "--cores", "1", "--memory", worker_memory, "--webui-port", "0",
                 "--work-dir", str(root / f"work-{i + 1}")],
            )  # fmt: skip
        cluster = replace(cluster, worker_pids=tuple(p.pid for p in processes[2:]))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (_port_open(metastore_port) and alive_workers() == workers):
            stopped = [log.stem for log, p in zip(logs, processes, strict=True) if p.poll() is not None]
            if stopped or time.monotonic() > deadline:
                reason = f"{', '.join(stopped)} stopped" if stopped else f"not up in {START_TIMEOUT_S} s"
                raise ClusterDidNotStart(f"the local Spark cluster did not start ({reason}); logs in {root}")
            time.sleep(0.5)
        yield cluster
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
