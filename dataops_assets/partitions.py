"""The daily partitions every time-partitioned asset shares, bounded by the environment's data scope."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from dataops_assets.environments.model import Environment


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
