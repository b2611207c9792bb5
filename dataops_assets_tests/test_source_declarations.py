"""Declaring a dataset as it comes: `from:` for any header, `format:` for dates, spelled booleans,
spans; `dataops source infer` drafting a declaration that `dataops source check` accepts; serve
declarations in dbt YAML validated before anything runs. No Dagster run here."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dataops_assets.pillars.ingestion.dry_run import dry_run
from dataops_assets.pillars.ingestion.validate import RefusedFile, validate_partition
from dataops_assets.served import InvalidServeDeclaration, declared_tables
from dataops_assets.sources.infer import CannotInfer, infer_source, safe_name, safe_names
from dataops_assets.sources.model import Source
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model
from dataops_assets_tests.services import copy_of_user_space

DATAOPS = str(Path(sys.executable).parent / "dataops")
DAY = dt.date(2024, 3, 1)
BASE = {
    "name": "counts",
    "description": "A feed with the headers its exporter chose.",
    "format": "csv",
    "partitioning": "daily",
    "landing": "counts/*.csv",
    "partition_date": {"column": "taken_at"},
    "primary_key": ["taken_at"],
}
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _source(tmp_path: Path, **fields) -> Source:
    path = tmp_path / f"{fields.get('name', BASE['name'])}.yaml"
    path.write_text(yaml.safe_dump(BASE | fields, allow_unicode=True, sort_keys=False))
    return load_yaml_model(path, Source)


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- headers: any text in the file, a safe name after landing ----------------------------------------

HEADER_TEXT = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters='\r\n"\ufeff'
        ),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@given(
    st.lists(
        HEADER_TEXT, min_size=1, max_size=8, unique_by=lambda h: __import__("unicodedata").normalize("NFC", h)
    )
)
@SETTINGS
def test_awkward_headers_infer_to_a_declaration_that_lands_every_row(tmp_path_factory, headers):
    """Spaces, punctuation, digits first, capitals, unicode: infer names every column safely and
    distinctly, `from:` keeps the header, and the file then lands whole under that declaration."""
    tmp = tmp_path_factory.mktemp("headers")
    rows = [[str(i * 10 + j) for j in range(len(headers))] for i in range(3)]
    sample = _csv(
        tmp / "sample.csv", ["taken_at", *headers], [[f"2024-03-0{i + 1}", *r] for i, r in enumerate(rows)]
    )
    drafted = infer_source(sample, "counts", "taken_at")
    (tmp / "counts.yaml").write_text(drafted)
    source = load_yaml_model(tmp / "counts.yaml", Source)

    names = source.column_names
    assert len(set(names)) == len(names) and all(
        n == safe_name(n, 0) or n.startswith("column_") for n in names
    )
    import unicodedata

    assert [c.in_file for c in source.columns] == [
        unicodedata.normalize("NFC", h) for h in ["taken_at", *headers]
    ]
    result = dry_run(source, sample)
    assert result.rows_read == result.landed == 3 and result.quarantined == 0


WORDS = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True), min_size=1, max_size=3)
SEPARATORS = st.sampled_from([" ", "-", ".", "/", " (", ") ", "_", " - ", ": ", "  "])


@st.composite
def spelling(draw, words: list[str]) -> str:
    """One way an exporter may write `words`: its own separators, capitals and accents."""
    header = ""
    for i, word in enumerate(words):
        word = draw(st.sampled_from([word, word.upper(), word.capitalize()]))
        if draw(st.booleans()):
            word = word.replace("e", "é").replace("E", "É").replace("a", "à")
        header += (draw(SEPARATORS) if i else draw(st.sampled_from(["", "(", "#"]))) + word
    return header + draw(st.sampled_from(["", ")", "?", " %"]))


@given(st.data(), WORDS)
@SETTINGS
def test_headers_that_sanitise_alike_are_told_apart_or_refused(tmp_path_factory, data, words):
    pair = [data.draw(spelling(words)), data.draw(spelling(words))]
    assume(pair[0].strip() != pair[1].strip())
    assert safe_name(pair[0], 0) == safe_name(pair[1], 1)  # e.g. 'Quay St.' and 'quay-st'
    # infer gives the second its own name...
    first, second = safe_names(pair)
    assert first != second and second.startswith(first[:55])
    # ...while a declaration that names both alike is a clear error naming both headers.
    columns = [{"name": "taken_at", "type": "date"}] + [
        {"name": first, "from": h, "type": "string"} for h in pair
    ]
    with pytest.raises(InvalidConfig, match="declared twice") as error:
        _source(tmp_path_factory.mktemp("dup"), columns=columns)
    assert all(h in str(error.value) for h in pair)


def test_a_declaration_names_both_names_in_reasons_and_errors(tmp_path):
    columns = [
        {"name": "taken_at", "type": "date"},
        {"name": "col_107_quay_street", "from": "107 Quay Street", "type": "integer"},
        {"name": "cafe", "from": "Café Ünïcode (Nth)", "type": "string", "nullable": False},
    ]
    source = _source(tmp_path, columns=columns)
    good = _csv(
        tmp_path / "good.csv",
        ["taken_at", "107 Quay Street", "Café Ünïcode (Nth)"],
        [["2024-03-01", "5", "x"], ["2024-03-01", "five", "y"]],
    )
    outcome = validate_partition(source, [good], DAY, tmp_path / "l.parquet", tmp_path / "q.parquet")
    assert (outcome.rows_landed, outcome.rows_quarantined) == (1, 1)
    [(reason, raw)] = duckdb.execute(
        f"SELECT reason, raw FROM read_parquet('{tmp_path / 'q.parquet'}')"
    ).fetchall()
    assert reason == 'col_107_quay_street (from "107 Quay Street"): cannot read five as integer'
    assert '"107 Quay Street":"five"' in raw  # the row as the file had it
    assert duckdb.execute(
        f"SELECT col_107_quay_street, cafe FROM read_parquet('{tmp_path / 'l.parquet'}')"
    ).fetchall() == [(5, "x")]

    missing = _csv(tmp_path / "missing.csv", ["taken_at", "107 Quay Street"], [["2024-03-01", "1"]])
    with pytest.raises(
        RefusedFile, match=r'missing declared column\(s\) cafe \(from "Café Ünïcode \(Nth\)"\)'
    ):
        validate_partition(source, [missing], DAY, tmp_path / "l2.parquet", tmp_path / "q2.parquet")


def test_a_header_in_another_unicode_form_still_matches(tmp_path):
    import unicodedata

    source = _source(
        tmp_path,
        columns=[{"name": "taken_at", "type": "date"}, {"name": "cafe", "from": "Café", "type": "string"}],
    )
    decomposed = unicodedata.normalize("NFD", "Café")
    path = _csv(tmp_path / "nfd.csv", ["taken_at", decomposed], [["2024-03-01", "ok"]])
    assert (
        validate_partition(source, [path], DAY, tmp_path / "l.parquet", tmp_path / "q.parquet").rows_landed
        == 1
    )


# --- formats -------------------------------------------------------------------------------------------

FORMATS = [
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%d %b %Y",
    "%m/%d/%Y %I:%M %p",
]


@given(
    st.sampled_from(FORMATS),
    st.lists(
        st.datetimes(min_value=dt.datetime(2000, 1, 13), max_value=dt.datetime(2030, 12, 31)),
        min_size=1,
        max_size=20,
    ),
)
@SETTINGS
def test_a_declared_format_reads_its_values_and_quarantines_the_rest(tmp_path_factory, format, moments):
    tmp = tmp_path_factory.mktemp("formats")
    moments = [
        m.replace(second=0, microsecond=0) if "%S" not in format else m.replace(microsecond=0)
        for m in moments
    ]
    if "%H" not in format and "%I" not in format:
        moments = [m.replace(hour=0, minute=0) for m in moments]
    kind = "date" if "%H" not in format and "%I" not in format else "timestamp"
    source = _source(
        tmp,
        partitioning="none",
        landing="counts/*.csv",
        partition_date=None,
        primary_key=["n"],
        columns=[
            {"name": "n", "type": "integer"},
            {"name": "seen", "from": "When", "type": kind, "format": format},
        ],
    )
    rows = [[str(i), m.strftime(format)] for i, m in enumerate(moments)] + [["999", "not a date"]]
    path = _csv(tmp / "f.csv", ["n", "When"], rows)
    outcome = validate_partition(source, [path], None, tmp / "l.parquet", tmp / "q.parquet")
    assert (outcome.rows_landed, outcome.rows_quarantined) == (len(moments), 1)
    read = duckdb.execute(f"SELECT seen FROM read_parquet('{tmp / 'l.parquet'}') ORDER BY n").fetchall()
    expected = [m.date() if kind == "date" else m for m in moments]
    assert [r[0] for r in read] == expected
    [(reason,)] = duckdb.execute(f"SELECT reason FROM read_parquet('{tmp / 'q.parquet'}')").fetchall()
    assert reason == f'seen (from "When"): cannot read not a date as {kind} (format {format})'


@given(
    st.sampled_from([f for f in FORMATS if "%b" not in f]),
    st.lists(
        st.dates(min_value=dt.date(2001, 1, 13), max_value=dt.date(2029, 12, 28)),
        min_size=2,
        max_size=15,
        unique=True,
    ),
)
@SETTINGS
def test_infer_detects_a_format_that_reads_the_values_back(tmp_path_factory, format, days):
    tmp = tmp_path_factory.mktemp("infer-formats")
    days = [d.replace(day=max(d.day, 13)) for d in days]  # a day past 12: day and month cannot be confused
    moments = [dt.datetime.combine(d, dt.time(7, 30)) for d in days]
    path = _csv(
        tmp / "f.csv", ["Seen At", "n"], [[m.strftime(format), str(i)] for i, m in enumerate(moments)]
    )
    drafted = yaml.safe_load(infer_source(path, "seen", "Seen At"))
    [column] = [c for c in drafted["columns"] if c.get("from") == "Seen At"]
    if column.get("format"):
        parsed = [dt.datetime.strptime(m.strftime(format), column["format"]) for m in moments]
        assert [p.date() for p in parsed] == days
    else:  # an ISO spelling: typed without a format
        assert format.startswith("%Y-%m-%d")
    assert drafted["start"] == min(days)


def test_booleans_read_with_their_declared_spellings(tmp_path):
    open_ = {
        "name": "open",
        "from": "Open?",
        "type": "boolean",
        "true_values": ["Y", "yes"],
        "false_values": ["N"],
    }
    source = _source(
        tmp_path,
        primary_key=["taken_at", "n"],
        columns=[{"name": "taken_at", "type": "date"}, {"name": "n", "type": "integer"}, open_],
    )
    rows = [["2024-03-01", str(n), value] for n, value in enumerate(["Y", " yes ", "N", "true"])]
    path = _csv(tmp_path / "b.csv", ["taken_at", "n", "Open?"], rows)
    outcome = validate_partition(source, [path], DAY, tmp_path / "l.parquet", tmp_path / "q.parquet")
    assert (outcome.rows_landed, outcome.rows_quarantined) == (3, 1)
    landed = duckdb.execute(
        f"SELECT open FROM read_parquet('{tmp_path / 'l.parquet'}') ORDER BY n"
    ).fetchall()
    assert landed == [(True,), (True,), (False,)]
    [(reason,)] = duckdb.execute(f"SELECT reason FROM read_parquet('{tmp_path / 'q.parquet'}')").fetchall()
    assert reason == 'open (from "Open?"): cannot read true as boolean (true: Y, yes; false: N)'


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (
            {"columns": [{"name": "taken_at", "type": "date", "format": "%Q"}]},
            "'%Q' is not a strptime directive",
        ),
        ({"columns": [{"name": "taken_at", "type": "date", "format": "day"}]}, "has no strptime directive"),
        (
            {
                "columns": [
                    {"name": "taken_at", "type": "date"},
                    {"name": "n", "type": "integer", "format": "%d"},
                ]
            },
            "format applies to date",
        ),
        (
            {
                "columns": [
                    {"name": "taken_at", "type": "date"},
                    {"name": "b", "type": "boolean", "true_values": ["Y"]},
                ]
            },
            "go together",
        ),
        (
            {
                "columns": [
                    {"name": "taken_at", "type": "date"},
                    {"name": "b", "type": "boolean", "true_values": ["Y"], "false_values": ["Y"]},
                ]
            },
            "is both true and false",
        ),
        ({"columns": [{"name": "taken_at", "type": "string"}]}, "partition_date column taken_at is string"),
        (
            {"columns": [{"name": "taken_at", "type": "date"}], "start": "2024-02-01", "end": "2024-01-01"},
            "end 2024-01-01 is before start",
        ),
        (
            {"columns": [{"name": "taken_at", "type": "date"}], "missing": "skip"},
            "missing: Input should be 'fail' or 'empty'",
        ),
        ({"columns": [{"name": "Taken At", "type": "date"}]}, "String should match pattern"),
        (
            {
                "partitioning": "none",
                "landing": "x/{date}/*.csv",
                "partition_date": None,
                "columns": [{"name": "taken_at", "type": "date"}],
            },
            "needs partitioning: daily",
        ),
    ],
)
def test_a_bad_declaration_is_one_clear_error(tmp_path, fields, says):
    with pytest.raises(InvalidConfig, match=__import__("re").escape(says)):
        _source(tmp_path, **fields)


def test_a_span_says_which_days_are_expected(tmp_path):
    source = _source(
        tmp_path, columns=[{"name": "taken_at", "type": "date"}], start="2024-01-03", end="2024-01-05"
    )
    assert [source.expects(dt.date(2024, 1, d)) for d in (2, 3, 5, 6)] == [False, True, True, False]
    assert source.expects_window(dt.date(2024, 1, 1), dt.date(2024, 1, 3)) and not source.expects_window(
        dt.date(2024, 1, 6), dt.date(2024, 1, 9)
    )
    assert source.holds_many_days and source.missing == "fail"


def test_infer_refuses_what_cannot_be_ingested(tmp_path):
    twice = tmp_path / "twice.csv"
    twice.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(CannotInfer, match="names 'a' twice"):
        infer_source(twice, "twice")
    dates = _csv(tmp_path / "d.csv", ["when", "n"], [["soon", "1"]])
    with pytest.raises(CannotInfer, match="--partition-date 'when': its values are not all dates"):
        infer_source(dates, "d", "when")
    with pytest.raises(CannotInfer, match="is not a column"):
        infer_source(dates, "d", "nope")


@pytest.mark.parametrize("name", ["*.csv", "?ther.csv", "[o]ther.csv"])
def test_infer_and_check_read_a_sample_named_like_a_glob_as_itself(tmp_path, name):
    """DuckDB reads every path as a glob: a sample named `*.csv` beside another CSV must be read
    alone, by infer and by `source check`'s dry run (issue 18, finding 4)."""
    _csv(tmp_path / "other.csv", ["when", "amount", "note"], [["2024-01-01", "1.5", "x"]] * 3)
    sample = _csv(tmp_path / name, ["taken_at", "n"], [["2024-03-01", "1"], ["2024-03-02", "2"]])
    drafted = infer_source(sample, "counts", "taken_at")
    assert yaml.safe_load(drafted)["columns"] == [
        {"name": "taken_at", "type": "date"},
        {"name": "n", "type": "integer"},
    ]
    declaration = tmp_path / "counts.yaml"
    declaration.write_text(drafted)
    checked = dry_run(load_yaml_model(declaration, Source), sample)
    assert (checked.rows_read, checked.landed, checked.quarantined) == (2, 2, 0)


# --- serve declarations -------------------------------------------------------------------------------


def _model(name: str, serve, columns=("day", "sensor"), tags=("daily",)) -> dict:
    return {
        "resource_type": "model",
        "name": name,
        "schema": "marts",
        "alias": name,
        "tags": list(tags),
        "description": f"{name} per day",
        "patch_path": f"dataops://models/marts/{name}.yml",
        "original_file_path": f"models/marts/{name}.sql",
        "columns": {c: {"name": c} for c in columns},
        "config": {"meta": {"dataops": {"serve": serve}}},
    }


def _manifest(*models: dict) -> dict:
    return {"nodes": {f"model.p.{m['name']}": m for m in models}}


def test_a_serve_declaration_becomes_a_served_table():
    [table] = declared_tables(
        _manifest(_model("m", {"table": "daily", "key": ["day", "sensor"], "date_column": "day"}))
    )
    assert (table.name, table.key, table.date_column, table.relation, table.model) == (
        "daily",
        ("day", "sensor"),
        "day",
        "marts.m",
        "m",
    )


@pytest.mark.parametrize(
    ("models", "says"),
    [
        (
            [_model("m", {"table": "Daily Counts", "key": ["day"], "date_column": "day"})],
            "meta.dataops.serve: table: String should match",
        ),
        (
            [_model("m", {"table": "d", "key": ["day"], "date_column": "day", "why": 1})],
            "why: Extra inputs are not permitted",
        ),
        (
            [_model("m", {"table": "d", "key": [], "date_column": "day"})],
            "key: Tuple should have at least 1 item",
        ),
        (
            [_model("m", {"table": "d", "key": ["day", "x"], "date_column": "day"})],
            "serves column(s) x that its YAML does not list",
        ),
        (
            [_model("m", {"table": "d", "key": ["day"], "date_column": "day"}, tags=("dimension",))],
            "is not a daily model",
        ),
        (
            [
                _model("a", {"table": "d", "key": ["day"], "date_column": "day"}),
                _model("b", {"table": "d", "key": ["day"], "date_column": "day"}),
            ],
            "models a (dbt_project/models/marts/a.yml) and b both serve table 'd'",
        ),
        (
            [_model("m", {"table": "flight_delay_predictions", "key": ["day"], "date_column": "day"})],
            "the science track's predictions",
        ),
    ],
)
def test_a_bad_serve_declaration_names_the_model_and_its_file(models, says):
    with pytest.raises(InvalidServeDeclaration, match=__import__("re").escape(says)) as error:
        declared_tables(_manifest(*models))
    assert "dbt_project/models/marts/" in str(error.value)


# --- the commands -------------------------------------------------------------------------------------


def _dataops(*args: str, cwd: Path, project: Path | None = None) -> subprocess.CompletedProcess:
    env = os.environ | ({"DATAOPS_PROJECT_DIR": str(project)} if project else {})
    return subprocess.run(
        [DATAOPS, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False
    )


def test_source_check_lists_every_problem_and_writes_nothing(tmp_path):
    project = copy_of_user_space(tmp_path)
    (project / "sources" / "a.yaml").write_text(
        yaml.safe_dump(BASE | {"name": "a", "columns": [{"name": "taken_at", "type": "integer"}]})
    )
    (project / "sources" / "b.yaml").write_text(
        yaml.safe_dump(
            BASE | {"name": "b", "missing": "skip", "columns": [{"name": "taken_at", "type": "date"}]}
        )
    )
    result = _dataops("source", "check", cwd=tmp_path, project=project)
    assert result.returncode == 1
    assert "a.yaml: partition_date column taken_at is integer" in result.stdout
    assert "b.yaml: missing: Input should be 'fail' or 'empty'" in result.stdout
    assert result.stderr.strip() == "error: 2 problem(s) in the declarations"
    assert not (
        project / "dbt_project" / "target"
    ).exists()  # stopped before dbt: nothing generated or parsed
    assert not (project / "dbt_project" / "models" / "_sources.yml").exists()


def test_infer_then_check_dry_runs_a_multi_day_file_per_day(tmp_path):
    rows = [
        [f"{d:02d}/01/2024 {h:02d}:00", str(d * 100 + h), "Y" if h % 2 else "N"]
        for d in (13, 14, 15)
        for h in (0, 12)
    ]
    rows += [
        ["14/01/2024 12:00", "1", "Y"],
        ["31/02/2024 00:00", "2", "N"],
        ["16/01/2024 00:00", "lots", "N"],
    ]
    sample = _csv(tmp_path / "counts.csv", ["Date", "107 Quay Street", "Open?"], rows[:6])
    full = _csv(tmp_path / "full.csv", ["Date", "107 Quay Street", "Open?"], rows)
    inferred = _dataops(
        "source", "infer", str(sample), "--name", "counts", "--partition-date", "Date", cwd=tmp_path
    )
    assert inferred.returncode == 0, inferred.stderr
    drafted = yaml.safe_load(inferred.stdout)
    assert drafted["landing"] == "counts/*.csv" and drafted["start"] == dt.date(2024, 1, 13)
    assert drafted["columns"][0] == {
        "name": "date",
        "from": "Date",
        "type": "timestamp",
        "format": "%d/%m/%Y %H:%M",
    }
    assert drafted["columns"][2] == {
        "name": "open",
        "from": "Open?",
        "type": "boolean",
        "true_values": ["Y"],
        "false_values": ["N"],
    }

    project = copy_of_user_space(tmp_path)
    (project / "sources" / "counts.yaml").write_text(inferred.stdout)
    checked = _dataops("source", "check", "counts", "--file", str(full), cwd=tmp_path, project=project)
    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.splitlines()
    assert (
        "counts: daily, files holding many days, landing 'counts/*.csv' (csv), span 2024-01-13..…" in lines[2]
    )
    table = {line.split()[0]: line.split() for line in lines if line[:4] in ("2024", "(no ")}
    assert table["2024-01-13"][1:4] == ["2", "2", "0"]
    assert table["2024-01-14"][1:4] == ["3", "2", "1"]  # the repeated 13:00 is a duplicate
    assert table["2024-01-16"][1:4] == ["1", "0", "1"]  # 'lots' is not an integer
    assert table["(no"][2:5] == ["1", "-", "1"]  # 31/02 is no date: quarantined without a day
    assert lines[-1] == "read 9 = land 6 + quarantine 3"


def test_a_pipeline_run_checks_every_declaration_before_it_writes_anything(tmp_path):
    project = copy_of_user_space(tmp_path)
    (project / "sources" / "counts.yaml").write_text(
        yaml.safe_dump(BASE | {"columns": [{"name": "taken_at", "type": "date", "format": "%d/%m/%Q"}]})
    )
    data = tmp_path / "data"
    result = subprocess.run(
        [DATAOPS, "pipeline", "run", "--start", "2013-01-01", "--end", "2013-01-01"],
        env=os.environ | {"DATAOPS_PROJECT_DIR": str(project), "DATAOPS_ENV": "sandbox", "DATAOPS_DATA_DIR": str(data)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "counts.yaml: columns.0.format: format '%d/%m/%Q'" in line
    assert not data.exists()  # the replay wrote no landing file; nothing was written at all
