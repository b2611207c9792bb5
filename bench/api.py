"""Hot data API under load: latency and throughput of `dataops serve`, against the same SQL run directly.

A year of hot tables shaped like the served marts (carrier x origin per day, as
`carrier_origin_daily`) is published into each hot store backend, the same rows in each: a fresh SQLite
hot store (environment `testing`), and a fresh PostgreSQL database made as `dataops env apply` makes
staging's hot store (the `serving` schema and a read-only role of its own; database and role are
dropped afterwards, whatever happens). For each, a real `dataops serve` process answers on loopback
(over PostgreSQL: environment `staging`, logged in as the read-only role). Two queries:

- key lookup: one row by (flight_date, carrier, origin)
- one-day filter: a day's on-time performance (every carrier and origin of one day)

For each: p50/p99 latency at a fixed arrival rate (open loop, 200 requests/s: latency counts from when
a request was due, so a slow server cannot hide queueing), and requests/s with a fixed number of
clients each sending back to back (closed loop). The baseline is the same SQL the API runs
(`queries.to_sql` with the backend's placeholder) on a reused read-only connection of the same store,
one read transaction per query as the API's reader runs it (SQLite: `mode=ro`, BEGIN ... ROLLBACK;
PostgreSQL: the read-only role, search_path=serving, one REPEATABLE READ, READ ONLY transaction and the
reader's value loaders), in the same run: ratio = API / bare query, the overhead of HTTP, validation and
JSON. A second baseline, the HTTP floor, is a bare ASGI app on the same uvicorn answering the same
response bytes: API / floor is what the API adds to serving HTTP at all. The load generator is a
minimal asyncio HTTP/1.1 client (keep-alive), so it costs the machine's cores as little as possible.

Authentication (SQLite): the one-day p50 at the same fixed rate from the same server code twice, in the
same run and on the same file — `testing`, whose consumers send a bearer token (hashed and compared with
every consumer's), against `sandbox`, whose open consumer sends none: `api_auth_one_day_p50_ms`, target
overhead under 10%. And limits: the p99 of a well-behaved consumer (`analytics`, at a fixed rate) alone
and while a greedy one (`carriers_app`, 20/s) floods the same server from several connections, with the
greedy one's 429s counted: `api_limits_well_behaved_p99_ms`, target within 2x.

Requests carry the `analytics` consumer's token (the environment files' consumers; the tokens are set
for the server here). Figures are named `api_<query>_...` over SQLite and `api_pg_<query>_...` over PostgreSQL. PostgreSQL
is reached as DATAOPS_BENCH_PG_ADMIN_DSN (default postgresql://postgres@127.0.0.1:5432/postgres, a
login that can create databases and roles); when it cannot be reached, the `api_pg_` figures are left
out with one line on stderr.

Run: `python -m bench.api [--quick]` (or through the `bench` runner, which discovers `run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.measure import figure
from dataops_assets.pillars.serving.api import queries
from dataops_assets.pillars.serving.api.reader import HotReader, PostgresHotReader, SQLiteHotReader
from dataops_assets.resources.hot_store import HotStore, PostgresHotStore, SQLiteHotStore
from dataops_assets.served import ServedTable
from dataops_assets_tests.api_server import TOKEN_VARIABLES, TOKENS

TABLE = "carrier_origin_daily"
# How the dbt mart of that name declares itself served (its meta.dataops.serve).
SERVED = ServedTable(TABLE, "flight_date", ("flight_date", "carrier", "origin"), "carriers by origin per day")
CARRIERS = ["9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL", "HA", "MQ", "OO", "UA", "US", "VX", "WN", "YV"]
ORIGINS = ["EWR", "JFK", "LGA"]
COLUMNS = [
    ("flight_date", "DATE"), ("carrier", "VARCHAR"), ("carrier_name", "VARCHAR"), ("origin", "VARCHAR"),
    ("flights", "BIGINT"), ("cancelled_flights", "BIGINT"), ("on_time_arrivals", "BIGINT"),
    ("on_time_rate", "DOUBLE"), ("avg_dep_delay", "DOUBLE"), ("avg_arr_delay", "DOUBLE"),
]  # fmt: skip
RATE = 200  # requests per second, open loop
CLIENTS = 8  # concurrent clients, closed loop
PG_ADMIN_DSN = os.environ.get("DATAOPS_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Backend:
    """One hot store under test: how `dataops serve` serves it and how the bare query reads it."""

    prefix: str  # of its figures' names: <prefix>_<query>_p50_ms, ...
    direct: str  # the bare-query baseline, as its figures name it
    reader: HotReader  # the API's own reader: the bare query reads exactly as a request does
    server_env: dict[str, str]  # what `dataops serve` needs to serve this store
    days: list[str]  # the published days


def build_store(store: HotStore, days: int) -> list[str]:
    """Publish `days` days of carrier x origin rows (the real mart's shape and size; the same rows
    whatever the store); the days."""
    rng = random.Random(13)
    first = dt.date(2013, 1, 1)
    keys = [(first + dt.timedelta(days=i)).isoformat() for i in range(days)]
    rows = []
    for day in keys:
        for carrier in CARRIERS:
            for origin in ORIGINS:
                flights = rng.randint(1, 120)
                on_time = rng.randint(0, flights)
                delay = rng.uniform(-10, 60)
                rows.append((day, carrier, f"{carrier} Airlines", origin, flights, flights // 20, on_time,
                             on_time / flights, delay, delay + rng.uniform(-5, 5)))  # fmt: skip
    store.publish(TABLE, COLUMNS, rows, "flight_date", keys)
    return keys


def requests_for(days: list[str], kind: str, n: int, seed: int = 0) -> list[dict[str, str]]:
    """`n` requests of one kind (key_lookup: one row by its key; one_day: a day's rows)."""
    rng = random.Random(f"{kind}{seed}")
    if kind == "key_lookup":
        return [
            {"flight_date": rng.choice(days), "carrier": rng.choice(CARRIERS), "origin": rng.choice(ORIGINS)}
            for _ in range(n)
        ]
    return [{"flight_date": rng.choice(days)} for _ in range(n)]


def _path(params: dict[str, str]) -> str:
    return f"/datasets/{TABLE}?" + "&".join(f"{k}={v}" for k, v in params.items())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the bare query ----------------------------------------------------------------------------------


def direct_latencies(
    backend: Backend, requests: list[dict[str, str]], ready: threading.Barrier | None = None
) -> list[float]:
    """Seconds per query: the API's own SQL for each request, read as the API reads it (the API's
    reader: this thread's reused read-only connection, one read transaction per query), without HTTP,
    validation, the catalog read or JSON. With `ready`, the queries start once every party has connected."""
    reader = backend.reader
    columns = [queries.Column(name, queries.logical_type(type_)) for name, type_ in COLUMNS]
    prepared = [
        queries.to_sql(queries.parse_query(SERVED, columns, list(p.items())), TABLE, reader.placeholder)
        for p in requests
    ]
    reader.check()  # connects this thread, before any clock starts
    if ready is not None:
        ready.wait()
    latencies = []
    for sql, params in prepared:
        started = time.perf_counter()
        with reader.session() as session:
            session.fetch(sql, params)
        latencies.append(time.perf_counter() - started)
    return latencies


def direct_throughput(backend: Backend, requests: list[dict[str, str]], clients: int) -> float:
    """Queries per second with `clients` threads (a connection each, made before the clock starts),
    each running its share back to back."""
    ready = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client(share: list[dict[str, str]]) -> None:
        try:
            direct_latencies(backend, share, ready)
        except BaseException as error:  # raised again below, in the caller's thread
            errors.append(error)
            ready.abort()

    threads = [threading.Thread(target=client, args=(requests[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return len(requests) / (time.perf_counter() - started)


# --- the API -------------------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; `get` returns the status (the body is read and dropped)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, consumer: str | None):
        self.reader, self.writer = reader, writer
        self.headers = f"Authorization: Bearer {TOKENS[consumer]}\r\n" if consumer else ""

    @classmethod
    async def open(cls, port: int, consumer: str | None = "analytics") -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port), consumer)

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{self.headers}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await self.reader.readexactly(length)
        return int(head[9:12])


async def fixed_rate(
    port: int, paths: list[str], rate: float, consumer: str | None = "analytics"
) -> list[float]:
    """Latency of each request, counted from when it was due (open loop at `rate` per second)."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(32):
        idle.put_nowait(await Connection.open(port, consumer))
    loop = asyncio.get_running_loop()
    latencies: list[float] = []

    async def one(path: str, due: float) -> None:
        connection = await idle.get()
        status = await connection.get(path)
        latencies.append(loop.time() - due)
        idle.put_nowait(connection)
        assert status == 200, f"{path}: HTTP {status}"

    start = loop.time() + 0.05
    tasks = []
    for i, path in enumerate(paths):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(path, due)))
    await asyncio.gather(*tasks)
    return latencies


async def closed_loop(port: int, paths: list[str], clients: int) -> float:
    """Requests per second with `clients` connections, each sending its share back to back."""

    async def client(share: list[str]) -> None:
        connection = await Connection.open(port)
        for path in share:
            assert await connection.get(path) == 200

    started = time.perf_counter()
    await asyncio.gather(*(client(paths[i::clients]) for i in range(clients)))
    return len(paths) / (time.perf_counter() - started)


async def flood(
    port: int, path: str, clients: int, rate: float | None, consumer: str, stop
) -> dict[int, int]:
    """`clients` connections of `consumer` sending `path` until `stop` is set, `rate` requests per
    second between them (None: back to back); how many answers had each status."""
    statuses: dict[int, int] = {}
    loop = asyncio.get_running_loop()

    async def client(offset: float) -> None:
        connection = await Connection.open(port, consumer)
        due = loop.time() + offset
        while not stop.is_set():
            if rate:
                await asyncio.sleep(max(0.0, due - loop.time()))
                due += clients / rate
            status = await connection.get(path)
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(client(i / rate if rate else 0) for i in range(clients)))
    return statuses


def _flood_process(port: int, path: str, rate: float | None, stop, counts) -> None:
    counts.put(asyncio.run(flood(port, path, GREEDY_CLIENTS, rate, "carriers_app", stop)))


def _start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        command, env=os.environ | env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                response.read()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(command)} did not start") from None
            time.sleep(0.2)


def start_server(backend: Backend, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    return _start(
        [sys.executable, "-m", "dataops_assets.cli.main", "serve", "--port", str(port)],
        backend.server_env | TOKEN_VARIABLES | (env or {}),
        port,
    )


# The HTTP floor: a bare ASGI app on the same uvicorn, answering every request with one fixed body
# (a real one-day response). API p50 / floor p50 is what the API adds to serving HTTP at all.
_FLOOR_BODY = Path(os.environ.get("BENCH_API_FLOOR_BODY", os.devnull)).read_bytes()


async def http_floor(scope, receive, send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_FLOOR_BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _FLOOR_BODY})


def start_floor(body: bytes, workdir: Path, port: int) -> subprocess.Popen:
    (workdir / f"floor-{port}.json").write_bytes(body)
    return _start(
        [sys.executable, "-m", "uvicorn", "bench.api:http_floor", "--port", str(port), "--lifespan", "off",
         "--log-level", "warning", "--no-access-log"],
        {"BENCH_API_FLOOR_BODY": str(workdir / f"floor-{port}.json"),
         "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        port,
    )  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


FLOOR = "a bare ASGI app on the same uvicorn, same response bytes"


# --- the stores ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_store(workdir: Path, days: int) -> Iterator[Backend]:
    """A fresh SQLite hot store, served as environment `testing` serves it."""
    path = workdir / "hot.sqlite"
    yield Backend(
        prefix="api",
        direct="the same SQL, directly on SQLite",
        server_env={"DATAOPS_ENV": "testing", "DATAOPS_DATA_DIR": str(workdir)},
        days=build_store(SQLiteHotStore(path=str(path)), days),
        reader=SQLiteHotReader(str(path)),
    )


@contextlib.contextmanager
def postgres_store(workdir: Path, days: int) -> Iterator[Backend | None]:
    """A fresh PostgreSQL hot store (see postgres_database), served as environment `staging` serves it:
    through the read-only role. None, with one line on stderr, when PostgreSQL cannot be reached."""
    import psycopg

    from dataops_assets.resources import postgres

    try:
        psycopg.connect(PG_ADMIN_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        reason = postgres.redact_text(str(error).strip().splitlines()[0], PG_ADMIN_DSN)
        print(
            f"bench.api: PostgreSQL is not reachable at {postgres.redact_dsn(PG_ADMIN_DSN)} ({reason}); "
            "the api_pg_ figures are left out",
            file=sys.stderr,
        )
        yield None
        return
    # The database the tests use too: made as `dataops env apply` makes staging's hot store, with a
    # read-only role of its own; both dropped afterwards, whatever happens.
    from dataops_assets_tests.services import hot_store_database, login_as

    with hot_store_database(PG_ADMIN_DSN) as (dsn, role):
        api_dsn = login_as(dsn, role)
        yield Backend(
            prefix="api_pg",
            direct="the same SQL, directly on PostgreSQL",
            # the API's process gets the read-only login only, never the writer's DSN
            server_env={
                "DATAOPS_ENV": "staging",
                "DATAOPS_DATA_DIR": str(workdir),
                "DATAOPS_API_PG_DSN": api_dsn,
            },
            days=build_store(PostgresHotStore(dsn=dsn, readonly_role=role), days),
            reader=PostgresHotReader(api_dsn),
        )


# --- the run ---------------------------------------------------------------------------------------------


def _figure(
    name: str, unit: str, values: list[float], baselines: list[float], better: str, baseline: str, **extra
) -> dict:
    return figure(name, values, unit, baseline, baselines, better, **extra)


def measure(backend: Backend, workdir: Path, repeats: int, n_fixed: int) -> list[dict]:
    """The backend's figures: its API and, in the same runs, its bare query and the HTTP floor."""
    port, floor_port = _free_port(), _free_port()
    processes = [start_server(backend, port)]
    try:
        one_day = _path({"flight_date": backend.days[-1]})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{one_day}", headers={"Authorization": f"Bearer {TOKENS['analytics']}"}
        )
        with urllib.request.urlopen(request) as response:
            processes.append(start_floor(response.read(), workdir, floor_port))
        figures: list[dict] = []
        for kind in ("key_lookup", "one_day"):
            runs: dict[str, list[float]] = {
                k: [] for k in ("p50", "p99", "bp50", "bp99", "rps", "brps", "fp50", "fp99")
            }
            for r in range(repeats):
                requests = requests_for(backend.days, kind, n_fixed, seed=r)
                paths = [_path(p) for p in requests]
                asyncio.run(closed_loop(port, paths[:50], 4))  # warm up
                api = asyncio.run(fixed_rate(port, paths, RATE))
                bare = direct_latencies(backend, requests)
                runs["p50"].append(_percentile(api, 0.5) * 1000)
                runs["p99"].append(_percentile(api, 0.99) * 1000)
                runs["bp50"].append(_percentile(bare, 0.5) * 1000)
                runs["bp99"].append(_percentile(bare, 0.99) * 1000)
                runs["rps"].append(asyncio.run(closed_loop(port, paths, CLIENTS)))
                runs["brps"].append(direct_throughput(backend, requests, CLIENTS))
                if kind == "one_day":
                    floor_latencies = asyncio.run(fixed_rate(floor_port, paths, RATE))
                    runs["fp50"].append(_percentile(floor_latencies, 0.5) * 1000)
                    runs["fp99"].append(_percentile(floor_latencies, 0.99) * 1000)
            at, name = f"ms at {RATE} req/s", f"{backend.prefix}_{kind}"
            target = {"target": "< 20 ms"} if kind == "one_day" else {}
            figures += [
                _figure(f"{name}_p50_ms", at, runs["p50"], runs["bp50"], "lower", backend.direct),
                _figure(f"{name}_p99_ms", at, runs["p99"], runs["bp99"], "lower", backend.direct, **target),
                _figure(f"{name}_requests_per_s", f"req/s, {CLIENTS} clients", runs["rps"], runs["brps"],
                        "higher", backend.direct),
            ]  # fmt: skip
        figures += [
            _figure(f"{backend.prefix}_one_day_p50_vs_http_floor_ms", at, runs["p50"], runs["fp50"], "lower", FLOOR,
                    target="ratio < 3"),
            _figure(f"{backend.prefix}_one_day_p99_vs_http_floor_ms", at, runs["p99"], runs["fp99"], "lower", FLOOR),
        ]  # fmt: skip
        return figures
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def contended(
    port: int, well_behaved: list[str], greedy: str, greedy_rate: float | None
) -> tuple[list[float], dict[int, int]]:
    """The well-behaved consumer's latencies at half the fixed rate while the greedy one sends to the same
    server at `greedy_rate` (None: back to back), from a process of its own (so its client does not slow
    the measuring one)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    stop, counts = context.Event(), context.Queue()
    flooder = context.Process(target=_flood_process, args=(port, greedy, greedy_rate, stop, counts))
    flooder.start()
    try:
        latencies = asyncio.run(fixed_rate(port, well_behaved, RATE / 2))
    finally:
        stop.set()
    statuses = counts.get(timeout=60)
    flooder.join(timeout=30)
    return latencies, statuses


OPEN = "the same server code, environment sandbox: its open consumer, no token to check"
AUTH_TURN = 200  # requests per turn of each server when comparing the two
GREEDY_CLIENTS = 4  # carriers_app's connections
GREEDY_RATE = RATE  # carriers_app's requests per second: 10x its limit of 20/s


def token_check_cost() -> str:
    """What the check itself costs: identifying a token among the testing environment's consumers."""
    import timeit

    from dataops_assets.environments.loader import load_environment
    from dataops_assets.pillars.serving.api.auth import consumers_from
    from dataops_assets_tests.services import environ

    with environ(**TOKEN_VARIABLES):
        consumers = consumers_from(load_environment("testing").api)
    n = 100_000
    seconds = min(timeit.repeat(lambda: consumers.identify(TOKENS["analytics"]), number=n, repeat=5)) / n
    return (
        f"the check itself (SHA-256 of the token, compared with each of {len(consumers.all)} consumers' "
        f"digests) takes {seconds * 1e6:.2f} µs a request (timeit, same run); the turns' medians are "
        "otherwise the shared machine's noise"
    )


def measure_access(backend: Backend, repeats: int, n_fixed: int) -> list[dict]:
    """SQLite only: what the token check costs, and what a greedy consumer costs a well-behaved one."""
    port, open_port = _free_port(), _free_port()
    processes = [start_server(backend, port), start_server(backend, open_port, {"DATAOPS_ENV": "sandbox"})]
    runs: dict[str, list[float]] = {
        k: [] for k in ("token", "open", "alone", "loaded", "flooded", "429", "200", "flood429", "flood200")
    }
    try:
        for at, consumer in ((port, "analytics"), (open_port, None)):  # warm up
            asyncio.run(fixed_rate(at, [_path({"flight_date": backend.days[0]})] * 50, RATE, consumer))
        for r in range(repeats):
            paths = [_path(p) for p in requests_for(backend.days, "one_day", n_fixed, seed=r)]
            # short turns, alternating: the machine's other load falls on both alike
            for i, turn in enumerate(range(0, len(paths), AUTH_TURN)):
                servers = [("token", port, "analytics"), ("open", open_port, None)]
                for name, at, consumer in servers[:: 1 if i % 2 else -1]:  # each goes first in turn
                    latencies = asyncio.run(fixed_rate(at, paths[turn : turn + AUTH_TURN], RATE, consumer))
                    runs[name].append(_percentile(latencies, 0.5) * 1000)
            half = paths[: len(paths) // 2]
            runs["alone"].append(_percentile(asyncio.run(fixed_rate(port, half, RATE / 2)), 0.99) * 1000)

            for key, rate in (("loaded", GREEDY_RATE), ("flooded", None)):
                latencies, statuses = contended(port, half, paths[0], rate)
                runs[key].append(_percentile(latencies, 0.99) * 1000)
                prefix = "" if rate else "flood"
                runs[prefix + "429"].append(statuses.get(429, 0))
                runs[prefix + "200"].append(statuses.get(200, 0))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    at = f"ms at {RATE} req/s"

    def statuses(prefix: str) -> str:
        return f"429s {sorted(int(n) for n in runs[prefix + '429'])}, 200s {sorted(int(n) for n in runs[prefix + '200'])}"

    greedy = (
        f"carriers_app (20/s, burst 20) sending {GREEDY_RATE} req/s from another process meanwhile, per run: "
        f"{statuses('')}"
    )
    flooded = (
        f"carriers_app flooding from another process with {GREEDY_CLIENTS} connections back to back, per run: "
        f"{statuses('flood')}"
    )
    return [
        _figure("api_auth_one_day_p50_ms", at, runs["token"], runs["open"], "lower", OPEN, target="ratio < 1.1",
                note=token_check_cost()),
        _figure("api_limits_well_behaved_p99_ms", f"ms at {RATE // 2} req/s", runs["loaded"], runs["alone"],
                "lower", "the same consumer alone on the server", target="ratio < 2", note=greedy),
        _figure("api_limits_flooded_p99_ms", f"ms at {RATE // 2} req/s", runs["flooded"], runs["alone"],
                "lower", "the same consumer alone on the server", note=flooded),
    ]  # fmt: skip


def run(quick: bool) -> list[dict]:
    repeats, seconds, days = (3, 2.0, 90) if quick else (5, 5.0, 365)
    figures: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="dataops-bench-api-") as tmp:
        for store in (sqlite_store, postgres_store):
            workdir = Path(tmp) / store.__name__
            workdir.mkdir()
            with store(workdir, days) as backend:
                if backend is not None:
                    figures += measure(backend, workdir, repeats, int(RATE * seconds))
                if backend is not None and backend.prefix == "api":
                    figures += measure_access(backend, repeats, int(RATE * seconds))
    return figures


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(json.dumps(figure))
