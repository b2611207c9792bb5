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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dataops_assets.sources.model import Column, Source

if TYPE_CHECKING:  # imported where used: the code location loads without polars
    import polars as pl

# Bytes whose presence makes a file not plain: a quote starts a quoted field, `\r` a CRLF line end,
# NUL is not text.
# The typed rows are held in memory (about the file's size again): a partition of more CSV than this
# is read the exact way, whose table spills to disk.
SIZE_LIMIT = 128 << 20
# DuckDB's reader rejects a line over 2 MiB (its max_line_size) and polars' does not: a file with a
# line near that is read the exact way.
LONGEST_LINE = 1 << 20
SCAN_CHUNK = 1 << 24  # the byte scan reads the file 16 MiB at a time: memory stays flat
# Text forms of dates and times read here; any other spelling is suspect and DuckDB reads it.
DATE_FORMAT = ("%Y-%m-%d", 10)
TIMESTAMP_FORMATS = (("%Y-%m-%d %H:%M:%S", 19), ("%Y-%m-%dT%H:%M:%S", 19))
TIMESTAMPTZ_FORMATS = (("%Y-%m-%d %H:%M:%SZ", 20), ("%Y-%m-%dT%H:%M:%SZ", 20))


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


def supported(source: Source, files: list[Path]) -> bool:
    """Whether every column's type and options have a cast here and the files are not too large to
    hold (else the exact read serves)."""
    if not files or sum(f.stat().st_size for f in files) > SIZE_LIMIT:
        return False
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


def read(path: Path, source: Source, header: list[str], partition: dt.date | None) -> PlainRead:
    """Read one plain CSV file whose header (already checked against the source) is `header`."""
    import polars as pl

    delimiters = _delimiters(path, source.csv.quote, source.csv.delimiter)
    try:
        plain = _read(path, source, header, partition, parse=True)
    except pl.exceptions.PolarsError:  # a value polars' reader refuses: the text read finds the rows
        plain = None
    try:
        plain = plain or _read(path, source, header, partition, parse=False)
    except pl.exceptions.PolarsError as error:  # a long line, bytes that are not UTF-8, ...
        raise NotPlain(str(error)) from None
    # polars fills a short line's missing fields with nulls; DuckDB rejects the line. Every line has
    # len(header) - 1 delimiters exactly when the file holds that many per line in all (a line with
    # more fails the read above).
    lines = plain.clean.height + plain.suspect.height + 1
    if delimiters != lines * (len(header) - 1):
        raise NotPlain("a line has fewer fields than the header")
    return plain


def _read(
    path: Path, source: Source, header: list[str], partition: dt.date | None, parse: bool
) -> PlainRead | None:
    """One pass over the file: the clean rows typed, with a hash of their key (for finding
    duplicates), and the suspect rows as text.

    With `parse`, polars' reader parses the numbers itself, holding less in memory; it refuses a
    value it cannot read (a PolarsError) rather than nulling it, and a suspect row makes the answer
    None: only the text read keeps the suspect rows' text. Without, every value is read as text and
    cast, and the two results stream out of one pass (the text of clean rows is never held)."""
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
        path,
        has_header=True,
        schema={h: parsed.get(h, pl.String) for h in header},
        separator=source.csv.delimiter,
        quote_char=None,
        null_values=list(source.null_values),
        encoding="utf8",
        row_index_name="_record",
        row_index_offset=1,
        glob=False,
        raise_if_empty=False,
        low_memory=True,
    ).select("_record", _suspect=pl.any_horizontal(problems), **typed, **texts)
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


def _delimiters(path: Path, quote: str, delimiter: str) -> int:
    """How many times the one-byte `delimiter` occurs in the file, after refusing bytes and lines
    that make it not plain. Read 16 MiB at a time into one buffer: the file never counts in the
    process's memory."""
    import numpy as np

    code, buffer = ord(delimiter), bytearray(SCAN_CHUNK)
    count = offset = line_start = longest = 0
    with open(path, "rb") as handle:
        while size := handle.readinto(buffer):
            chunk = np.frombuffer(buffer, dtype=np.uint8, count=size)
            if offset == 0 and bytes(buffer[:3]) == b"\xef\xbb\xbf":
                raise NotPlain("a UTF-8 byte order mark")
            for byte in (quote.encode(), b"\r", b"\0"):
                if buffer.find(byte, 0, size) != -1:
                    raise NotPlain(f"holds {byte!r}")
            count += int(np.count_nonzero(chunk == code))
            ends = np.flatnonzero(chunk == ord("\n")) + offset
            if ends.size:
                longest = max(longest, int(ends[0]) - line_start, int(np.diff(ends).max(initial=0)))
                line_start = int(ends[-1]) + 1
            offset += size
    if max(longest, offset - line_start) > LONGEST_LINE:
        raise NotPlain("a line longer than DuckDB's reader takes")
    return count
