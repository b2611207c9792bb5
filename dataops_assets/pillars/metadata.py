"""Asset metadata a user wants to see in the Dagster UI: schema, counts per day, a preview."""

from __future__ import annotations

import dagster as dg

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
    import duckdb  # where used: the code location loads without it

    con = duckdb.connect()
    try:
        cursor = con.execute(f"SELECT * FROM read_parquet(?) LIMIT {rows}", [path])
        names = [d[0] for d in cursor.description]
        return markdown_table([dict(zip(names, r, strict=True)) for r in cursor.fetchall()])
    finally:
        con.close()
