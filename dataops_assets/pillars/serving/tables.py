"""The marts the hot store serves to applications, and how each is keyed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServedTable:
    name: str  # the table's name in the hot store
    model: str  # the dbt model it is published from
    date_column: str  # the daily partition column
    key: tuple[str, ...]  # unique per row; the API's lookup and pagination key
    description: str

    @property
    def relation(self) -> str:
        return f"marts.{self.model}"

    @property
    def model_asset_key(self) -> tuple[str, str]:
        # dagster-dbt keys a model by its schema and name.
        return ("marts", self.model)


SERVED_TABLES = (
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
