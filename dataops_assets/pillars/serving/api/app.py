"""The FastAPI application: health, the served datasets, paged and filtered reads, predictions."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote, unquote_plus

import orjson
from fastapi import Depends, FastAPI, HTTPException, Path, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dataops_assets.environments.model import Api
from dataops_assets.pillars.serving.api import queries
from dataops_assets.pillars.serving.api.auth import Consumer, Consumers
from dataops_assets.pillars.serving.api.limits import Overloaded, ReadSlots, TokenBucket, retry_after
from dataops_assets.pillars.serving.api.metrics import CONTENT_TYPE, ApiMetrics
from dataops_assets.pillars.serving.api.reader import HotReader, ReadSession, StoreUnavailable
from dataops_assets.pillars.serving.api.schemas import (
    DatasetList,
    Health,
    Page,
    Problem,
)
from dataops_assets.redact import redact
from dataops_assets.served import (
    FRESHNESS_FAIL_WINDOW,
    ServedTable,
    published_by_science,
    served_tables,
)

log = logging.getLogger("dataops.api")
INTERACTIVE_DOCS_ENVIRONMENTS = ("sandbox", "testing")  # the laptop's and CI's: /docs and /redoc

FILTERS_HELP = (
    "Filters are further query parameters named after the dataset's columns (see `GET /datasets`): "
    "`carrier=UA` (equality; repeat it for any of several values), and on dates and numbers "
    "`flight_date__gte=2013-01-01`, `__gt`, `__lte`, `__lt`. Unknown columns and values that do not "
    "parse as the column's type are refused with 400."
)
# What any authenticated endpoint may answer besides its own errors.
REFUSALS = {
    401: {"model": Problem, "description": "No token, or one no consumer holds."},
    403: {"model": Problem, "description": "The dataset is outside the consumer's scope."},
    429: {"model": Problem, "description": "The consumer's rate limit; see Retry-After."},
    503: {"model": Problem, "description": "The hot store is unavailable, or the server is at capacity."},
}
ERRORS = {400: {"model": Problem}, 404: {"model": Problem}} | REFUSALS
# The paging parameters, documented here and validated by queries.parse_query alone (FastAPI's own
# parameter validation would double the cost of a request).
PAGING = {
    "parameters": [
        {"name": "columns", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Comma-separated columns to return (default: all)."},
        {"name": "order_by", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Comma-separated columns, `-name` for descending; the dataset's key breaks ties."},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": queries.MAX_PAGE, "default": queries.DEFAULT_PAGE},
         "description": f"Rows per page, at most {queries.MAX_PAGE}."},
        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "`next_cursor` of the previous page (with the same filters and order_by)."},
    ]
}  # fmt: skip


# What one request-log line shows of the path and query: a client chooses them, so they are
# percent-encoded again (a %0a must not start a forged second line) and capped (a 64 KB query is not
# logged whole), after any password in them is blanked.
MAX_LOGGED_TARGET = 2048
_READABLE = "/?&=:@,;+*!$'()~[]"  # left as they are, for a readable line


def loggable(target: str) -> str:
    """`target` (the decoded path and query) as the log shows it: password-free, percent-encoded
    (control characters, spaces and non-ASCII included), cut at MAX_LOGGED_TARGET characters."""
    shown = quote(redact(target), safe=_READABLE)
    cut = len(shown) - MAX_LOGGED_TARGET
    return shown[:MAX_LOGGED_TARGET] + (f"... ({cut} more characters)" if cut > 0 else "")


# All a client learns of a 503: why the store is unavailable (paths, hosts, the server's own error
# text) is for the operator, in the server's log.
UNAVAILABLE = "the hot store is unavailable"


def _log_unavailable(error: StoreUnavailable) -> None:
    log.warning("503 %s: %s", UNAVAILABLE, redact(str(error)))


def _json(body: object, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


class RequestLog:
    """One log line per request — method, path and query, status, latency, consumer — and the request
    metrics by route template (pure ASGI: cheap)."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # Decoded like the path, so a password sent percent-encoded is found and blanked too.
            query = unquote_plus(scope.get("query_string", b"").decode("latin-1"))
            seconds = time.perf_counter() - started
            consumer = scope.get("state", {}).get("consumer", "-")  # set once the token is known
            log.info(
                "%s %s %d %.1fms %s",
                scope["method"],
                loggable(scope["path"] + (f"?{query}" if query else "")),
                status,
                seconds * 1000,
                consumer,
            )
            # The template, not the path: a client must not mint a time series per URL it sends.
            route = getattr(scope.get("route"), "path", "other")  # other: /openapi.json, /docs, 404s
            self.metrics.requests.labels(route, str(status), consumer).inc()
            self.metrics.latency.labels(route).observe(seconds)


def _columns(session: ReadSession, table: str) -> list[queries.Column]:
    return [queries.Column(name, queries.logical_type(type_)) for name, type_ in session.columns(table)]


class ColumnCache:
    """Each table's columns, read again only when the table is published again."""

    def __init__(self):
        self._cached: dict[str, tuple[str, list[queries.Column]]] = {}

    def get(self, session: ReadSession, table: str, published_at: str) -> list[queries.Column]:
        cached = self._cached.get(table)
        if cached is None or cached[0] != published_at:
            cached = (published_at, _columns(session, table))
            self._cached[table] = cached
        return cached[1]


def _column_info(columns: list[queries.Column]) -> list[dict]:
    return [{"name": c.name, "type": c.type, "filters": queries.operators_for(c.type)} for c in columns]


def _freshness(name: str, entry: dict | None, now: dt.datetime) -> dict:
    published_at = entry["published_at"] if entry else None
    age = (now - dt.datetime.fromisoformat(published_at)).total_seconds() if published_at else None
    return {
        "name": name,
        "last_partition": entry["last_partition"] if entry else None,
        "published_at": published_at,
        "age_seconds": age,
        "fresh": age is not None and age <= FRESHNESS_FAIL_WINDOW.total_seconds(),
    }


def _predictions_table(tables: dict[str, ServedTable], consumer: Consumer) -> ServedTable:
    """What `/predictions` serves: the table of the one science task that declares `serve`, or 404.
    With several, each is read at /datasets/{name}: the 404 names those this consumer may read."""
    predicted = published_by_science(tables)
    if len(predicted) == 1:
        return predicted[0]
    if not predicted:
        raise HTTPException(404, "no science task declares `serve: {table: …}`: no predictions are served")
    readable = [f"{t.name} (task {t.task})" for t in predicted if consumer.may_read(t.name)]
    raise HTTPException(
        404,
        f"{len(predicted)} science tasks serve predictions: read a task's at /datasets/{{name}}: "
        + (", ".join(readable) or "none this consumer may read"),
    )


LOOPBACK = ("127.0.0.1", "::1")
bearer = HTTPBearer(
    auto_error=False,  # a missing token is answered below: 401 with WWW-Authenticate, as RFC 6750 says
    description="A consumer's token, declared in the environment file (api.consumers).",
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


def _identified(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Consumer:
    """The consumer the request's token belongs to (the open consumer's, without one), or 401."""
    consumers: Consumers = request.app.state.consumers
    if credentials is None:
        if consumers.open is None:
            raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
        consumer = consumers.open
    else:
        consumer = consumers.identify(credentials.credentials)
        if consumer is None:
            raise HTTPException(
                401, "the bearer token is not one of this API's consumers",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )  # fmt: skip
    request.state.consumer = consumer.name  # for the request log and the metrics
    return consumer


async def authenticated(request: Request, credentials: Bearer) -> Consumer:
    """The consumer whose token the request carries, within its rate limit (a FastAPI dependency)."""
    consumer = _identified(request, credentials)
    wait = request.app.state.buckets[consumer.name].take()
    if wait:
        raise HTTPException(
            429, f"rate limit of {consumer.name} ({consumer.per_second:g}/s) reached",
            {"Retry-After": retry_after(wait)},
        )  # fmt: skip
    return consumer


Authenticated = Annotated[Consumer, Depends(authenticated)]


def create_app(
    reader: HotReader,
    consumers: Consumers,
    served: Callable[[], dict[str, ServedTable]] = served_tables,
    interactive_docs: bool = False,
    concurrent_reads: int = Api().max_concurrent_reads,
    waiting_reads: int = Api().max_waiting_reads,
) -> FastAPI:
    """The API over `reader`'s hot store for `consumers`, serving the tables `served()` declares when
    asked (the dbt models' and the science tasks' serve declarations, read again when they change).
    `interactive_docs` serves /docs and /redoc, pages that load Swagger UI and ReDoc from a public CDN
    into the browser: on a laptop, never on a shared environment's origin. Reads run in worker threads,
    `concurrent_reads` at once with `waiting_reads` more waiting; beyond that a request gets 503."""
    app = FastAPI(
        docs_url="/docs" if interactive_docs else None,
        redoc_url="/redoc" if interactive_docs else None,
        title="dataops hot data",
        version="1",
        description="The hot tables of the serving pillar and the promoted model's predictions, read-only. "
        "Every list is paged with an opaque cursor; a publish never shows a reader half a version. "
        "Send a consumer's token as `Authorization: Bearer <token>`.",
    )
    metrics = ApiMetrics()
    app.add_middleware(RequestLog, metrics=metrics)
    columns_of = ColumnCache()
    slots = ReadSlots(concurrent_reads, waiting_reads)
    app.state.consumers = consumers
    app.state.buckets = {c.name: TokenBucket(c.per_second, c.burst) for c in consumers.all}

    @app.exception_handler(StoreUnavailable)
    def unavailable(_: Request, error: StoreUnavailable) -> Response:
        _log_unavailable(error)
        return _json({"detail": UNAVAILABLE}, status_code=503)

    @app.exception_handler(Overloaded)
    def overloaded(_: Request, error: Overloaded) -> Response:
        log.warning("503 at capacity: %s", error)
        response = _json({"detail": "the server is at capacity: retry shortly"}, status_code=503)
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(queries.QueryError)
    def refused(_: Request, error: queries.QueryError) -> Response:
        return _json({"detail": str(error)}, status_code=400)

    def in_scope(consumer: Consumer, table: str) -> None:
        if not consumer.may_read(table):
            raise HTTPException(403, f"consumer {consumer.name} may not read {table}")

    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    async def health() -> Response:
        """Whether the hot store is reachable, and how fresh each published table is (no token needed)."""
        now = dt.datetime.now(dt.UTC)

        def read_catalog() -> dict[str, dict]:
            with reader.session() as session:
                return session.catalog()

        try:  # bounded like every read: anyone may call /health
            catalog = await slots.run(read_catalog)
        except StoreUnavailable as error:
            _log_unavailable(error)
            store = {"backend": reader.backend, "reachable": False, "detail": UNAVAILABLE}
            return _json({"status": "unavailable", "store": store, "tables": []}, status_code=503)
        tables = [_freshness(name, catalog[name], now) for name in served() if name in catalog]
        status = "ok" if all(t["fresh"] for t in tables) else "stale"
        return _json(
            {"status": status, "store": {"backend": reader.backend, "reachable": True}, "tables": tables}
        )

    @app.get("/datasets", response_model=DatasetList, responses=REFUSALS)
    async def list_datasets(consumer: Authenticated) -> Response:
        """What is served to this consumer: each dataset's columns and types, rows, last published partition."""
        visible = [dataset for dataset in served().values() if consumer.may_read(dataset.name)]

        def listing() -> list[dict]:
            listed = []
            with reader.session() as session:
                catalog = session.catalog()
                for dataset in visible:
                    entry = catalog.get(dataset.name)
                    columns = _columns(session, dataset.name) if entry else []
                    listed.append(
                        {
                            "name": dataset.name,
                            "description": dataset.description,
                            "published": entry is not None,
                            "rows": entry["rows"] if entry else 0,
                            "last_partition": entry["last_partition"] if entry else None,
                            "published_at": entry["published_at"] if entry else None,
                            "date_column": dataset.date_column,
                            "key": list(dataset.key),
                            "columns": _column_info(columns),
                        }
                    )
            return listed

        return _json({"datasets": await slots.run(listing)})

    async def read_page(
        dataset: ServedTable, consumer: Consumer, request: Request, not_published: str
    ) -> Response:
        in_scope(consumer, dataset.name)
        params = request.query_params.multi_items()

        def page() -> tuple[queries.Query, list[dict], str | None]:
            with reader.session() as session:
                entry = session.catalog().get(dataset.name)
                if entry is None:
                    raise HTTPException(404, not_published)
                columns = columns_of.get(session, dataset.name, entry["published_at"])
                query = queries.parse_query(dataset, columns, params)
                sql, bound = queries.to_sql(query, dataset.name, reader.placeholder)
                started = time.perf_counter()
                fetched = session.fetch(sql, bound)
                metrics.query.labels(dataset.name).observe(time.perf_counter() - started)
                return query, *queries.page(query, fetched)

        query, rows, next_cursor = await slots.run(page)
        metrics.rows.labels(dataset.name, consumer.name).inc(len(rows))
        return _json(
            {
                "dataset": dataset.name,
                "columns": _column_info(list(query.selected)),
                "rows": rows,
                "limit": query.limit,
                "next_cursor": next_cursor,
            }
        )

    paged = {
        "response_model": Page,
        "responses": ERRORS,
        "description": FILTERS_HELP,
        "openapi_extra": PAGING,
    }

    @app.get("/datasets/{name}", **paged)
    async def read_dataset(
        request: Request,
        consumer: Authenticated,
        name: str = Path(description="A served dataset (see `GET /datasets`)."),
    ) -> Response:
        """Rows of a served dataset: filtered, ordered and paged."""
        tables = served()
        dataset = tables.get(name)
        if dataset is None:  # only the names this consumer may read are named to it
            readable = ", ".join(t for t in tables if consumer.may_read(t))
            raise HTTPException(404, f"no dataset {name[:60]!r}; served: {readable}")
        return await read_page(dataset, consumer, request, f"{name} has not been published yet")

    @app.get("/predictions", **paged)
    async def read_predictions(request: Request, consumer: Authenticated) -> Response:
        """The promoted model's predictions of the science task that serves predictions (filters as for
        datasets). With several such tasks, read each task's table at `/datasets/{name}`."""
        dataset = _predictions_table(served(), consumer)
        return await read_page(
            dataset,
            consumer,
            request,
            "no model has been promoted yet: predictions appear once `dataops experiment promote "
            f"--task {dataset.task}` publishes {dataset.name}",
        )

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format."},
            401: {"model": Problem},
            403: {"model": Problem},
        },
        openapi_extra={"security": [{"HTTPBearer": []}, {}]},  # {}: none needed from loopback
    )
    async def scrape(request: Request, credentials: Bearer) -> Response:
        """Request counts by route, status and consumer; latency; hot-store query time; rows returned.
        For loopback, or a consumer declared with `metrics: true`."""
        client = request.client.host if request.client else None
        if client not in LOOPBACK:
            consumer = _identified(request, credentials)
            if not consumer.metrics:
                raise HTTPException(403, f"consumer {consumer.name} may not read the metrics")
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return app


def app_from_environment() -> FastAPI:
    """The app over the hot store of DATAOPS_ENV (for `uvicorn --factory`, e.g. with --workers)."""
    from dataops_assets.environments.loader import load_environment
    from dataops_assets.pillars.processing.dbt_project import ensure_manifest
    from dataops_assets.pillars.serving.api.auth import consumers_from
    from dataops_assets.pillars.serving.api.reader import reader_for

    if not log.handlers:  # each server process logs its requests to stderr
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    ensure_manifest()  # the served tables are the dbt project's current declarations
    env = load_environment()
    return create_app(
        reader_for(env),
        consumers_from(env.api),
        interactive_docs=env.name in INTERACTIVE_DOCS_ENVIRONMENTS,
        concurrent_reads=env.api.max_concurrent_reads,
        waiting_reads=env.api.max_waiting_reads,
    )
