"""Inclusive day windows as users type them (`--start 2013-01-01 --end 2013-01-07`), and the run tags
that carry a window to Dagster."""

from __future__ import annotations

import datetime as dt

# Dagster's documented run tags for a single run over a range of partitions (a single-run backfill).
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


def day_window(start: str, end: str) -> list[dt.date]:
    """Every day from `start` to `end`, both included; ValueError with a one-line reason otherwise."""
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as error:
        raise ValueError(f"dates must be YYYY-MM-DD ({error})") from None
    if last < first:
        raise ValueError(f"--end {last} is before --start {first}")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def contiguous_ranges(days: list[str]) -> list[tuple[str, str]]:
    """YYYY-MM-DD days as (first, last) runs of consecutive days: one run each instead of one per day."""
    ranges: list[tuple[str, str]] = []
    for day in sorted(set(days)):
        if ranges and dt.date.fromisoformat(ranges[-1][1]) + dt.timedelta(days=1) == dt.date.fromisoformat(
            day
        ):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
