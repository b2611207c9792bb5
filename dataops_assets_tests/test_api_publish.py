"""Publishing while serving: readers of the live API see the old version or the new one, never a mix,
never a lock error."""

from __future__ import annotations

import threading
import time

import httpx

from dataops_assets_tests.api_server import bearer

TABLE = "route_daily_weather"
COLUMNS = [("flight_date", "DATE"), ("origin", "VARCHAR"), ("dest", "VARCHAR"), ("flights", "BIGINT")]
DAYS = ["2013-02-01", "2013-02-02"]


def version(v: int) -> list[tuple]:
    """Version v: 150 + 25 v routes a day, every row's `flights` = v (a mix would show two values)."""
    return [(day, "JFK", f"D{i:04d}", v) for day in DAYS for i in range(150 + 25 * v)]


def test_readers_see_whole_versions_while_the_pipeline_publishes(served):
    store = served.store
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
            with httpx.Client(base_url=served.url, timeout=10, headers=bearer()) as client:
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


def test_paging_across_a_publish_neither_repeats_nor_skips_rows(served):
    """Keyset paging: a day published between two pages shows up in its place in the order, and the
    rows already read are neither repeated nor pushed out."""
    store = served.store
    before = [("2013-03-01", "LGA", f"D{i:04d}", 1) for i in range(120)]
    store.publish(TABLE, COLUMNS, before, "flight_date", ["2013-03-01"])
    later = [("2013-03-02", "LGA", f"D{i:04d}", 2) for i in range(30)]
    read: list[tuple] = []
    params = {"origin": "LGA", "flight_date__gte": "2013-03-01", "limit": 50}
    with httpx.Client(base_url=served.url, timeout=10, headers=bearer()) as client:
        page = client.get(f"/datasets/{TABLE}", params=params).json()
        read += [(r["flight_date"], r["dest"]) for r in page["rows"]]
        store.publish(TABLE, COLUMNS, later, "flight_date", ["2013-03-02"])  # between two pages
        while page["next_cursor"]:
            page = client.get(f"/datasets/{TABLE}", params=params | {"cursor": page["next_cursor"]}).json()
            read += [(r["flight_date"], r["dest"]) for r in page["rows"]]
    assert read == [(d, dest) for d, _, dest, _ in before + later]
