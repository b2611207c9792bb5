"""The warehouse on Spark: a 30-day backfill on a standalone cluster with one worker and with two, on
the same data, against the same backfill on DuckDB.

Each measurement is one `dataops pipeline run --start 2013-01-01 --end 2013-01-30` in a fresh process
with a fresh data directory, timed from outside. The Spark runs use the sandbox environment with only
its warehouse replaced by a `spark` one (a fresh master, workers and Hive metastore per run, made of
pyspark's jars, started before the clock starts); each worker has one core and 1 GiB, and the
environment declares one executor per worker. The landing zone is replayed once and shared.

Peak memory is the run's own process tree (its largest process: the orchestrator, or dbt's Spark
driver) and, for Spark, each executor's, read from /proc while it runs (executors are the workers'
children, not the run's).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import threading
from pathlib import Path

import yaml

from bench.backfill import DATAOPS, FIRST, _pipeline, _shared_landing
from bench.measure import Sample, compare, figure, run_child

SHUFFLE_PARTITIONS = 4


def _executor_peaks(worker_pids: tuple[int, ...], stop: threading.Event, peaks: dict[int, float]) -> None:
    """Each executor's peak resident memory (MB), sampled until `stop`: the processes in the workers'
    process groups other than the workers themselves."""
    groups = set(worker_pids)
    while not stop.wait(0.5):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in groups:
                continue
            try:
                if os.getpgid(int(entry)) not in groups:
                    continue
                status = Path(f"/proc/{entry}/status").read_text()
            except (OSError, ProcessLookupError):
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[int(entry)] = max(peaks.get(int(entry), 0.0), int(line.split()[1]) / 1024)


def _spark_pipeline(days: int, workers: int, landing: Path, scratch: Path):
    from dataops_assets.environments.loader import load_environment
    from dataops_assets.environments.model import SparkSize, SparkWarehouse
    from dataops_assets_tests.spark_cluster import LocalSparkCluster, local_spark_cluster

    def measure() -> Sample:
        with (
            tempfile.TemporaryDirectory(dir=scratch) as tmp,
            local_spark_cluster(Path(tmp) / "cluster", workers) as c,
        ):
            data_dir, project = Path(tmp) / "data", Path(tmp) / "project"
            data_dir.mkdir()
            (data_dir / "landing").symlink_to(landing, target_is_directory=True)
            env = load_environment("sandbox").model_copy(
                update={
                    "warehouse": SparkWarehouse(
                        master=c.master,
                        metastore=c.metastore,
                        size=SparkSize(
                            executor_instances=workers,
                            executor_cores=1,
                            executor_memory="1g",
                            shuffle_partitions=SHUFFLE_PARTITIONS,
                        ),
                        conf=LocalSparkCluster.LOOPBACK_CONF,
                    )
                }
            )
            (project / "environments").mkdir(parents=True)
            (project / "environments" / "sandbox.yaml").write_text(
                yaml.safe_dump(env.model_dump(mode="json"))
            )
            for part in ("sources", "dbt_project"):
                (project / part).symlink_to(Path(__file__).resolve().parent.parent / part)
            child_env = os.environ | {
                "DATAOPS_ENV": "sandbox",
                "DATAOPS_DATA_DIR": str(data_dir),
                "DATAOPS_PROJECT_DIR": str(project),
            }
            child_env.pop("DAGSTER_HOME", None)
            end = FIRST + dt.timedelta(days=days - 1)
            stop, peaks = threading.Event(), {}
            sampler = threading.Thread(target=_executor_peaks, args=(c.worker_pids, stop, peaks), daemon=True)
            sampler.start()
            try:
                sample = run_child(
                    [DATAOPS, "pipeline", "run", "--start", str(FIRST), "--end", str(end)], env=child_env
                )
            finally:
                stop.set()
                sampler.join()
            return Sample(sample.seconds, sample.peak_mb, {"executor_peaks_mb": sorted(peaks.values())})

    return measure


def run(quick: bool) -> list[dict]:
    from dataops_assets_tests.spark_cluster import missing

    reason = missing()
    if reason:
        print(f"spark: skipped ({reason})", file=sys.stderr)
        return []
    days = 3 if quick else 30
    landing = _shared_landing(days)
    with tempfile.TemporaryDirectory(prefix="dataops-bench-spark-") as scratch:
        contenders = {
            "duckdb": _pipeline(days, landing, Path(scratch)),
            "spark_1": _spark_pipeline(days, 1, landing, Path(scratch)),
            "spark_2": _spark_pipeline(days, 2, landing, Path(scratch)),
        }
        # Minutes per Spark run: one measured run each, in turn; no warm-up but DuckDB's, which also
        # builds the dbt manifest every run then shares.
        contenders["duckdb"]()
        series = compare(contenders, reps=1, warmup=False)
    duck, one, two = series["duckdb"], series["spark_1"], series["spark_2"]
    executors = {
        n: [max(s.result["executor_peaks_mb"], default=0) for s in series[n].samples]
        for n in series
        if n != "duckdb"
    }
    return [
        figure(
            f"spark_backfill_{days}_1worker_over_duckdb",
            one.seconds,
            "s",
            f"the same {days} days on DuckDB",
            duck.seconds,
            "lower",
            note=f"{days} days as one run on a standalone cluster of one 1-core worker "
            f"({one.median_s / days:.2f} s per day; DuckDB {duck.median_s / days:.2f} s per day)",
        ),
        figure(
            f"spark_backfill_{days}_2workers_over_1worker",
            two.seconds,
            "s",
            "the same run with one worker",
            one.seconds,
            "lower",
            note="two 1-core workers and two executors declared, against one of each; "
            "0.5 would be perfect scaling, 1.0 none",
        ),
        figure(
            f"spark_peak_mem_{days}_over_duckdb",
            [s.peak_mb for s in two.samples],
            "MB",
            f"the same {days} days on DuckDB",
            [s.peak_mb for s in duck.samples],
            "lower",
            note="largest process of the run's tree (Spark: dbt's driver JVM or the orchestrator with "
            "its local driver); each executor's peak besides: "
            f"{max(executors['spark_2']):.0f} MB with two workers, {max(executors['spark_1']):.0f} MB with one",
        ),
    ]
