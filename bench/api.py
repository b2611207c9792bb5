"""Hot data API under load: latency and throughput of `dataops serve`, against the same SQL run directly.

A year of hot tables shaped like the served marts (carrier x origin per day, as
`carrier_origin_daily`) is published into a fresh SQLite hot store; a real `dataops serve` process
answers on loopback. Two queries:

- key lookup: one row by (flight_date, carrier, origin)
- one-day filter: a day's on-time performance (every carrier and origin of one day)

For each: p50/p99 latency at a fixed arrival rate (open loop, 200 requests/s: latency counts from when
a request was due, so a slow server cannot hide queueing), and requests/s with a fixed number of
clients each sending back to back (closed loop). The baseline is the same SQL the API runs, on a
reused read-only SQLite connection, one read transaction per query (as the API runs it), in the same run:
ratio = API / bare query, the overhead of HTTP, validation and JSON. A second baseline, the HTTP floor,
is a bare ASGI app on the same uvicorn answering the same response bytes: API / floor is what the
API adds to serving HTTP at all. The load generator is a minimal asyncio HTTP/1.1 client
(keep-alive), so it costs the machine's cores as little as possible.

Run: `python -m bench.api [--quick]` (or through the `bench` runner, which discovers `run`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.measure import figure
from dataops_assets.pillars.serving.api import queries
from dataops_assets.pillars.serving.api.datasets import DATASETS
from dataops_assets.resources.hot_store import SQLiteHotStore

TABLE = "carrier_origin_daily"
CARRIERS = ["9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL", "HA", "MQ", "OO", "UA", "US", "VX", "WN", "YV"]
ORIGINS = ["EWR", "JFK", "LGA"]
COLUMNS = [
    ("flight_date", "DATE"), ("carrier", "VARCHAR"), ("carrier_name", "VARCHAR"), ("origin", "VARCHAR"),
    ("flights", "BIGINT"), ("cancelled_flights", "BIGINT"), ("on_time_arrivals", "BIGINT"),
    ("on_time_rate", "DOUBLE"), ("avg_dep_delay", "DOUBLE"), ("avg_arr_delay", "DOUBLE"),
]  # fmt: skip
RATE = 200  # requests per second, open loop
CLIENTS = 8  # concurrent clients, closed loop


def build_store(path: Path, days: int) -> list[str]:
    """Publish `days` days of carrier x origin rows (the real mart's shape and size); the days."""
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
    SQLiteHotStore(path=str(path)).publish(TABLE, COLUMNS, rows, "flight_date", keys)
    return keys


def requests_for(days: list[str], kind: str, n: int) -> list[dict[str, str]]:
    rng = random.Random(kind)
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


def direct_latencies(store: Path, requests: list[dict[str, str]]) -> list[float]:
    """Seconds per query: the API's own SQL for each request, as the API runs it (a reused read-only
    connection, one read transaction per query), without HTTP, validation or JSON."""
    con = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    columns = [queries.Column(n, queries.logical_type(t)) for n, t in con.execute(
        "SELECT column_name, sql_type FROM _columns WHERE table_name = ? ORDER BY position", [TABLE])]  # fmt: skip
    prepared = [
        queries.to_sql(queries.parse_query(DATASETS[TABLE], columns, list(p.items())), TABLE)
        for p in requests
    ]
    latencies = []
    for sql, params in prepared:
        started = time.perf_counter()
        con.execute("BEGIN")
        con.execute(sql, params).fetchall()
        con.execute("ROLLBACK")
        latencies.append(time.perf_counter() - started)
    con.close()
    return latencies


def direct_throughput(store: Path, requests: list[dict[str, str]], clients: int) -> float:
    """Queries per second with `clients` threads, each running its share back to back."""
    shares = [requests[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=direct_latencies, args=(store, share)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(requests) / (time.perf_counter() - started)


# --- the API -------------------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; `get` returns the status (the body is read and dropped)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await self.reader.readexactly(length)
        return int(head[9:12])


async def fixed_rate(port: int, paths: list[str], rate: float) -> list[float]:
    """Latency of each request, counted from when it was due (open loop at `rate` per second)."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(32):
        idle.put_nowait(await Connection.open(port))
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


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    return _start(
        [sys.executable, "-m", "dataops_assets.cli.main", "serve", "--port", str(port)],
        {"DATAOPS_ENV": "testing", "DATAOPS_DATA_DIR": str(data_dir)},
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
    (workdir / "floor.json").write_bytes(body)
    return _start(
        [sys.executable, "-m", "uvicorn", "bench.api:http_floor", "--port", str(port), "--lifespan", "off",
         "--log-level", "warning", "--no-access-log"],
        {"BENCH_API_FLOOR_BODY": str(workdir / "floor.json"),
         "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        port,
    )  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


DIRECT = "the same SQL, directly on SQLite"
FLOOR = "a bare ASGI app on the same uvicorn, same response bytes"


def _figure(
    name: str, unit: str, values: list[float], baselines: list[float], better: str, baseline=DIRECT, **extra
) -> dict:
    """bench.measure.figure, against the bare query by default."""
    return figure(name, values, unit, baseline, baselines, better, **extra)


def run(quick: bool) -> list[dict]:
    repeats, seconds, days = (3, 2.0, 90) if quick else (5, 5.0, 365)
    n_fixed = int(RATE * seconds)
    figures: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="dataops-bench-api-") as tmp:
        data_dir = Path(tmp)
        store = data_dir / "hot.sqlite"
        keys = build_store(store, days)
        port, floor_port = _free_port(), _free_port()
        server = start_server(data_dir, port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{_path({'flight_date': keys[-1]})}") as response:
            floor = start_floor(response.read(), data_dir, floor_port)
        try:
            for kind in ("key_lookup", "one_day"):
                runs: dict[str, list[float]] = {
                    k: [] for k in ("p50", "p99", "bp50", "bp99", "rps", "brps", "fp50", "fp99")
                }
                for r in range(repeats):
                    requests = requests_for(keys, f"{kind}{r}", n_fixed)
                    paths = [_path(p) for p in requests]
                    asyncio.run(closed_loop(port, paths[:50], 4))  # warm up
                    api = asyncio.run(fixed_rate(port, paths, RATE))
                    bare = direct_latencies(store, requests)
                    runs["p50"].append(_percentile(api, 0.5) * 1000)
                    runs["p99"].append(_percentile(api, 0.99) * 1000)
                    runs["bp50"].append(_percentile(bare, 0.5) * 1000)
                    runs["bp99"].append(_percentile(bare, 0.99) * 1000)
                    runs["rps"].append(asyncio.run(closed_loop(port, paths, CLIENTS)))
                    runs["brps"].append(direct_throughput(store, requests, CLIENTS))
                    if kind == "one_day":
                        floor_latencies = asyncio.run(fixed_rate(floor_port, paths, RATE))
                        runs["fp50"].append(_percentile(floor_latencies, 0.5) * 1000)
                        runs["fp99"].append(_percentile(floor_latencies, 0.99) * 1000)
                at = f"ms at {RATE} req/s"
                target = {"target": "< 20 ms"} if kind == "one_day" else {}
                figures += [
                    _figure(f"api_{kind}_p50_ms", at, runs["p50"], runs["bp50"], "lower"),
                    _figure(f"api_{kind}_p99_ms", at, runs["p99"], runs["bp99"], "lower", **target),
                    _figure(f"api_{kind}_requests_per_s", f"req/s, {CLIENTS} clients", runs["rps"],
                            runs["brps"], "higher"),
                ]  # fmt: skip
            figures += [
                _figure("api_one_day_p50_vs_http_floor_ms", at, runs["p50"], runs["fp50"], "lower", FLOOR,
                        target="ratio < 3"),
                _figure("api_one_day_p99_vs_http_floor_ms", at, runs["p99"], runs["fp99"], "lower", FLOOR),
            ]  # fmt: skip
        finally:
            for process in (server, floor):
                process.terminate()
                process.wait(timeout=30)
    return figures


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(json.dumps(figure))
