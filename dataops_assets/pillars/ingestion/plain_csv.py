"""The fast read of a plain CSV file: polars splits and casts it on every core, DuckDB judges the rest.

A file is *plain* when no field is quoted, lines end in `\\n` alone, no line is blank or short, and it
holds no NUL byte: then a field's text is exactly the bytes between two delimiters, whichever reader
splits it, so polars reads each value as the same text DuckDB's reader would. polars casts the text
with casts that accept a subset of what DuckDB's checking query accepts, giving the same values
(`test_plain_csv.py` holds the two to it, value by value). A row all of whose values polars read and
that passes the required-value and partition checks is clean. Every other row is *suspect*: its text
goes through validate.py's checking query, the reference, so what lands and every quarantine reason
are the same as when DuckDB reads the whole file; only the work is split.

Anything else (quotes, `\\r`, a short or long line, bytes that are not UTF-8, a compressed file, a
column type or option outside the supported set) raises `NotPlain`, and the caller reads the file
the exact way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dataops_assets.sources.model import Column, CsvOptions, Source

if TYPE_CHECKING:  # imported where used: the code location loads without polars
    import polars as pl

# DuckDB's reader rejects a line over 2 MiB (its max_line_size) and polars' does not: a file with a
# line of LONG_LINE + LINE_STRIDE bytes (1.5 MiB) or more is read the exact way.
LONG_LINE = 1 << 20
LINE_STRIDE = 1 << 19
COMPRESSED = (".gz", ".zst", ".zstd", ".bz2", ".xz")  # suffixes DuckDB's reader decompresses
CHUNK_BYTES = 32 << 20  # the file is read this much at a time (about 340,000 flights rows)
# Text forms of dates and times read here; any other spelling is suspect and DuckDB reads it.
DATE_FORMAT = ("%Y-%m-%d", 10)
TIMESTAMP_FORMATS = (("%Y-%m-%d %H:%M:%S", 19), ("%Y-%m-%dT%H:%M:%S", 19))
TIMESTAMPTZ_FORMATS = (("%Y-%m-%d %H:%M:%SZ", 20), ("%Y-%m-%dT%H:%M:%SZ", 20))


def landed_types(source: Source) -> dict:
    """The polars type each column lands as (what DuckDB's cast gives, in polars' spelling)."""
    import polars as pl

    kinds = _numbers() | {
        "string": pl.String,
        "boolean": pl.Boolean,
        "date": pl.Date,
        "timestamp": pl.Datetime("us"),
        "timestamptz": pl.Datetime("us", "UTC"),
    }
    return {c.name: kinds[c.type] for c in source.columns}


def _numbers() -> dict:
    """The declared types polars' reader parses itself, with their polars types."""
    import polars as pl

    return {"integer": pl.Int32, "bigint": pl.Int64, "double": pl.Float64}


class NotPlain(Exception):
    """The file (or the source) is outside what the fast read handles: read it the exact way."""


@dataclass
class PlainRead:
    clean: pl.DataFrame  # the clean rows typed, their `_record` (1-based position in the file), `_key_hash`
    suspect: pl.DataFrame  # the text of the suspect rows, by file column name, and `_record`


def supported(source: Source) -> bool:
    """Whether every column's type and options have a cast here (else the exact read serves)."""
    if source.format != "csv" or "" not in source.null_values or len(source.csv.delimiter.encode()) != 1:
        return False
    if any(not _castable(c) for c in source.columns):
        return False
    pd = source.partition_date
    if pd is None or pd.parts:
        return True
    # A timestamptz's date depends on DuckDB's session time zone: left to DuckDB.
    return source.column(pd.column).type in ("date", "timestamp")  # type: ignore[arg-type]


def _castable(column: Column) -> bool:
    return column.format is None and (
        column.type != "boolean" or (column.true_values is None) == (column.false_values is None)
    )


def chunks(path: Path, source: Source, header: list[str], partition: dt.date | None) -> Iterator[PlainRead]:
    """Read one plain CSV file whose header (already checked against the source) is `header`, a
    chunk of whole lines at a time: memory holds one chunk's bytes, never the whole file.

    The first chunk has polars' reader parse the numbers itself (it holds less); once a value makes
    it fail, this and every later chunk of the file are read as text and cast (one wasted parse per
    file with bad values, not one per chunk)."""
    import polars as pl

    if path.suffix.lower() in COMPRESSED:
        raise NotPlain("DuckDB decompresses it")
    parse, record = True, 1
    for data in _lines(path):
        delimiters = _plain_delimiters(data, source.csv)
        read = None
        if parse:
            try:
                read = _read(data, record, source, header, partition, parse=True)
            except pl.exceptions.PolarsError:  # a value polars' reader refuses: the text read finds it
                parse = False
        try:
            read = read or _read(data, record, source, header, partition, parse=False)
        except pl.exceptions.PolarsError as error:  # bytes that are not UTF-8, ...
            raise NotPlain(str(error)) from None
        # polars fills a short line's missing fields with nulls (and reads a blank line as a row of
        # them), where DuckDB rejects the line; it fails on a long one. So every line has as many
        # fields as the header exactly when the chunk holds that many delimiters in all.
        lines = read.clean.height + read.suspect.height
        if delimiters != lines * (len(header) - 1):
            raise NotPlain("a line with fewer fields than the header, or a blank line")
        parse = parse and read.suspect.height == 0
        record += lines
        yield read


def _lines(path: Path) -> Iterator[bytes]:
    """The file's lines after the header, about CHUNK_BYTES at a time, each chunk ending a line."""
    with open(path, "rb") as handle:
        if b"\r" in handle.readline():  # the header, read by the caller; DuckDB takes one newline style
            raise NotPlain("holds b'\\r'")
        while block := handle.read(CHUNK_BYTES):
            cut = block.rfind(b"\n") + 1 if len(block) == CHUNK_BYTES else len(block)
            if cut == 0:  # no line ends in a whole chunk: far longer than DuckDB takes
                raise NotPlain("a line longer than DuckDB's reader takes")
            handle.seek(cut - len(block), 1)
            yield block if cut == len(block) else block[:cut]


def _plain_delimiters(data: bytes, csv: CsvOptions) -> int:
    """How many delimiters `data` holds, after refusing quotes, `\r`, NUL and over-long lines."""
    import numpy as np

    for byte in (csv.quote.encode(), b"\r", b"\0"):
        if data.find(byte) != -1:
            raise NotPlain(f"holds {byte!r}")
    # A line of LONG_LINE + LINE_STRIDE bytes or more covers a whole window [i, i + LONG_LINE) of
    # some stride step: one find per step (a newline is a few bytes away) catches it.
    for start in range(0, len(data) - LONG_LINE + 1, LINE_STRIDE):
        if data.find(b"\n", start, start + LONG_LINE) == -1:
            raise NotPlain("a line longer than DuckDB's reader takes")
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == ord(csv.delimiter)))


def _read(
    data: bytes, record: int, source: Source, header: list[str], partition: dt.date | None, parse: bool
) -> PlainRead | None:
    """One pass over a chunk of lines (the first is record `record`): the clean rows typed, with a
    hash of their key (for finding duplicates), and the suspect rows as text.

    With `parse`, polars' reader parses the numbers itself; it refuses a value it cannot read (a
    PolarsError) rather than nulling it, and a suspect row makes the answer None: only the text read
    keeps the suspect rows' text. Without, every value is read as text and cast, and the two results
    stream out of one pass (the text of clean rows is never held)."""
    import polars as pl

    present = [c for c in source.columns if c.in_file in header]
    numbers = _numbers()
    parsed = {c.in_file: numbers[c.type] for c in present if parse and c.type in numbers}
    value = {c.in_file: pl.lit(None, pl.String) for c in source.columns} | {
        c.in_file: pl.col(c.in_file) for c in present
    }
    typed = {
        c.name: value[c.in_file] if c.in_file in parsed else _cast(value[c.in_file], c)
        for c in source.columns
    }
    problems = [
        value[c.in_file].is_not_null() & typed[c.name].is_null()
        for c in source.columns
        if c.in_file not in parsed
    ]
    problems += [value[c.in_file].is_null() for c in source.columns if c.name in source.required_columns]
    on_the_day = _on_the_day(source, typed, partition)
    if on_the_day is not None:
        problems.append(on_the_day.not_().fill_null(True))
    # The text under `_text<i>`: a column's name and its name in the file may be the same.
    texts = {} if parse else {f"_text{i}": expr for i, expr in enumerate(value.values())}
    rows = pl.scan_csv(
        data,
        has_header=False,
        schema={h: parsed.get(h, pl.String) for h in header},
        separator=source.csv.delimiter,
        quote_char=None,
        null_values=list(source.null_values),
        encoding="utf8",
        row_index_name="_record",
        row_index_offset=record,
        raise_if_empty=False,
    ).select(pl.col("_record").cast(pl.Int64), _suspect=pl.any_horizontal(problems), **typed, **texts)
    key_hash = pl.struct(*source.primary_key).hash()
    if parse:
        frame = rows.select("_suspect", "_record", *typed, _key_hash=key_hash).collect(engine="streaming")
        if frame.get_column("_suspect").any():
            return None
        none = pl.DataFrame(schema={"_record": frame.schema["_record"]} | dict.fromkeys(value, pl.String))
        return PlainRead(frame.drop("_suspect"), none)
    suspect = pl.col("_suspect")
    clean = rows.filter(~suspect).select("_record", *typed, _key_hash=key_hash)
    as_text = rows.filter(suspect).select(
        "_record", *[pl.col(t).alias(f) for t, f in zip(texts, value, strict=True)]
    )
    return PlainRead(*pl.collect_all([clean, as_text], engine="streaming"))


def _cast(text: pl.Expr, column: Column) -> pl.Expr:
    """`text` as the column's type, null where it is not a form read here (the row is then suspect)."""
    import polars as pl

    kind = column.type
    if kind in (numbers := _numbers()):
        return text.cast(numbers[kind], strict=False)
    if kind == "string":
        return text
    if kind == "boolean":
        spelled_true, spelled_false = column.true_values or ("true",), column.false_values or ("false",)
        # DuckDB's trim() strips spaces only; strip_chars() would also strip tabs and newlines.
        value = text.str.strip_chars(" ") if column.true_values else text
        return pl.when(value.is_in(spelled_true)).then(True).when(value.is_in(spelled_false)).then(False)
    if kind == "date":
        return _parsed(text, (DATE_FORMAT,), lambda t, f: t.str.to_date(f, strict=False))
    zone = "UTC" if kind == "timestamptz" else None
    forms = TIMESTAMPTZ_FORMATS if zone else TIMESTAMP_FORMATS
    return _parsed(
        text, forms, lambda t, f: t.str.to_datetime(f, time_unit="us", time_zone=zone, strict=False)
    )


def _parsed(text: pl.Expr, forms, parse) -> pl.Expr:
    """The first of `forms` (format, exact length in bytes) that reads `text`: the length pins each
    field's width, so a five-digit year or a one-digit month is DuckDB's to read."""
    import polars as pl

    width = text.str.len_bytes()
    return pl.coalesce([pl.when(width == size).then(parse(text, form)) for form, size in forms])


def _on_the_day(source: Source, typed: dict[str, pl.Expr], partition: dt.date | None) -> pl.Expr | None:
    """True where a row's partition date is `partition` (null where it has none)."""
    pd = source.partition_date
    if pd is None or partition is None:
        return None
    if pd.parts:
        year, month, day = (typed[p] for p in pd.parts)
        return (year == partition.year) & (month == partition.month) & (day == partition.day)
    value = typed[pd.column]  # type: ignore[index]
    return (value if source.column(pd.column).type == "date" else value.dt.date()) == partition  # type: ignore[arg-type]
