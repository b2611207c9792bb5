"""What the API serves: the hot marts (`SERVED_TABLES`) and the promoted model's predictions."""

from __future__ import annotations

from dataclasses import dataclass

from dataops_assets.pillars.serving.tables import SERVED_TABLES


@dataclass(frozen=True)
class Dataset:
    name: str  # the table's name in the hot store; the only table names the API's SQL ever holds
    date_column: str
    key: tuple[str, ...]  # unique per row: the tie-breaker that makes every ordering total for paging
    description: str


# Published by the science track's promotion (champion/challenger), one row per flight.
PREDICTIONS = Dataset(
    name="flight_delay_predictions",
    date_column="flight_date",
    key=("flight_date", "carrier", "flight", "origin", "sched_dep_time"),
    description="The promoted model's delay prediction for each flight.",
)

DATASETS: dict[str, Dataset] = {
    **{t.name: Dataset(t.name, t.date_column, t.key, t.description) for t in SERVED_TABLES},
    PREDICTIONS.name: PREDICTIONS,
}
