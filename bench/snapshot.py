"""Snapshot creation cost as the data grows: it should stay flat (a snapshot copies no data).

Two cold stores are built with the raw pillar's own publish code (a manifest per partition): 1× holds
D days of flights and weather, 10× holds 10·D days with files 10× larger. A snapshot of the same
D-day window is created in each: its cost must not grow with the data (it reads one manifest per
pinned partition and copies nothing). A second figure puts it against copying the pinned files.

The data files are random bytes of the right size: creation never opens them, so only their size
and number matter. Run alone: `python -m bench.snapshot`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.measure import figure
from dataops_assets import layout
from dataops_assets.pillars.raw.publish import publish_partition
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.science.snapshots import create_snapshot
from dataops_assets.sources.catalog import get_source

DATASETS = ("flights", "weather")
START = dt.date(2013, 1, 1)


def _fill(root: Path, days: int, file_bytes: int) -> LocalColdStorage:
    storage = LocalColdStorage(root=str(root))
    for dataset in DATASETS:
        source = get_source(dataset)
        for i in range(days):
            day = (START + dt.timedelta(days=i)).isoformat()
            data = os.urandom(file_bytes)
            storage.put_bytes(layout.staged_key(dataset, day), data)
            report = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "rows_landed": file_bytes // 50,
                "files": [f"{dataset}/date={day}/{dataset}.csv"],
                "rows_read": file_bytes // 50,
                "rows_quarantined": 0,
                "reasons": {},
            }
            storage.put_bytes(layout.staged_report_key(dataset, day), json.dumps(report).encode())
            publish_partition(source, day, storage)
    return storage


def _time(action, repeats: int) -> list[float]:
    seconds = []
    for i in range(repeats):
        started = time.perf_counter()
        action(i)
        seconds.append(time.perf_counter() - started)
    return seconds


def run(quick: bool) -> list[dict]:
    window_days, file_bytes, repeats = (10, 20_000, 5) if quick else (30, 50_000, 15)
    end = (START + dt.timedelta(days=window_days - 1)).isoformat()
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        small = _fill(Path(tmp) / "1x", window_days, file_bytes)
        large = _fill(Path(tmp) / "10x", window_days * 10, file_bytes * 10)

        def snapshot(storage):
            return lambda i: create_snapshot(storage, f"bench_{i}", list(DATASETS), START.isoformat(), end)

        at_1x = _time(snapshot(small), repeats)
        at_10x = _time(snapshot(large), repeats)

        pinned = [
            layout.partition_prefix(layout.RAW, d, (START + dt.timedelta(days=i)).isoformat())
            for d in DATASETS
            for i in range(window_days)
        ]

        def copy(i):
            target = Path(tmp) / f"copy-{i}"
            for prefix in pinned:
                shutil.copytree(Path(large.root) / prefix, target / prefix)

        copies = _time(copy, repeats)

    return [
        figure(
            "snapshot_10x_over_1x",
            at_10x,
            "s",
            f"snapshot of the same {window_days} days in a store with 1/10 the data",
            at_1x,
            "lower",
            target="≈ 1 (flat: cost independent of data size)",
        ),
        figure(
            "snapshot_vs_copy",
            at_10x,
            "s",
            f"copying the {len(pinned)} pinned partitions ({window_days * 2 * file_bytes * 10 // 1_000_000} MB)",
            copies,
            "lower",
            target="≪ 1 (zero-copy)",
        ),
    ]


if __name__ == "__main__":
    import sys

    for result in run(quick="--quick" in sys.argv):
        print(json.dumps(result))
