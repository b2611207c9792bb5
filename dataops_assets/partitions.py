"""The daily partitions every time-partitioned asset shares, bounded by the environment's data scope."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from dataops_assets.days import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG, PARTITION_TAG
from dataops_assets.environments.model import Environment
from dataops_assets.sources.model import Source


def daily_partitions(env: Environment) -> dg.DailyPartitionsDefinition:
    scope = env.data_scope
    end = (scope.end + dt.timedelta(days=1)).isoformat() if scope.end else None  # Dagster's end is exclusive
    return dg.DailyPartitionsDefinition(
        start_date=scope.start.isoformat(), end_date=end, timezone=scope.timezone
    )


def partition_keys(context: dg.AssetExecutionContext) -> list[str | None]:
    """The partitions this step covers: every day of a range run, or [None] when unpartitioned."""
    # An unpartitioned asset (a dimension) can run inside a partitioned run: the run's range is not its own.
    return list(context.partition_keys) if context.assets_def.partitions_def is not None else [None]


def run_window(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date] | None:
    """The days the run covers, also for an unpartitioned asset inside it (a dimension); None when the
    run covers no days (a dimension materialized on its own)."""
    tags = context.run.tags
    first = tags.get(PARTITION_RANGE_START_TAG) or tags.get(PARTITION_TAG)
    last = tags.get(PARTITION_RANGE_END_TAG) or tags.get(PARTITION_TAG)
    if not first or not last:
        return None
    return dt.date.fromisoformat(first), dt.date.fromisoformat(last)


def expected_keys(source: Source, context: dg.AssetExecutionContext) -> tuple[list[str | None], list[str]]:
    """The partitions of this step the source expects, and the days outside its span (not expected).

    A dimension ([None]) is expected when the run's days overlap its span, or when it runs on its own.
    """
    keys = partition_keys(context)
    if keys == [None]:
        window = run_window(context)
        return ([None], []) if window is None or source.expects_window(*window) else ([], [None])
    expected = [k for k in keys if source.expects(dt.date.fromisoformat(k))]  # type: ignore[arg-type]
    return expected, [k for k in keys if k not in expected]  # type: ignore[misc]
