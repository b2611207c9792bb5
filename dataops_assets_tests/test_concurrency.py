"""Concurrency: a warehouse another process holds is waited for, then reported in one clear line.

Two `dataops pipeline run` at once on the same data: test_crash_safety.py (one is turned away). A
staged file replaced under a publish by a concurrent ingestion: test_raw_publish.py (refused).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dataops_assets.resources.warehouse import DuckDBWarehouse, WarehouseBusy

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
