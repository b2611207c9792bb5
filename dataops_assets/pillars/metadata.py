"""Asset metadata a user wants to see in the Dagster UI: schema, counts per day, a preview.

Row counts follow Dagster's conventions: `dagster/partition_row_count` is a partition's own rows, on
that partition's materialization; `dagster/row_count` is the whole table's, given only where the
asset is a table whose total is known (an unpartitioned dataset, the warehouse table, a hot table, a
dbt model).
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from dataops_assets.resources.s3 import arrow_filesystem
from dataops_assets.sources.model import Source

PREVIEW_ROWS = 5


def table_schema(source: Source) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                c.type,
                description=c.description or None,
                constraints=dg.TableColumnConstraints(
                    nullable=c.nullable and c.name not in source.primary_key
                ),
            )
            for c in source.columns
        ]
    )


def markdown_table(rows: list[dict]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("_(none)_")
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    return dg.MetadataValue.md("\n".join(lines))


def parquet_preview(path: str, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows of a Parquet file, local or in S3 (cold storage's readable_path)."""
    import pyarrow.parquet as pq  # imported where used: the code location loads without it

    filesystem, inner = arrow_filesystem(path)
    head = next(pq.ParquetFile(inner, filesystem=filesystem).iter_batches(batch_size=rows), None)
    return markdown_table(head.to_pylist() if head is not None else [])


def row_counts(
    context: dg.AssetExecutionContext, by_partition: Mapping[str | None, int], table_rows: int | None = None
) -> dict:
    """The step's row-count metadata. A step over many days makes one materialization per day and
    gives each the step's metadata: each day's own count goes on its own materialization instead.
    Returns the metadata for the step's result (`dagster/row_count`: the table's, when known)."""
    for partition, rows in by_partition.items():
        if partition is None:  # an unpartitioned dataset: its rows are the table's
            table_rows = rows
        else:
            context.add_asset_metadata({"dagster/partition_row_count": rows}, partition_key=partition)
    return {} if table_rows is None else {"dagster/row_count": table_rows}
