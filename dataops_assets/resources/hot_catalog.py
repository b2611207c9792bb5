"""The hot store's own tables, which every backend keeps beside the served ones: the catalog of what is
published and each table's columns with their warehouse types. Dagster-free: the hot store resource,
`env apply` (which makes them on PostgreSQL before anything is published) and the API all read it.
"""

from __future__ import annotations

import contextlib
import sqlite3

CATALOG = "_published"  # one row per table: last_partition, rows, published_at
COLUMNS = "_columns"  # each table's columns with their warehouse types (SQLite keeps only its own)

SQLITE_CATALOG_COLUMNS = "table_name TEXT PRIMARY KEY, last_partition TEXT, rows INTEGER, published_at TEXT"
SQLITE_COLUMNS_COLUMNS = "table_name TEXT, position INTEGER, column_name TEXT, sql_type TEXT, PRIMARY KEY (table_name, column_name)"
PG_CATALOG_COLUMNS = "table_name text PRIMARY KEY, last_partition text, rows bigint, published_at timestamptz"
PG_COLUMNS_COLUMNS = "table_name text, position integer, column_name text, sql_type text, PRIMARY KEY (table_name, column_name)"
# What `env apply` creates in a PostgreSQL hot store's schema.
PG_CATALOG_TABLES = {CATALOG: PG_CATALOG_COLUMNS, COLUMNS: PG_COLUMNS_COLUMNS}


def read_catalog(con: sqlite3.Connection) -> list[dict]:
    """The `_published` catalog of a SQLite hot store: one dict per published table."""
    try:
        cursor = con.execute(
            f'SELECT table_name, last_partition, rows, published_at FROM "{CATALOG}" ORDER BY table_name'
        )
    except sqlite3.OperationalError:  # nothing published yet
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_columns(con: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """A table's (name, warehouse SQL type) pairs, in order; SQLite's own types if none were recorded."""
    with contextlib.suppress(sqlite3.OperationalError):  # published before `_columns` existed
        recorded = con.execute(
            f'SELECT column_name, sql_type FROM "{COLUMNS}" WHERE table_name = ? ORDER BY position', [table]
        ).fetchall()
        if recorded:
            return [tuple(r) for r in recorded]
    return [(r[1], r[2]) for r in con.execute("SELECT * FROM pragma_table_info(?)", [table])]
