"""Request parameters -> a validated query -> parameterised SQL, and the opaque paging cursor.

No user text ever reaches the SQL: identifiers are taken from the table's own column list (an
allow-list read from the store) and quoted; every value is parsed to its column's type and bound as a
parameter. Backends differ only in their placeholder (`?` for SQLite, `%s` for psycopg).

Paging is keyset (cursor) paging: the order is made total by appending the dataset's key, and the
cursor carries the last row's values of the order columns, so page N+1 is a range scan after page N
(no OFFSET, and rows published meanwhile neither repeat nor vanish from pages already read).
NULL sorts as the smallest value on every backend (NULLS FIRST ascending, NULLS LAST descending).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from dataclasses import dataclass

from dataops_assets.integrity import canonical_json, fingerprint
from dataops_assets.served import ServedTable

DEFAULT_PAGE = 100
MAX_PAGE = 1000  # the hard cap: a bigger `limit` is refused, not silently truncated
MAX_TEXT = 200
# A cursor this API issues holds a hash and one row's order values: far below this. Longer is forged.
MAX_CURSOR = 4096
RESERVED = ("columns", "order_by", "limit", "cursor")
OPERATORS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
RANGED_TYPES = ("integer", "number", "date", "timestamp")

_INTEGER = re.compile(r"^-?\d{1,18}$")  # fits in a signed 64-bit integer
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d{1,3})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")


class QueryError(ValueError):
    """A request the API refuses, with the reason the client sees (HTTP 400)."""


def logical_type(sql_type: str) -> str:
    """The API's type for a warehouse (or SQLite) column type: what its filters accept."""
    base = sql_type.upper().split("(")[0].strip()
    if "INT" in base:
        return "integer"
    if base == "BOOLEAN":
        return "boolean"
    if base in ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "DOUBLE PRECISION"):
        return "number"
    if base == "DATE":
        return "date"
    if base.startswith("TIMESTAMP"):
        return "timestamp"
    return "text"


def operators_for(type_: str) -> list[str]:
    return list(OPERATORS) if type_ in RANGED_TYPES else ["eq"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # logical: integer, number, boolean, date, timestamp, text

    @property
    def quoted(self) -> str:
        return '"' + self.name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Condition:
    column: Column
    operator: str  # a key of OPERATORS
    values: tuple  # one value, or several for a repeated equality (IN)


@dataclass(frozen=True)
class Query:
    dataset: ServedTable
    selected: tuple[Column, ...]
    where: tuple[Condition, ...]
    order: tuple[tuple[Column, bool], ...]  # (column, descending), made total by the dataset's key
    limit: int
    after: tuple | None  # the cursor's values of the order columns

    def fingerprint(self) -> str:
        """What a cursor is valid for: the same dataset, filters and order."""
        return fingerprint(
            [
                self.dataset.name,
                [[c.column.name, c.operator, list(c.values)] for c in self.where],
                [[c.name, desc] for c, desc in self.order],
            ]
        )[:16]


def parse_value(column: Column, raw: str) -> object:
    """The typed value of a filter or cursor value, or QueryError saying what was expected."""
    kind = column.type
    try:
        if kind == "integer" and _INTEGER.match(raw):
            return int(raw)
        if kind == "number" and _NUMBER.match(raw) and math.isfinite(value := float(raw)):
            return value
        if kind == "boolean" and raw.lower() in ("true", "false", "1", "0"):
            return 1 if raw.lower() in ("true", "1") else 0
        if kind == "date" and _DATE.match(raw):
            return dt.date.fromisoformat(raw).isoformat()
        if kind == "timestamp" and _TIMESTAMP.match(raw):
            return dt.datetime.fromisoformat(raw).isoformat()
        if kind == "text" and len(raw) <= MAX_TEXT and "\x00" not in raw:  # no store holds a NUL
            return raw
    except ValueError:
        pass
    expected = {
        "integer": "an integer",
        "number": "a finite number",
        "boolean": "true or false",
        "date": "a date YYYY-MM-DD",
        "timestamp": "a timestamp YYYY-MM-DDTHH:MM[:SS]",
        "text": f"text of at most {MAX_TEXT} characters, without NUL",
    }[kind]
    raise QueryError(f"{column.name} must be {expected}, not {raw[:40]!r}")


def _lookup(columns: dict[str, Column], name: str, dataset: ServedTable, role: str) -> Column:
    if name not in columns:
        raise QueryError(
            f"unknown {role} {name[:60]!r} for {dataset.name}; columns: {', '.join(columns)}"
            + (f"; parameters: {', '.join(RESERVED)}" if role == "parameter" else "")
        )
    return columns[name]


def _single(params: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    if len(values) > 1:
        raise QueryError(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def parse_query(dataset: ServedTable, table_columns: list[Column], params: list[tuple[str, str]]) -> Query:
    """Validate a request's query parameters against the table's columns."""
    columns = {c.name: c for c in table_columns}

    selected_raw = _single(params, "columns")
    selected = (
        tuple(_lookup(columns, n.strip(), dataset, "column") for n in selected_raw.split(",") if n.strip())
        if selected_raw
        else tuple(table_columns)
    )
    if not selected:
        raise QueryError("columns is empty; name at least one column or leave it out")
    if len({c.name for c in selected}) != len(selected):
        raise QueryError("columns names a column twice")

    limit_raw = _single(params, "limit")
    if limit_raw is None:
        limit = DEFAULT_PAGE
    elif _INTEGER.match(limit_raw) and 1 <= int(limit_raw) <= MAX_PAGE:
        limit = int(limit_raw)
    else:
        raise QueryError(f"limit must be an integer from 1 to {MAX_PAGE}, not {limit_raw[:40]!r}")

    conditions: dict[tuple[str, str], list] = {}
    for name, raw in params:
        if name in RESERVED:
            continue
        column_name, _, operator = name.rpartition("__")
        if not column_name or operator not in OPERATORS:
            column_name, operator = name, "eq"
        column = _lookup(columns, column_name, dataset, "parameter")
        if operator not in operators_for(column.type):
            raise QueryError(
                f"{column.name} is {column.type}: it takes equality only (ranges are for dates and numbers)"
            )
        values = conditions.setdefault((column.name, operator), [])
        if values and operator != "eq":
            raise QueryError(f"{name} is given more than once; give a range bound once")
        values.append(parse_value(column, raw))
    where = tuple(Condition(columns[n], op, tuple(v)) for (n, op), v in conditions.items())

    order: list[tuple[Column, bool]] = []
    order_raw = _single(params, "order_by")
    for term in (order_raw or "").split(","):
        term = term.strip()
        if not term:
            continue
        column = _lookup(columns, term.removeprefix("-"), dataset, "order_by column")
        if any(c.name == column.name for c, _ in order):
            raise QueryError(f"order_by names {column.name} twice")
        order.append((column, term.startswith("-")))
    for name in dataset.key:  # the key makes the order total: every row has one place
        if name in columns and all(c.name != name for c, _ in order):
            order.append((columns[name], False))

    query = Query(dataset, selected, where, tuple(order), limit, None)
    cursor = _single(params, "cursor")
    if cursor is not None:
        query = Query(dataset, selected, where, tuple(order), limit, decode_cursor(query, cursor))
    return query


def encode_cursor(query: Query, last_row: tuple) -> str:
    payload = canonical_json({"q": query.fingerprint(), "v": list(last_row)})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(query: Query, cursor: str) -> tuple:
    if len(cursor) > MAX_CURSOR:
        raise QueryError(f"cursor is longer than {MAX_CURSOR} characters: not one this API issued")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = payload["v"]
        belongs = payload["q"] == query.fingerprint()
    # Whatever a forged cursor makes the decoder raise (deep nesting: RecursionError) is a 400.
    except (ValueError, binascii.Error, TypeError, KeyError, RecursionError):
        raise QueryError("cursor is not one this API issued; start again without it") from None
    if not belongs:
        raise QueryError("cursor belongs to another query (dataset, filters or order_by differ)")
    if not isinstance(values, list) or len(values) != len(query.order):
        raise QueryError("cursor is not one this API issued; start again without it")
    for (column, _), value in zip(query.order, values, strict=True):
        if value is not None and not _fits(column.type, value):
            raise QueryError("cursor is not one this API issued; start again without it")
    return tuple(values)


def _fits(kind: str, value: object) -> bool:
    """Whether a cursor's value is one a row of that column type could hold (a cursor can be forged)."""
    if kind in ("integer", "boolean", "number"):
        allowed = (int, float) if kind == "number" else int
        return (
            isinstance(value, allowed)
            and (kind == "boolean" or not isinstance(value, bool))  # bool is an int: boolean only
            and math.isfinite(value)
            and -(2**63) <= value < 2**63
        )
    if not isinstance(value, str) or "\x00" in value:
        return False
    if kind in ("date", "timestamp"):
        try:
            (dt.date if kind == "date" else dt.datetime).fromisoformat(value)
        except ValueError:
            return False
    return True


def _after(query: Query, mark: str) -> tuple[str, list]:
    """Rows strictly after the cursor in the query's order (NULL is the smallest value)."""
    alternatives: list[str] = []
    params: list = []
    equal: list[str] = []
    equal_params: list = []
    for (column, descending), value in zip(query.order, query.after or (), strict=True):
        name = column.quoted
        if value is None:  # only non-NULLs come after a NULL ascending; nothing does descending
            after, after_params = (None if descending else f"{name} IS NOT NULL"), []
        elif descending:
            after, after_params = f"({name} < {mark} OR {name} IS NULL)", [value]
        else:
            after, after_params = f"{name} > {mark}", [value]
        if after:
            alternatives.append("(" + " AND ".join([*equal, after]) + ")")
            params += [*equal_params, *after_params]
        equal.append(f"{name} IS NULL" if value is None else f"{name} = {mark}")
        equal_params += [] if value is None else [value]
    return "(" + (" OR ".join(alternatives) or "0 = 1") + ")", params


def to_sql(query: Query, table: str, mark: str = "?") -> tuple[str, list]:
    """The query as one parameterised SELECT of the selected and the order columns, limit + 1 rows."""
    wanted = list(query.selected) + [c for c, _ in query.order if c not in query.selected]
    clauses: list[str] = []
    params: list = []
    for condition in query.where:
        name = condition.column.quoted
        if len(condition.values) > 1:
            clauses.append(f"{name} IN ({', '.join([mark] * len(condition.values))})")
        else:
            clauses.append(f"{name} {OPERATORS[condition.operator]} {mark}")
        params += condition.values
    if query.after is not None:
        clause, after_params = _after(query, mark)
        clauses.append(clause)
        params += after_params
    order = ", ".join(
        f"{c.quoted} DESC NULLS LAST" if desc else f"{c.quoted} ASC NULLS FIRST" for c, desc in query.order
    )
    quoted_table = '"' + table.replace('"', '""') + '"'
    sql = (
        f"SELECT {', '.join(c.quoted for c in wanted)} FROM {quoted_table}"
        + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        + f" ORDER BY {order} LIMIT {query.limit + 1}"
    )
    return sql, params


def page(query: Query, rows: list[tuple]) -> tuple[list[dict], str | None]:
    """The page's rows (selected columns only) and the cursor of the next page, if there is one."""
    names = [c.name for c in query.selected]
    wanted = list(query.selected) + [c for c, _ in query.order if c not in query.selected]
    at = {c.name: i for i, c in enumerate(wanted)}
    shown = rows[: query.limit]
    records = [dict(zip(names, row, strict=False)) for row in shown]
    if len(rows) <= query.limit:
        return records, None
    last = shown[-1]
    return records, encode_cursor(query, tuple(last[at[c.name]] for c, _ in query.order))
