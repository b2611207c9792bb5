"""`dataops source infer`: a complete source declaration drafted from a sample file.

DuckDB's sniffer finds the CSV dialect; every column is then read as text and typed here, so that a
type is only proposed when every value of the sample reads as it the way ingestion will read it
(strictly: '1.5' is not an integer, '31/02/2024' is not a date). Dates and timestamps in other
spellings than ISO get a `format:`; yes/no booleans get `true_values`/`false_values`; headers that
are not safe identifiers get a safe `name:` with `from:` the header; column combinations that are
unique and never empty in the sample are offered as keys.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from dataops_assets.names import SAFE_NAME
from dataops_assets.refused import column_list, quiet
from dataops_assets.sources.model import DATE_TYPES, file_name_key
from dataops_assets.sql import exact_path
from dataops_assets.sql import identifier as _ident
from dataops_assets.sql import literal as _lit

if TYPE_CHECKING:
    import duckdb

SAMPLE_ROWS = 100_000
# Spellings of "no value" seen in exports; a column's type is read over the other values.
NULL_TOKENS = ("NA", "N/A", "n/a", "NULL", "null", "None", "-", "NaN", "nan", "#N/A")
INTEGER = r"^\s*[+-]?[0-9]+\s*$"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
ISO_TIMESTAMPTZ = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
DAY_FIRST = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d %b %Y", "%d %B %Y")
MONTH_FIRST = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%b %d %Y", "%B %d %Y")
DATE_FORMATS = ("%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", *DAY_FIRST, *MONTH_FIRST)
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H:%M:%S.%f", "%I:%M %p", "%I:%M:%S %p")
BOOLEAN_WORDS = (("true", "false"), ("t", "f"), ("yes", "no"), ("y", "n"))
MAX_KEY_COLUMNS = 14  # combinations are tried over at most this many (non-double) columns


class CannotInfer(ValueError):
    """The sample cannot be drafted from; the message says why in one line."""


@dataclass
class Inferred:
    header: str  # the column's name in the file
    name: str  # its safe name
    type: str
    format: str | None = None
    true_values: tuple[str, ...] | None = None
    false_values: tuple[str, ...] | None = None
    nulls: int = 0
    notes: list[str] = field(default_factory=list)


def safe_name(header: str, position: int) -> str:
    """A safe identifier for a header: ASCII, lower case, `_` between words, a letter first."""
    ascii_text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", ascii_text).lower())
    name = "_".join(words)
    if not name:
        return f"column_{position + 1}"
    if not name[0].isalpha():
        name = f"col_{name}"
    return name[:63].rstrip("_")


def safe_names(headers: list[str]) -> list[str]:
    """Safe, distinct names for a header row: a name taken already gets _2, _3, …"""
    names: list[str] = []
    for position, header in enumerate(headers):
        base = safe_name(header, position)
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base[: 63 - len(str(n)) - 1]}_{n}"
        names.append(name)
    return names


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".json", ".jsonl", ".ndjson"):
        return "json"
    if suffix == ".parquet":
        return "parquet"
    raise CannotInfer(
        f"{path}: cannot tell the format from {suffix or 'no suffix'!r} (.csv, .json or .parquet)"
    )


def _csv_dialect(con: duckdb.DuckDBPyConnection, path: Path, readable: Path) -> tuple[str, str, list[str]]:
    """(delimiter, quote, header) of a CSV file, the header read as ingestion reads it; DuckDB reads
    `readable`, the path naming the file exactly."""
    import duckdb

    try:
        delimiter, quote, has_header = con.execute(
            f"SELECT Delimiter, Quote, HasHeader FROM sniff_csv({_lit(str(readable))})"
        ).fetchone()
    except duckdb.Error as error:
        raise CannotInfer(f"{path}: not a CSV file DuckDB can read ({quiet(error)})") from None
    quote = '"' if quote in ("(empty)", "") else quote
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle, delimiter=delimiter, quotechar=quote), [])
    header = [file_name_key(h) for h in header]
    if not has_header or not header:
        raise CannotInfer(f"{path}: no header line (a source's files need one, naming the columns)")
    if "" in header:
        raise CannotInfer(
            f"{path}: column {header.index('') + 1} of the header has no name: ingestion cannot match it"
        )
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise CannotInfer(
            f"{path}: the header names {', '.join(map(repr, twice))} twice: ingestion refuses such files"
        )
    return delimiter, quote, header


def _load_sample(
    con: duckdb.DuckDBPyConnection, path: Path, readable: Path, kind: str
) -> tuple[list[str], dict]:
    """The sample as table `sample` of text columns c0, c1, …; the headers and the CSV options.
    DuckDB reads `readable`, the path naming the file exactly; messages name `path`."""
    import duckdb

    options: dict = {}
    if kind == "csv":
        delimiter, quote, headers = _csv_dialect(con, path, readable)
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(headers))) + "}"
        reader = (
            f"read_csv({_lit(str(readable))}, header=true, columns={columns}, delim={_lit(delimiter)}, "
            f"quote={_lit(quote)}, escape={_lit(quote)}, auto_detect=false, ignore_errors=true)"
        )
        if delimiter != ",":
            options["delimiter"] = delimiter
    else:
        source = (
            f"read_json({_lit(str(readable))}, format='auto')"
            if kind == "json"
            else f"read_parquet({_lit(str(readable))})"
        )
        try:
            headers = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        except duckdb.Error as error:
            raise CannotInfer(f"{path}: not a {kind} file DuckDB can read ({quiet(error)})") from None
        text = ", ".join(f"CAST({_ident(h)} AS VARCHAR) AS c{i}" for i, h in enumerate(headers))
        reader = f"(SELECT {text} FROM {source})"
    con.execute(f"CREATE TABLE sample AS SELECT * FROM {reader} LIMIT {SAMPLE_ROWS}")
    return headers, options


def _not_a_value(nulls: list[str], value: str = "v") -> str:
    """SQL: `value` is empty or one of the null spellings."""
    return f"({value} IS NULL OR {value} IN ({', '.join(_lit(t) for t in ['', *nulls])}))"


def _all(con: duckdb.DuckDBPyConnection, column: str, condition: str, nulls: list[str]) -> bool:
    """Whether every value of the column that is not empty or a null token meets `condition` (on `v`)."""
    (bad,) = con.execute(
        f"SELECT count(*) FROM (SELECT trim({column}) AS v FROM sample) "
        f"WHERE NOT {_not_a_value(nulls)} AND NOT coalesce({condition}, false)"
    ).fetchone()
    return bad == 0


def _parses(con, column: str, format: str, nulls: list[str]) -> bool:
    return _all(con, column, f"try_strptime(v, {_lit(format)}) IS NOT NULL", nulls)


def _temporal(con, column: str, nulls: list[str]) -> tuple[str, str | None, list[str]] | None:
    """(type, format, notes) if every value is one date or timestamp spelling."""
    if _all(con, column, f"regexp_matches(v, {_lit(ISO_DATE)}) AND TRY_CAST(v AS DATE) IS NOT NULL", nulls):
        return "date", None, []
    if _all(
        con,
        column,
        f"regexp_matches(v, {_lit(ISO_TIMESTAMP)}) AND TRY_CAST(v AS TIMESTAMP) IS NOT NULL",
        nulls,
    ):
        return "timestamp", None, []
    if _all(
        con,
        column,
        f"regexp_matches(v, {_lit(ISO_TIMESTAMPTZ)}) AND TRY_CAST(v AS TIMESTAMPTZ) IS NOT NULL",
        nulls,
    ):
        return "timestamptz", None, []
    first = con.execute(
        f"SELECT v FROM (SELECT trim({column}) AS v FROM sample) WHERE NOT {_not_a_value(nulls)} LIMIT 1"
    ).fetchone()
    for date_format in DATE_FORMATS:
        formats = [date_format] + [f"{date_format} {t}" for t in TIME_FORMATS]
        formats += [f"{f}%z" for f in formats[1:]] + [f"{f} %z" for f in formats[1:]]
        for format in formats:
            # One value first (cheap), then the whole column.
            (fits,) = con.execute("SELECT try_strptime(?, ?) IS NOT NULL", [first[0], format]).fetchone()
            if not fits or not _parses(con, column, format, nulls):
                continue
            notes = []
            swapped = _swapped(format)
            if swapped and _parses(con, column, swapped, nulls):
                notes.append(f"every value also reads as {swapped}: check which the file means")
            kind = (
                "timestamptz"
                if "%z" in format
                else "timestamp"
                if "%H" in format or "%I" in format
                else "date"
            )
            return kind, format, notes
    return None


def _swapped(format: str) -> str | None:
    """The format with day and month swapped, when both read numbers (an ambiguous spelling)."""
    if "%d" in format and "%m" in format:
        return format.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
    return None


def _boolean(con, column: str, nulls: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]] | None | bool:
    """True when DuckDB reads the values as booleans as they are; (true, false) spellings when they
    are yes/no words it does not; None when they are not booleans."""
    values = [
        v
        for (v,) in con.execute(
            f"SELECT DISTINCT v FROM (SELECT trim({column}) AS v FROM sample) WHERE NOT {_not_a_value(nulls)} LIMIT 10"
        ).fetchall()
    ]
    if not values or len(values) > 4:
        return None
    for true_word, false_word in BOOLEAN_WORDS:
        if all(v.lower() in (true_word, false_word) for v in values):
            if true_word in ("true", "t"):
                return True
            # A word the sample lacks is spelled in the case of the ones it has.
            case = str.upper if all(v.isupper() for v in values) else str.lower
            return (
                tuple(sorted(v for v in values if v.lower() == true_word)) or (case(true_word),),
                tuple(sorted(v for v in values if v.lower() == false_word)) or (case(false_word),),
            )
    return None


def _type_of(con, column: str, header: str, name: str, nulls: list[str]) -> Inferred:
    found = Inferred(header, name, "string")
    (found.nulls,) = con.execute(
        f"SELECT count(*) FROM (SELECT trim({column}) AS v FROM sample) WHERE {_not_a_value(nulls)}"
    ).fetchone()
    (total,) = con.execute("SELECT count(*) FROM sample").fetchone()
    if found.nulls == total:
        found.notes.append("empty in the whole sample: typed string")
        return found
    boolean = _boolean(con, column, nulls)
    if boolean is True:
        found.type = "boolean"
    elif boolean:
        found.type, (found.true_values, found.false_values) = "boolean", boolean  # type: ignore[misc]
    elif _all(con, column, f"regexp_matches(v, {_lit(INTEGER)})", nulls):
        fits = _all(con, column, "TRY_CAST(v AS INTEGER) IS NOT NULL", nulls)
        found.type = "integer" if fits else "bigint"
        if not fits and not _all(con, column, "TRY_CAST(v AS BIGINT) IS NOT NULL", nulls):
            found.type = "string"
            found.notes.append("whole numbers beyond 64 bits: typed string")
    elif _all(con, column, "TRY_CAST(v AS DOUBLE) IS NOT NULL", nulls):
        found.type = "double"
    elif temporal := _temporal(con, column, nulls):
        found.type, found.format, found.notes = temporal
    return found


def _null_tokens(con, count: int) -> list[str]:
    """The null spellings the sample holds as whole values of some column."""
    tokens = ", ".join(_lit(t) for t in NULL_TOKENS)
    found = set()
    for i in range(count):
        found |= {
            t
            for (t,) in con.execute(
                f"SELECT DISTINCT trim(c{i}) FROM sample WHERE trim(c{i}) IN ({tokens})"
            ).fetchall()
        }
    return [t for t in NULL_TOKENS if t in found]


def _key_candidates(con, columns: list[Inferred], partition: str | None) -> list[list[str]]:
    """Column combinations unique and never empty in the sample: fewest columns first, the partition
    date column first among equals."""
    import itertools

    usable = [i for i, c in enumerate(columns) if c.type != "double" and c.nulls == 0]
    usable.sort(key=lambda i: columns[i].name != partition)
    usable = usable[:MAX_KEY_COLUMNS]
    (total,) = con.execute("SELECT count(*) FROM sample").fetchone()
    found: list[list[str]] = []
    for size in (1, 2, 3):
        for combination in itertools.combinations(usable, size):
            if any(set(k) <= {columns[i].name for i in combination} for k in found):
                continue  # a smaller key inside it already identifies the rows
            row = ", ".join(f"c{i}" for i in combination)
            (distinct,) = con.execute(f"SELECT count(DISTINCT ({row})) FROM sample").fetchone()
            if distinct == total:
                found.append([columns[i].name for i in combination])
        if found:
            break
    found.sort(key=lambda k: (partition not in k, len(k)))
    return found[:5]


def _plain(value: str) -> str:
    """`value` as a YAML scalar that reads back as this string ('null', 'no', '1e3' are quoted)."""
    return value if yaml.safe_load(value) == value else json.dumps(value)


def _column_line(column: Inferred) -> str:
    parts = [f"name: {_plain(column.name)}"]
    if column.header != column.name:
        parts.append(f"from: {json.dumps(column.header, ensure_ascii=False)}")
    parts.append(f"type: {column.type}")
    if column.format:
        parts.append(f"format: {json.dumps(column.format)}")
    if column.true_values:
        parts.append(f"true_values: {json.dumps(list(column.true_values))}")
        parts.append(f"false_values: {json.dumps(list(column.false_values or ()))}")
    line = "  - {" + ", ".join(parts) + "}"
    return line + (f"  # {'; '.join(column.notes)}" if column.notes else "")


def _find(columns: list[Inferred], wanted: str) -> Inferred:
    for match in (
        lambda c: c.header == file_name_key(wanted),
        lambda c: c.name == wanted,
        lambda c: c.header.lower() == wanted.strip().lower(),
    ):
        hits = [c for c in columns if match(c)]
        if hits:
            return hits[0]
    raise CannotInfer(
        f"--partition-date {wanted!r} is not a column of the file (it has: {column_list([c.header for c in columns], most=50)})"
    )


def infer_source(path: Path, name: str, partition_date: str | None = None) -> str:
    """The YAML of a source named `name` whose landing files look like `path`."""
    import duckdb

    if not SAFE_NAME.fullmatch(name):
        raise CannotInfer(f"--name {name!r}: use lower-case letters, digits and _, starting with a letter")
    if not path.is_file():
        raise CannotInfer(f"{path}: no such file")
    kind = _format_of(path)
    con = duckdb.connect()
    try:
        # A file named `*.csv` is read as itself, never as a glob over its neighbours.
        with exact_path(path) as readable:
            headers, csv_options = _load_sample(con, path, readable, kind)
        (rows,) = con.execute("SELECT count(*) FROM sample").fetchone()
        if rows == 0:
            raise CannotInfer(f"{path}: no rows to infer types from")
        nulls = _null_tokens(con, len(headers))
        names = safe_names(headers)
        columns = [
            _type_of(con, f"c{i}", h, n, nulls) for i, (h, n) in enumerate(zip(headers, names, strict=True))
        ]
        partition = _find(columns, partition_date) if partition_date else None
        if partition and partition.type not in DATE_TYPES:
            raise CannotInfer(
                f"--partition-date {partition_date!r}: its values are not all dates or timestamps in one "
                "spelling, so it cannot give each row its day"
            )
        keys = _key_candidates(con, columns, partition.name if partition else None)
        first_day = None
        if partition:
            i = columns.index(partition)
            parse = (
                f"try_strptime(trim(c{i}), {_lit(partition.format)})"
                if partition.format
                else f"TRY_CAST(trim(c{i}) AS {partition.type.upper()})"
            )
            (first_day,) = con.execute(f"SELECT min(CAST({parse} AS DATE)) FROM sample").fetchone()
    finally:
        con.close()
    return _render(path, name, kind, csv_options, nulls, columns, partition, keys, first_day, rows)


def _render(path, name, kind, csv_options, nulls, columns, partition, keys, first_day, rows) -> str:
    suffix = path.suffix.lower()
    command = f"dataops source infer {path.name} --name {name}"
    if partition:
        command += f" --partition-date {shlex.quote(partition.header)}"
    lines = [
        f"# Drafted by `{command}` from {rows:,} row(s).",
        f"# Check the types, the key and the description, then save it as sources/{name}.yaml.",
        f"name: {name}",
        f"description: {json.dumps(f'{name}, as in {path.name}', ensure_ascii=False)}",
        f"format: {kind}",
    ]
    if partition:
        lines += [
            "partitioning: daily",
            "# Each file may hold many days: its rows go to the day their partition date gives.",
            f'landing: "{name}/*{suffix}"',
            f"partition_date: {{column: {_plain(partition.name)}}}",
        ]
        if partition.type != "date":
            lines.append(f"event_time: {_plain(partition.name)}")
        lines += [
            "# The first day of the sample: days before it are not expected (nothing to land, no failure).",
            f"start: {first_day}",
            "# A day inside the span without data fails the run naming it; `empty` publishes it empty.",
            "missing: fail",
        ]
    else:
        lines += [
            "# Without --partition-date: a table replaced as a whole by each new file (a dimension).",
            "partitioning: none",
            f'landing: "{name}/*{suffix}"',
        ]
    lines.append(f"null_values: {json.dumps(['', *nulls])}")
    if csv_options:
        lines.append(f"csv: {json.dumps(csv_options)}")
    if keys:
        lines.append(
            f"# Key candidates (unique and never empty in the sample): {', '.join('[' + ', '.join(k) + ']' for k in keys)}"
        )
        key = keys[0]
    else:
        lines.append(
            "# No column combination is unique in the sample: every column is the key (identical rows are duplicates)."
        )
        key = [c.name for c in columns]
    lines.append(f"primary_key: [{', '.join(map(_plain, key))}]")
    lines.append("columns:")
    lines += [_column_line(c) for c in columns]
    return "\n".join(lines) + "\n"
