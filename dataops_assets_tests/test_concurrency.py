"""Concurrency: one pipeline run per data directory, no slot left stuck by a killed run, and a
warehouse another process holds is waited for, then reported in one clear line.

Two `dataops pipeline run` at once on the same data: test_crash_safety.py (one is turned away). A
staged file replaced under a publish by a concurrent ingestion: test_raw_publish.py (refused).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from dataops_assets.resources.warehouse import DuckDBWarehouse, WarehouseBusy
from dataops_assets.runs.guard import PID_TAG, PipelineBusy, pipeline_lock, reclaim_dead_runs, run_tags

HOLD_LOCK = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(float(sys.argv[2]))"


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def warehouse_file(tmp_path) -> Path:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_a_busy_warehouse_is_one_line_naming_the_holder(warehouse_file):
    holder = _hold(warehouse_file, 30)
    try:
        with pytest.raises(WarehouseBusy) as busy:
            DuckDBWarehouse(path=str(warehouse_file), lock_wait_s=0.3).fetch("SELECT 1")
    finally:
        holder.kill()
        holder.wait()
    message = str(busy.value)
    assert "\n" not in message
    assert f"{warehouse_file} is in use by another process (pid {holder.pid})" in message


def test_a_warehouse_writer_waits_for_the_other_process_to_let_go(warehouse_file):
    holder = _hold(warehouse_file, 1.0)
    try:
        assert DuckDBWarehouse(path=str(warehouse_file), lock_wait_s=60).fetch("SELECT 42").rows == [(42,)]
    finally:
        holder.wait()


HOLD_PIPELINE_LOCK = (
    "import sys, time, pathlib; from dataops_assets.runs.guard import pipeline_lock\n"
    "with pipeline_lock(pathlib.Path(sys.argv[1]), 'days 2013-01-01..2013-01-02'):\n"
    "    print('held', flush=True); time.sleep(60)"
)


def test_a_second_pipeline_run_on_the_same_data_is_turned_away_until_the_first_dies(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_PIPELINE_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(PipelineBusy) as busy, pipeline_lock(tmp_path, "days 2013-01-03..2013-01-03"):
        pass
    assert str(busy.value) == (
        f"another pipeline run is working on {tmp_path} (pid {holder.pid}, days 2013-01-01..2013-01-02): "
        "wait for it to finish, then re-run"
    )
    holder.send_signal(signal.SIGKILL)  # the kernel drops a dead process's lock: never stuck
    holder.wait()
    with pipeline_lock(tmp_path, "days 2013-01-03..2013-01-03"):
        pass


def test_a_killed_run_s_pool_slot_is_freed_for_the_next_run(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots("warehouse", 1)
        for run_id, pid in (("killed", dead.pid), ("running", os.getpid())):
            tags = run_tags() | {PID_TAG: str(pid)}
            instance.add_run(
                DagsterRun("daily_pipeline", run_id, status=dg.DagsterRunStatus.STARTED, tags=tags)
            )
        storage = instance.event_log_storage
        assert storage.claim_concurrency_slot("warehouse", "killed", "load").is_claimed
        assert not storage.claim_concurrency_slot("warehouse", "next", "load").is_claimed  # stuck behind it

        assert reclaim_dead_runs(instance) == ["killed"]
        assert instance.get_run_by_id("killed").status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id("running").status == dg.DagsterRunStatus.STARTED  # alive: untouched
        assert storage.claim_concurrency_slot("warehouse", "next", "load").is_claimed
