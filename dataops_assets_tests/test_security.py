"""Security: no secret in checked-in configuration, and hostile names never become paths or SQL."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
from pathlib import Path

import duckdb
import pytest

from dataops_assets import layout
from dataops_assets.names import UnsafeName, checked_glob, checked_name, checked_partition
from dataops_assets.refused import RefusedFile
from dataops_assets.resources.cold_storage import LocalColdStorage
from dataops_assets.resources.hot_store import SQLiteHotStore
from dataops_assets.resources.warehouse import DuckDBWarehouse
from dataops_assets.science.snapshots import SnapshotError
from dataops_assets.secret_scan import default_files, scan_files, scan_log, scan_text
from dataops_assets.sources.catalog import get_source
from dataops_assets.sources.model import Source

HOSTILE_NAMES = [
    "../etc",
    "a/b",
    "flights; DROP TABLE raw.flights",
    'x" OR 1=1 --',
    "x'; --",
    "",
    "Flights",
    "ümlaut",
    "a" * 64,
    "name\x00",
    " flights",
    "1flights",
    None,
]


def test_checked_in_configuration_holds_no_secret():
    files = default_files()
    assert any(p.parent.name == "environments" for p in files)
    assert scan_files(files) == []


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("warehouse: {dsn: 'postgresql://app:hunter2@db:5432/dw'}", ":1: a URL with a password in it"),
        ("# old: postgres://admin:s3cret@10.0.0.5/prod\nname: x", ":1: a URL with a password in it"),
        ("dsn: host=db user=app password=hunter2", "a password in a connection string"),
        ("cold_storage: {aws_key: AKIAIOSFODNN7EXAMPLE}", "an AWS access key id"),
        ("key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  MIIE\n", ":2: a private key"),
        ("hot_store: {password: hunter2}", "hot_store.password holds a literal value"),
        ("s3: {secret_access_key: abc123}", "s3.secret_access_key holds a literal value"),
        ("api: {token: 12345}", "api.token holds a literal value"),
        ("warehouse: {kind: postgres, dsn: 'dbname=dw'}", "warehouse.dsn holds a literal value"),
    ],
)
def test_the_scan_finds_each_kind_of_secret(text, finding):
    findings = scan_text(text, "env.yaml")
    assert any(finding in f for f in findings), findings


@pytest.mark.parametrize(
    "text",
    [
        "warehouse: {kind: postgres, dsn: {env: DATAOPS_PG_DSN}}",
        "password: \"{{ env_var('DATAOPS_PG_PASSWORD', '') }}\"",
        "endpoint: http://127.0.0.1:9000/bucket",
        "tokens_per_second: true",
        "description: the password is held in DATAOPS_PG_DSN",
    ],
)
def test_references_and_harmless_values_pass(text):
    assert scan_text(text, "env.yaml") == []


def test_the_log_scan_finds_secrets_and_passes_what_redaction_left():
    from dataops_assets.redact import redact

    log = "GET /x?dsn=postgresql://app:hunter2@db/wh 200\nconnect: host=db password=hunter2 failed\nok"
    assert scan_log(log, "serve.log") == [
        "serve.log:1: a URL with a password in it",
        "serve.log:2: a password in a connection string",
    ]
    assert scan_log(redact(log), "serve.log") == []


def test_the_session_runs_event_log_holds_no_secret(pipeline_run):
    """Every event of every run in the session's Dagster instance (what the UI shows), scanned."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        events = [dg.serialize_value(entry) for run in runs for entry in instance.all_logs(run.run_id)]
    assert any(run.run_id == pipeline_run.run_id for run in runs) and len(events) > 100
    assert scan_log("\n".join(events), "event log") == []


def test_the_request_log_holds_no_secret(served_sqlite):
    """A client may put anything in a URL, a connection string included: the log line blanks it."""
    import httpx

    from dataops_assets_tests.api_server import bearer

    httpx.get(
        f"{served_sqlite.url}/datasets", params={"dsn": "postgresql://app:hunter2@db/wh"}, headers=bearer()
    )
    httpx.get(f"{served_sqlite.url}/x", params={"q": "host=db password=hunter2"})
    logs = list(served_sqlite.data_dir.glob("serve-*.log"))
    for _ in range(100):  # a line is written once its response is sent: wait for it, briefly
        text = "\n".join(p.read_text() for p in logs)
        if "password=***" in text and "app:***@" in text:
            break
        time.sleep(0.05)
    assert "hunter2" not in text and "?dsn=postgresql://app:***@db/wh 200" in text
    assert "?q=host=db%20password=*** 404" in text
    assert scan_files(logs, logs=True) == []


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused_by_the_one_validator(name):
    with pytest.raises(UnsafeName, match="name .* is not allowed"):
        checked_name("dataset", name)


@pytest.mark.parametrize("name", ["flights", "carrier_origin_daily", "snapshot_2013_q1", "a" * 63])
def test_safe_names_pass(name):
    assert checked_name("snapshot", name) == name


@pytest.mark.parametrize("partition", ["2013-01-01/../../x", "../2013-01-01", "2013-02-30", "20130101", "x"])
def test_partitions_must_be_dates(partition):
    with pytest.raises(UnsafeName, match="is not a YYYY-MM-DD date"):
        checked_partition(partition)
    with pytest.raises(UnsafeName):
        layout.manifest_key("flights", partition)


@pytest.mark.parametrize("dataset", ["../raw", "flights/../../x", "raw/flights"])
def test_storage_keys_refuse_hostile_datasets(dataset):
    with pytest.raises(UnsafeName):
        layout.staged_key(dataset, "2013-01-01")


@pytest.mark.parametrize("glob", ["../../etc/*.csv", "/etc/*.csv", "flights/../../x/*.csv", "a//b", "a/./b"])
def test_landing_globs_cannot_leave_the_landing_zone(glob):
    with pytest.raises(UnsafeName, match="must be a relative path"):
        checked_glob(glob)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "../flights"),
        ("landing", "../../etc/passwd/{date}/*"),
        ("columns", [{"name": 'a"b', "type": "string"}]),
    ],
)
def test_a_source_file_with_a_hostile_value_does_not_validate(field, value):
    declared = get_source("airlines").model_dump()
    with pytest.raises(ValueError, match=field):
        Source.model_validate(declared | {field: value})


def test_the_hot_store_runs_no_sql_for_a_hostile_name(tmp_path):
    store = SQLiteHotStore(path=str(tmp_path / "hot.sqlite"))
    store.publish("ok_table", [("d", "DATE")], [("2013-01-01",)], "d", ["2013-01-01"])
    for table, column in [('ok_table" ; DROP TABLE "ok_table', "d"), ("ok_table", 'd" TEXT); --')]:
        with pytest.raises(UnsafeName):
            store.publish(table, [(column, "DATE")], [("2013-01-02",)], column, ["2013-01-02"])
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT * FROM ok_table").fetchall() == [("2013-01-01",)]


def test_the_warehouse_runs_no_sql_for_a_hostile_dataset(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    with pytest.raises(UnsafeName):
        warehouse.replace_table("x AS SELECT 1; DROP SCHEMA raw CASCADE; --", [])
    with pytest.raises(UnsafeName):
        warehouse.load_partitions("../x", {"2013-01-01": []})
    assert not (tmp_path / "w.duckdb").exists() or duckdb.connect(str(tmp_path / "w.duckdb")).sql(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'raw'"
    ).fetchone() == (0,)


def test_cold_storage_keys_cannot_escape_the_root(tmp_path):
    storage = LocalColdStorage(root=str(tmp_path / "cold"))
    for key in ["../outside", "raw/../../outside", "/etc/passwd"]:
        with pytest.raises(ValueError, match="escapes the storage root"):
            storage.put_bytes(key, b"x")
    assert not (tmp_path / "outside").exists()


def test_paths_with_a_quote_are_paths_in_sql(tmp_path):
    """A data dir named o'brien: every path DuckDB reads or writes is bound or escaped, never spliced.
    (The session's testing root has a quote too, so the whole suite's pipeline run exercises it.)"""
    import datetime as dt

    import pyarrow.parquet as pq

    from dataops_assets.pillars.raw.table_days import write_parquet
    from dataops_assets.sources.replay import replay_nycflights13

    root = tmp_path / "o'brien"
    written = replay_nycflights13(root / "landing", [dt.date(2013, 1, 2)], root / "cache")
    assert root / "landing" / "flights" / "date=2013-01-02" / "flights.csv" in written
    target = root / "archive' (FORMAT csv); --.parquet"
    write_parquet([("d", "DATE"), ("n", "BIGINT")], [("2013-01-02", 7)], ["d"], target)
    assert pq.read_table(target).to_pylist() == [{"d": dt.date(2013, 1, 2), "n": 7}]


def test_a_symlink_out_of_the_landing_zone_fails_the_run_naming_it_and_quoting_nothing(tmp_path):
    """The reproduction: `landing/flights/date=…/zz.csv -> /etc/passwd` was read and quoted in the UI."""
    import dagster as dg

    from dataops_assets.pillars.ingestion.assets import build_ingestion_asset
    from dataops_assets.resources.landing_zone import LocalLandingZone

    day = tmp_path / "landing" / "flights" / "date=2013-01-02"
    day.mkdir(parents=True)
    (day / "zz.csv").symlink_to("/etc/passwd")
    result = dg.materialize(
        [build_ingestion_asset(get_source("flights"), dg.DailyPartitionsDefinition(start_date="2013-01-01"))],
        partition_key="2013-01-02",
        resources={
            "landing": LocalLandingZone(root=str(tmp_path / "landing")),
            "cold_storage": LocalColdStorage(root=str(tmp_path / "cold")),
        },
        raise_on_error=False,
    )
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description == (
        "flights/date=2013-01-02/zz.csv: refused: a symbolic link on its way leads outside the landing zone"
    )
    assert not (tmp_path / "cold").exists()


@pytest.mark.parametrize(
    "name",
    [
        "flights/../../../s3escape/evil.csv",  # climbs out of the cache: the reproduction
        "flights/date=2013-01-01/../../../../s3escape/evil.csv",
        "flights//evil.csv",  # an empty part
        "flights/./evil.csv",
    ],
)
def test_an_s3_landing_key_cannot_write_outside_the_cache(s3_endpoint, tmp_path, name):
    import uuid

    from dataops_assets.resources.landing_zone import S3LandingZone
    from dataops_assets.resources.s3 import s3_client

    bucket = f"dataops-i3-{uuid.uuid4().hex[:8]}"
    s3_client("us-east-1").create_bucket(Bucket=bucket)
    cache = tmp_path / "data" / "landing-cache"
    zone = S3LandingZone(bucket=bucket, prefix="landing/", cache_dir=str(cache))
    for key in ("landing/flights/date=2013-01-01/flights.csv", f"landing/{name}"):
        s3_client("us-east-1").put_object(Bucket=bucket, Key=key, Body=b"year\n2013\n")
    with pytest.raises(RefusedFile, match=rf"^landing key 'landing/{re.escape(name)}': refused: .* outside"):
        zone.files("flights/**")
    with pytest.raises(RefusedFile, match="^landing key 'landing//etc/passwd': refused"):
        zone.fetch("/etc/passwd")  # an absolute name, as a ledger entry could hold
    assert not list((tmp_path / "data").rglob("evil.csv")) and not (tmp_path / "s3escape").exists()
    assert not (tmp_path / "data" / "s3escape").exists()
    # The zone's honest files still come through once the bad object is gone.
    s3_client("us-east-1").delete_object(Bucket=bucket, Key=f"landing/{name}")
    assert zone.names("flights/**") == ["flights/date=2013-01-01/flights.csv"]
    assert [p.read_bytes() for p in zone.files("flights/**")] == [b"year\n2013\n"]


@pytest.fixture(scope="module")
def api_client(tmp_path_factory):
    """The API app over a SQLite hot store of known rows, in process (no server needed)."""
    from dataops_assets.pillars.serving.api.reader import SQLiteHotReader
    from dataops_assets_tests.api_server import DAYS, publish_carriers
    from dataops_assets_tests.test_api import _client

    store = SQLiteHotStore(path=str(tmp_path_factory.mktemp("api-security") / "hot.sqlite"))
    publish_carriers(store, DAYS)
    return _client(SQLiteHotReader(store.path))


@pytest.mark.parametrize(
    "payload",
    [b"[" * 5000, b"{" * 5000, b'{"q": "x", "v": ' + b"[" * 2000 + b"]" * 2000 + b"}", b"x" * 30_000],
    ids=["5000 [", "5000 {", "a deeply nested value", "40 KB"],
)
def test_a_forged_cursor_is_a_400_never_a_500(api_client, payload):
    import base64

    cursor = base64.urlsafe_b64encode(payload).decode()
    response = api_client.get("/datasets/carrier_origin_daily", params={"cursor": cursor})
    assert response.status_code == 400, response.text
    assert "not one this API issued" in response.json()["detail"]
    # and an honest cursor still pages
    first = api_client.get("/datasets/carrier_origin_daily", params={"limit": 2}).json()
    after = api_client.get(
        "/datasets/carrier_origin_daily", params={"limit": 2, "cursor": first["next_cursor"]}
    )
    assert after.status_code == 200 and after.json()["rows"] != first["rows"]


def test_the_request_log_cannot_be_forged_or_flooded(api_client, caplog):
    caplog.set_level(logging.INFO, logger="dataops.api")
    forged = "/x%0a2026-11-30 12:00:00,000 dataops.api GET /datasets 200 1.0ms%0d%1b[2J\\"
    assert api_client.get(forged).status_code == 404
    assert api_client.get("/datasets", params={"carrier": "A" * 60_000}).status_code in (200, 400)
    lines = [r.getMessage() for r in caplog.records if r.name == "dataops.api"]
    assert len(lines) == 2 and all(
        "\n" not in line and "\r" not in line and "\x1b" not in line for line in lines
    )
    # The forged line is one path, percent-encoded: no newline, space or escape sequence gets through.
    method, target, status, _, consumer = lines[0].split(" ")
    assert (method, status, consumer) == ("GET", "404", "-")
    assert (
        target == "/x%0A2026-11-30%2012:00:00,000%20dataops.api%20GET%20/datasets%20200%201.0ms%0D%1B[2J%5C"
    )
    assert len(lines[1]) < 2200 and "(57970 more characters)" in lines[1]


BAD_DSN = "postgresql://u:SeCrEt@[::1/db"  # psycopg cannot parse it, and quotes it whole when it says so


@pytest.mark.slow
def test_a_dsn_that_does_not_parse_never_shows_its_password(pg_database, s3_endpoint, tmp_path):
    """`env plan`, `serve` and `pipeline run` on a staging-shaped environment, and a run launched
    without the CLI's check (as the UI or the daemon would): no output and no event shows it."""
    import subprocess

    import psycopg

    from dataops_assets.provisioning.plan import apply, plan
    from dataops_assets.resources.postgres import UnparseableDSN
    from dataops_assets.runs.pipeline import run_pipeline
    from dataops_assets_tests.api_server import free_port
    from dataops_assets_tests.conftest import PIPELINE_DAYS
    from dataops_assets_tests.services import DATAOPS, environ, project_with, shared_environment

    data = tmp_path / "data"
    env = shared_environment("staging", pg_database, data)
    # One process instead of one per step: the same steps and events, in seconds rather than a minute.
    env = env.model_copy(update={"scale": env.scale.model_copy(update={"executor": "in_process"})})
    apply(plan(env), echo=lambda *_: None)  # the buckets and schemas, with the good DSN
    shown = []

    def dataops(*args: str, **variables: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [DATAOPS, *args],
            env=os.environ
            | {"DATAOPS_ENV": "staging", "DATAOPS_PROJECT_DIR": str(project_with(env, tmp_path))}
            | {"DATAOPS_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster_home")}
            | variables,
            capture_output=True,
            text=True,
            timeout=120,
        )
        shown.append(done.stdout + done.stderr)
        return done

    day = PIPELINE_DAYS[0].isoformat()
    for args, variable in [
        (["env", "plan", "staging"], "DATAOPS_PG_DSN"),
        (["pipeline", "run", "--start", day, "--end", day], "DATAOPS_PG_DSN"),
        (["serve", "--port", str(free_port())], "DATAOPS_API_PG_DSN"),
    ]:
        done = dataops(*args, **{variable: BAD_DSN})
        assert (done.returncode, done.stdout, done.stderr) == (
            1,
            "",
            f"error: the DSN in {variable} does not parse\n",
        ), args

    # Launched without the CLI: the steps that connect fail naming the variable, and the run's
    # summary stops the same way.
    with (
        environ(DATAOPS_PG_DSN=BAD_DSN, DATAOPS_DATA_DIR=str(data), DAGSTER_HOME=str(data / "dagster_home")),
        pytest.raises(UnparseableDSN, match=r"^the DSN in DATAOPS_PG_DSN does not parse$"),
    ):
        run_pipeline(env, PIPELINE_DAYS[:1], echo=shown.append)
    with psycopg.connect(pg_database.dsn) as con:  # Dagster's event log, in its PostgreSQL storage
        events = [row[0] for row in con.execute("SELECT event FROM event_logs")]
    failures = [e for e in events if '"STEP_FAILURE"' in e]
    assert failures and all("the DSN in DATAOPS_PG_DSN does not parse" in e for e in failures)
    assert not [e for e in events if "SeCrEt" in e] and scan_log("\n".join(events), "event log") == []
    assert not [text for text in shown if "SeCrEt" in text]
    # Nor any log or file the runs left behind (dbt's output, the instance's files).
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and b"SeCrEt" in p.read_bytes()]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f'in URI: "{BAD_DSN}"', 'in URI: "postgresql://u:***@[::1/db"'),
        ("postgresql://app:p@ss/w@rd@db:5432/wh failed", "postgresql://app:***@db:5432/wh failed"),
        ("host=db user=app password=hunter2 dbname=wh", "host=db user=app password=*** dbname=wh"),
        ("password='two words' host=db", "password=*** host=db"),
        ("DATAOPS_PG_PASSWORD=hunter2 dbt run", "DATAOPS_PG_PASSWORD=*** dbt run"),
        ("{'user': 'app', 'password': 'hunter2'}", "{'user': 'app', 'password': '***'}"),
        ("https://h/x?password=hunter2&y=1", "https://h/x?password=***&y=1"),
        ("postgresql://app@db:5432/wh and http://127.0.0.1:9000/b", None),  # nothing to hide
    ],
)
def test_redaction_needs_no_parse(text, shown):
    from dataops_assets.redact import redact

    assert redact(text) == (text if shown is None else shown)


@pytest.fixture
def cold_copy(pipeline_run, testing_root, tmp_path, monkeypatch):
    """A copy of the session run's cold storage that a test may tamper with; the CLI reads it."""
    import shutil

    shutil.copytree(testing_root / "cold", tmp_path / "cold")
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))
    return LocalColdStorage(root=str(tmp_path / "cold"))


def _tamper(storage: LocalColdStorage, key: str, edit) -> None:
    document = json.loads(storage.get_bytes(key))
    edit(document)
    storage.put_bytes(key, json.dumps(document).encode())


def _cli(*args: str):
    from click.testing import CliRunner

    from dataops_assets.cli.main import main

    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception
    )  # never a traceback
    return result


HOSTILE_PATHS = {
    "../../../outside.parquet": "climbs out",
    "raw/weather/date=2013-01-0*/part-*.parquet": "a glob",
    "raw/flights/date=2013-01-03/part-0000000000000000.parquet": "another partition's key",
}


def test_verify_reports_tampered_manifest_entries_as_findings(cold_copy):
    keys = [layout.manifest_key(d, day) for d, day in [("flights", "2013-01-01"), ("weather", "2013-01-01")]]
    keys.append(layout.manifest_key("flights", "2013-01-02"))
    for key, path in zip(keys, HOSTILE_PATHS, strict=True):
        _tamper(cold_copy, key, lambda m, path=path: m["files"][0].update(path=path))
    _tamper(
        cold_copy, layout.manifest_key("weather", "2013-01-02"), lambda m: m["files"][0].update(sha256="x")
    )

    result = _cli("verify")
    assert result.exit_code == 1
    bad = [line for line in result.output.splitlines() if line.startswith("bad entry in ")]
    assert len(bad) == 4 and all(path in result.output for path in HOSTILE_PATHS), result.output
    assert "its sha256 'x' is not 64 hex digits" in result.output
    assert "error: cold storage differs from its manifests (4 problem(s))" in result.output
    # The pipeline's own readers refuse the same manifests with one line.
    from dataops_assets.pillars.raw.publish import read_manifest

    with pytest.raises(layout.BadManifest, match=r"raw/flights/date=2013-01-01/_manifest.json: path '\.\./"):
        read_manifest(cold_copy, "flights", "2013-01-01")


def test_snapshot_verify_reports_a_tampered_entry_as_a_finding(cold_copy):
    from dataops_assets.science.snapshots import create_snapshot, load_snapshot, read_dataset

    frozen = create_snapshot(cold_copy, "tampered", ["flights", "weather"], "2013-01-01", "2013-01-02")
    key = f"snapshots/{frozen.name}.json"
    hostile = list(HOSTILE_PATHS)
    _tamper(
        cold_copy,
        key,
        lambda s: [f.update(path=p) for f, p in zip(s["content"]["files"], hostile, strict=False)],
    )

    result = _cli("snapshot", "verify", "tampered")
    assert result.exit_code == 1
    bad = [line for line in result.output.splitlines() if line.startswith("bad entry: ")]
    assert len(bad) == 3 and all(path in result.output for path in hostile), result.output
    with pytest.raises(SnapshotError, match="snapshot tampered pins a bad entry: path '../../../outside"):
        read_dataset(cold_copy, load_snapshot(cold_copy, "tampered"), "flights")

    cold_copy.put_bytes(key, b"{not json")
    result = _cli("snapshot", "verify", "tampered")
    assert result.exit_code == 1
    assert result.output.endswith(f"error: {key} is not a snapshot manifest this platform wrote\n")


def test_archive_read_reads_only_the_archived_bytes_of_its_own_table(cold_copy, tmp_path):
    from dataops_assets.pillars.serving.archive import archive_day
    from dataops_assets_tests.api_server import CARRIER_COLUMNS, carrier_rows

    day = "2013-01-01"
    ours = archive_day(
        cold_copy, "carrier_origin_daily", day, CARRIER_COLUMNS, carrier_rows([day]), ["carrier"]
    )
    other = [("flight_date", "DATE"), ("origin", "VARCHAR"), ("flights", "BIGINT")]
    archive_day(cold_copy, "route_daily_weather", day, other, [(day, "JFK", 1)], ["origin"])
    assert (
        "24 archived row(s) of carrier_origin_daily" in _cli("archive", "read", "carrier_origin_daily").output
    )

    # A path that is a glob over every table's archive of the day: refused, never expanded.
    key = layout.archive_manifest_key("carrier_origin_daily", day)
    _tamper(cold_copy, key, lambda m: m["files"][0].update(path=f"archive/*/date={day}/part-*.parquet"))
    result = _cli("archive", "read", "carrier_origin_daily", "--out", str(tmp_path / "out.csv"))
    assert (
        result.exit_code == 1
        and "is not 'archive/carrier_origin_daily/date=2013-01-01/part-" in result.output
    )
    assert not (tmp_path / "out.csv").exists()

    # The manifest as it was, but the archived file changed: its sha256 is checked on every read.
    cold_copy.put_bytes(key, json.dumps(ours.manifest).encode())
    archived = Path(cold_copy.root) / ours.manifest["files"][0]["path"]
    data = bytearray(archived.read_bytes())
    data[len(data) // 2] ^= 0x01
    archived.write_bytes(bytes(data))
    result = _cli("archive", "read", "carrier_origin_daily")
    assert result.exit_code == 1
    assert f"{ours.manifest['files'][0]['path']} differs from its manifest (sha256)" in result.output


# --- finding 1: nothing executable is read back from cold storage ----------------------------------


class _Payload:
    """What an attacker who can write cold storage would plant: a pickle that runs code when loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "the pickle ran"))


@pytest.fixture(scope="module")
def champion(pipeline_run, testing_env, testing_root, tmp_path_factory):
    """A copy of the session's raw partitions (no ledger or promotions of other tests: the snapshot's id
    is its content's, so another module's champion would be this one's) with a promoted baseline."""
    import shutil

    from dataops_assets.resources.factory import open_resource
    from dataops_assets.runs.experiment import run_experiment
    from dataops_assets.science.promotion import promote
    from dataops_assets.science.snapshots import create_snapshot
    from dataops_assets.task_declarations import load_task
    from dataops_assets_tests.services import environ

    root = tmp_path_factory.mktemp("champion")
    shutil.copytree(testing_root / "cold" / "raw", root / "cold" / "raw")
    with environ(DATAOPS_DATA_DIR=str(root)):
        cold = open_resource(testing_env, "cold_storage")
        frozen = create_snapshot(
            cold, "security", ["flights", "planes", "weather"], "2013-01-01", "2013-01-03"
        )
        record = run_experiment(testing_env, frozen.name, "baseline", test_days=1)
        task = load_task("late_arrival")
        promotion = promote(cold, open_resource(testing_env, "hot_store"), task, frozen, "baseline")
    return {"root": root, "cold": cold, "snapshot": frozen, "record": record, "promotion": promotion}


@pytest.fixture
def plant(champion, monkeypatch):
    """Writes keys into the champion's cold storage as an attacker would; removes them afterwards."""
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(champion["root"]))
    planted = []

    def put(key: str, data: bytes) -> str:
        champion["cold"].put_bytes(key, data)
        planted.append(Path(champion["cold"].root) / key)
        return key

    yield put
    for path in planted:
        path.unlink()


def _score(testing_env, day: str = "2013-01-03"):
    """Materialize the serving group's champion predictions for `day`: (failure reason, rows served)."""
    import dagster as dg

    from dataops_assets.resources.factory import build_resources, open_resource
    from dataops_assets.runs.instance import failure_reason
    from dataops_assets.science.serving import build_champion_predictions_asset
    from dataops_assets.task_declarations import load_task

    asset = build_champion_predictions_asset(
        load_task("late_arrival"), dg.DailyPartitionsDefinition(start_date="2013-01-01")
    )
    result = dg.materialize(
        [asset], partition_key=day, resources=build_resources(testing_env), raise_on_error=False
    )
    with sqlite3.connect(f"file:{open_resource(testing_env, 'hot_store').path}?mode=ro", uri=True) as con:
        served = con.execute(
            "SELECT predicted FROM flight_delay_predictions WHERE flight_date = ? AND split = 'serving' "
            "ORDER BY carrier, flight, origin, sched_dep_time",
            [day],
        ).fetchall()
    return failure_reason(result), [p for (p,) in served]


def _plant_pickle(champion, plant, marker: Path) -> dict:
    """The issue's payload: the pickle beside the ledger, and a promotion record naming it."""
    import hashlib
    import pickle

    from dataops_assets.integrity import canonical_json

    data = pickle.dumps(_Payload(marker))
    sha256 = hashlib.sha256(data).hexdigest()
    snapshot_id = champion["snapshot"].id
    key = plant(f"experiments/{snapshot_id}/models/evil-{sha256[:16]}.pickle", data)
    forged = champion["promotion"] | {"model_artifact": {"path": key, "sha256": sha256, "bytes": len(data)}}
    plant(f"promotions/late_arrival/{snapshot_id}/99991231T235959000000-evil.json", canonical_json(forged))
    return forged


def test_a_planted_pickle_never_runs_and_the_champion_is_refitted(champion, plant, testing_env, tmp_path):
    from dataops_assets.science import ledger

    marker = tmp_path / "owned"
    _plant_pickle(champion, plant, marker)
    failure, served = _score(testing_env)
    assert not marker.exists()
    assert failure is None
    # Scored by the re-fitted champion: exactly what its promoted run predicted for the day.
    recorded = ledger.read_predictions(champion["cold"], champion["record"])
    expected = recorded[recorded["flight_date"] == "2013-01-03"]["predicted"].to_numpy()
    assert len(served) == 914 and max(abs(a - b) for a, b in zip(served, expected, strict=True)) <= 1e-12


@pytest.mark.parametrize(
    ("forgery", "says"),
    [
        (
            {"model": "evil"},
            "unknown model 'evil'; models in {models}: baseline, climatology, gradient_boosting",
        ),
        ({"snapshot": {"name": "gone", "id": "0" * 64}}, "no snapshot named 'gone' (snapshots: security)"),
        ({"seed": "os.system('id')"}, "names no snapshot, model file, parameters and seed"),
    ],
    ids=["unknown model", "missing snapshot", "not a seed"],
)
def test_a_forged_promotion_fails_in_one_line_and_runs_nothing(
    champion, plant, testing_env, tmp_path, forgery, says
):
    from dataops_assets.integrity import canonical_json
    from dataops_assets.science.models import models_dir

    marker = tmp_path / "owned"
    forged = _plant_pickle(champion, plant, marker)
    run = {k: v for k, v in champion["record"].items() if k != "ledger_key"} | forgery
    key = plant(
        f"experiments/{champion['snapshot'].id}/runs/99991231T235959000000-evil0000.json", canonical_json(run)
    )
    promotion = forged | {"ledger_key": key, "model": run["model"]}
    plant(
        f"promotions/late_arrival/{champion['snapshot'].id}/99991231T235959999999-evil.json",
        canonical_json(promotion),
    )

    failure, _ = _score(testing_env)
    assert failure.startswith("serving__flight_delay_predictions: the champion cannot score: ")
    assert failure.endswith(says.format(models=models_dir())) and "\n" not in failure
    assert not marker.exists()


def test_a_champion_whose_model_file_or_predictions_changed_since_its_promotion_refuses_to_score(
    champion, plant, testing_env, monkeypatch, tmp_path
):
    import shutil

    from dataops_assets import paths
    from dataops_assets.science.models import Fitted

    again = (
        "run `dataops experiment run --task late_arrival --snapshot security --model baseline` again and "
        "promote it"
    )
    prefix = "serving__flight_delay_predictions: the champion cannot score: "
    # An edit of the model's file: another variant, which was never promoted.
    shutil.copytree(paths.SCIENCE_DIR, tmp_path / "science")
    edited = tmp_path / "science" / "models" / "baseline.py"
    edited.write_text(edited.read_text().replace('"prior_strength": 20.0', '"prior_strength": 21.0'))
    with monkeypatch.context() as patch:
        patch.setattr(paths, "SCIENCE_DIR", tmp_path / "science")
        failure, _ = _score(testing_env)
    assert failure == f"{prefix}baseline.py changed since baseline was promoted: {again}"
    # The same file, other predictions (a library that changed): refused too.
    predict = Fitted.predict
    monkeypatch.setattr(Fitted, "predict", lambda self, frame: predict(self, frame) * 0.9)
    failure, _ = _score(testing_env)
    assert failure == (
        f"{prefix}re-fitted on snapshot security, baseline no longer predicts what was promoted "
        f"(task late_arrival or the libraries changed since): {again}"
    )
