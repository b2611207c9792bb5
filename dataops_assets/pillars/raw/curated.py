"""Curated data in the `raw` group (cold storage): curated dbt models exported per day to cold storage as immutable Parquet
with a manifest (`curated/<model>/date=YYYY-MM-DD/`), published and verified like raw partitions, so
a snapshot can pin a mart beside the raw datasets it came from. Which models: see dataops_assets/curated.py.
"""

import dagster as dg

from dataops_assets.curated import CuratedModel
from dataops_assets.layout import CURATED
from dataops_assets.partitions import partition_keys
from dataops_assets.pillars.metadata import markdown_table
from dataops_assets.pillars.raw.table_days import publish_day
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.warehouse import Warehouse


def curated_key(model: CuratedModel) -> dg.AssetKey:
    return dg.AssetKey([CURATED, model.name])


def rows_by_day(columns: list[str], rows: list[tuple], date_column: str, days: list[str]) -> dict[str, list]:
    """The rows of each day (every day present, empty when it has none)."""
    at = columns.index(date_column)
    by_day: dict[str, list] = {day: [] for day in days}
    for row in rows:
        by_day.setdefault(str(row[at])[:10], []).append(row)  # a date, or a timestamp's date
    return by_day


def build_curated_asset(
    model: CuratedModel, partitions_def: dg.PartitionsDefinition, model_key: dg.AssetKey
) -> dg.AssetsDefinition:
    @dg.asset(
        key=curated_key(model),
        group_name="raw",  # the cold storage pillar, which this flow feeds back into
        deps=[model_key],
        description=f"{model.description}\n\nExported per day from `{model.relation}` to cold storage "
        f"(`{CURATED}/{model.name}/date=YYYY-MM-DD/`), immutable Parquet with a manifest.",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"parquet"},
    )
    def export(
        context: dg.AssetExecutionContext, warehouse: Warehouse, cold_storage: ColdStorage
    ) -> dg.MaterializeResult:
        days = [k for k in partition_keys(context) if k]
        columns, types, rows = warehouse.fetch(
            f"SELECT * FROM {model.relation} WHERE {model.date_column} BETWEEN ?::DATE AND ?::DATE",
            [days[0], days[-1]],
        )
        if model.date_column not in columns:
            raise dg.Failure(f"{model.relation} has no column {model.date_column}, its declared date column")
        typed = list(zip(columns, types, strict=True))
        provenance = {"curated_from": model.relation}
        published = {
            day: publish_day(
                cold_storage, CURATED, model.name, day, typed, day_rows, list(model.key), provenance
            )
            for day, day_rows in rows_by_day(columns, rows, model.date_column, days).items()
        }
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(rows),
                "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(n, t) for n, t in typed]),
                "partitions_changed": sum(p.changed for p in published.values()),
                "per_partition": markdown_table(
                    [
                        {
                            "partition": day,
                            "rows": p.manifest["rows"],
                            "bytes": p.manifest["bytes"],
                            "sha256": p.manifest["files"][0]["sha256"][:16],
                            "changed": p.changed,
                        }
                        for day, p in published.items()
                    ]
                ),
            }
        )

    return export
