"""Validating a partition does not import pandas: DuckDB imports it (~0.5 s, tens of MB) the first
time a query takes Python parameters, so the checking queries carry their values as literals."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import datetime as dt, sys
from pathlib import Path
from dataops_assets.pillars.ingestion.validate import validate_partition
from dataops_assets.sources.catalog import get_source

source, work = get_source("flights"), Path(sys.argv[1])
landing = work / "flights.csv"
landing.write_text(
    ",".join(source.column_names) + "\\n"
    + "2013,1,5,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z\\n"
    + "2013,1,5,5.5,515,2,830,819,11,UA,1546,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z\\n"
)
outcome = validate_partition(source, [landing], dt.date(2013, 1, 5), work / "l.parquet", work / "q.parquet")
assert (outcome.rows_landed, outcome.rows_quarantined) == (1, 1), outcome
print("pandas imported" if "pandas" in sys.modules else "pandas not imported")
"""


def test_validation_does_not_import_pandas(tmp_path):
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "pandas not imported"
