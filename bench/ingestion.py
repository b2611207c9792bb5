"""Ingestion: landing CSV -> validated, de-duplicated, checksummed Parquet in cold storage, vs bare tools.

Our path is what the ingestion and raw assets do for one partition (`ingest_partition`: validate,
stage, checksum; then `publish_partition`: content-addressed file + manifest) into a fresh local cold
storage. The bare tools convert the same file to Parquet with nothing else: DuckDB `COPY (SELECT *
FROM read_csv(...)) TO '...parquet'`, pyarrow `csv.read_csv` -> `parquet.write_table`, pandas
`read_csv` -> `to_parquet`, each with its defaults. Every contender runs in a fresh process, timed
around its work only (imports are `import_s`'s business), its peak memory that process's own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import _scaled_flights as flights
from bench.measure import compare, figure, python_child, run_child

_TIMED = "import sys, time\nfrom bench.measure import report\n{imports}\nsrc, out = sys.argv[1], sys.argv[2]\nt = time.perf_counter()\n{work}\nreport(time.perf_counter() - t)\n"

BARE = {
    "duckdb COPY": (
        "import duckdb\nfrom dataops_assets.sql import literal",
        'duckdb.execute(f"COPY (SELECT * FROM read_csv({literal(src)})) TO {literal(out)} (FORMAT parquet)")',
    ),
    "pyarrow": (
        "import pyarrow.csv, pyarrow.parquet",
        "pyarrow.parquet.write_table(pyarrow.csv.read_csv(src), out)",
    ),
    "pandas": ("import pandas", "pandas.read_csv(src).to_parquet(out)"),
}

OURS = r"""
import sys, tempfile, time
from pathlib import Path
from bench.measure import report
from dataops_assets.pillars.ingestion.assets import ingest_partition
from dataops_assets.pillars.raw.publish import publish_partition
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.landing_zone import LocalLandingZone
from dataops_assets.sources.catalog import get_source

landing_root, scratch, day = sys.argv[1:]
source = get_source("flights")
with tempfile.TemporaryDirectory(dir=scratch) as tmp:
    cold = LocalColdStorage(root=f"{tmp}/cold")
    workdir = Path(tmp) / "work"
    workdir.mkdir()
    t = time.perf_counter()
    outcome = ingest_partition(source, day, LocalLandingZone(root=landing_root), cold, workdir)
    published = publish_partition(source, day, cold)
    seconds = time.perf_counter() - t
assert outcome.accounted and published.changed, outcome
report(seconds, read=outcome.rows_read, landed=outcome.rows_landed, quarantined=outcome.rows_quarantined)
"""

OURS_NAME = "dataops ingest+publish"


def _contenders(rows: int, scratch: Path) -> dict:
    src = flights.landing_file(rows)
    contenders = {
        OURS_NAME: lambda: run_child(
            python_child(OURS, str(flights.landing_root(rows)), str(scratch), flights.DAY)
        )
    }
    for name, (imports, work) in BARE.items():
        code = _TIMED.format(imports=imports, work=work)
        out = scratch / f"{name.split()[0]}.parquet"
        contenders[name] = lambda code=code, out=out: run_child(python_child(code, str(src), str(out)))
    return contenders


def _size_figures(rows: int, reps: int) -> tuple[list[dict], list[float]]:
    label = flights.size_label(rows)
    with tempfile.TemporaryDirectory(prefix="dataops-bench-ingest-") as scratch:
        series = compare(_contenders(rows, Path(scratch)), reps=reps)
    ours = series.pop(OURS_NAME)
    landed = ours.samples[0].result
    assert landed["read"] == rows, landed  # every generated row was read...
    fastest = max(series, key=lambda n: rows / series[n].median_s)
    duck = series["duckdb COPY"]
    bare_speeds = ", ".join(
        f"{n} {rows / s.median_s:,.0f} rows/s, {s.peak_mb:.0f} MB" for n, s in series.items()
    )
    figures = [
        figure(
            f"ingest_rows_per_s_{label}",
            [rows / s for s in ours.seconds],
            "rows/s",
            f"fastest bare tool ({fastest})",
            [rows / s for s in series[fastest].seconds],
            "higher",
            target="≥ 0.8",
            note=f"{rows:,} rows: {landed['landed']:,} landed, {landed['quarantined']:,} quarantined "
            f"(re-sent duplicates). Bare tools: {bare_speeds}.",
        ),
        figure(
            f"ingest_peak_mem_mb_{label}",
            [s.peak_mb for s in ours.samples],
            "MB",
            "duckdb COPY",
            [s.peak_mb for s in duck.samples],
            "lower",
            target="≤ 1.5",
        ),
    ]
    return figures, [s.peak_mb for s in ours.samples]


def run(quick: bool) -> list[dict]:
    # Full: three measured runs at 1M rows, two at 10M (each contender's run there takes minutes).
    reps_by_size = {200_000: 1} if quick else {1_000_000: 3, 10_000_000: 2}
    sizes = list(reps_by_size)
    figures, peaks = [], {}
    for rows, reps in reps_by_size.items():
        size_figures, peaks[rows] = _size_figures(rows, reps)
        figures += size_figures
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        figures.append(
            figure(
                f"ingest_peak_mem_{flights.size_label(large)}_over_{flights.size_label(small)}",
                peaks[large],
                "MB",
                f"ours at {flights.size_label(small)} rows",
                peaks[small],
                "lower",
                target="≤ 1.5",
                note=f"peak memory must not grow with the file: {large // small}× the rows",
            )
        )
    return figures
