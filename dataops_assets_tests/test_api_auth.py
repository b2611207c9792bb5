"""Who may read the hot data API: consumers declared per environment, bearer tokens, table scopes, rate
limits, the bound on reads, and /metrics — against a live `dataops serve` on both hot stores."""

from __future__ import annotations

import asyncio
import re
import sys
import threading
import time
import warnings

import httpx
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from dataops_assets.environments.loader import load_environment
from dataops_assets.environments.model import Api, ApiConsumer, Environment
from dataops_assets.pillars.serving.api import auth
from dataops_assets.pillars.serving.api.auth import Consumer, Consumers, digest
from dataops_assets.pillars.serving.api.limits import TokenBucket, retry_after
from dataops_assets_tests.api_server import (
    DAYS,
    TOKEN_VARIABLES,
    TOKENS,
    bearer,
    publish_carriers,
    running_server,
)

CARRIERS, WEATHER, PREDICTIONS = "carrier_origin_daily", "route_daily_weather", "flight_delay_predictions"
# A wrong token as long as a real one: authentication may not depend on how close it comes.
WRONG = {"Authorization": "Bearer " + "x" * len(TOKENS["analytics"])}
NO_TOKEN: dict[str, str] = {}


def call(served, path: str, headers: dict) -> httpx.Response:
    return httpx.get(served.url + path, headers=headers, timeout=10)


# --- every endpoint x (no token, bad token, out-of-scope token, good token) ------------------------

ENDPOINTS = ["/datasets", f"/datasets/{CARRIERS}", f"/datasets/{WEATHER}", "/predictions"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_token_is_a_401_asking_for_a_bearer_token(served, path):
    response = call(served, path, NO_TOKEN)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "a bearer token is required"}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [WRONG, {"Authorization": "Basic " + TOKENS["analytics"]}, {"Authorization": TOKENS["analytics"]}],
    ids=["wrong-token", "basic-scheme", "no-scheme"],
)
def test_an_unknown_token_is_a_401(served, path, headers):
    response = call(served, path, headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "rows" not in response.text and "datasets" not in response.json()


@pytest.mark.parametrize(
    ("consumer", "path"),
    [
        ("carriers_app", f"/datasets/{WEATHER}"),
        ("carriers_app", "/predictions"),
        ("monitoring", f"/datasets/{CARRIERS}"),
        ("monitoring", "/predictions"),
    ],
)
def test_a_table_outside_the_consumer_s_scope_is_a_403(served, consumer, path):
    response = call(served, path + "?limit=1", bearer(consumer))
    assert response.status_code == 403
    table = path.rsplit("/", 1)[1].replace("predictions", PREDICTIONS)
    assert response.json() == {"detail": f"consumer {consumer} may not read {table}"}


@pytest.mark.parametrize(
    ("consumer", "listed"),
    [("analytics", {CARRIERS, WEATHER, PREDICTIONS}), ("carriers_app", {CARRIERS}), ("monitoring", set())],
)
def test_datasets_lists_only_what_the_consumer_may_read(served, consumer, listed):
    response = call(served, "/datasets", bearer(consumer))
    assert response.status_code == 200
    assert {d["name"] for d in response.json()["datasets"]} == listed


def test_an_unknown_dataset_names_only_the_consumer_s_tables(served):
    response = call(served, "/datasets/nope", bearer("carriers_app"))
    assert response.status_code == 404
    assert response.json() == {"detail": f"no dataset 'nope'; served: {CARRIERS}"}


@pytest.mark.parametrize("consumer", ["analytics", "carriers_app"])
def test_a_good_token_reads_its_tables(served, consumer):
    response = call(served, f"/datasets/{CARRIERS}?flight_date={DAYS[2]}&limit=1000", bearer(consumer))
    assert response.status_code == 200
    assert len(response.json()["rows"]) == 24 and {r["flight_date"] for r in response.json()["rows"]} == {
        DAYS[2]
    }


def test_a_good_token_reads_every_endpoint(served):
    assert call(served, f"/datasets/{WEATHER}", bearer()).status_code == 404  # in scope, never published
    predictions = call(served, "/predictions", bearer())
    # in scope: rows once a model is promoted (another test publishes some), a clear 404 before
    assert predictions.status_code == 200 or "no model has been promoted" in predictions.text


def test_health_and_the_openapi_document_need_no_token(served):
    assert call(served, "/health", NO_TOKEN).status_code == 200
    document = call(served, "/openapi.json", NO_TOKEN).json()
    assert document["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A consumer's token, declared in the environment file (api.consumers).",
        }
    }
    secured = {path for path, item in document["paths"].items() if item["get"].get("security")}
    assert secured == {"/datasets", "/datasets/{name}", "/predictions", "/metrics"}
    assert {"401", "403", "429", "503"} <= set(document["paths"]["/datasets/{name}"]["get"]["responses"])


def test_the_request_log_names_the_consumer(served):
    call(served, f"/datasets/{CARRIERS}?limit=3&origin=EWR", bearer("carriers_app"))
    call(served, f"/datasets/{CARRIERS}?limit=3&origin=LGA", WRONG)
    wanted = {("/datasets/carrier_origin_daily?limit=3&origin=EWR", "200", "carriers_app"),
              ("/datasets/carrier_origin_daily?limit=3&origin=LGA", "401", "-")}  # fmt: skip
    for _ in range(100):  # the line is written once the response is sent: wait for it, briefly
        log = "\n".join(p.read_text() for p in served.data_dir.glob("serve-*.log"))
        lines = set(re.findall(r"dataops\.api GET (\S+) (\d{3}) \d+\.\dms (\S+)", log))
        if wanted <= lines:
            break
        time.sleep(0.05)
    assert wanted <= lines
    assert not any(token in log for token in TOKENS.values())


# --- tokens are compared in constant time ------------------------------------------------------------


def _lines_run(consumers: Consumers, token: str) -> list[tuple[str, int]]:
    """The (function, line) events of `identify(token)` inside auth.py, in order."""
    events: list[tuple[str, int]] = []

    def trace(frame, event, _arg):
        if frame.f_code.co_filename == auth.__file__:
            events.append((frame.f_code.co_name, frame.f_lineno))
            return trace
        return None

    sys.settrace(trace)
    try:
        consumers.identify(token)
    finally:
        sys.settrace(None)
    return events


def test_wrong_tokens_of_equal_length_take_the_same_code_path(monkeypatch):
    real = "s3cret-token-0123456789abcdef"
    consumers = Consumers([Consumer(f"c{i}", ("*",), digest(real[:-1] + str(i)), 1, 1) for i in range(5)])
    near = real[:-1] + "x"  # all but its last character right
    far = "x" * len(real)
    compared: list[bytes] = []
    real_compare = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: compared.append(b) or real_compare(a, b))
    paths = [_lines_run(consumers, token) for token in (near, far, "y" * len(real))]
    assert paths[0] == paths[1] == paths[2] and paths[0]
    # each compares against every consumer's digest, in the same order, whatever it was
    assert compared == [c.token_sha256 for c in consumers.all] * 3
    # a right token differs only by the line that notes the match
    right = _lines_run(consumers, real[:-1] + "3")
    assert len(right) == len(paths[0]) + 1 and consumers.identify(real[:-1] + "3").name == "c3"


# --- consumers declared in the environment file ---------------------------------------------------------


def declared(**fields) -> dict:
    return {"name": "app", "tables": ["*"], **fields}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (declared(), "needs exactly one of token"),
        (declared(token={"env": "T"}, open=True), "needs exactly one of token"),
        (declared(token="hunter2-literal"), "a secret must not be written in an environment file"),
        (declared(token_sha256="not-a-hash"), "String should match pattern"),
        (declared(token={"env": "T"}, rate_limit={"per_second": 0, "burst": 1}), "greater than 0"),
        ({"name": "Bad Name", "tables": [], "open": True}, "String should match pattern"),
    ],
)
def test_a_consumer_declaration_is_checked(fields, says):
    with pytest.raises(ValidationError, match=says):
        ApiConsumer.model_validate(fields)


def test_consumer_names_are_unique_and_one_at_most_is_open():
    app = declared(token={"env": "T"})
    with pytest.raises(ValidationError, match="a name is declared twice"):
        Api.model_validate({"consumers": [app, app]})
    with pytest.raises(ValidationError, match="at most one consumer may be open"):
        Api.model_validate({"consumers": [declared(open=True), declared(name="b", open=True)]})


@pytest.mark.parametrize("name", ["sandbox", "testing", "development", "staging", "production"])
def test_only_sandbox_and_testing_may_declare_an_open_consumer(name):
    env = load_environment(name).model_dump(mode="json")
    env["api"] = {"consumers": [declared(open=True)]}
    if name in ("sandbox", "testing"):
        assert Environment.model_validate(env).api.consumers[0].open
    else:
        with pytest.raises(ValidationError, match="api consumer app is open \\(no token\\): only sandbox"):
            Environment.model_validate(env)


def test_every_environment_file_declares_its_consumers():
    for name in ("development", "staging", "production"):
        consumers = load_environment(name).api.consumers
        assert consumers and not any(c.open for c in consumers), name
    assert [c.open for c in load_environment("sandbox").api.consumers] == [True]


def _serve(env: Environment, variables: dict) -> CliRunner:
    from dataops_assets.cli.main import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("dataops_assets.cli.serve_cmd.environment", lambda: env)
        return CliRunner().invoke(main, ["serve", "--port", "1"], env=variables)


UNREACHABLE = {"DATAOPS_API_PG_DSN": "postgresql://dataops_api@127.0.0.1:1/dataops"}


@pytest.mark.parametrize("name", ["testing", "staging", "production"])
def test_serve_refuses_to_start_without_a_consumer(name, tmp_path):
    env = load_environment(name).model_copy(update={"api": Api(), "data_dir": str(tmp_path)})
    result = _serve(env, UNREACHABLE)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: environment {name} declares no api.consumers: the API serves nobody anonymously "
        f"(declare one in environments/{name}.yaml; see docs/api.md)"
    )


def test_serve_names_a_missing_token_variable(tmp_path):
    env = load_environment("staging")
    unset = dict.fromkeys(TOKEN_VARIABLES) | UNREACHABLE  # None: unset in the command's environment
    result = _serve(env, unset | {"DATAOPS_API_TOKEN_ANALYTICS": "set"})
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "error: environment variable DATAOPS_API_TOKEN_CARRIERS_APP is not set (the environment file "
        "references it)"
    )


def test_env_show_lists_consumers_and_scopes_never_tokens():
    from dataops_assets.cli.main import main

    result = CliRunner().invoke(main, ["env", "show", "staging"], env=TOKEN_VARIABLES)
    assert result.exit_code == 0
    assert (
        "#   carriers_app: tables carrier_origin_daily; token DATAOPS_API_TOKEN_CARRIERS_APP (set, hidden)"
        in (result.output)
    )
    assert "#   monitoring: tables (none); token DATAOPS_API_TOKEN_MONITORING (set, hidden)" in result.output
    assert not any(token in result.output for token in TOKENS.values())
    sandbox = CliRunner().invoke(main, ["env", "show", "sandbox"]).output
    assert "#   laptop: tables *; open (no token); 1000/s, burst 1000; metrics" in sandbox


def test_a_token_may_be_declared_by_its_hash_alone():
    token = "a-token-only-its-consumer-holds"
    api = Api.model_validate({"consumers": [declared(token_sha256=digest(token).hex())]})
    consumers = auth.consumers_from(api)
    assert consumers.identify(token).name == "app" and consumers.identify(token + "x") is None


# --- limits -----------------------------------------------------------------------------------------


def test_the_token_bucket_allows_its_burst_then_its_rate():
    now = [100.0]
    bucket = TokenBucket(per_second=4, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(0.25)  # one token comes back in 1/4 s
    now[0] += 0.5  # two tokens back
    assert [bucket.take() == 0 for _ in range(3)] == [True, True, False]
    now[0] += 60  # refills to the burst, no further
    assert sum(bucket.take() == 0 for _ in range(10)) == 3
    assert [retry_after(s) for s in (0.01, 1.0, 1.2)] == ["1", "1", "2"]


def _in_process(reader, consumers: Consumers, **limits):
    from dataops_assets.pillars.serving.api.app import create_app

    return create_app(reader, consumers, **limits)


def _test_client(served_sqlite, consumers: Consumers):
    """The app in process over the served SQLite store; its client is "testclient", not loopback."""
    from dataops_assets.pillars.serving.api.reader import SQLiteHotReader

    with warnings.catch_warnings():  # starlette suggests httpx2 for its test client; httpx serves here
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    return TestClient(_in_process(SQLiteHotReader(str(served_sqlite.data_dir / "hot.sqlite")), consumers))


def test_reads_beyond_the_bound_get_a_503_not_a_queue(served_sqlite):
    """One read may run and none wait: while one is held inside the store, the next is refused at once."""
    from dataops_assets.pillars.serving.api.reader import SQLiteHotReader

    inside, release = threading.Event(), threading.Event()

    class HeldReader(SQLiteHotReader):  # the real reader, held once inside its session by the test
        def session(self):
            inside.set()
            release.wait(10)
            return super().session()

    reader = HeldReader(str(served_sqlite.data_dir / "hot.sqlite"))
    anyone = Consumers([Consumer("anyone", ("*",), None, 1000, 1000)])
    app = _in_process(reader, anyone, concurrent_reads=1, waiting_reads=0)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            first = asyncio.create_task(client.get(f"/datasets/{CARRIERS}?limit=1"))
            while not inside.is_set():
                await asyncio.sleep(0.001)
            refused = await client.get(f"/datasets/{CARRIERS}?limit=1")
            release.set()
            return await first, refused

    first, refused = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json() == {"detail": "the server is at capacity: retry shortly"}
    assert first.status_code == 200 and len(first.json()["rows"]) == 1


# --- /metrics ----------------------------------------------------------------------------------------


def _metric(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_rows_and_query_time_per_consumer(served):
    before = call(served, "/metrics", NO_TOKEN)  # loopback: no token needed
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    page = call(served, f"/datasets/{CARRIERS}?origin=JFK&flight_date={DAYS[0]}", bearer("carriers_app"))
    call(served, f"/datasets/{WEATHER}", bearer("carriers_app"))
    after = call(served, "/metrics", NO_TOKEN).text
    labels = {"consumer": "carriers_app", "route": "/datasets/{name}"}
    count = _metric(before.text, "dataops_api_requests_total", status="200", **labels)
    assert _metric(after, "dataops_api_requests_total", status="200", **labels) == count + 1
    assert _metric(after, "dataops_api_requests_total", status="403", **labels) >= 1
    rows = {"dataset": CARRIERS, "consumer": "carriers_app"}
    assert (
        _metric(after, "dataops_api_rows_returned_total", **rows)
        - _metric(before.text, "dataops_api_rows_returned_total", **rows)
        == len(page.json()["rows"])
        == 8
    )
    assert _metric(after, "dataops_api_hot_store_query_seconds_count", dataset=CARRIERS) >= 1
    assert (
        _metric(after, "dataops_api_request_duration_seconds_bucket", route="/datasets/{name}", le="+Inf")
        >= 1
    )
    assert "/datasets/carrier_origin_daily" not in after  # route templates only: no series per URL


def test_metrics_from_elsewhere_need_a_consumer_allowed_them(served_sqlite):
    with pytest.MonkeyPatch.context() as patch:
        for variable, token in TOKEN_VARIABLES.items():
            patch.setenv(variable, token)
        client = _test_client(served_sqlite, auth.consumers_from(load_environment("testing").api))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer("analytics")).status_code == 403
    scraped = client.get("/metrics", headers=bearer("monitoring"))
    assert scraped.status_code == 200 and "dataops_api_requests_total" in scraped.text


# --- load: one greedy consumer, one well-behaved ----------------------------------------------------


@pytest.fixture(scope="module")
def load_server(tmp_path_factory):
    """A server of its own (testing environment, SQLite), so the greedy consumer's drained bucket
    touches no other test."""
    from dataops_assets.resources.hot_store import SQLiteHotStore

    root = tmp_path_factory.mktemp("api-load")
    publish_carriers(SQLiteHotStore(path=str(root / "hot.sqlite")), DAYS)
    with running_server(root) as url:
        yield url


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _sequential(url: str, consumer: str, n: int) -> tuple[list[int], list[float]]:
    statuses, latencies = [], []
    with httpx.Client(base_url=url, headers=bearer(consumer), timeout=10) as client:
        for i in range(n):
            started = time.perf_counter()
            response = client.get(f"/datasets/{CARRIERS}", params={"flight_date": DAYS[i % len(DAYS)]})
            latencies.append(time.perf_counter() - started)
            statuses.append(response.status_code)
    return statuses, latencies


GREEDY_REQUESTS, GREEDY_CLIENTS, WELL_BEHAVED_REQUESTS = 400, 3, 150


def test_a_greedy_consumer_gets_429s_and_the_other_keeps_being_served(load_server, record_property):
    _, unloaded = _sequential(load_server, "analytics", WELL_BEHAVED_REQUESTS)
    greedy: list[httpx.Response] = []

    def flood() -> None:
        with httpx.Client(base_url=load_server, headers=bearer("carriers_app"), timeout=10) as client:
            for _ in range(GREEDY_REQUESTS // GREEDY_CLIENTS):
                greedy.append(client.get(f"/datasets/{CARRIERS}", params={"flight_date": DAYS[0]}))

    flooders = [threading.Thread(target=flood) for _ in range(GREEDY_CLIENTS)]
    started = time.monotonic()
    for flooder in flooders:
        flooder.start()
    statuses, loaded = _sequential(load_server, "analytics", WELL_BEHAVED_REQUESTS)
    for flooder in flooders:
        flooder.join()
    elapsed = time.monotonic() - started

    counts = {status: [r.status_code for r in greedy].count(status) for status in (200, 401, 403, 429, 503)}
    record_property("greedy_counts", counts)
    record_property("well_behaved_p99_ms", {"unloaded": _p99(unloaded) * 1000, "loaded": _p99(loaded) * 1000})
    print(f"greedy: {counts}; well-behaved p99 unloaded {_p99(unloaded) * 1000:.1f} ms, "
          f"loaded {_p99(loaded) * 1000:.1f} ms")  # fmt: skip
    # carriers_app: a burst of 20, then 20/s; everything beyond that is refused, nothing else
    assert counts[200] + counts[429] == len(greedy) == GREEDY_REQUESTS // GREEDY_CLIENTS * GREEDY_CLIENTS
    assert 20 <= counts[200] <= 20 + 20 * elapsed + 1 and counts[429] > 0
    refused = [r for r in greedy if r.status_code == 429]
    assert all(r.headers["Retry-After"] == "1" for r in refused)
    assert "rate limit of carriers_app (20/s) reached" in refused[0].text
    assert statuses == [200] * WELL_BEHAVED_REQUESTS  # the other consumer: no 429, no 503


def test_an_open_consumer_reads_without_a_token_but_a_wrong_token_is_still_a_401(served_sqlite):
    client = _test_client(served_sqlite, Consumers([Consumer("laptop", (CARRIERS,), None, 1000, 1000)]))
    assert client.get(f"/datasets/{CARRIERS}?limit=2").status_code == 200
    assert [d["name"] for d in client.get("/datasets").json()["datasets"]] == [CARRIERS]
    assert client.get(f"/datasets/{WEATHER}").status_code == 403  # open, within its tables only
    assert client.get(f"/datasets/{CARRIERS}", headers=WRONG).status_code == 401
