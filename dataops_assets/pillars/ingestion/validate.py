"""Turns one partition's landing files into typed, de-duplicated rows plus a quarantine.

The whole check runs inside DuckDB in one pass over each file: every declared column is read as
text (CSV, JSON) or turned into text (Parquet), cast to the declared type and given the list of reasons
the row cannot land, on the way into one typed table (the text is kept only for rows with a
problem). Rows with no reason and a first-seen primary key land; every other row goes to the
quarantine with its reasons, its file and its position. Nothing is dropped silently:
rows read = rows landed + rows quarantined, and the outcome carries all three counts.

Speed (see bench/ingestion.py): the typed table is the only copy of the data, in arrival order (its
rowid), and spills to the work directory beyond a memory limit; duplicates are found with an
aggregate over the keys, and only the few duplicate rows are ranked and marked.

A file that cannot be read as a table at all (columns the source's `schema_drift` policy does not
accept, not the declared format, empty) is refused whole with a `RefusedFile` naming the file and
the problem. Columns a file adds or lacks that the policy accepts are recorded in the outcome's drift.
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import functools
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dataops_assets.sources.model import DUCKDB_TYPES, Source
from dataops_assets.sql import identifier as _q
from dataops_assets.sql import literal as _lit

if TYPE_CHECKING:  # imported where used: the code location loads without DuckDB
    import duckdb

INTEGER_TEXT = r"^\s*[+-]?[0-9]+\s*$"
DUPLICATE = "duplicate primary key (an earlier row with the same key landed)"
READER = "<reader>"  # where _load_file puts the file's reader into the checking query
# DuckDB's own memory for one validation: beyond it, the typed table and the aggregates spill to the
# work directory, so a partition's size does not set the process's peak memory.
MEMORY_LIMIT = "512MB"


class RefusedFile(ValueError):
    """A landing file that cannot be ingested at all. The message names the file and why."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass
class IngestOutcome:
    dataset: str
    partition: str | None
    files: list[str]
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    drift: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # file -> extra/missing columns

    @property
    def accounted(self) -> bool:
        return self.rows_read == self.rows_landed + self.rows_quarantined

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "partition": self.partition,
            "files": self.files,
            "rows_read": self.rows_read,
            "rows_landed": self.rows_landed,
            "rows_quarantined": self.rows_quarantined,
            "reasons": dict(self.reasons),
            "schema_drift": self.drift,
        }


# The first bytes of formats a landing file is sometimes mistaken for.
MAGIC = {b"PAR1": "a Parquet file", b"\x1f\x8b": "gzip-compressed", b"PK\x03\x04": "a zip archive"}
HEADER_LIMIT = 1 << 20  # a header line longer than this is not a header
PLAIN_SUFFIX = re.compile(r"\.[A-Za-z0-9]+")


def _sniff(path: Path, source: Source) -> bytes:
    """The file's first bytes, after refusing what is plainly not a file of the declared format."""
    with open(path, "rb") as handle:
        head = handle.read(HEADER_LIMIT)
    if not head:
        raise RefusedFile(path, "the file is empty (0 bytes)")
    for magic, what in MAGIC.items():
        if head.startswith(magic) and not (magic == b"PAR1" and source.format == "parquet"):
            raise RefusedFile(path, f"is {what}, not {source.format} as the source declares")
    if source.format == "csv" and b"\0" in head.split(b"\n", 1)[0]:
        raise RefusedFile(path, "is binary, not CSV text (a NUL byte in the first line)")
    return head


def _csv_header(path: Path, head: bytes, source: Source) -> list[str]:
    # Only the first line is decoded here: a bad byte further down is a bad row, quarantined later.
    first, newline, _ = head.partition(b"\n")
    if not newline and len(head) == HEADER_LIMIT:
        raise RefusedFile(path, f"no header line within the first {HEADER_LIMIT} bytes")
    try:
        line = first.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError:
        raise RefusedFile(path, "the header line is not valid UTF-8 text") from None
    header = next(csv.reader([line], delimiter=source.csv.delimiter, quotechar=source.csv.quote), None)
    if not header or header == [""]:
        raise RefusedFile(path, "the file has no header line")
    return [h.strip() for h in header]


def _check_columns(path: Path, found: list[str], source: Source) -> dict[str, list[str]]:
    """Refuse a file whose columns the source's drift policy does not accept; return the drift."""
    declared = source.column_names
    missing = [c for c in declared if c not in found]
    extra = [c for c in found if c not in declared]
    if len(set(found)) != len(found):
        raise RefusedFile(path, "a column name appears twice in the header")
    if missing and len(missing) == len(declared):
        raise RefusedFile(
            path,
            f"none of the declared columns is there (found {', '.join(found[:8]) or 'none'}): "
            f"is it a {source.format} file of {source.name}?",
        )
    accepting = source.schema_drift == "accept_nullable"
    refused_missing = [c for c in missing if c in source.required_columns or not accepting]
    problems = []
    if refused_missing:
        kind = "required " if accepting else ""
        problems.append(f"missing declared {kind}column(s) {', '.join(refused_missing)}")
    if extra and not accepting:
        problems.append(f"unexpected column(s) {', '.join(extra)} (schema_drift: fail)")
    if problems:
        raise RefusedFile(path, "; ".join(problems))
    return {k: v for k, v in (("extra", extra), ("missing", missing)) if v}


def _exact_path(path: Path, link: Path) -> Path:
    """A path DuckDB reads as exactly this file. DuckDB expands `*`, `?` and `[…]` in every path it is
    given, and a landing file may be named `*.csv`: a symlink with a plain name can match nothing else."""
    if PLAIN_SUFFIX.fullmatch(path.suffix):
        link = link.with_suffix(path.suffix)  # DuckDB infers compression (.gz, .zst) from it
    link.symlink_to(path.absolute())
    return link


def _load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    readable: Path,
    file_id: int,
    source: Source,
    checked_select: str,
) -> dict:
    """Append one file's records (read through `readable`, see _exact_path) to `checked` (through
    `checked_select`) and its unparseable lines to `rejected`; return its schema drift."""
    import duckdb

    head = _sniff(path, source)
    if source.format == "csv":
        header = _csv_header(path, head, source)
        drift = _check_columns(path, header, source)
        columns = "{" + ", ".join(f"{_lit(h)}: 'VARCHAR'" for h in header) + "}"
        nulls = "[" + ", ".join(_lit(v) for v in source.null_values) + "]"
        reader = (
            f"read_csv({_lit(str(readable))}, header=true, columns={columns}, delim={_lit(source.csv.delimiter)}, "
            f"quote={_lit(source.csv.quote)}, escape={_lit(source.csv.quote)}, nullstr={nulls}, "
            "strict_mode=true, store_rejects=true, rejects_table='rejects', rejects_scan='rejects_scan', "
            "auto_detect=false)"
        )
    else:
        reader = (
            f"read_parquet({_lit(str(readable))})"
            if source.format == "parquet"
            else f"read_json({_lit(str(readable))}, format='auto')"
        )
        try:
            found = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
            if source.format == "json" and found == ["json"] and "json" not in source.column_names:
                # DuckDB's name for top-level values that are not objects: nothing to map to columns.
                if con.execute(f"SELECT count(*) FROM {reader}").fetchone()[0] == 0:
                    return {}  # an empty array: no records, like a CSV with only its header
                raise RefusedFile(path, "is neither a JSON array of objects nor JSON lines of objects")
        except duckdb.Error as error:
            raise RefusedFile(
                path, f"not a readable {source.format} file ({str(error).splitlines()[0]})"
            ) from None
        drift = _check_columns(path, found, source)
        if source.format == "json":
            # Read every present column as text: mixed-type JSON values keep their own spelling.
            present = [c for c in source.column_names if c in found]
            columns = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in present) + "}"
            reader = f"read_json({_lit(str(readable))}, format='auto', columns={columns})"
    if drift.get("missing"):
        # A declared column the file lacks (accepted only as nullable drift) lands as null.
        reader = f"(SELECT *, {', '.join(f'NULL AS {_q(c)}' for c in drift['missing'])} FROM {reader})"
    try:
        con.execute(f"INSERT INTO checked {checked_select.replace(READER, reader)}", [file_id])
    except duckdb.Error as error:
        raise RefusedFile(path, f"cannot be read as {source.format}: {str(error).splitlines()[0]}") from None
    if source.format == "csv":
        con.execute(
            f"INSERT INTO rejected SELECT {file_id}, line, string_agg(DISTINCT error_type::VARCHAR || ': ' || "
            "error_message, '; '), any_value(csv_line) FROM rejects GROUP BY line"
        )
        con.execute("DROP TABLE IF EXISTS rejects; DROP TABLE IF EXISTS rejects_scan")
    return drift


def _typed(column: str, type_: str) -> str:
    target = DUCKDB_TYPES[type_]
    value = _q(column)
    if type_ in ("integer", "bigint"):
        # DuckDB rounds '1.5' to 2 when casting text to an integer: demand integer text instead.
        return (
            f"CASE WHEN regexp_matches({value}, {_lit(INTEGER_TEXT)}) THEN TRY_CAST({value} AS {target}) END"
        )
    return f"TRY_CAST({value} AS {target})"


def _checked_select(source: Source, partition: dt.date | None) -> str:
    """The query that turns one file's text columns (from READER) into `checked` rows: the file ($1),
    the typed columns, the row's problems (NULL when none) and, only for a row with a problem, its
    text as JSON. Each layer references the one below, so every cast runs once per value."""
    text, typed, failed, problems = [], [], [], []
    for i, column in enumerate(source.columns):
        name, value = _q(column.name), f"_t{i}"
        text.append(f"CAST({name} AS VARCHAR) AS {value}")
        typed.append(f"{_typed(value, column.type)} AS {name}")
        checks = [
            (
                f"{value} IS NOT NULL AND {name} IS NULL",
                f"{_lit(column.name + ': cannot read ')} || {value} || {_lit(' as ' + column.type)}",
            )
        ]
        if column.name in source.required_columns:
            checks.append((f"{value} IS NULL", _lit(column.name + ": missing required value")))
        for condition, message in checks:
            failed.append(f"({condition})")
            problems.append(f"CASE WHEN {condition} THEN {message} END")
    partition_check = "NULL"
    if partition is not None and source.partition_date is not None:
        pd = source.partition_date
        row_date = (
            f"make_date({', '.join(_q(p) for p in pd.parts)})"
            if pd.parts
            else f"CAST({_q(pd.column)} AS DATE)"
        )
        partition_check = (
            f"CASE WHEN {row_date} <> DATE {_lit(partition.isoformat())} THEN "
            f"'event date ' || CAST({row_date} AS VARCHAR) || ' is outside partition {partition}' END"
        )
    raw = ", ".join(f"{_q(c.name)} := _t{i}" for i, c in enumerate(source.columns))
    # Every column is cast from its text (Parquet's typed values are cast to text first; CSV and JSON
    # are read as text): one set of casts and checks serves every format.
    # A row's first problem wins: the partition is checked only on rows that read cleanly.
    return (
        f"SELECT $1, {', '.join(_q(c) for c in source.column_names)}, _problem, "
        f"CASE WHEN _problem IS NOT NULL THEN CAST(to_json(struct_pack({raw})) AS VARCHAR) END "
        f"FROM (SELECT *, CASE WHEN _failed THEN concat_ws('; ', {', '.join(problems)}) ELSE {partition_check} END "
        "AS _problem "
        # Nearly every row passes: a cheap test first, the messages only for rows that fail it.
        f"FROM (SELECT *, {' OR '.join(failed)} AS _failed "
        f"FROM (SELECT *, {', '.join(typed)} FROM (SELECT {', '.join(text)} FROM {READER}))))"
    )


def _mark_duplicates(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Quarantine every clean row whose key an earlier clean row (lower rowid: earlier file, then
    earlier record) already has. A bad row never makes a good one a duplicate."""
    keys = ", ".join(_q(k) for k in source.primary_key)
    as_text = ", ".join(f"{_q(c)} := CAST({_q(c)} AS VARCHAR)" for c in source.column_names)
    con.execute(
        f"UPDATE checked SET _problem = {_lit(DUPLICATE)}, _raw = CAST(to_json(struct_pack({as_text})) AS VARCHAR) "
        "WHERE rowid IN (SELECT id FROM (SELECT c.rowid AS id, "
        f"row_number() OVER (PARTITION BY {keys} ORDER BY c.rowid) AS seen FROM checked c SEMI JOIN ("
        f"SELECT {keys} FROM checked WHERE _problem IS NULL GROUP BY ALL HAVING count(*) > 1"
        f") USING ({keys}) WHERE c._problem IS NULL) WHERE seen > 1)"
    )


@functools.cache
def _database(pid: int) -> duckdb.DuckDBPyConnection:
    """This process's DuckDB for validation (per pid: a forked child opens its own). Opening one costs
    ~40 ms and a cursor on it nothing, and a backfill validates two datasets for every day."""
    import duckdb

    spill = tempfile.mkdtemp(prefix="dataops-validate-")
    atexit.register(shutil.rmtree, spill, True)
    return duckdb.connect(
        config={
            "memory_limit": MEMORY_LIMIT,
            "temp_directory": spill,
            # rowid is arrival order only while inserts keep the file's order.
            "preserve_insertion_order": True,
        }
    )


def validate_partition(
    source: Source,
    files: list[Path],
    partition: dt.date | None,
    landed_path: Path,
    quarantine_path: Path,
    file_names: list[str] | None = None,
) -> IngestOutcome:
    """Validate `files` for `partition` and write the landed rows and the quarantine as Parquet.

    `file_names` are how the quarantine and the outcome name the files (default: their paths).
    Landed rows keep their arrival order (file, then record), so the same input always gives
    byte-identical Parquet.
    """
    names = file_names or [str(f) for f in files]
    outcome = IngestOutcome(source.name, partition.isoformat() if partition else None, names)
    landed_path.parent.mkdir(parents=True, exist_ok=True)
    quarantine_path.parent.mkdir(parents=True, exist_ok=True)
    # A cursor on this process's DuckDB: its temp tables are its own and go when it closes.
    con = _database(os.getpid()).cursor()
    links = Path(tempfile.mkdtemp(prefix="dataops-landing-"))
    try:
        typed_cols = ", ".join(f"{_q(c.name)} {DUCKDB_TYPES[c.type]}" for c in source.columns)
        con.execute(
            f"CREATE TEMP TABLE checked (_file INTEGER, {typed_cols}, _problem VARCHAR, _raw VARCHAR)"
        )
        con.execute("CREATE TEMP TABLE rejected (_file INTEGER, _line BIGINT, reason VARCHAR, raw VARCHAR)")
        checked_select = _checked_select(source, partition)
        starts = []  # the rowid of each file's first record
        for file_id, path in enumerate(files):
            (start,) = con.execute("SELECT count(*) FROM checked").fetchone()
            starts.append(start)
            readable = _exact_path(path, links / str(file_id))
            drift = _load_file(con, path, readable, file_id, source, checked_select)
            if drift:
                outcome.drift[names[file_id]] = drift
        (read_ok,) = con.execute("SELECT count(*) FROM checked").fetchone()
        _mark_duplicates(con, source)

        cols = ", ".join(_q(c) for c in source.column_names)
        (outcome.rows_landed,) = con.execute(
            f"COPY (SELECT {cols} FROM checked WHERE _problem IS NULL) "
            f"TO {_lit(str(landed_path))} (FORMAT parquet, COMPRESSION zstd)"
        ).fetchone()
        file_list = "[" + ", ".join(_lit(n) for n in names) + "]"
        con.execute(
            f"COPY (SELECT {file_list}[_file + 1] AS source_file, "
            f"rowid - [{', '.join(map(str, starts))}][_file + 1] + 1 AS record, NULL::BIGINT AS line, "
            "_problem AS reason, _raw AS raw FROM checked WHERE _problem IS NOT NULL "
            f"UNION ALL SELECT {file_list}[_file + 1], NULL, _line, reason, raw FROM rejected "
            f"ORDER BY source_file, record NULLS LAST, line) TO {_lit(str(quarantine_path))} (FORMAT parquet)"
        )
        (read_bad,) = con.execute("SELECT count(*) FROM rejected").fetchone()
        outcome.rows_read = read_ok + read_bad
        for reason, n in con.execute(
            f"SELECT reason, count(*) FROM read_parquet({_lit(str(quarantine_path))}) GROUP BY ALL"
        ).fetchall():
            outcome.reasons[_reason_kind(reason)] += n
            outcome.rows_quarantined += n
    finally:
        con.close()
        shutil.rmtree(links, ignore_errors=True)
    return outcome


def _reason_kind(reason: str) -> str:
    """A short class for a reason, for counts: 'arr_delay: cannot read ...' -> 'arr_delay: cannot read'."""
    first = reason.split(";")[0]
    for marker in (": cannot read", ": missing required value"):
        if marker in first:
            return first.split(marker)[0] + marker
    if first.startswith("event date"):
        return "event date outside partition"
    return first.split(":")[0].strip()
