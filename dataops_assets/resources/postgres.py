"""What every PostgreSQL-backed resource shares: connecting, naming a server without its password,
and translating types and parameters between the warehouses.

psycopg is imported where it is used: the code location loads without it (sandbox never needs it).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from dataops_assets.redact import REDACTED, redact

if TYPE_CHECKING:
    import psycopg


class UnparseableDSN(ValueError):
    """A DSN psycopg cannot read. psycopg's own message quotes the DSN whole, password included: this
    one names the environment variable that holds it instead."""


def parse(dsn: str) -> dict:
    """The DSN's fields, or UnparseableDSN naming the variable it came from (never its text)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # Secrets reach the platform only through environment variables: say which one holds it.
        held_in = " and ".join(sorted(name for name, value in os.environ.items() if value == dsn))
        raise UnparseableDSN(f"the DSN {f'in {held_in}' if held_in else 'given'} does not parse") from None


def connect(dsn: str, **kwargs) -> psycopg.Connection:
    import psycopg

    # First: psycopg's error for a DSN it cannot parse quotes it whole, and inside a run Dagster
    # records a step's exception in its event log, which the UI shows.
    parse(dsn)
    return psycopg.connect(dsn, connect_timeout=10, **kwargs)


def redact_dsn(dsn: str) -> str:
    """The DSN as a user may see it: host, port, database and user, never the password."""
    try:
        parts = parse(dsn)
    except UnparseableDSN:
        return "<unparseable DSN>"  # the raw text could hold the password
    host = parts.get("host", "localhost")
    where = f"{host}:{parts.get('port', 5432)}/{parts.get('dbname', parts.get('user', ''))}"
    return f"postgresql://{parts['user']}@{where}" if parts.get("user") else f"postgresql://{where}"


def redact_text(text: str, dsn: str) -> str:
    """An error message with any password in it, and the DSN's own wherever it appears, blanked out."""
    try:
        password = parse(dsn).get("password")
    except UnparseableDSN:
        password = None
    return redact(text.replace(password, REDACTED) if password else text)


def with_database(dsn: str, dbname: str) -> str:
    """The same server and credentials, another database (e.g. `postgres` to create this one)."""
    from psycopg.conninfo import make_conninfo

    parse(dsn)
    return make_conninfo(dsn, dbname=dbname)


def database_of(dsn: str) -> str:
    parts = parse(dsn)
    return parts.get("dbname") or parts.get("user") or "postgres"


def dbt_profile_env(dsn: str) -> dict[str, str]:
    """The variables dbt's `postgres` target reads (dbt_project/profiles.yml)."""
    parts = parse(dsn)
    return {
        "DATAOPS_PG_HOST": parts.get("host", "localhost"),
        "DATAOPS_PG_PORT": str(parts.get("port", 5432)),
        "DATAOPS_PG_USER": parts.get("user", "postgres"),
        "DATAOPS_PG_PASSWORD": parts.get("password", ""),
        "DATAOPS_PG_DATABASE": database_of(dsn),
    }


def qmark_to_format(sql: str) -> str:
    """DuckDB/SQLite `?` placeholders as psycopg's `%s` (callers share one SQL text for every warehouse)."""
    return re.sub(r"\?", "%s", sql.replace("%", "%%"))


# Warehouse SQL types (DuckDB's names, or PostgreSQL's) as PostgreSQL column types.
_PG_TYPES = {
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "INT": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "UBIGINT": "numeric",
    "UINTEGER": "bigint",
    "BOOLEAN": "boolean",
    "FLOAT": "real",
    "REAL": "real",
    "DOUBLE": "double precision",
    "DOUBLE PRECISION": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMPTZ": "timestamptz",
    "VARCHAR": "text",
    "TEXT": "text",
}


def type_name(oid: int) -> str:
    """A result column's SQL type name (e.g. DOUBLE PRECISION) from its type OID."""
    from psycopg.postgres import types

    info = types.get(oid)
    return info.regtype.upper() if info else "TEXT"


def pg_type(sql_type: str) -> str:
    upper = sql_type.upper().strip()
    if upper.startswith(("DECIMAL", "NUMERIC")):
        return upper.replace("DECIMAL", "numeric").replace("NUMERIC", "numeric")
    return _PG_TYPES.get(upper, _PG_TYPES.get(upper.split("(")[0].strip(), "text"))


def arrow_pg_type(arrow_type) -> str:
    """The PostgreSQL column type for an Arrow type (what raw Parquet holds)."""
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_int8(t) or pa.types.is_int16(t):
        return "smallint"
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{t.scale})"
    return "text"
