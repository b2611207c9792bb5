"""Crash safety: `dataops pipeline run` SIGKILLed at each failpoint (dataops_assets/failpoints.py).

One data directory lives through the whole story, as a real one would. After each kill: nothing
half-written is visible (every manifest is whole, no table holds part of a day), `dataops verify`
passes, and the next run is not blocked by what the dead one held. Finally two runs start at once:
one is turned away with a one-line reason, the other completes with exactly the source's rows —
none lost, none duplicated.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dataops_assets import layout
from dataops_assets.failpoints import POINTS, VARIABLE
from dataops_assets.sources.catalog import get_source
from dataops_assets_tests.source_truth import MARTS, flights_per_day, mart_tables, weather_per_day

pytestmark = pytest.mark.slow

DATAOPS = str(Path(sys.executable).parent / "dataops")
DAY = "2013-01-02"
TRUTH = {
    "flights": flights_per_day([dt.date.fromisoformat(DAY)])[DAY],
    "weather": weather_per_day([dt.date.fromisoformat(DAY)])[DAY],
}


KILLED: list[str] = []  # the failpoints this module's runs died at, so far


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("crash")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return os.environ | {
        "DATAOPS_ENV": "testing",
        "DATAOPS_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
    } | extra  # fmt: skip


def _start(data_dir: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [DATAOPS, "pipeline", "run", "--start", DAY, "--end", DAY],
        env=_env(data_dir, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _verify(data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DATAOPS, "verify"], env=_env(data_dir), capture_output=True, text=True, timeout=120, check=False
    )


def _manifests(data_dir: Path) -> dict[str, dict]:
    cold = data_dir / "cold"
    return {
        str(p.parent.relative_to(cold / layout.RAW)): json.loads(p.read_text())
        for p in cold.glob(f"{layout.RAW}/*/*/{layout.MANIFEST}")
    }


def _warehouse_rows(data_dir: Path, dataset: str) -> tuple[int, int] | None:
    """(rows, distinct keys) of raw.<dataset> for DAY in the warehouse, or None if no table yet."""
    key = ", ".join(get_source(dataset).primary_key)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        if not con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = ?", [dataset]
        ).fetchall():
            return None
        return con.execute(
            f"SELECT count(*), count(DISTINCT ({key})) FROM raw.{dataset} WHERE partition_date = ?", [DAY]
        ).fetchone()


def _hot_rows(data_dir: Path) -> dict[str, tuple[int, int, int]]:
    """Per served table: (rows for DAY, distinct keys, flights they count), for the tables that exist."""
    path = data_dir / "hot.sqlite"
    found = {}
    if not path.exists():
        return found
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        for table in mart_tables():
            key = " || '|' || ".join(table.key)
            with contextlib.suppress(sqlite3.OperationalError):  # never published
                found[table.name] = con.execute(
                    f"SELECT count(*), count(DISTINCT {key}), coalesce(sum(flights), 0) "
                    f'FROM "{table.name}" WHERE {table.date_column} = ?',
                    [DAY],
                ).fetchone()
    return found


def _assert_nothing_half_written(data_dir: Path) -> str:
    """Every visible manifest, warehouse day and hot table is whole; `dataops verify` passes (its output)."""
    for partition, manifest in _manifests(data_dir).items():
        if manifest["dataset"] in TRUTH:
            assert manifest["rows"] == TRUTH[manifest["dataset"]], partition
    for dataset, rows in TRUTH.items():
        loaded = _warehouse_rows(data_dir, dataset) if (data_dir / "warehouse.duckdb").exists() else None
        assert loaded in (None, (0, 0), (rows, rows)), (dataset, loaded)  # a whole day or none of it
    for table, (rows, keys, flights) in _hot_rows(data_dir).items():
        assert rows == keys and flights in (0, TRUTH["flights"]), table
    verified = _verify(data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return verified.stdout


# In the order a run reaches them, so each kill finds the steps before it done by the runs before.
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_each_failpoint_leaves_nothing_half_written(data_dir, point):
    run = _start(data_dir, **{VARIABLE: point})
    _, stderr = run.communicate(timeout=600)
    assert run.returncode == -signal.SIGKILL, f"{point} was never reached: {stderr}"
    KILLED.append(point)
    verified = _assert_nothing_half_written(data_dir)
    if point == "ingestion.before_report":
        assert _manifests(data_dir) == {}  # ingestion died before anything was published
    if point == "raw.before_manifest":
        assert len(_manifests(data_dir)) < 2 + 3  # the day's two datasets and three dimensions
        assert "unpublished: raw/" in verified  # the data file, whole, that no manifest names yet
    if point == "hot.before_commit":
        for dataset, rows in TRUTH.items():
            assert _warehouse_rows(data_dir, dataset) == (rows, rows)  # processing was done
        assert _hot_rows(data_dir) == {}  # the publish that was killed left no table, no row


def test_after_the_kills_one_of_two_concurrent_runs_completes_with_exactly_the_source_rows(data_dir):
    runs = [_start(data_dir), _start(data_dir)]
    results = [(run, *run.communicate(timeout=600)) for run in runs]
    results = [(run.returncode, out, err) for run, out, err in results]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    [(_, _, refused)] = [r for r in results if r[0] == 1]
    assert refused.strip().count("\n") == 0 and "another pipeline run is working on" in refused
    [(_, completed, _)] = [r for r in results if r[0] == 0]
    if KILLED:  # the dead runs' pool slots would block this run forever if not reclaimed
        assert "was killed before it finished: marked failed, its pool slots freed" in completed

    manifests = _manifests(data_dir)
    for dataset, rows in TRUTH.items():
        ingestion = manifests[f"{dataset}/date={DAY}"]["ingestion"]
        assert manifests[f"{dataset}/date={DAY}"]["rows"] == rows  # no loss, no duplicates in cold
        assert ingestion["rows_read"] == rows + ingestion["rows_quarantined"]
        assert _warehouse_rows(data_dir, dataset) == (rows, rows)  # nor in the warehouse
    hot = _hot_rows(data_dir)
    assert set(hot) == set(MARTS)
    for rows, keys, flights in hot.values():
        assert rows == keys > 0 and flights == TRUTH["flights"]  # nor in the hot store
    assert _verify(data_dir).returncode == 0
