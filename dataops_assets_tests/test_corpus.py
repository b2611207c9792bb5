"""The bad-input corpus (corpus/cases.yaml): every kind of broken landing file, and what happens to it.

Each case goes through `validate_partition` directly (no Dagster run). On every case: the rows read
equal the records the file holds (nothing skipped unseen), rows read = landed + quarantined, each
quarantined row carries a reason and its file, and a refused file's error names the file and problem
and quotes none of its rows. The landing-zone cases lay out a zone (symbolic links, `..`, absolute
names) and read it through `LocalLandingZone` as ingestion does.
"""

from __future__ import annotations

import datetime as dt
import gzip
import tempfile
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dataops_assets.pillars.ingestion.assets import ingest_partition
from dataops_assets.pillars.ingestion.validate import RefusedFile, validate_partition
from dataops_assets.refused import quiet
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.landing_zone import LocalLandingZone
from dataops_assets.sources.model import Source
from dataops_assets.yaml_config import load_yaml_model

CORPUS = Path(__file__).parent / "corpus"
ALL_CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text())
CASES = [c for c in ALL_CASES if "files" in c]
LANDING_CASES = [c for c in ALL_CASES if "landing" in c]
SOURCE = load_yaml_model(CORPUS / "readings.yaml", Source)
PARTITION = dt.date(2024, 3, 1)
HEADER = ",".join(SOURCE.column_names)
ROW = "EWR,2024-03-01,{hour},41.0,true,{note},2024-03-01T05:00:00Z"
CANARY = "canary-7f3e9"  # in every row of the file outside the zone: no message may ever show it


def _to_bytes(sql: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.parquet"
        duckdb.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
        return path.read_bytes()


GOOD_PARQUET = (
    "SELECT 'EWR' AS station, DATE '2024-03-01' AS day, h::INTEGER AS hour, 40.0 + h AS temp, true AS ok, "
    "NULL::VARCHAR AS note, TIMESTAMPTZ '2024-03-01 05:00:00+00' + to_hours(h) AS taken_at FROM range(3) t(h)"
)

# Corpus files that are binary or large, built here rather than checked in.
BUILT = {
    "huge_field.csv": lambda: "\n".join(
        [HEADER, ROW.format(hour=0, note="short"), ROW.format(hour=1, note="x" * 3_000_000)]
        + [ROW.format(hour=2, note="short"), ""]
    ).encode(),
    "truncated.parquet": lambda: _to_bytes(GOOD_PARQUET)[:-40],
    "parquet_named.csv": lambda: _to_bytes(GOOD_PARQUET),
    "compressed.csv": lambda: gzip.compress((CORPUS / "files/header_only.csv").read_bytes(), mtime=0),
    "wrong_types.parquet": lambda: _to_bytes(
        "SELECT * REPLACE (CASE WHEN hour = 1 THEN NULL ELSE station END AS station, "
        "CASE WHEN hour = 2 THEN 'x' ELSE hour::VARCHAR END AS hour) FROM (" + GOOD_PARQUET + ")",
    ),
    "extra_column.parquet": lambda: _to_bytes("SELECT *, 0.7 AS humidity FROM (" + GOOD_PARQUET + ")"),
    # Names that are globs to DuckDB, each beside a file it would match: one row each, hours 10..13.
    **{
        name: (lambda hour=10 + i, note=name: f"{HEADER}\n{ROW.format(hour=hour, note=note)}\n".encode())
        for i, name in enumerate(["rows.csv", "*.csv", "row?.csv", "[r]ows.csv"])
    },
}


def _materialize(names: list[str], where: Path) -> list[Path]:
    paths = []
    for name in names:
        path = where / name
        path.write_bytes(BUILT[name]() if name in BUILT else (CORPUS / "files" / name).read_bytes())
        paths.append(path)
    return paths


def _rows(path: Path, sql: str = "SELECT * FROM t") -> list[tuple]:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{path}')")
    return con.execute(sql).fetchall()


@pytest.mark.parametrize("case", CASES, ids=[c["kind"] for c in CASES])
def test_corpus_case(case, tmp_path):
    source = SOURCE.model_copy(update=case.get("source", {}))
    files = _materialize(case["files"], tmp_path)
    landed, quarantine = tmp_path / "landed.parquet", tmp_path / "quarantine.parquet"
    expect = case["expect"]

    if "refused" in expect:
        with pytest.raises(RefusedFile) as refused:
            validate_partition(source, files, PARTITION, landed, quarantine)
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"{files[0]}: ") and expect["refused"] in message, message
        assert not _quoted_rows(files, message), message
        assert not landed.exists()  # a refused file lands nothing
        return

    outcome = validate_partition(source, files, PARTITION, landed, quarantine)
    assert outcome.rows_read == expect["records"]  # no record went unseen
    assert (outcome.rows_landed, outcome.rows_quarantined) == (expect["landed"], expect["quarantined"])
    assert outcome.accounted

    # The files on disk say the same as the outcome.
    assert _rows(landed, "SELECT count(*) FROM t") == [(expect["landed"],)]
    quarantined = _rows(quarantine, "SELECT source_file, reason FROM t")
    assert len(quarantined) == expect["quarantined"]
    assert all(f in {str(p) for p in files} and reason for f, reason in quarantined)
    assert outcome.reasons == Counter(expect.get("reasons", {}))
    assert outcome.drift == ({str(files[0]): expect["drift"]} if "drift" in expect else {})
    if "landed_notes" in expect:
        assert [r[0] for r in _rows(landed, "SELECT note FROM t ORDER BY hour")] == expect["landed_notes"]
    for column in expect.get("null_columns", []):
        assert _rows(landed, f"SELECT count({column}) FROM t") == [(0,)]


def _quoted_rows(files: list[Path], message: str) -> list[str]:
    """The values of the files' rows (every line after the header) that `message` quotes."""
    values = set()
    for path in files:
        for line in path.read_bytes().decode("latin-1").splitlines()[1:]:
            values |= {v.strip(' "') for v in line.replace(";", ",").split(",")}
    return sorted(v for v in values if len(v) >= 4 and v in message and v not in SOURCE.column_names)


def _lay_out(landing: dict, root: Path) -> LocalLandingZone:
    """The test folder `root` with the zone as zone/ and a file that must never be read in outside/."""
    (root / "outside").mkdir()
    (root / "outside" / "secret.csv").write_text(f"{HEADER}\n{ROW.format(hour=0, note=CANARY)}\n")
    for name, what in landing.items():
        path = root / "zone" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(what, dict):
            path.symlink_to(root / what["link"])
        else:
            path.write_bytes((CORPUS / "files" / what).read_bytes())
    return LocalLandingZone(root=str(root / "zone"))


@pytest.mark.parametrize("case", LANDING_CASES, ids=[c["kind"] for c in LANDING_CASES])
def test_landing_zone_case(case, tmp_path):
    zone = _lay_out(case["landing"], tmp_path)
    cold = LocalColdStorage(root=str(tmp_path / "cold"))
    (tmp_path / "work").mkdir()
    expect = case["expect"]
    # Listing, as the sensors do, never refuses: the run that would read the file does.
    assert zone.names(SOURCE.landing_glob("*")) and zone.listing(SOURCE.landing_glob("*"))

    def read():
        if "fetch" in case:
            return zone.fetch(case["fetch"])
        return ingest_partition(SOURCE, PARTITION.isoformat(), zone, cold, tmp_path / "work")

    if "refused" in expect:
        with pytest.raises(RefusedFile) as refused:
            read()
        assert str(refused.value) == expect["refused"]
        assert CANARY not in str(refused.value)
        assert not (tmp_path / "cold").exists()  # nothing staged from a refused partition
        return
    outcome = read()
    assert (outcome.rows_read, outcome.rows_landed, outcome.rows_quarantined) == (
        expect["records"], expect["landed"], expect["quarantined"]
    )  # fmt: skip


def test_reader_errors_lose_what_they_quote():
    """DuckDB quotes the value it failed on; a refusal keeps the reason and drops the value."""
    with pytest.raises(duckdb.Error) as error:
        duckdb.sql(f"SELECT '{CANARY}'::INTEGER").fetchall()
    assert CANARY in str(error.value)
    assert CANARY not in quiet(error.value) and "INT32" in quiet(error.value)
    assert len(quiet(ValueError("x" * 5000))) == 200


def test_a_file_read_without_its_header_is_refused_without_quoting_its_rows(tmp_path):
    """A headerless file's first row is read as its column names: a refusal shows at most a little."""
    path = tmp_path / "no_header.csv"
    path.write_text("".join(f"{ROW.format(hour=h, note=CANARY * 9)}\n" for h in range(3)))
    with pytest.raises(RefusedFile, match="none of the declared columns is there") as refused:
        validate_partition(SOURCE, [path], PARTITION, tmp_path / "l.parquet", tmp_path / "q.parquet")
    assert CANARY * 9 not in str(refused.value) and len(str(refused.value)) < len(str(path)) + 400


def test_the_corpus_covers_every_kind_the_issue_names():
    kinds = " | ".join(c["kind"] for c in CASES).lower()
    for kind in [
        "malformed csv", "wrong types", "missing required column", "extra column", "renamed column",
        "empty file", "header only", "duplicate keys within", "duplicate keys across", "nulls in the key",
        "outside the partition", "non-utf-8", "truncated parquet", "neither an array nor json lines",
        "huge field", "not what its extension says",
    ]:  # fmt: skip
        assert kind in kinds, kind
    used = {name for c in CASES for name in c["files"]}
    used |= {v for c in LANDING_CASES for v in c["landing"].values() if isinstance(v, str)}
    assert used == {p.name for p in (CORPUS / "files").iterdir()} | set(BUILT)  # no orphan files


def test_a_row_without_a_partition_date_never_lands_even_if_the_column_is_nullable(tmp_path):
    columns = tuple(c.model_copy(update={"nullable": True}) for c in SOURCE.columns)
    source = Source.model_validate(SOURCE.model_dump() | {"columns": columns, "primary_key": ("station",)})
    [file] = _materialize(["null_keys.csv"], tmp_path)
    outcome = validate_partition(source, [file], PARTITION, tmp_path / "l.parquet", tmp_path / "q.parquet")
    assert outcome.reasons["day: missing required value"] == 1


# Fuzzing: landing files assembled from good values and every kind of bad one the corpus knows.
CELLS = st.sampled_from(
    ["EWR", "2024-03-01", "2024-03-02", "1", "23", "-1", "1.5", "41.0", "true", "maybe", "", "NA", "x,y",
     '"quoted, comma"', '"unclosed', 'say "hi"', "caf\xe9", "2024-03-01T05:00:00Z", " 7 ", "\t", "中文"]
)  # fmt: skip
ROWS = st.lists(st.lists(CELLS, min_size=5, max_size=9), max_size=12)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(rows=ROWS, crlf=st.booleans(), latin1=st.booleans())
def test_fuzzed_landing_files_account_for_every_row_or_are_refused_in_one_line(rows, crlf, latin1):
    newline = "\r\n" if crlf else "\n"
    text = newline.join([HEADER, *(",".join(r) for r in rows)]) + newline
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_bytes(text.encode("latin-1" if latin1 else "utf-8", errors="replace"))
        landed, quarantine = Path(tmp) / "l.parquet", Path(tmp) / "q.parquet"
        try:
            outcome = validate_partition(SOURCE, [path], PARTITION, landed, quarantine)
        except RefusedFile as refused:
            assert str(refused).startswith(f"{path}: ") and "\n" not in str(refused)
            return
        assert outcome.accounted
        assert _rows(landed, "SELECT count(*) FROM t") == [(outcome.rows_landed,)]
        assert _rows(quarantine, "SELECT count(*) FROM t WHERE reason <> ''") == [(outcome.rows_quarantined,)]
        # What landed obeys the schema: required values present, in the partition, one row per key.
        assert _rows(
            landed,
            "SELECT count(*) = count(station) AND count(*) = count(hour) AND bool_and(day = DATE '2024-03-01') "
            "IS NOT FALSE AND count(*) = count(DISTINCT (station, day, hour)) FROM t",
        ) == [(True,)]
