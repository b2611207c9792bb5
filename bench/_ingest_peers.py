"""What a user would write instead of our ingestion, each from the source's declared schema (flights):
run in a child process by bench/ingestion.py, timed around `convert(src, out)` only.

- polars: `scan_csv` with the declared schema is strict (one bad value fails the whole file), then
  first-seen de-duplication on the primary key, streamed to Parquet.
- pandera on pandas: every column read as text, the declared schema validated lazily with coercion,
  the failing rows dropped (the good rows of a bad file land), first-seen de-duplication, Parquet.
- dlt: the filesystem source's CSV reader into the filesystem destination as Parquet (what a
  dagster-dlt user would write); types are dlt's inference, nothing is refused.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import report
from dataops_assets.sources.catalog import get_source

SOURCE = get_source("flights")
KEY = list(SOURCE.primary_key)


def polars_strict(src: str, out: str) -> None:
    import polars as pl

    types = {
        "integer": pl.Int32,
        "double": pl.Float64,
        "string": pl.String,
        "timestamptz": pl.Datetime("us", "UTC"),
    }
    schema = {c.in_file: types[c.type] for c in SOURCE.columns}
    (
        pl.scan_csv(src, schema=schema, null_values=list(SOURCE.null_values))
        .unique(subset=KEY, keep="first", maintain_order=True)
        .sink_parquet(out)
    )


def pandera_strict(src: str, out: str) -> None:
    import pandas as pd
    import pandera.pandas as pa

    types = {
        "integer": "Int32",
        "double": "float64",
        "string": "string",
        "timestamptz": "datetime64[us, UTC]",
    }
    schema = pa.DataFrameSchema(
        {c.in_file: pa.Column(types[c.type], nullable=c.nullable, coerce=True) for c in SOURCE.columns},
    )
    frame = pd.read_csv(src, dtype=str, na_values=list(SOURCE.null_values), keep_default_na=False)
    try:
        frame = schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        bad = errors.failure_cases["index"].dropna().unique()
        frame = schema.validate(frame.drop(index=bad))
    frame.drop_duplicates(subset=KEY, keep="first").to_parquet(out)


def dlt_load(src: str, out: str) -> None:
    import dlt
    from dlt.sources.filesystem import filesystem, read_csv

    work = tempfile.mkdtemp(dir=Path(out).parent)
    files = filesystem(bucket_url=Path(src).resolve().parent.as_uri(), file_glob=Path(src).name)
    pipeline = dlt.pipeline(
        pipeline_name="bench_ingest",
        pipelines_dir=work,
        destination=dlt.destinations.filesystem(bucket_url=Path(out).resolve().as_uri()),
        dataset_name="landed",
    )
    pipeline.run((files | read_csv()).with_name("flights"), loader_file_format="parquet")


# What each converter imports, imported before the timer: imports are bench/import_time.py's business.
ENGINES = {
    "polars": ["polars"],
    "pandera": ["pandas", "pandera.pandas"],
    "dlt": ["dlt", "dlt.sources.filesystem"],
}

if __name__ == "__main__":
    convert = {"polars": polars_strict, "pandera": pandera_strict, "dlt": dlt_load}[sys.argv[1]]
    for module in ENGINES[sys.argv[1]]:
        importlib.import_module(module)
    t = time.perf_counter()
    convert(sys.argv[2], sys.argv[3])
    report(time.perf_counter() - t)
