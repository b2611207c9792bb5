"""The served-data contract: which hot tables exist, how each is keyed and partitioned, and how fresh
a served table must be.

One Dagster-free module that everything reading or writing the hot store agrees on: the serving
assets publish these tables, retention archives them, the API serves them (without loading Dagster),
and the science track publishes the predictions table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# A daily feed is expected by the next morning; past a day and a half something is stuck.
FRESHNESS_WARN_WINDOW = dt.timedelta(hours=26)
FRESHNESS_FAIL_WINDOW = dt.timedelta(hours=36)


@dataclass(frozen=True)
class ServedTable:
    name: str  # the table's name in the hot store; the only table names the API's SQL ever holds
    date_column: str  # the daily partition column
    key: tuple[str, ...]  # unique per row: the API's lookup key and the tie-breaker that makes paging total
    description: str
    model: str | None = None  # the dbt mart it is published from (None: published by the science track)

    @property
    def relation(self) -> str:
        return f"marts.{self.model}"

    @property
    def model_asset_key(self) -> tuple[str, str]:
        # dagster-dbt keys a model by its schema and name.
        return ("marts", self.model or "")


MART_TABLES = (
    ServedTable(
        name="carrier_origin_daily",
        model="mart_carrier_origin_daily",
        date_column="flight_date",
        key=("flight_date", "carrier", "origin"),
        description="Daily on-time performance by carrier and origin airport.",
    ),
    ServedTable(
        name="route_daily_weather",
        model="mart_route_daily_weather",
        date_column="flight_date",
        key=("flight_date", "origin", "dest"),
        description="Daily delays per route, with the weather at departure.",
    ),
)

# Published by the science track's promotion (champion/challenger) and its daily scoring, one row per flight.
PREDICTIONS = ServedTable(
    name="flight_delay_predictions",
    date_column="flight_date",
    key=("flight_date", "carrier", "flight", "origin", "sched_dep_time"),
    description="The promoted model's delay prediction for each flight.",
)
PREDICTION_COLUMNS = [
    ("flight_date", "DATE"),
    ("carrier", "VARCHAR"),
    ("flight", "INTEGER"),
    ("origin", "VARCHAR"),
    ("dest", "VARCHAR"),
    ("sched_dep_time", "INTEGER"),
    ("model", "VARCHAR"),
    ("snapshot_id", "VARCHAR"),
    ("predicted", "DOUBLE"),  # P(arrives more than 15 minutes late)
    ("split", "VARCHAR"),  # train or test: whether the model saw this flight's outcome
]

SERVED_TABLES: dict[str, ServedTable] = {t.name: t for t in (*MART_TABLES, PREDICTIONS)}
