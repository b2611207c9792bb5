"""The hot data API as clients see it: a real `dataops serve` process on loopback, known hot rows."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import time
import warnings

import httpx
import pytest

from dataops_assets_tests.api_server import (
    CARRIER_COLUMNS,
    DATAOPS,
    DAYS,
    TOKEN_VARIABLES,
    bearer,
    carrier_rows,
)

NAMES = [name for name, _ in CARRIER_COLUMNS]
KEY = ("flight_date", "carrier", "origin")
EXPECTED = [dict(zip(NAMES, row, strict=True)) for row in carrier_rows(DAYS)]


@pytest.fixture(scope="session")
def api(served):
    with httpx.Client(base_url=served.url, timeout=10, headers=bearer()) as client:
        yield client


def get(api: httpx.Client, path: str, **params) -> httpx.Response:
    return api.get(path, params=params)


def ordered(rows: list[dict], order: list[tuple[str, bool]]) -> list[dict]:
    """Python's version of the API's order: NULL smallest, the key breaking ties."""
    terms = order + [(k, False) for k in KEY if k not in [n for n, _ in order]]
    result = list(rows)
    for name, descending in reversed(terms):  # a stable sort per term, last term first
        result.sort(
            key=lambda r, n=name: (r[n] is not None, r[n] if r[n] is not None else 0), reverse=descending
        )
    return result


def all_pages(api: httpx.Client, **params) -> tuple[list[dict], int]:
    rows, pages, cursor = [], 0, None
    while True:
        body = get(api, "/datasets/carrier_origin_daily", **params, **({"cursor": cursor} if cursor else {}))
        assert body.status_code == 200, body.text
        page = body.json()
        rows += page["rows"]
        pages += 1
        cursor = page["next_cursor"]
        assert len(page["rows"]) <= page["limit"]
        assert pages <= len(EXPECTED), "paging does not end"
        if cursor is None:
            return rows, pages


def test_serve_has_help():
    result = subprocess.run([DATAOPS, "serve", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "--port" in result.stdout and "/openapi.json" in result.stdout


def test_serve_refuses_a_taken_port_in_one_line(served_sqlite):
    port = served_sqlite.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [DATAOPS, "serve", "--port", port],
        env=os.environ | TOKEN_VARIABLES,  # the consumers' tokens are there: only the port is wrong
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"error: cannot serve on 127.0.0.1:{port}: Address already in use"
    )


def test_health_reports_the_store_and_each_table_s_freshness(api, served):
    body = get(api, "/health").json()
    assert body["status"] == "ok"
    assert body["store"] == {"backend": served.backend, "reachable": True}
    table = {t["name"]: t for t in body["tables"]}["carrier_origin_daily"]
    assert table["last_partition"] == DAYS[-1]
    assert table["fresh"] is True and 0 <= table["age_seconds"] < 3600


def test_datasets_lists_what_is_served_with_schema_rows_and_last_partition(api):
    listed = {d["name"]: d for d in get(api, "/datasets").json()["datasets"]}
    assert set(listed) == {"carrier_origin_daily", "route_daily_weather", "flight_delay_predictions"}
    carriers = listed["carrier_origin_daily"]
    assert carriers["published"] is True
    assert carriers["rows"] == len(EXPECTED)
    assert carriers["last_partition"] == DAYS[-1]
    types = {c["name"]: c["type"] for c in carriers["columns"]}
    assert types == {
        "flight_date": "date", "carrier": "text", "carrier_name": "text", "origin": "text",
        "flights": "integer", "cancelled_flights": "integer", "on_time_arrivals": "integer",
        "on_time_rate": "number", "avg_dep_delay": "number", "avg_arr_delay": "number",
    }  # fmt: skip
    assert listed["flight_delay_predictions"]["published"] is False


def test_a_day_s_on_time_performance(api):
    body = get(api, "/datasets/carrier_origin_daily", flight_date="2013-01-03").json()
    assert body["rows"] == [r for r in EXPECTED if r["flight_date"] == "2013-01-03"]
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"flight_date__gte": "2013-01-02", "flight_date__lt": "2013-01-04", "origin": "JFK"},
         lambda r: "2013-01-02" <= r["flight_date"] < "2013-01-04" and r["origin"] == "JFK"),
        ({"carrier": ["AA", "UA"], "flight_date": "2013-01-01"},
         lambda r: r["carrier"] in ("AA", "UA") and r["flight_date"] == "2013-01-01"),
        ({"flights__gt": "500", "flights__lte": "520"}, lambda r: 500 < r["flights"] <= 520),
        ({"avg_arr_delay__lt": "0", "on_time_rate__gte": "0.4999"},
         lambda r: r["avg_arr_delay"] is not None and r["avg_arr_delay"] < 0 and r["on_time_rate"] >= 0.4999),
        ({"carrier": "AA' OR '1'='1"}, lambda r: False),  # a value is a value, never SQL
    ],
)  # fmt: skip
def test_typed_filters(api, params, keep):
    body = get(api, "/datasets/carrier_origin_daily", limit=1000, **params).json()
    assert body["rows"] == [r for r in EXPECTED if keep(r)]


def test_column_selection_and_ordering(api):
    body = get(
        api, "/datasets/carrier_origin_daily", columns="carrier,avg_arr_delay", order_by="-avg_arr_delay",
        flight_date="2013-01-05",
    ).json()  # fmt: skip
    assert [c["name"] for c in body["columns"]] == ["carrier", "avg_arr_delay"]
    day = [r for r in EXPECTED if r["flight_date"] == "2013-01-05"]
    expected = ordered(day, [("avg_arr_delay", True)])
    assert body["rows"] == [{"carrier": r["carrier"], "avg_arr_delay": r["avg_arr_delay"]} for r in expected]
    assert body["rows"][-1]["avg_arr_delay"] is None  # NULL is smallest: last when descending


@pytest.mark.parametrize(
    "order",
    [[], [("avg_arr_delay", True)], [("avg_dep_delay", False), ("origin", True)], [("on_time_rate", False)]],
)
def test_pages_cover_every_row_once_in_order(api, order):
    order_by = ",".join(("-" if desc else "") + name for name, desc in order)
    rows, pages = all_pages(api, limit=7, **({"order_by": order_by} if order_by else {}))
    assert pages == -(-len(EXPECTED) // 7)
    assert rows == ordered(EXPECTED, order)  # no duplicates, no gaps, in order


def test_paging_with_filters_and_selected_columns(api):
    rows, pages = all_pages(api, limit=5, origin="LGA", columns="flights", order_by="-flights")
    expected = sorted((r["flights"] for r in EXPECTED if r["origin"] == "LGA"), reverse=True)
    assert [r["flights"] for r in rows] == expected and pages == 16


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/datasets/nope", {}, 404, "no dataset 'nope'"),
        ("/datasets/carrier_origin_daily", {"colour": "red"}, 400, "unknown parameter 'colour'"),
        ("/datasets/carrier_origin_daily", {"flight_date": "2013-02-30"}, 400, "flight_date must be a date"),
        ("/datasets/carrier_origin_daily", {"flight_date": "yesterday"}, 400, "flight_date must be a date"),
        ("/datasets/carrier_origin_daily", {"flights__gte": "1e999"}, 400, "flights must be an integer"),
        ("/datasets/carrier_origin_daily", {"on_time_rate": "nan"}, 400, "must be a finite number"),
        ("/datasets/carrier_origin_daily", {"carrier": "A\x00B"}, 400, "without NUL"),
        ("/datasets/carrier_origin_daily", {"carrier__gte": "AA"}, 400, "takes equality only"),
        ("/datasets/carrier_origin_daily", {"flights__gte": ["1", "2"]}, 400, "more than once"),
        ("/datasets/carrier_origin_daily", {"columns": "carrier,wings"}, 400, "unknown column 'wings'"),
        ("/datasets/carrier_origin_daily", {"order_by": "-wings"}, 400, "unknown order_by column 'wings'"),
        ("/datasets/carrier_origin_daily", {"limit": "1001"}, 400, "limit must be an integer from 1 to 1000"),
        ("/datasets/carrier_origin_daily", {"limit": "0"}, 400, "limit must be an integer from 1 to 1000"),
        ("/datasets/carrier_origin_daily", {"limit": ["5", "6"]}, 400, "limit is given 2 times"),
        ("/datasets/carrier_origin_daily", {"cursor": "bm90IGEgY3Vyc29y"}, 400, "cursor is not one this API issued"),
        ("/predictions", {}, 404, "no model has been promoted yet"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_4xx_with_a_clear_message(api, path, params, status, says):
    response = get(api, path, **params)
    assert response.status_code == status
    assert says in response.text


def test_a_cursor_only_continues_its_own_query(api):
    first = get(api, "/datasets/carrier_origin_daily", limit=3, origin="JFK").json()
    other = get(api, "/datasets/carrier_origin_daily", limit=3, origin="EWR", cursor=first["next_cursor"])
    assert other.status_code == 400 and "cursor belongs to another query" in other.text


@pytest.mark.parametrize("forged", ["2013-02-30", "garbage", None, 7])
def test_a_forged_cursor_is_refused(api, forged):
    """The cursor's values are bound as parameters, so they are checked like filter values first."""
    first = get(api, "/datasets/carrier_origin_daily", limit=3).json()
    payload = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    assert payload["v"][0] == "2013-01-01"  # the order is the key: flight_date, carrier, origin
    payload["v"][1 if forged is None else 0] = forged  # carrier NULL is possible, flight_date garbage is not
    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    response = get(api, "/datasets/carrier_origin_daily", limit=3, cursor=cursor)
    if forged is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 400 and "cursor is not one this API issued" in response.text


INJECTIONS = [
    ("/datasets/carrier_origin_daily; DROP TABLE carrier_origin_daily", {}),
    ('/datasets/carrier_origin_daily" --', {}),
    ("/datasets/_published", {}),
    ("/datasets/sqlite_master", {}),
    ("/datasets/carrier_origin_daily", {'carrier" = carrier OR "1': "x"}),
    ("/datasets/carrier_origin_daily", {"1=1) OR (1": "1"}),
    ("/datasets/carrier_origin_daily", {"flights__gte": "0 OR 1=1"}),
    ("/datasets/carrier_origin_daily", {"flight_date": "2013-01-01' OR '1'='1"}),
    ("/datasets/carrier_origin_daily", {"columns": "carrier, (SELECT sqlite_version())"}),
    ("/datasets/carrier_origin_daily", {"columns": 'carrier" FROM _published --'}),
    ("/datasets/carrier_origin_daily", {"columns": "*"}),
    ("/datasets/carrier_origin_daily", {"order_by": "carrier; DELETE FROM carrier_origin_daily"}),
    ("/datasets/carrier_origin_daily", {"order_by": "(CASE WHEN 1=1 THEN carrier END)"}),
    ("/datasets/carrier_origin_daily", {"order_by": "1"}),
    ("/datasets/carrier_origin_daily", {"limit": "1; DROP TABLE x"}),
    ("/datasets/carrier_origin_daily", {"cursor": "eyJxIjoiJyBPUiAxPTEiLCJ2IjpbXX0"}),
]


@pytest.mark.parametrize(("path", "params"), INJECTIONS)
def test_injection_attempts_fail_safely(api, path, params):
    response = get(api, path, **params)
    assert response.status_code in (400, 404, 422), response.text
    assert "detail" in response.json()


def test_the_store_is_intact_after_the_injection_attempts(api, served):
    rows, _ = all_pages(api, limit=1000)
    assert rows == EXPECTED
    catalog = served.store.catalog()
    assert {"carrier_origin_daily": len(EXPECTED)}.items() <= {
        e["table_name"]: e["rows"] for e in catalog
    }.items()


def test_every_request_is_logged_with_status_and_latency(api, served):
    get(api, "/datasets/carrier_origin_daily", flight_date="2013-01-02", limit=2)
    wanted = ("/datasets/carrier_origin_daily?flight_date=2013-01-02&limit=2", "200")
    for _ in range(100):  # the line is written once the response is sent: wait for it, briefly
        log = "\n".join(p.read_text() for p in served.data_dir.glob("serve-*.log"))
        lines = re.findall(r"dataops\.api GET (\S+) (\d{3}) (\d+\.\d)ms", log)
        if wanted in {(path, status) for path, status, _ in lines}:
            break
        time.sleep(0.05)
    assert wanted in {(path, status) for path, status, _ in lines}
    assert any(status == "404" for _, status, _ in lines)


def test_predictions_appear_once_a_model_is_promoted(api, served):
    assert get(api, "/predictions").status_code == 404
    columns = [
        ("flight_date", "DATE"), ("carrier", "VARCHAR"), ("flight", "BIGINT"), ("origin", "VARCHAR"),
        ("dest", "VARCHAR"), ("sched_dep_time", "BIGINT"), ("model", "VARCHAR"), ("snapshot_id", "VARCHAR"),
        ("predicted", "DOUBLE"),
    ]  # fmt: skip
    rows = [("2013-01-01", "UA", 1000 + i, "EWR", "ORD", 600 + i, "gbm", "abc123", i / 10) for i in range(12)]
    served.store.publish("flight_delay_predictions", columns, rows, "flight_date", ["2013-01-01"])
    body = get(api, "/predictions", flight__gte="1005", limit=3).json()
    assert [r["flight"] for r in body["rows"]] == [1005, 1006, 1007]
    assert body["rows"][0]["predicted"] == pytest.approx(0.5) and body["next_cursor"]
    listed = {d["name"]: d for d in get(api, "/datasets").json()["datasets"]}
    assert listed["flight_delay_predictions"]["rows"] == 12


def _client(reader, **options):
    with warnings.catch_warnings():  # starlette suggests httpx2 for its test client; httpx serves here
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from dataops_assets.pillars.serving.api.app import create_app
    from dataops_assets.pillars.serving.api.auth import Consumer, Consumers

    anyone = Consumer("anyone", ("*",), token_sha256=None, per_second=1000, burst=1000)
    return TestClient(create_app(reader, Consumers([anyone]), **options))


FORECAST_TASK = """\
name: {name}
datasets: [gates]
features: {name}.sql
key: [day, gate]
date_column: day
target: minutes
kind: regression
metric: mae
test_days: 1
serve: {{table: {table}}}
"""


def test_predictions_are_the_table_the_serving_task_declares(tmp_path, monkeypatch):
    """The task files alone say which table /predictions serves, with what key and date column; with
    several serving tasks /predictions names their tables, with none it says so."""
    from dataops_assets import paths
    from dataops_assets.pillars.serving.api.reader import SQLiteHotReader
    from dataops_assets.resources.hot_store import SQLiteHotStore
    from dataops_assets.served import served_tables

    tasks = tmp_path / "science" / "tasks"
    tasks.mkdir(parents=True)
    monkeypatch.setattr(paths, "SCIENCE_DIR", tmp_path / "science")
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"nodes": {}}')  # no dbt model serves anything: only the task's table

    def declare(name: str, table: str) -> None:
        (tasks / f"{name}.yaml").write_text(FORECAST_TASK.format(name=name, table=table))
        (tasks / f"{name}.sql").write_text("SELECT day, gate, minutes FROM gates\n")

    declare("taxi_out", "taxi_out_forecasts")
    table = served_tables(manifest)["taxi_out_forecasts"]
    assert (table.task, table.key, table.date_column) == ("taxi_out", ("day", "gate"), "day")
    hot = SQLiteHotStore(path=str(tmp_path / "hot.sqlite"))
    columns = [("day", "DATE"), ("gate", "VARCHAR"), ("model", "VARCHAR"), ("predicted", "DOUBLE")]
    rows = [("2024-03-01", f"A{i}", "ridge", 10.0 + i) for i in range(3)]
    hot.publish("taxi_out_forecasts", columns, rows, "day", ["2024-03-01"])
    client = _client(SQLiteHotReader(hot.path), served=lambda: served_tables(manifest))

    body = client.get("/predictions", params={"gate": "A1"}).json()
    assert body["dataset"] == "taxi_out_forecasts"
    assert body["rows"] == [{"day": "2024-03-01", "gate": "A1", "model": "ridge", "predicted": 11.0}]

    declare("gate_hold", "gate_hold_forecasts")
    several = client.get("/predictions")
    assert several.status_code == 404
    assert several.json()["detail"] == (
        "2 science tasks serve predictions: read a task's at /datasets/{name}: "
        "gate_hold_forecasts (task gate_hold), taxi_out_forecasts (task taxi_out)"
    )
    each = client.get("/datasets/gate_hold_forecasts")  # every task's table is served under its name
    assert each.status_code == 404 and "gate_hold_forecasts has not been published yet" in each.text

    for declared in tasks.glob("*.yaml"):
        declared.unlink()
    none = client.get("/predictions")
    assert none.status_code == 404 and "no science task declares" in none.json()["detail"]
    assert served_tables(manifest) == {}


def test_an_unreachable_store_is_a_503_with_the_reason_in_the_server_log_only(tmp_path, caplog):
    from dataops_assets.pillars.serving.api.reader import PostgresHotReader, SQLiteHotReader

    caplog.set_level(logging.WARNING, logger="dataops.api")
    for reader, says in [
        (SQLiteHotReader(str(tmp_path / "missing.sqlite")), "cannot be opened"),
        (PostgresHotReader("postgresql://dataops_api@127.0.0.1:1/dataops"), "cannot be reached"),
    ]:
        caplog.clear()
        client = _client(reader)
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json() == {
            "status": "unavailable",
            "store": {
                "backend": reader.backend,
                "reachable": False,
                "detail": "the hot store is unavailable",
            },
            "tables": [],
        }
        listing = client.get("/datasets")
        # The client learns that the store is down, not its paths, hosts or the server's error text.
        assert listing.status_code == 503 and listing.json() == {"detail": "the hot store is unavailable"}
        logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(logged) == 2 and all(says in line for line in logged), logged
        assert (
            str(tmp_path) not in health.text + listing.text and "127.0.0.1" not in health.text + listing.text
        )


def test_interactive_docs_are_served_in_sandbox_and_testing_only(served_sqlite, served_postgres):
    # /docs and /redoc load Swagger UI and ReDoc from a public CDN: the testing environment's server
    # has them, the staging one serves only the OpenAPI document.
    for served, status in ((served_sqlite, 200), (served_postgres, 404)):
        for page in ("/docs", "/redoc"):
            assert httpx.get(served.url + page).status_code == status, (served.backend, page)
        assert httpx.get(served.url + "/openapi.json").status_code == 200


def test_serve_refuses_a_missing_or_writing_login(served_postgres):
    """No API login, or the writer's DSN given to the API by mistake: one line saying so."""
    from click.testing import CliRunner

    from dataops_assets.cli.main import main
    from dataops_assets.pillars.serving.api.reader import NotReadOnly, PostgresHotReader

    unset = CliRunner().invoke(main, ["serve"], env={"DATAOPS_ENV": "staging", "DATAOPS_API_PG_DSN": None})
    assert unset.exit_code == 1 and unset.output.strip() == (
        "error: environment variable DATAOPS_API_PG_DSN is not set (the environment file references it)"
    )
    writer = served_postgres.store.dsn
    result = CliRunner().invoke(main, ["serve"], env={"DATAOPS_ENV": "staging", "DATAOPS_API_PG_DSN": writer})
    assert result.exit_code == 1
    assert "error: the API connects as postgres, which is a superuser" in result.output
    assert "can write to _columns, _published, carrier_origin_daily" in result.output
    # and a server started some other way answers 503 rather than read with a writer's rights
    assert _client(PostgresHotReader(writer)).get("/datasets").status_code == 503
    with pytest.raises(NotReadOnly):
        PostgresHotReader(writer).check()


def test_the_api_role_reads_in_read_only_transactions(served_postgres):
    """Even a query the API never builds could not write: every request runs READ ONLY."""
    import psycopg

    from dataops_assets.pillars.serving.api.queries import QueryError
    from dataops_assets.pillars.serving.api.reader import PostgresHotReader, StoreUnavailable
    from dataops_assets_tests.services import login_as

    reader = PostgresHotReader(login_as(served_postgres.store.dsn, served_postgres.store.readonly_role))
    with reader.session() as session:
        assert session.fetch('SELECT count(*) FROM "carrier_origin_daily"', []) == [(len(EXPECTED),)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), reader.session() as session:
        session.fetch("CREATE TEMP TABLE t (x int)", [])
    # a value the column cannot hold is the client's error (400), and the connection reads on
    with pytest.raises(QueryError, match="a value does not fit its column"), reader.session() as session:
        session.fetch('SELECT 1 FROM "carrier_origin_daily" WHERE flight_date = %s', ["2013-02-30"])
    with reader.session() as session:
        assert session.catalog()["carrier_origin_daily"]["rows"] == len(EXPECTED)
    # a read over the statement timeout is a 503 that says so, and the connection reads on
    slow = PostgresHotReader(reader.dsn, statement_timeout_ms=50)
    with pytest.raises(StoreUnavailable, match="did not answer within 0.05 s"), slow.session() as session:
        session.fetch("SELECT pg_sleep(1)", [])
    with slow.session() as session:
        assert session.fetch("SELECT 1", []) == [(1,)]
