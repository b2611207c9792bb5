"""Features from a snapshot: each flight with the weather at its origin in its scheduled departure
hour and its plane's attributes, and the target. Rows come in one fixed order (the flights' key).

The target is `late`: the flight arrived more than 15 minutes late (the US DOT's definition of a
delayed flight). Diverted and cancelled flights have no arrival delay: their `late` is null, so they
are scored but neither trained nor evaluated on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.science.snapshots import Snapshot, SnapshotError, read_dataset

if TYPE_CHECKING:  # duckdb and pandas are imported where used: the code location loads without them
    import pandas as pd

LATE_MINUTES = 15
KEY = ["flight_date", "carrier", "flight", "origin", "sched_dep_time"]
CATEGORICAL = ["carrier", "origin", "dest"]
WEATHER = ["temp", "dewp", "humid", "wind_speed", "wind_gust", "precip", "pressure", "visib"]
PLANE = {"plane_year": "year", "seats": "seats", "engines": "engines"}
NUMERIC = ["dep_hour", "day_of_week", "distance", *WEATHER, *PLANE]
TARGET = "late"
DEFAULT_TEST_FRACTION = 0.25  # share of a snapshot's last days held out


def _columns(alias: str, names: dict[str, str], available: bool) -> str:
    # Without the dataset in the snapshot its features are missing (null), not an error: gradient
    # boosting handles missing values, and the snapshot says what the experiment saw.
    return ", ".join(
        f"{alias}.{source} AS {name}" if available else f"CAST(NULL AS DOUBLE) AS {name}"
        for name, source in names.items()
    )


def build_features(cold_storage: ColdStorage, snapshot: Snapshot) -> pd.DataFrame:
    import duckdb

    flights = read_dataset(cold_storage, snapshot, "flights")
    if flights is None:
        raise SnapshotError(f"snapshot {snapshot.name} does not pin flights: it cannot train a delay model")
    weather = read_dataset(cold_storage, snapshot, "weather")
    planes = read_dataset(cold_storage, snapshot, "planes")
    con = duckdb.connect()
    try:
        con.register("flights", flights)
        joins = []
        if weather is not None:
            con.register("weather", weather)
            joins.append(
                "LEFT JOIN weather w ON w.origin = f.origin AND w.year = f.year AND w.month = f.month "
                "AND w.day = f.day AND w.hour = f.hour"
            )
        if planes is not None:
            con.register("planes", planes)
            joins.append("LEFT JOIN planes p ON p.tailnum = f.tailnum")
        sql = f"""
            SELECT make_date(f.year, f.month, f.day) AS flight_date,
                   f.carrier, f.flight, f.origin, f.dest, f.sched_dep_time, f.tailnum,
                   f.hour AS dep_hour, isodow(make_date(f.year, f.month, f.day)) AS day_of_week,
                   f.distance,
                   {_columns("w", {c: c for c in WEATHER}, weather is not None)},
                   {_columns("p", PLANE, planes is not None)},
                   CASE WHEN f.arr_delay IS NULL THEN NULL ELSE f.arr_delay > {LATE_MINUTES} END AS {TARGET}
            FROM flights f {" ".join(joins)}
            ORDER BY {", ".join(KEY)}
        """
        frame = con.execute(sql).df()
    finally:
        con.close()
    frame[NUMERIC] = frame[NUMERIC].astype("float64")
    frame[TARGET] = frame[TARGET].astype("boolean")
    return frame


def split_by_date(frame: pd.DataFrame, test_fraction: float) -> pd.DataFrame:
    """The last days are the test set: a model is judged on days after those it learned from."""
    days = sorted(frame["flight_date"].unique())
    if len(days) < 2:
        raise SnapshotError("a snapshot needs at least two days: one to train on and one to test on")
    test_days = min(len(days) - 1, max(1, round(len(days) * test_fraction)))
    first_test = days[-test_days]
    return frame.assign(split=(frame["flight_date"] >= first_test).map({True: "test", False: "train"}))
