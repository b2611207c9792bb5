"""A real `dataops serve` process on loopback, and hot data with known answers to serve."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from dataops_assets.resources.hot_store import HotStore

DATAOPS = str(Path(sys.executable).parent / "dataops")

# The tokens of the consumers the testing and staging environment files declare (api.consumers).
TOKENS = {
    "analytics": "t-analytics-0123456789abcdef0123456789abcdef",  # every table
    "carriers_app": "t-carriers-0123456789abcdef0123456789abcdef",  # carrier_origin_daily only
    "monitoring": "t-monitoring-0123456789abcdef0123456789abcde",  # GET /metrics only
}
TOKEN_VARIABLES = {f"DATAOPS_API_TOKEN_{name.upper()}": token for name, token in TOKENS.items()}


def bearer(consumer: str = "analytics") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[consumer]}"}


# The real mart's columns and warehouse types (marts.mart_carrier_origin_daily).
CARRIER_COLUMNS = [
    ("flight_date", "DATE"),
    ("carrier", "VARCHAR"),
    ("carrier_name", "VARCHAR"),
    ("origin", "VARCHAR"),
    ("flights", "BIGINT"),
    ("cancelled_flights", "BIGINT"),
    ("on_time_arrivals", "BIGINT"),
    ("on_time_rate", "DOUBLE"),
    ("avg_dep_delay", "DOUBLE"),
    ("avg_arr_delay", "DOUBLE"),
]
CARRIERS = ["9E", "AA", "B6", "DL", "EV", "UA", "US", "WN"]
ORIGINS = ["EWR", "JFK", "LGA"]
DAYS = [f"2013-01-{d:02d}" for d in range(1, 11)]


def carrier_rows(days: list[str], version: int = 0) -> list[tuple]:
    """One row per (day, carrier, origin); `flights` encodes day and position, `version` the publish."""
    rows = []
    for d, day in enumerate(days):
        for c, carrier in enumerate(CARRIERS):
            for o, origin in enumerate(ORIGINS):
                flights = 100 * (d + 1) + 10 * c + o
                on_time = flights // 2
                delay = None if (c + o) % 5 == 0 else float((c * 7 + o * 3 + d) % 23 - 5)
                rows.append(
                    (day, carrier, f"{carrier} Airlines", origin, flights, version, on_time,
                     on_time / flights, delay, delay)
                )  # fmt: skip
    return rows


def publish_carriers(store: HotStore, days: list[str], version: int = 0) -> int:
    return store.publish(
        "carrier_origin_daily", CARRIER_COLUMNS, carrier_rows(days, version), "flight_date", days
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Served:
    """A running `dataops serve` and the hot store behind it, as the pipeline sees it."""

    backend: str  # sqlite | postgres
    store: HotStore  # the writer's side: what tests publish through
    data_dir: Path  # where the server's log (serve-PORT.log) is
    url: str


@contextlib.contextmanager
def running_server(data_dir: Path, env_name: str = "testing", variables: dict | None = None) -> Iterator[str]:
    """`dataops serve` over environment `env_name`'s hot store, with DATAOPS_DATA_DIR=`data_dir` and
    `variables` set (and the consumers' tokens); yields its base URL; stops it afterwards."""
    port = free_port()
    log = open(data_dir / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [DATAOPS, "serve", "--port", str(port)],
        env=os.environ
        | {"DATAOPS_ENV": env_name, "DATAOPS_DATA_DIR": str(data_dir)}
        | TOKEN_VARIABLES
        | (variables or {}),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dataops serve did not start: {Path(log.name).read_text()}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
