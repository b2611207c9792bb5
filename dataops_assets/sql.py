"""Text spliced into SQL, escaped the one standard way: a string literal or a quoted identifier.

Bind a parameter wherever the statement takes one. Some places do not (DuckDB's `COPY … TO '<path>'`,
a table function's options): there a value goes through `literal`, so a path such as
`/data/o'brien/…` is a path, never the end of the string.
"""

from __future__ import annotations


def literal(value: str) -> str:
    """`value` as a SQL string literal (DuckDB, SQLite and PostgreSQL read backslashes literally)."""
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
