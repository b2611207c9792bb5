"""The API's Prometheus metrics (`GET /metrics`), one registry per app (prometheus_client)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Milliseconds matter here: a one-day read takes ~2 ms, a slow one tens.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "dataops_api_requests",
            "Requests answered, by route template, status and consumer.",
            ["route", "status", "consumer"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dataops_api_request_duration_seconds",
            "Time from receiving a request to the end of its response, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.query = Histogram(
            "dataops_api_hot_store_query_seconds",
            "Time of the hot-store read behind a page of rows, by dataset.",
            ["dataset"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "dataops_api_rows_returned",
            "Rows returned in pages, by dataset and consumer.",
            ["dataset", "consumer"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
