"""Publishing while serving: readers of the live API see the old version or the new one, never a mix,
never a lock error."""

from __future__ import annotations

import threading
import time

import httpx

from dataops_assets.resources.hot_store import SQLiteHotStore

TABLE = "route_daily_weather"
COLUMNS = [("flight_date", "DATE"), ("origin", "VARCHAR"), ("dest", "VARCHAR"), ("flights", "BIGINT")]
DAYS = ["2013-02-01", "2013-02-02"]


def version(v: int) -> list[tuple]:
    """Version v: 150 + 25 v routes a day, every row's `flights` = v (a mix would show two values)."""
    return [(day, "JFK", f"D{i:04d}", v) for day in DAYS for i in range(150 + 25 * v)]


def test_readers_see_whole_versions_while_the_pipeline_publishes(api_url, api_data_dir):
    store = SQLiteHotStore(path=str(api_data_dir / "hot.sqlite"))
    store.publish(TABLE, COLUMNS, version(0), "flight_date", DAYS)
    seen: list[tuple[int, int]] = []
    problems: list[str] = []
    done = threading.Event()

    def read_until_done(client: httpx.Client) -> None:
        while not done.is_set():
            response = client.get(f"/datasets/{TABLE}", params={"flight_date": DAYS[1], "limit": 1000})
            if response.status_code != 200:
                problems.append(f"{response.status_code}: {response.text}")
                return
            values = {r["flights"] for r in response.json()["rows"]}
            if len(values) != 1:
                problems.append(f"a mix of versions {sorted(values)}")
                return
            seen.append((values.pop(), len(response.json()["rows"])))

    def read() -> None:
        try:
            with httpx.Client(base_url=api_url, timeout=10) as client:
                read_until_done(client)
        except Exception as error:  # a dropped connection is a problem too, and must end the test
            problems.append(repr(error))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for v in range(13):
        if v:
            store.publish(TABLE, COLUMNS, version(v), "flight_date", DAYS)
        # the next publish waits until a reader has seen this version: reads overlap every publish
        while not problems and all(s != v for s, _ in seen):
            time.sleep(0.005)
    done.set()
    for reader in readers:
        reader.join()

    assert problems == []
    assert all(rows == 150 + 25 * v for v, rows in seen)  # each read saw one whole version
    assert {v for v, _ in seen} == set(range(13))
