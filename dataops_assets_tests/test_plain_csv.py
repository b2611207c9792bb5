"""The fast read of plain CSV files (polars) lands exactly what the exact read (DuckDB) lands.

The same generated file goes through `validate_partition` twice, once as it is (a plain file takes the
fast read) and once with the fast read switched off: the landed rows, their types, every quarantine
row and reason and the counts must be the same. The values are drawn from spellings where the two
engines' readers could disagree (padded and signed numbers, hex, overflow, inf/nan, dates and times
in other forms, booleans spelled otherwise), so the suspect rows, the rows only DuckDB reads and the
duplicates all occur.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataops_assets.pillars.ingestion import held_rows, plain_csv, validate
from dataops_assets.pillars.ingestion.validate import RefusedFile, validate_partition
from dataops_assets.sources.model import Source
from dataops_assets.yaml_config import load_yaml_model

CORPUS = Path(__file__).parent / "corpus"
SOURCE = load_yaml_model(CORPUS / "readings.yaml", Source)
PARTITION = dt.date(2024, 3, 1)
HEADER = ",".join(SOURCE.column_names)
# Per column: spellings both readers take, then spellings where they could disagree. Each file is
# mostly the first kind, so most rows are clean but for one value: the one under test.
SPELLINGS = {
    "station": (["s1", "s2", "s 3", "é"], ["NA", ""]),
    "day": (["2024-03-01"], ["2024-03-02", "2024-3-1", "20240301", "2024-02-30", "NA"]),
    "hour": (["0", "5", "23"], ["+5", " 5", "5 ", "05", "5.5", "1e3", "0x10", "99999999999", "-1", "NA"]),
    "temp": (["1.5", "-3", "NA"], ["-0.0", "inf", "nan", ".5", "5.", "1_000", "1e400", "abc", " 2", ""]),
    "ok": (["true", "false", "NA"], ["TRUE", "t", "1", "yes", "maybe"]),
    "note": (["hello", "a b", "ü x", "NA"], [""]),
    "taken_at": (
        ["2024-03-01T10:00:00Z"],
        [
            "2024-03-01 10:00:00Z",
            "2024-03-01 10:00:00",
            "2024-03-01T10:00:00+01:00",
            "2024-03-01T10:00:00.5Z",
            "2024-3-01T10:00:00Z",
            "bad",
            "NA",
        ],
    ),
}
ROWS = st.lists(
    st.tuples(
        *(st.sampled_from(good * (3 * len(odd) // len(good) + 1) + odd) for good, odd in SPELLINGS.values())
    ),
    min_size=0,
    max_size=80,
)


def _validated(path: Path, read: str, monkeypatch: pytest.MonkeyPatch) -> dict | tuple:
    """Validate `path` the `read` way: "fast", "fast in small chunks" (a few lines each, every chunk
    spilled to disk) or "exact"."""
    with monkeypatch.context() as patch:
        if read == "exact":
            patch.setattr(plain_csv, "supported", lambda source: False)
        if read == "fast in small chunks":
            patch.setattr(plain_csv, "CHUNK_BYTES", 200)
            patch.setattr(held_rows, "HELD_BYTES", 0)
        with tempfile.TemporaryDirectory() as tmp:
            landed, quarantine = Path(tmp) / "l.parquet", Path(tmp) / "q.parquet"
            try:
                outcome = validate_partition(SOURCE, [path], PARTITION, landed, quarantine)
            except RefusedFile as refused:
                return ("refused", str(refused))
            read = "SELECT {} FROM read_parquet(?)"
            rows = duckdb.execute(read.format("*"), [str(landed)]).fetchall()
            types = duckdb.execute(f"DESCRIBE {read.format('*')}", [str(landed)]).fetchall()
            bad = duckdb.execute(read.format("record, line, reason, raw"), [str(quarantine)]).fetchall()
    # repr: nan equals nan, and -0.0 is not 0.0
    return outcome.as_dict() | {"landed": repr(rows), "types": types, "quarantine": bad}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(rows=ROWS)
def test_the_fast_read_lands_and_quarantines_exactly_what_the_exact_read_does(rows):
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as monkeypatch:
        path = Path(tmp) / "day.csv"
        path.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
        exact = _validated(path, "exact", monkeypatch)
        assert _validated(path, "fast", monkeypatch) == exact
        assert _validated(path, "fast in small chunks", monkeypatch) == exact


def test_each_odd_spelling_alone_in_a_row_gets_the_same_outcome_from_both_reads(tmp_path, monkeypatch):
    """Every spelling where the readers could disagree, once, in a row otherwise clean and with a key
    of its own (and once more re-sent as a duplicate): nothing else decides what becomes of it."""
    good = [values[0] for values, _ in SPELLINGS.values()]
    rows = []
    for column, (_, odd) in enumerate(SPELLINGS.values()):
        for spelling in odd:
            row = [*good[:column], spelling, *good[column + 1 :]]
            if column != 0:
                row[0] = f"s{len(rows)}"  # a key of its own
            rows.append(row)
    rows += rows[-3:]  # re-sent
    path = tmp_path / "day.csv"
    path.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    exact = _validated(path, "exact", monkeypatch)
    assert exact["rows_read"] == len(rows) and 0 < exact["rows_landed"] < len(rows)
    assert _validated(path, "fast", monkeypatch) == exact
    assert _validated(path, "fast in small chunks", monkeypatch) == exact


def _plain_reads(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record each file the fast read finished (it raises NotPlain for the others)."""
    finished, chunks = [], plain_csv.chunks

    def spy(path, *args):
        yield from chunks(path, *args)
        finished.append(path.name)

    monkeypatch.setattr(plain_csv, "chunks", spy)
    return finished


def test_a_plain_file_takes_the_fast_read_with_its_suspect_rows_and_duplicates(tmp_path, monkeypatch):
    path = tmp_path / "day.csv"
    lines = [
        "s1,2024-03-01,1,1.5,true,a,2024-03-01T10:00:00Z",
        "s1,2024-03-01,2, 2,false,b,2024-03-01 10:00:00",  # only DuckDB reads these two values
        "s1,2024-03-01,3,abc,true,c,2024-03-01T10:00:00Z",  # quarantined
        "s1,2024-03-01,1,9.5,true,d,2024-03-01T10:00:00Z",  # a duplicate of the first
    ]
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    finished = _plain_reads(monkeypatch)
    outcome = validate_partition(SOURCE, [path], PARTITION, tmp_path / "l.parquet", tmp_path / "q.parquet")
    assert finished == ["day.csv"]
    assert (outcome.rows_read, outcome.rows_landed, outcome.rows_quarantined) == (4, 2, 2)
    assert dict(outcome.reasons) == {"temp: cannot read": 1, validate.DUPLICATE: 1}
    assert duckdb.execute(
        "SELECT hour, temp FROM read_parquet(?)", [str(tmp_path / "l.parquet")]
    ).fetchall() == [
        (1, 1.5),
        (2, 2.0),
    ]


@pytest.mark.parametrize(
    "body, why",
    [
        ('s1,2024-03-01,1,1.5,true,"a, quoted",2024-03-01T10:00:00Z\n', "a quoted field"),
        ("s1,2024-03-01,1,1.5,true,a,2024-03-01T10:00:00Z\r\n", "a CRLF line end (refused: mixed)"),
        ("s1,2024-03-01,1,1.5,true,a,2024-03-01T10:00:00Z\n", "a CRLF header over LF lines"),
        ("s1,2024-03-01,1,1.5,true,a\n", "a short line"),
        (
            "s1,2024-03-01,1,1.5,true,a,2024-03-01T10:00:00Z\n\ns2,2024-03-01,1,1.5,true,a,2024-03-01T10:00:00Z\n",
            "a blank line",
        ),
        ("s1,2024-03-01,1,1.5,true," + "x" * (3 << 19) + ",2024-03-01T10:00:00Z\n", "a 1.5 MiB line"),
        ("s1,2024-03-01,1,1.5,true,a,2024-03-01T10:00:00Z,extra\n", "a long line"),
        ("s1,2024-03-01,1,1.5,true,\xff,2024-03-01T10:00:00Z\n", "bytes that are not UTF-8"),
    ],
)
def test_a_file_that_is_not_plain_is_read_the_exact_way_with_the_same_result(
    body, why, tmp_path, monkeypatch
):
    path = tmp_path / "day.csv"
    header = HEADER + ("\r\n" if "CRLF header" in why else "\n")
    path.write_bytes(header.encode() + body.encode("latin-1"))
    finished = _plain_reads(monkeypatch)
    fast = _validated(path, "fast", monkeypatch)
    assert finished == [], why
    assert fast == _validated(path, "exact", monkeypatch), why
