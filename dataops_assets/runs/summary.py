"""Rows per pillar per day, read back from each pillar's own storage (not from what the run said)."""

from __future__ import annotations

from dataops_assets.environments.model import Environment
from dataops_assets.pillars.raw.publish import read_manifest
from dataops_assets.resources.factory import open_resource
from dataops_assets.served import MART_TABLES
from dataops_assets.sources.catalog import load_sources

FACT = "flights"  # the dataset whose rows the marts count


def _warehouse_counts(warehouse, sql: str, days: list[str]) -> dict[str, int]:
    try:
        rows = warehouse.fetch(sql, [days[0], days[-1]]).rows
    except Exception:  # the table does not exist yet: nothing reached this pillar
        return {}
    return {str(day): int(n) for day, n in rows}


def pillar_summary(env: Environment, days: list[str]) -> list[dict]:
    cold_storage, warehouse, hot_store = (
        open_resource(env, n) for n in ("cold_storage", "warehouse", "hot_store")
    )
    daily = [s for s in load_sources() if s.is_daily]

    loaded = {
        s.name: _warehouse_counts(
            warehouse,
            f"SELECT partition_date, count(*) FROM raw.{s.name} "
            "WHERE partition_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) GROUP BY 1",
            days,
        )
        for s in daily
    }
    marts = _warehouse_counts(
        warehouse,
        f"SELECT flight_date, sum(flights) FROM {MART_TABLES[0].relation} "
        "WHERE flight_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) GROUP BY 1",
        days,
    )
    hot = {t.name: hot_store.count_by_date(t.name, t.date_column, days) for t in MART_TABLES}

    rows = []
    for day in days:
        for source in daily:
            manifest = read_manifest(cold_storage, source.name, day) or {}
            ingestion = manifest.get("ingestion", {})
            row = {
                "day": day,
                "dataset": source.name,
                "read": ingestion.get("rows_read", 0),
                "quarantined": ingestion.get("rows_quarantined", 0),
                "raw": manifest.get("rows", 0),
                "warehouse": loaded[source.name].get(day, 0),
            }
            if source.name == FACT:
                row["mart flights"] = marts.get(day, 0)
                row.update({f"hot {name}": counts.get(day, 0) for name, counts in hot.items()})
            rows.append(row)
    return rows
