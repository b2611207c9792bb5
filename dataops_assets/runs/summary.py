"""What a pipeline run did, per dataset and per served table, day by day: rows read back from each
pillar's own storage (not from what the run said), and whether this run completed the day.

Generic over the declared sources and the served tables. A day outside a source's span is "not
expected"; a day the run did not complete says where it stopped and why, so a failed run never
reads like a success.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dataops_assets.days import contiguous_ranges
from dataops_assets.environments.model import Environment
from dataops_assets.pillars.raw.publish import read_manifest
from dataops_assets.resources.factory import open_resource
from dataops_assets.runs.instance import root_cause
from dataops_assets.served import ServedTable
from dataops_assets.sources.model import Source

PILLARS = ("ingestion", "raw", "warehouse")  # a source's own assets, in the order data goes through them
WHOLE = "whole"  # the day column of a dataset loaded whole (a dimension)
OK, EMPTY, NOT_EXPECTED = "ok", "ok (published empty: no landing data)", "not expected"
NO_ROWS = "ok (no rows)"


@dataclass
class RunRecord:
    """What the run itself did: the (asset, partition) pairs it materialized, its failed steps' causes."""

    materialized: set[tuple[str, str | None]] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # step key -> the first line of its root cause

    @classmethod
    def of(cls, result) -> RunRecord:
        """From a finished run's result (dagster's ExecuteInProcessResult)."""
        return cls(
            materialized={
                (e.asset_key.to_user_string(), e.partition) for e in result.get_asset_materialization_events()
            },
            failed={
                e.step_key: root_cause(e.step_failure_data) for e in result.all_events if e.is_step_failure
            },
        )


@dataclass
class Summary:
    datasets: list[dict]  # one row per (day, dataset)
    served: list[dict]  # one row per (day, served table)

    @property
    def incomplete(self) -> list[str]:
        """One line per dataset or table and run of days the run did not complete, and why."""
        lines = []
        for rows, name in ((self.datasets, "dataset"), (self.served, "table")):
            stopped: dict[tuple[str, str], list[str]] = {}
            for row in rows:
                if row["status"] not in (OK, EMPTY, NO_ROWS) and not row["status"].startswith(NOT_EXPECTED):
                    stopped.setdefault((row[name], row["status"]), []).append(row["day"])
            for (what, status), days in stopped.items():
                lines.append(f"{_days(days)} {what}: {status}")
        return lines


def _days(days: list[str]) -> str:
    if days == [WHOLE]:
        return "(whole)"
    return ", ".join(a if a == b else f"{a}..{b}" for a, b in contiguous_ranges(days))


def _stopped(steps: list[tuple[str, str]], day: str | None, record: RunRecord) -> str | None:
    """Where the day stopped among (asset key, step key) in data order, or None if all completed."""
    for asset, step in steps:
        if (asset, day) not in record.materialized:
            what = asset.split("/")[0]
            if step in record.failed:
                return f"did not complete: {what} failed: {record.failed[step]}"
            before = next(iter(record.failed), None)
            return f"did not complete: {what} not run" + (f" ({before} failed)" if before else "")
    return None


def _counts(warehouse, sql: str, params: list) -> dict[str, int]:
    try:
        rows = warehouse.fetch(sql, params).rows
    except Exception:  # the table does not exist yet: nothing reached this pillar
        return {}
    return {str(day): int(n) for day, n in rows}


def _dataset_rows(source: Source, days: list[str], cold_storage, warehouse, record: RunRecord) -> list[dict]:
    steps = [(f"{p}/{source.name}", f"{p}__{source.name}") for p in PILLARS]
    if source.is_daily:
        loaded = _counts(
            warehouse,
            f"SELECT partition_date, count(*) FROM raw.{source.name} "
            "WHERE partition_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) GROUP BY 1",
            [days[0], days[-1]],
        )
        keys: list[str | None] = list(days)
    else:
        loaded = _counts(warehouse, f"SELECT '{WHOLE}', count(*) FROM raw.{source.name}", [])
        keys = [None]
    rows = []
    for key in keys:
        day = key or WHOLE
        expected = (
            source.expects(dt.date.fromisoformat(key))
            if key
            else source.expects_window(dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1]))
        )
        manifest = (read_manifest(cold_storage, source.name, key) or {}) if expected else {}
        ingestion = manifest.get("ingestion", {})
        if not expected:
            status = f"{NOT_EXPECTED} (span {source.span})"
        else:
            status = _stopped(steps, key, record) or (EMPTY if ingestion.get("files") == [] else OK)
        rows.append(
            {
                "day": day,
                "dataset": source.name,
                "read": ingestion.get("rows_read", 0),
                "quarantined": ingestion.get("rows_quarantined", 0),
                "raw": manifest.get("rows", 0),
                "warehouse": loaded.get(day, 0) if expected else 0,
                "status": status,
            }
        )
    return rows


def _merge_not_expected(rows: list[dict]) -> list[dict]:
    """Runs of days a dataset does not expect, as one row each: a window outside a span is one line."""
    merged: list[dict] = []
    for row in rows:
        last = merged[-1] if merged else None
        if (
            last
            and row["status"].startswith(NOT_EXPECTED)
            and last["dataset"] == row["dataset"]
            and last["status"] == row["status"]
        ):
            last["day"] = f"{last['day'].split('..')[0]}..{row['day']}"
        else:
            merged.append(dict(row))
    return merged


def pillar_summary(
    env: Environment,
    days: list[str],
    sources: tuple[Source, ...],
    tables: list[ServedTable],
    record: RunRecord,
) -> Summary:
    cold_storage, warehouse, hot_store = (
        open_resource(env, n) for n in ("cold_storage", "warehouse", "hot_store")
    )
    datasets = []
    for source in sources:
        datasets += _merge_not_expected(_dataset_rows(source, days, cold_storage, warehouse, record))
    served = []
    for table in tables:
        hot = hot_store.count_by_date(table.name, table.date_column, days)
        step = [(f"serving/{table.name}", f"serving__{table.name}")]
        for day in days:
            served.append(
                {
                    "day": day,
                    "table": table.name,
                    "hot rows": hot.get(day, 0),
                    "status": _stopped(step, day, record) or (OK if hot.get(day) else NO_ROWS),
                }
            )
    return Summary(datasets, served)
