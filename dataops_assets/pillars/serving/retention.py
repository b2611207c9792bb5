"""Retention: hot rows leaving the environment's hot window go back to cold storage, then leave the hot store.

The window is anchored on each table's latest *published* day, not on today: the sandbox replays 2013,
and in production, where the latest day is yesterday, the two agree — while a stalled pipeline keeps
its last N days hot instead of emptying the store. For every table the order is: read the expired
days, archive them (Parquet + manifest), and only then delete exactly those rows in one transaction
that refuses to delete if a day changed meanwhile. A blocking check proves the accounting:
hot rows before = hot rows after + rows archived, and the archive's manifests hold those rows.
"""

import datetime as dt
from dataclasses import asdict, dataclass, field

import dagster as dg

from dataops_assets.pillars.metadata import markdown_table
from dataops_assets.pillars.serving.archive import archive_day, read_archive_manifest
from dataops_assets.pillars.serving.assets import HOT_STORE_POOL
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.hot_store import HotStore
from dataops_assets.served import ServedTable

RETENTION_KEY = dg.AssetKey(["serving", "hot_retention"])
NOTHING_LOST_CHECK = "hot_rows_accounted_for"
# Not eager(): that waits until no day of the (daily) upstream is missing, which a replay never reaches.
AFTER_EACH_PUBLISH = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after each publish")


@dataclass
class TableRetention:
    table: str
    kept_from: str  # the first day kept hot
    latest: str  # the window's anchor: the table's latest published day
    hot_before: int
    archived: int
    hot_after: int
    in_archive: int  # the archived days' rows as their manifests in cold storage count them
    days: list[str] = field(default_factory=list)

    @property
    def accounted(self) -> bool:
        return self.hot_before == self.hot_after + self.archived and self.in_archive == self.archived


def first_kept_day(latest: str, window_days: int) -> str:
    return (dt.date.fromisoformat(latest) - dt.timedelta(days=window_days - 1)).isoformat()


def retain_table(
    dataset: ServedTable, latest: str, window_days: int, hot_store: HotStore, cold_storage: ColdStorage
) -> TableRetention:
    """Archive the days of `dataset` before the window, then delete them from the hot store."""
    kept_from = first_kept_day(latest, window_days)
    before = hot_store.partition_counts(dataset.name, dataset.date_column)
    expired = [day for day in before if day < kept_from]
    archived: dict[str, int] = {}
    if expired:
        columns = hot_store.columns(dataset.name)
        names, rows = hot_store.read_partitions(dataset.name, dataset.date_column, expired)
        at = names.index(dataset.date_column)
        for day in expired:
            day_rows = [row for row in rows if row[at] == day]
            archive_day(cold_storage, dataset.name, day, columns, day_rows, list(dataset.key))
            archived[day] = len(day_rows)
        hot_store.delete_partitions(dataset.name, dataset.date_column, archived)
    after = hot_store.partition_counts(dataset.name, dataset.date_column)
    in_archive = sum(
        (read_archive_manifest(cold_storage, dataset.name, d) or {}).get("rows", 0) for d in expired
    )
    return TableRetention(
        table=dataset.name,
        kept_from=kept_from,
        latest=latest,
        hot_before=sum(before.values()),
        archived=sum(archived.values()),
        hot_after=sum(after.values()),
        in_archive=in_archive,
        days=expired,
    )


def apply_retention(
    window_days: int, tables: dict[str, ServedTable], hot_store: HotStore, cold_storage: ColdStorage
) -> list[TableRetention]:
    """Retention for every served table that has been published."""
    latest = {entry["table_name"]: entry["last_partition"] for entry in hot_store.catalog()}
    return [
        retain_table(dataset, latest[name], window_days, hot_store, cold_storage)
        for name, dataset in tables.items()
        if latest.get(name)
    ]


def build_retention_asset(
    window_days: int, tables: dict[str, ServedTable], hot_store_kind: str = "sqlite"
) -> dg.AssetsDefinition:
    @dg.asset(
        key=RETENTION_KEY,
        group_name="serving",
        deps=[dg.AssetKey(["serving", name]) for name in tables],  # the served models and the predictions
        description=f"Keeps the last {window_days} published days of each hot table hot; older days are "
        "archived to cold storage (`archive/<table>/date=…/`, Parquet + manifest) and then deleted "
        "from the hot store.",
        pool=HOT_STORE_POOL,
        automation_condition=AFTER_EACH_PUBLISH,
        check_specs=[
            dg.AssetCheckSpec(
                NOTHING_LOST_CHECK,
                asset=RETENTION_KEY,
                blocking=True,
                description="hot rows before = hot rows after + archived rows, and the archive holds them",
            )
        ],
        kinds={hot_store_kind, "parquet"},
        metadata={"hot_window_days": window_days},
    )
    def hot_retention(context: dg.AssetExecutionContext, hot_store: HotStore, cold_storage: ColdStorage):
        results = apply_retention(window_days, tables, hot_store, cold_storage)
        for r in results:
            context.log.info(
                f"{r.table}: kept {r.kept_from}..{r.latest}; archived {r.archived} row(s) of "
                f"{len(r.days)} day(s); hot {r.hot_before} -> {r.hot_after}"
            )
        summary = [
            {
                "table": r.table,
                "hot window": f"{r.kept_from} .. {r.latest}",
                "hot before": r.hot_before,
                "archived": r.archived,
                "hot after": r.hot_after,
                "days archived": f"{r.days[0]} .. {r.days[-1]} ({len(r.days)})" if r.days else "none",
            }
            for r in results
        ]
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(r.hot_after for r in results),
                "rows_archived": sum(r.archived for r in results),
                "days_archived": sum(len(r.days) for r in results),
                "tables": markdown_table(summary),
            }
        )
        yield dg.AssetCheckResult(
            check_name=NOTHING_LOST_CHECK,
            passed=all(r.accounted for r in results),
            metadata={
                "tables_checked": len(results),
                "unaccounted": dg.MetadataValue.json([r.table for r in results if not r.accounted]),
                "detail": dg.MetadataValue.json([asdict(r) for r in results]),
            },
        )

    return hot_retention
