"""The `serving` group (hot): the dbt models that declare `meta.dataops.serve`, published into the hot
store that applications read."""

from collections import Counter

import dagster as dg

from dataops_assets.partitions import partition_keys
from dataops_assets.pillars.metadata import markdown_table, row_counts
from dataops_assets.resources.hot_store import HotStore
from dataops_assets.resources.warehouse import Warehouse
from dataops_assets.served import FRESHNESS_FAIL_WINDOW, FRESHNESS_WARN_WINDOW, ServedTable

HOT_STORE_POOL = "hot_store"
HOT_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=FRESHNESS_FAIL_WINDOW, warn_window=FRESHNESS_WARN_WINDOW
)

# eager() alone only looks at the latest day; a late or re-run older day must publish too.
HOT_AUTOMATION = dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())


def hot_table_policy(
    partitions_def: dg.PartitionsDefinition, dimensions: tuple[dg.AssetKey, ...] = ()
) -> dict:
    """How every daily hot table is published: a range of days as one run, one writer at a time,
    kept fresh, and published as soon as its input has new data for that day.

    `dimensions` are unpartitioned inputs (a dimension table): every daily run re-materializes them, so
    to the automation they would be new data for every past day. They are read, not watched.
    """
    automation = (
        HOT_AUTOMATION.ignore(dg.AssetSelection.assets(*dimensions)) if dimensions else HOT_AUTOMATION
    )
    return {
        "group_name": "serving",
        "partitions_def": partitions_def,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "pool": HOT_STORE_POOL,
        "freshness_policy": HOT_FRESHNESS,
        "automation_condition": automation,
    }


HOT_MATCHES_WAREHOUSE = "hot_rows_match_warehouse"


def serving_key(table: ServedTable) -> dg.AssetKey:
    return dg.AssetKey(["serving", table.name])


def duplicate_key(table: ServedTable, columns: list[str], rows: list[tuple]) -> str | None:
    """Why `rows` cannot be served under the table's key (a null or repeated key), or None."""
    at = [columns.index(k) for k in table.key]
    seen: set[tuple] = set()
    for row in rows:
        key = tuple(row[i] for i in at)
        if None in key:
            empty = [column for column, value in zip(table.key, key, strict=True) if value is None]
            return f"a row has no value in key column(s) {', '.join(empty)}"
        if key in seen:
            return f"key ({', '.join(table.key)}) = {key} appears more than once"
        seen.add(key)
    return None


def build_serving_asset(
    table: ServedTable,
    partitions_def: dg.PartitionsDefinition,
    model_key: dg.AssetKey,
    hot_store_kind: str = "sqlite",
) -> dg.AssetsDefinition:
    @dg.asset(
        key=serving_key(table),
        deps=[model_key],
        description=f"{table.description}\n\nServed from the hot store as `{table.name}`, "
        f"published atomically per day from `{table.relation}`.",
        **hot_table_policy(partitions_def),
        kinds={hot_store_kind},
        metadata={"primary_key": list(table.key)},
        check_specs=[
            dg.AssetCheckSpec(
                HOT_MATCHES_WAREHOUSE,
                asset=serving_key(table),
                description=f"each published day holds as many rows in the hot store as `{table.relation}`",
            )
        ],
    )
    def publish(context: dg.AssetExecutionContext, warehouse: Warehouse, hot_store: HotStore):
        days = [k for k in partition_keys(context) if k]
        columns, types, rows = warehouse.fetch(
            f"SELECT * FROM {table.relation} WHERE {table.date_column} BETWEEN ?::DATE AND ?::DATE "
            f"ORDER BY {', '.join(table.key)}",
            [days[0], days[-1]],
        )
        missing = [c for c in (*table.key, table.date_column) if c not in columns]
        if missing:
            raise dg.Failure(
                f"{table.relation} has no column(s) {', '.join(missing)} that its serve declares",
                allow_retries=False,
            )
        # The API looks rows up and pages by the key: a table it does not identify is not published.
        duplicated = duplicate_key(table, columns, rows)
        if duplicated:
            raise dg.Failure(
                f"{table.relation} cannot be served as {table.name}: {duplicated}; nothing published",
                allow_retries=False,
            )
        published = hot_store.publish(
            table.name, list(zip(columns, types, strict=True)), rows, table.date_column, days
        )
        by_day = hot_store.count_by_date(table.name, table.date_column, days)
        served = next(e for e in hot_store.catalog() if e["table_name"] == table.name)
        at = columns.index(table.date_column)
        in_warehouse = Counter(str(r[at])[:10] for r in rows)
        differ = {d: {"warehouse": in_warehouse[d], "hot": by_day.get(d, 0)} for d in days}
        differ = {d: n for d, n in differ.items() if n["warehouse"] != n["hot"]}
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(
                    check_name=HOT_MATCHES_WAREHOUSE,
                    passed=not differ,
                    metadata={"days_checked": len(days), "days_differing": dg.MetadataValue.json(differ)},
                )
            ],
            metadata={
                **row_counts(context, {d: by_day.get(d, 0) for d in days}, served["rows"]),
                "rows_published": published,
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(n, t) for n, t in zip(columns, types, strict=True)]
                ),
                # what the hot store (and so the API) now serves from this table
                "hot_rows_total": served["rows"],
                "last_published_partition": served["last_partition"],
                "published_at": served["published_at"],
                "days_published": len(days),
                "window": f"{days[0]} .. {days[-1]}",
                "rows_per_day": markdown_table([{"day": d, "rows": by_day.get(d, 0)} for d in days]),
                "preview": markdown_table([dict(zip(columns, r, strict=True)) for r in rows[:5]]),
            },
        )

    return publish
