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

    polars' reader parses the numbers itself, which fails on a value it cannot read: then that chunk
    is read as text and cast, and the columns whose values failed are read as text from then on (a
    file with bad values in one column costs one chunk read twice)."""
    import polars as pl

    if path.suffix.lower() in COMPRESSED:
        raise NotPlain("DuckDB decompresses it")
    as_text: set[str] = set()  # file columns read as text and cast, not parsed by the reader
    record = 1
    for data in _lines(path):
        delimiters = _plain_delimiters(data, source.csv)
        try:
            read = _read(data, record, source, header, partition, as_text)
        except pl.exceptions.PolarsError:  # a number the reader refuses: which column, the text read says
            try:
                read = _read(data, record, source, header, partition, set(header))
            except pl.exceptions.PolarsError as error:  # bytes that are not UTF-8, ...
                raise NotPlain(str(error)) from None
            as_text |= _unparsed(read.suspect, source)
        # polars fills a short line's missing fields with nulls (and reads a blank line as a row of
        # them), where DuckDB rejects the line; it fails on a long one. So every line has as many
        # fields as the header exactly when the chunk holds that many delimiters in all.
        lines = read.clean.height + read.suspect.height
        if delimiters != lines * (len(header) - 1):
            raise NotPlain("a line with fewer fields than the header, or a blank line")
        record += lines
        yield read


def _unparsed(suspect: pl.DataFrame, source: Source) -> set[str]:
    """The numeric file columns with a value among `suspect`'s text that does not cast."""
    import polars as pl

    numbers = _numbers()
    return {
        c.in_file
        for c in source.columns
        if c.type in numbers
        and suspect.select(
            (
                pl.col(c.in_file).is_not_null()
                & pl.col(c.in_file).cast(numbers[c.type], strict=False).is_null()
            ).any()
        ).item()
    }


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
    data: bytes, record: int, source: Source, header: list[str], partition: dt.date | None, as_text: set[str]
) -> PlainRead:
    """One pass over a chunk of lines (the first is record `record`): the clean rows typed, with a
    hash of their key (for finding duplicates), and the suspect rows as text. Numbers are parsed by
    the reader but in the `as_text` columns; the suspect rows' text is their lines read again, as
    text, from `data` (a few lines: their text is never held for the clean ones)."""
    import polars as pl

    present = [c for c in source.columns if c.in_file in header]
    numbers = _numbers()
    parsed = {c.in_file: numbers[c.type] for c in present if c.type in numbers and c.in_file not in as_text}
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
    frame = (
        _scan(data, source, {h: parsed.get(h, pl.String) for h in header})
        .select(
            pl.int_range(record, record + pl.len(), dtype=pl.Int64).alias("_record"),
            _suspect=pl.any_horizontal(problems),
            **typed,
            # Of the typed values (in one select, a name is the file's text): a row DuckDB lands
            # is hashed the same way from its own typed values.
            _key_hash=pl.struct(*(typed[k].alias(k) for k in source.primary_key)).hash(),
        )
        .collect(engine="streaming")
    )
    suspect = frame.get_column("_suspect")
    if not suspect.any():
        return PlainRead(frame.drop("_suspect"), _text_of(data, [], record, source, header))
    suspect_records = frame.filter(suspect).get_column("_record").to_list()
    return PlainRead(
        frame.filter(~suspect).drop("_suspect"), _text_of(data, suspect_records, record, source, header)
    )


def _scan(data: bytes, source: Source, schema: dict) -> pl.LazyFrame:
    import polars as pl

    return pl.scan_csv(
        data,
        has_header=False,
        schema=schema,
        separator=source.csv.delimiter,
        quote_char=None,
        null_values=list(source.null_values),
        encoding="utf8",
        raise_if_empty=False,
    )


def _text_of(data: bytes, records: list[int], first: int, source: Source, header: list[str]) -> pl.DataFrame:
    """The text of the lines `records` of `data` (whose first line is record `first`): `_record` and
    each declared column's text by its name in the file (null where the file lacks it)."""
    import numpy as np
    import polars as pl

    lines = b""
    if records:
        # Line i runs from just after bounds[i] to bounds[i + 1]: the newlines, and the ends of `data`.
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        bounds = np.concatenate(([-1], newlines, [len(data)]))
        index = np.asarray(records, dtype=np.int64) - first
        starts, stops = (bounds[index] + 1).tolist(), bounds[index + 1].tolist()
        lines = b"".join(data[start:stop] + b"\n" for start, stop in zip(starts, stops, strict=True))
    text = _scan(lines, source, dict.fromkeys(header, pl.String)).collect() if records else None
    return pl.DataFrame({"_record": pl.Series(records, dtype=pl.Int64)}).with_columns(
        (
            text.get_column(c.in_file)
            if text is not None and c.in_file in header
            else pl.lit(None, pl.String)
        ).alias(c.in_file)
        for c in source.columns
    )


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
