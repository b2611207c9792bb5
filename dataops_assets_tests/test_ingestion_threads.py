"""A partition's content address does not depend on the machine: the same landing file, ingested with
1 and with 4 threads (DuckDB's and polars'), is published as the same bytes under the same address,
whether it takes the fast read (a plain CSV file) or the exact one (quoted fields)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import duckdb
import pytest

from dataops_assets.pillars.ingestion import validate
from dataops_assets.sources.catalog import get_source

DAY = "2013-01-05"
ROWS = 3 * validate.ROW_GROUP_ROWS + 1_000  # several row groups, the last one short


# polars sizes its thread pool when it is imported: each ingestion runs in a child of its own.
CHILD = """
import json, os, sys
from pathlib import Path
from dataops_assets.pillars.ingestion import held_rows, plain_csv, validate
from dataops_assets.pillars.ingestion.assets import ingest_partition
from dataops_assets.pillars.raw.publish import publish_partition
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.landing_zone import LocalLandingZone
from dataops_assets.sources.catalog import get_source

zone, day, threads, out = sys.argv[1:]
validate._database(os.getpid()).execute(f"SET threads = {threads}")
# The fast read in 1 MiB chunks, every one spilled to disk: row groups must not follow the chunks.
plain_csv.CHUNK_BYTES, held_rows.HELD_BYTES = 1 << 20, 0
cold, workdir = LocalColdStorage(root=f"{out}/cold"), Path(out) / "work"
workdir.mkdir()
outcome = ingest_partition(get_source("flights"), day, LocalLandingZone(root=zone), cold, workdir)
published = publish_partition(get_source("flights"), day, cold)
print(json.dumps({"accounted": outcome.accounted, "quarantined": outcome.rows_quarantined,
                  "files": published.manifest["files"]}))
"""


@pytest.fixture(scope="module", params=["plain", "quoted"])
def landing(request, tmp_path_factory):
    """One day's flights file: mostly good rows, a few bad ones and re-sent keys spread through it,
    so what lands is a filtered subset (the case where DuckDB's own writer cut row groups by thread).
    Quoted, its strings are read the exact way; plain, the fast way."""
    source = get_source("flights")
    root = tmp_path_factory.mktemp("zone")
    path = root / source.landing_glob(DAY).replace("*", "flights")
    path.parent.mkdir(parents=True)
    pick = random.Random(15)
    q = '"' if request.param == "quoted" else ""
    with open(path, "w") as out:
        out.write(",".join(source.column_names) + "\n")
        for i in range(ROWS):
            flight = i - 1 if i % 997 == 0 else i  # a re-sent key
            dep = "5.5" if i % 1009 == 0 else str(pick.randrange(2400))  # a bad integer
            out.write(
                f"2013,1,5,{dep},600,{pick.randrange(-30, 300)},830,840,-10,{q}UA{q},{flight},N{i % 900}UA,"
                f"EWR,ORD,{pick.randrange(20, 700)},719,6,0,2013-01-05T11:00:00Z\n"
            )
    return root


def _published_with(threads: int, landing, tmp_path) -> tuple[dict, int]:
    out = tmp_path / f"out-{threads}"
    out.mkdir()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(landing), DAY, str(threads), str(out)],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"POLARS_MAX_THREADS": str(threads)},
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    (entry,) = result["files"]
    (row_groups,) = duckdb.execute(
        "SELECT count(*) FROM parquet_metadata(?) WHERE column_id = 0", [str(out / "cold" / entry["path"])]
    ).fetchone()
    assert result["accounted"] and result["quarantined"] > 0
    return entry, row_groups


def test_same_file_same_content_address_on_1_and_4_threads(landing, tmp_path):
    one, row_groups = _published_with(1, landing, tmp_path)
    four, _ = _published_with(4, landing, tmp_path)
    assert row_groups > 1  # otherwise there is no boundary for the thread count to move
    assert four == one  # same path (sha256 prefix), rows, bytes and sha256
