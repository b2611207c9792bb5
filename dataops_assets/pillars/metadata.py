"""Asset metadata a user wants to see in the Dagster UI: schema, counts per day, a preview."""

from __future__ import annotations

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
