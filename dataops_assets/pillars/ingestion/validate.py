"""Turns one partition's landing files into typed, de-duplicated rows plus a quarantine.

The check is one query in DuckDB (the checking query), one pass over each file: every declared
column is read as text (CSV, JSON) or turned into text (Parquet), cast to the declared type and given
the list of reasons the row cannot land, on the way into one typed table (the text is kept only for
rows with a problem). Plain CSV files take a faster way to the same result (plain_csv.py): polars
reads and casts them, and only the rows it cannot read cleanly go through the checking query. Rows with no reason and a first-seen primary key land; every other row goes to the
quarantine with its reasons, its file and its position. Nothing is dropped silently:
rows read = rows landed + rows quarantined, and the outcome carries all three counts.

Speed (see bench/ingestion.py): in DuckDB the typed table is the only copy of the data, in arrival
order (its rowid), and spills to the work directory beyond a memory limit; duplicates are found with
an aggregate over the keys, and only the few duplicate rows are ranked and marked.

A file that cannot be read as a table at all (columns the source's `schema_drift` policy does not
accept, not the declared format, empty) is refused whole with a `RefusedFile` naming the file and
the problem. Columns a file adds or lacks that the policy accepts are recorded in the outcome's drift.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import datetime as dt
import functools
import itertools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dataops_assets.pillars.ingestion import plain_csv
from dataops_assets.pillars.ingestion.held_rows import HeldRows
from dataops_assets.refused import RefusedFile, column_list, quiet
from dataops_assets.sources.model import DUCKDB_TYPES, Column, Source, file_name_key
from dataops_assets.sql import exact_path
from dataops_assets.sql import identifier as _q
from dataops_assets.sql import literal as _lit

if TYPE_CHECKING:  # imported where used: the code location loads without DuckDB or polars
    import duckdb
    import polars as pl

INTEGER_TEXT = r"^\s*[+-]?[0-9]+\s*$"
DUPLICATE = "duplicate primary key (an earlier row with the same key landed)"
READER = "<reader>"  # where _load_file puts the file's reader into the checking query
# DuckDB's own memory for one validation: beyond it, the typed table and the aggregates spill to the
# work directory, so a partition's size does not set the process's peak memory.
MEMORY_LIMIT = "512MB"
ROW_GROUP_ROWS = 122_880  # rows per Parquet row group written (DuckDB's own default: 60 vectors)


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
    versions: dict[str, str] = field(default_factory=dict)  # file -> sha256, for files holding many days

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
        } | ({"file_sha256": self.versions} if self.versions else {})


# The first bytes of formats a landing file is sometimes mistaken for.
MAGIC = {b"PAR1": "a Parquet file", b"\x1f\x8b": "gzip-compressed", b"PK\x03\x04": "a zip archive"}
HEADER_LIMIT = 1 << 20  # a header line longer than this is not a header


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
    return [file_name_key(h) for h in header]


def _check_columns(path: Path, found: list[str], source: Source) -> dict[str, list[str]]:
    """Refuse a file whose columns the source's drift policy does not accept; return the drift."""
    declared = {c.in_file: c for c in source.columns}
    missing = [c for c in source.columns if c.in_file not in found]
    extra = [c for c in found if c not in declared]
    if len(set(found)) != len(found):
        raise RefusedFile(path, "a column name appears twice in the header")
    if missing and len(missing) == len(declared):
        raise RefusedFile(
            path,
            f"none of the declared columns is there (found {column_list(found) or 'none'}): "
            f"is it a {source.format} file of {source.name}?",
        )
    accepting = source.schema_drift == "accept_nullable"
    refused_missing = [c.label for c in missing if c.name in source.required_columns or not accepting]
    problems = []
    if refused_missing:
        kind = "required " if accepting else ""
        problems.append(f"missing declared {kind}column(s) {', '.join(refused_missing)}")
    if extra and not accepting:
        problems.append(f"unexpected column(s) {column_list(extra)} (schema_drift: fail)")
    if problems:
        raise RefusedFile(path, "; ".join(problems))
    return {k: v for k, v in (("extra", extra), ("missing", [c.in_file for c in missing])) if v}


def _load_file(
    con: duckdb.DuckDBPyConnection, path: Path, file_id: int, source: Source, checked_select: str
) -> dict:
    """Append one file's records to `checked` (through `checked_select`) and its unparseable lines
    to `rejected`, reading it through a path that names it exactly; return its schema drift."""
    with exact_path(path) as readable:
        return _load_exactly(con, path, readable, file_id, source, checked_select)


def _load_exactly(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    readable: Path,
    file_id: int,
    source: Source,
    checked_select: str,
) -> dict:
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
            raise RefusedFile(path, f"not a readable {source.format} file ({quiet(error)})") from None
        drift = _check_columns(path, found, source)
        if source.format == "json":
            # Read every present column as text: mixed-type JSON values keep their own spelling.
            present = [c.in_file for c in source.columns if c.in_file in found]
            columns = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in present) + "}"
            reader = f"read_json({_lit(str(readable))}, format='auto', columns={columns})"
    if drift.get("missing"):
        # A declared column the file lacks (accepted only as nullable drift) lands as null.
        reader = f"(SELECT *, {', '.join(f'NULL AS {_q(c)}' for c in drift['missing'])} FROM {reader})"
    try:
        # The file's number is written into the query, not passed as a parameter: DuckDB imports
        # pandas (~0.5 s) the first time a query takes Python parameters.
        con.execute(
            f"INSERT INTO checked SELECT {int(file_id)}, * FROM ({checked_select.replace(READER, reader)})"
        )
    except duckdb.Error as error:
        raise RefusedFile(path, f"cannot be read as {source.format}: {quiet(error)}") from None
    if source.format == "csv":
        con.execute(
            f"INSERT INTO rejected SELECT {file_id}, line, string_agg(DISTINCT error_type::VARCHAR || ': ' || "
            "error_message, '; '), any_value(csv_line) FROM rejects GROUP BY line"
        )
        con.execute("DROP TABLE IF EXISTS rejects; DROP TABLE IF EXISTS rejects_scan")
    return drift


def _list(values: tuple[str, ...]) -> str:
    return ", ".join(_lit(v) for v in values)


def _typed(value: str, column: Column) -> str:
    """Text `value` read as the column's type: NULL when it cannot be (the row is then quarantined)."""
    target = DUCKDB_TYPES[column.type]
    if column.type in ("integer", "bigint"):
        # DuckDB rounds '1.5' to 2 when casting text to an integer: demand integer text instead.
        return (
            f"CASE WHEN regexp_matches({value}, {_lit(INTEGER_TEXT)}) THEN TRY_CAST({value} AS {target}) END"
        )
    if column.format is not None:
        return f"TRY_CAST(TRY_STRPTIME(trim({value}), {_lit(column.format)}) AS {target})"
    if column.true_values is not None and column.false_values is not None:
        return (
            f"CASE WHEN trim({value}) IN ({_list(column.true_values)}) THEN true "
            f"WHEN trim({value}) IN ({_list(column.false_values)}) THEN false END"
        )
    return f"TRY_CAST({value} AS {target})"


def _read_as(column: Column) -> str:
    """How a reason says what a value was read as: the type, and the declared spelling if any."""
    if column.format is not None:
        return f" as {column.type} (format {column.format})"
    if column.true_values is not None and column.false_values is not None:
        return f" as boolean (true: {', '.join(column.true_values)}; false: {', '.join(column.false_values)})"
    return f" as {column.type}"


def _row_date(source: Source) -> str:
    """A row's partition date from its typed columns; NULL when they do not make a date."""
    pd = source.partition_date
    assert pd is not None
    if pd.parts:
        return f"try(make_date({', '.join(_q(p) for p in pd.parts)}))"
    return f"CAST({_q(pd.column)} AS DATE)"  # type: ignore[arg-type]


def _checked_select(source: Source, partition: dt.date | None, route: bool = False) -> str:
    """The query that turns one file's text columns (from READER) into `checked` rows, but for the
    file's number, which the caller puts first: the typed columns, the row's problems (NULL when
    none) and, only for a row with a problem, its text as JSON keyed by the file's column names.
    With `route`, each row also gets its partition date (`_day`), for files holding many days. Each
    layer references the one below, so every cast runs once per value."""
    text, typed, failed, problems = [], [], [], []
    for i, column in enumerate(source.columns):
        name, value = _q(column.name), f"_t{i}"
        text.append(f"CAST({_q(column.in_file)} AS VARCHAR) AS {value}")
        typed.append(f"{_typed(value, column)} AS {name}")
        checks = [
            (
                f"{value} IS NOT NULL AND {name} IS NULL",
                f"{_lit(column.label + ': cannot read ')} || {value} || {_lit(_read_as(column))}",
            )
        ]
        if column.name in source.required_columns:
            checks.append((f"{value} IS NULL", _lit(column.label + ": missing required value")))
        for condition, message in checks:
            failed.append(f"({condition})")
            problems.append(f"CASE WHEN {condition} THEN {message} END")
    partition_check = day = "NULL"
    if source.partition_date is not None and (partition is not None or route):
        row_date = _row_date(source)
        not_a_date = _lit(f"partition date: {'/'.join(source.partition_date.columns)} do not make a date")
        on_the_day = "NULL"
        if partition is not None:
            on_the_day = (
                f"CASE WHEN {row_date} <> DATE {_lit(partition.isoformat())} THEN "
                f"'event date ' || CAST({row_date} AS VARCHAR) || ' is outside partition {partition}' END"
            )
        partition_check = f"CASE WHEN {row_date} IS NULL THEN {not_a_date} ELSE {on_the_day} END"
        day = row_date
    raw = ", ".join(f"{_q(c.in_file)} := _t{i}" for i, c in enumerate(source.columns))
    # Every column is cast from its text (Parquet's typed values are cast to text first; CSV and JSON
    # are read as text): one set of casts and checks serves every format.
    # A row's first problem wins: the partition is checked only on rows that read cleanly.
    return (
        f"SELECT {', '.join(_q(c) for c in source.column_names)}, _problem, "
        f"CASE WHEN _problem IS NOT NULL THEN CAST(to_json(struct_pack({raw})) AS VARCHAR) END"
        + (f", {day}" if route else "")
        + " FROM (SELECT *, CASE WHEN _failed THEN concat_ws('; ', "
        f"{', '.join(problems)}) ELSE {partition_check} END AS _problem "
        # Nearly every row passes: a cheap test first, the messages only for rows that fail it.
        f"FROM (SELECT *, {' OR '.join(failed)} AS _failed "
        f"FROM (SELECT *, {', '.join(typed)} FROM (SELECT {', '.join(text)} FROM {READER}))))"
    )


def _mark_duplicates(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Quarantine every clean row whose key an earlier clean row (lower rowid: earlier file, then
    earlier record) already has. A bad row never makes a good one a duplicate."""
    keys = ", ".join(_q(k) for k in source.primary_key)
    as_text = ", ".join(f"{_q(c.in_file)} := CAST({_q(c.name)} AS VARCHAR)" for c in source.columns)
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


@contextlib.contextmanager
def _checking(source: Source, extra_columns: str = "") -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor with empty `checked` (the typed rows, their problems and `extra_columns`) and
    `rejected` (lines the reader could not split) tables: its temp tables go when it closes."""
    con = _database(os.getpid()).cursor()
    try:
        typed_cols = ", ".join(f"{_q(c.name)} {DUCKDB_TYPES[c.type]}" for c in source.columns)
        con.execute(
            f"CREATE TEMP TABLE checked (_file INTEGER, {typed_cols}, _problem VARCHAR, _raw VARCHAR"
            f"{extra_columns})"
        )
        con.execute("CREATE TEMP TABLE rejected (_file INTEGER, _line BIGINT, reason VARCHAR, raw VARCHAR)")
        yield con
    finally:
        con.close()


def _write_parquet(
    con: duckdb.DuckDBPyConnection, query: str, path: Path, compression: str = "snappy"
) -> int:
    """Write `query`'s rows to Parquet at `path`, a row group every ROW_GROUP_ROWS rows; return how many.

    DuckDB's own writer ends a row group where a vector or (on several threads) a thread's batch
    ends, and both depend on the thread count: the same rows written on 2 and on 16 threads would
    get different bytes, and a content address (the sha256 of the staged file) would depend on the
    machine. DuckDB hands the rows over as Arrow batches of exactly ROW_GROUP_ROWS rows, and Arrow's
    writer makes each batch one row group.

    Each batch is encoded on a second thread while DuckDB produces the next one (both release the
    GIL): the same batches reach the writer in the same order, so the bytes are the same as on one
    thread, and at most one batch waits to be encoded.
    """
    import pyarrow.parquet as pq

    batches = con.execute(query).fetch_record_batch(ROW_GROUP_ROWS)
    rows = 0
    with (
        pq.ParquetWriter(path, batches.schema, compression=compression) as writer,
        ThreadPoolExecutor(1) as encoder,
    ):
        encoding: Future | None = None
        for batch in batches:
            if encoding is not None:
                encoding.result()  # the previous row group is written before this one
            encoding = encoder.submit(writer.write_batch, batch, row_group_size=ROW_GROUP_ROWS)
            rows += batch.num_rows
        if encoding is not None:
            encoding.result()
    return rows


def _finish(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    outcome: IngestOutcome,
    record: str,
    landed_path: Path,
    quarantine_path: Path,
) -> None:
    """Mark duplicates, then write the landed rows and the quarantine (`record`: each checked row's
    position in its file) and count them into `outcome`."""
    (read_ok,) = con.execute("SELECT count(*) FROM checked").fetchone()
    _mark_duplicates(con, source)
    landed_path.parent.mkdir(parents=True, exist_ok=True)
    quarantine_path.parent.mkdir(parents=True, exist_ok=True)
    cols = ", ".join(_q(c) for c in source.column_names)
    outcome.rows_landed = _write_parquet(
        con, f"SELECT {cols} FROM checked WHERE _problem IS NULL", landed_path, "zstd"
    )
    _write_quarantine(con, outcome.files, record, quarantine_path)
    (read_bad,) = con.execute("SELECT count(*) FROM rejected").fetchone()
    outcome.rows_read = read_ok + read_bad
    outcome.rows_quarantined = _count_reasons(con, quarantine_path, outcome.reasons)


def _write_quarantine(con: duckdb.DuckDBPyConnection, files: list[str], record: str, path: Path) -> None:
    """Write the checked rows with a problem and the rejected lines, file by file in order."""
    file_list = "[" + ", ".join(_lit(n) for n in files) + "]"
    _write_parquet(
        con,
        f"SELECT {file_list}[_file + 1] AS source_file, {record} AS record, NULL::BIGINT AS line, "
        "_problem AS reason, _raw AS raw FROM checked WHERE _problem IS NOT NULL "
        f"UNION ALL SELECT {file_list}[_file + 1], NULL, _line, reason, raw FROM rejected "
        "ORDER BY source_file, record NULLS LAST, line",
        path,
    )


def _count_reasons(con: duckdb.DuckDBPyConnection, quarantine_path: Path, reasons: Counter) -> int:
    """Count the quarantine file's rows into `reasons` by kind; return how many there are."""
    total = 0
    for reason, n in con.execute(
        f"SELECT reason, count(*) FROM read_parquet({_lit(str(quarantine_path))}) GROUP BY ALL"
    ).fetchall():
        reasons[_reason_kind(reason)] += n
        total += n
    return total


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
    if files and plain_csv.supported(source):
        try:
            return _validate_plain(source, files, partition, landed_path, quarantine_path, outcome)
        except plain_csv.NotPlain:
            outcome = IngestOutcome(source.name, outcome.partition, names)
    with _checking(source) as con:
        checked_select = _checked_select(source, partition)
        starts = []  # the rowid of each file's first record
        for file_id, path in enumerate(files):
            (start,) = con.execute("SELECT count(*) FROM checked").fetchone()
            starts.append(start)
            drift = _load_file(con, path, file_id, source, checked_select)
            if drift:
                outcome.drift[names[file_id]] = drift
        record = f"rowid - [{', '.join(map(str, starts))}][_file + 1] + 1"
        _finish(con, source, outcome, record, landed_path, quarantine_path)
    return outcome


def _validate_plain(
    source: Source,
    files: list[Path],
    partition: dt.date | None,
    landed_path: Path,
    quarantine_path: Path,
    outcome: IngestOutcome,
) -> IngestOutcome:
    """`validate_partition` for files that are all plain CSV (plain_csv.py): polars reads and casts
    them a chunk at a time; the checking query judges the suspect rows, so each gets the reason the
    exact read gives it; the clean rows are held (held_rows.py) until the duplicates are known."""
    import polars as pl

    headers = []
    for file_id, path in enumerate(files):
        headers.append(_csv_header(path, _sniff(path, source), source))
        if drift := _check_columns(path, headers[-1], source):
            outcome.drift[outcome.files[file_id]] = drift
    types = plain_csv.landed_types(source)
    landed_path.parent.mkdir(parents=True, exist_ok=True)
    quarantine_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        _checking(source, ", _record BIGINT") as con,
        tempfile.TemporaryDirectory() as work,
        HeldRows(Path(work), types) as held,
    ):
        # The few rows DuckDB must see cross as Parquet files: DuckDB imports pandas (~0.5 s) the
        # first time a query reads a Python object. A new name each time: DuckDB caches what it read.
        crossings = (Path(work) / f"crossing-{n}.parquet" for n in itertools.count())
        checked_select = _checked_select(source, partition)
        for file_id, (path, header) in enumerate(zip(files, headers, strict=True)):
            for chunk in plain_csv.chunks(path, source, header, partition):
                outcome.rows_read += chunk.clean.height + chunk.suspect.height
                clean = chunk.clean.with_columns(_file=pl.lit(file_id, pl.Int32))
                if chunk.suspect.height:
                    judged = _judge(con, chunk.suspect, file_id, checked_select, crossings, types)
                    if judged.height:  # ' 5' is an integer to DuckDB: such a row lands like any other
                        judged = judged.with_columns(_key_hash=pl.struct(*source.primary_key).hash())
                        clean = pl.concat([clean, judged.select(clean.columns)]).sort("_record")
                held.add(clean)
        duplicates = held.duplicates(source.primary_key)
        if duplicates.height:
            duplicates.write_parquet(crossing := next(crossings))
            as_text = ", ".join(f"{_q(c.in_file)} := CAST({_q(c.name)} AS VARCHAR)" for c in source.columns)
            con.execute(
                f"INSERT INTO checked (_file, _record, _problem, _raw) SELECT _file, _record, {_lit(DUPLICATE)}, "
                f"CAST(to_json(struct_pack({as_text})) AS VARCHAR) FROM read_parquet({_lit(str(crossing))})"
            )
        outcome.rows_landed = held.sink(landed_path, duplicates.get_column("_row"), ROW_GROUP_ROWS)
        _write_quarantine(con, outcome.files, "_record", quarantine_path)
        outcome.rows_quarantined = _count_reasons(con, quarantine_path, outcome.reasons)
    return outcome


def _judge(
    con: duckdb.DuckDBPyConnection,
    suspect: pl.DataFrame,
    file_id: int,
    checked_select: str,
    crossings: Iterator[Path],
    types: dict,
) -> pl.DataFrame:
    """Put the suspect rows (their text) through the checking query: those with a problem stay in
    `checked`; return the others, typed as polars reads them (`_file`, `_record`, the columns)."""
    import polars as pl

    suspect.write_parquet(crossing := next(crossings))
    rows = f"read_parquet({_lit(str(crossing))})"
    con.execute(
        f"INSERT INTO checked SELECT {file_id}, * FROM ({checked_select.replace(READER, rows)}) "
        f"POSITIONAL JOIN (SELECT _record FROM {rows})"
    )
    (clean,) = con.execute("SELECT count(*) FROM checked WHERE _problem IS NULL").fetchone()
    if not clean:
        return pl.DataFrame()
    con.execute(
        f"COPY (SELECT _file, _record, {', '.join(_q(c) for c in types)} FROM checked WHERE _problem IS NULL) "
        f"TO {_lit(str(crossing := next(crossings)))} (FORMAT parquet)"
    )
    con.execute("DELETE FROM checked WHERE _problem IS NULL")
    # DuckDB's time zone is its session's ('Etc/UTC'), polars' 'UTC': the same instants.
    zones = [
        pl.col(name).dt.convert_time_zone(kind.time_zone)
        for name, kind in types.items()
        if isinstance(kind, pl.Datetime) and kind.time_zone
    ]
    return pl.read_parquet(crossing).with_columns(zones).cast(types)


# --- files holding many days -------------------------------------------------------------------------


@dataclass
class FileRead:
    """One landing file of a source whose files hold many days, read once and routed by day."""

    name: str
    rows_read: int = 0
    days: dict[str, int] = field(default_factory=dict)  # rows routed to each day
    undated: int = 0  # rows quarantined with the file because they have no partition date
    reasons: Counter = field(default_factory=Counter)  # of the undated rows
    drift: dict[str, list[str]] = field(default_factory=dict)
    previous_days: dict[str, int] = field(default_factory=dict)  # what an earlier version of it held

    @property
    def accounted(self) -> bool:
        return self.rows_read == sum(self.days.values()) + self.undated


def read_landed_file(
    source: Source, path: Path, name: str, rows_path: Path, quarantine_path: Path
) -> FileRead:
    """Read one file in one pass: every record checked and given its partition date.

    `rows_path` gets the records that have a date, each with its date, its position in the file, its
    typed values and its problems (NULL when none), ordered by date (so a day's rows are read back
    cheaply); `quarantine_path` the records without a date and the lines that do not split, with
    their reasons. Duplicates are found per day, when the day is assembled from its files.
    """
    outcome = FileRead(name)
    with _checking(source, ", _day DATE") as con:
        outcome.drift = _load_file(con, path, 0, source, _checked_select(source, None, route=True))
        cols = ", ".join(_q(c) for c in source.column_names)
        rows_path.parent.mkdir(parents=True, exist_ok=True)
        quarantine_path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT rowid + 1 AS _record, _day, {cols}, _problem, _raw FROM checked "
            f"WHERE _day IS NOT NULL ORDER BY _day, rowid) TO {_lit(str(rows_path))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        con.execute(
            f"COPY (SELECT {_lit(name)} AS source_file, rowid + 1 AS record, NULL::BIGINT AS line, "
            "_problem AS reason, _raw AS raw FROM checked WHERE _day IS NULL "
            f"UNION ALL SELECT {_lit(name)}, NULL, _line, reason, raw FROM rejected "
            f"ORDER BY record NULLS LAST, line) TO {_lit(str(quarantine_path))} (FORMAT parquet)"
        )
        outcome.days = {
            day.isoformat(): n
            for day, n in con.execute(
                "SELECT _day, count(*) FROM checked WHERE _day IS NOT NULL GROUP BY 1 ORDER BY 1"
            ).fetchall()
        }
        (read_ok,) = con.execute("SELECT count(*) FROM checked").fetchone()
        (read_bad,) = con.execute("SELECT count(*) FROM rejected").fetchone()
        outcome.rows_read = read_ok + read_bad
        outcome.undated = _count_reasons(con, quarantine_path, outcome.reasons)
    return outcome


def assemble_day(
    source: Source, day: dt.date, pieces: list[tuple[str, Path]], landed_path: Path, quarantine_path: Path
) -> IngestOutcome:
    """One day of a source whose files hold many days, from the rows `read_landed_file` routed to it.

    `pieces` are (file name, its routed rows) in the order the day's files count in: a key an
    earlier file already landed is a duplicate, exactly as for the files of a daily folder.
    """
    outcome = IngestOutcome(source.name, day.isoformat(), [name for name, _ in pieces])
    cols = ", ".join(_q(c) for c in source.column_names)
    with _checking(source, ", _record BIGINT") as con:
        for file_id, (_, rows) in enumerate(pieces):
            con.execute(
                f"INSERT INTO checked SELECT {file_id}, {cols}, _problem, _raw, _record "
                f"FROM read_parquet({_lit(str(rows))}) WHERE _day = ? ORDER BY _record",
                [day],
            )
        _finish(con, source, outcome, "_record", landed_path, quarantine_path)
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
