"""Ingestion: landing CSV -> validated, de-duplicated, checksummed Parquet in cold storage, vs bare tools.

Our path is what the ingestion and raw assets do for one partition (`ingest_partition`: validate,
stage, checksum; then `publish_partition`: content-addressed file + manifest) into a fresh local cold
storage. The bare tools convert the same file to Parquet with nothing else: DuckDB `COPY (SELECT *
FROM read_csv(...)) TO '...parquet'`, pyarrow `csv.read_csv` -> `parquet.write_table`, pandas
`read_csv` -> `to_parquet`, each with its defaults. The strict contenders read the same file with the
declared schema, de-duplicate it and write Parquet: polars and pandera on pandas; dlt is what a
dagster-dlt user would write (bench/_ingest_peers.py). On a file with 1% bad rows only we and pandera
keep the good rows (polars refuses the whole file). Every contender runs in a fresh process, timed
around its work only (imports are `import_s`'s business), its peak memory that process's own.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
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
import duckdb, numpy, polars, pyarrow.parquet  # the engines ingestion imports where it uses them
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
STRICT = {"polars strict": "polars", "pandera": "pandera"}  # name -> bench/_ingest_peers.py converter
DLT_ROWS = 1_000_000  # dlt takes ~150 s per million rows here: measured once, at this size only


def _peer(converter: str, src: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "bench._ingest_peers", converter, str(src), str(out)]


def _ours(root: Path, scratch: Path):
    return lambda: run_child(python_child(OURS, str(root), str(scratch), flights.DAY))


def _contenders(rows: int, scratch: Path) -> dict:
    src = flights.landing_file(rows)
    contenders = {OURS_NAME: _ours(flights.landing_root(rows), scratch)}
    for name, (imports, work) in BARE.items():
        code = _TIMED.format(imports=imports, work=work)
        out = scratch / f"{name.split()[0]}.parquet"
        contenders[name] = lambda code=code, out=out: run_child(python_child(code, str(src), str(out)))
    for name, converter in STRICT.items():
        out = scratch / f"{converter}.parquet"
        contenders[name] = lambda converter=converter, out=out: run_child(_peer(converter, src, out))
    return contenders


def _speeds(rows: int, series: dict) -> str:
    return ", ".join(f"{n} {rows / s.median_s:,.0f} rows/s, {s.peak_mb:.0f} MB" for n, s in series.items())


def _rows_per_s(name: str, rows: int, ours, baseline: str, theirs, target: str, note: str) -> dict:
    return figure(
        name,
        [rows / s for s in ours.seconds],
        "rows/s",
        baseline,
        [rows / s for s in theirs.seconds],
        "higher",
        target=target,
        note=note,
    )


def _size_figures(rows: int, reps: int) -> tuple[list[dict], list[float]]:
    label = flights.size_label(rows)
    with tempfile.TemporaryDirectory(prefix="dataops-bench-ingest-") as scratch:
        series = compare(_contenders(rows, Path(scratch)), reps=reps, warmup=reps > 1)
        # The 1%-bad file: ours against pandera, the one other contender that keeps the good rows.
        bad = flights.bad_landing_file(rows)
        bad_series = compare(
            {
                OURS_NAME: _ours(flights.bad_landing_root(rows), Path(scratch)),
                "pandera": lambda: run_child(_peer("pandera", bad, Path(scratch) / "pandera-bad.parquet")),
            },
            reps=reps,
            warmup=reps > 1,
        )
        dlt = (
            run_child(_peer("dlt", flights.landing_file(rows), Path(scratch) / "dlt"))
            if rows == DLT_ROWS
            else None
        )
    ours = series.pop(OURS_NAME)
    landed = ours.samples[0].result
    assert landed["read"] == rows, landed  # every generated row was read...
    bare = {n: series[n] for n in BARE}
    strict = {n: series[n] for n in STRICT}
    fastest = max(bare, key=lambda n: rows / bare[n].median_s)
    fastest_strict = max(strict, key=lambda n: rows / strict[n].median_s)
    duck = series["duckdb COPY"]
    ours_bad = bad_series[OURS_NAME]
    bad_landed = ours_bad.samples[0].result
    peers = _speeds(rows, strict) + (
        f"; not strict, dlt {rows / dlt.seconds:,.0f} rows/s, {dlt.peak_mb:.0f} MB (one run, no warm-up; "
        f"ours {dlt.seconds / ours.median_s:.0f}× faster)"
        if dlt
        else ""
    )
    figures = [
        _rows_per_s(
            f"ingest_rows_per_s_{label}",
            rows,
            ours,
            f"fastest bare tool ({fastest})",
            series[fastest],
            "≥ 0.8",
            f"{rows:,} rows: {landed['landed']:,} landed, {landed['quarantined']:,} quarantined "
            f"(re-sent duplicates). Bare tools: {_speeds(rows, bare)}.",
        ),
        _rows_per_s(
            f"ingest_vs_strict_rows_per_s_{label}",
            rows,
            ours,
            f"fastest strict contender ({fastest_strict})",
            series[fastest_strict],
            "≥ 1.0",
            f"strict contenders: {peers}.",
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
        figure(
            f"ingest_bad_rows_s_{label}",
            ours_bad.seconds,
            "s",
            "ours on the clean file",
            ours.seconds,
            "lower",
            target="≤ 1.5",
            note=f"1% bad rows: {bad_landed['landed']:,} landed, {bad_landed['quarantined']:,} quarantined "
            f"with reasons; pandera on the same file {statistics.median(bad_series['pandera'].seconds):.1f} s, "
            f"{bad_series['pandera'].peak_mb:.0f} MB; polars strict refuses the whole file.",
        ),
    ]
    return figures, [s.peak_mb for s in ours.samples]


def run(quick: bool) -> list[dict]:
    missing = [m for m in ("polars", "pandera", "dlt") if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(f"the ingestion benchmark needs {', '.join(missing)}: pip install -e '.[bench]'")
    # Full: three measured runs at 1M rows after a warm-up; one at 10M, where pandera's run takes minutes
    # and the file was just written (no warm-up: the page cache holds it).
    reps_by_size = {200_000: 1} if quick else {1_000_000: 3, 10_000_000: 1}
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
