"""`dataops serve`: the hot data HTTP API over the selected environment's hot store."""

from __future__ import annotations

import socket

import click

from dataops_assets.cli.common import environment, fail, served


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Server processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the hot data HTTP API (OpenAPI at /openapi.json, GET /health; /docs in sandbox and testing).

    Read-only: it never holds a writer's lock, so `dataops pipeline run` can publish while it serves.
    Consumers (environment file, api.consumers) read with bearer tokens within their tables and rate
    limits; GET /metrics for loopback or a consumer with metrics: true. One log line per request
    (method, path, status, latency, consumer) goes to stderr.
    """
    import uvicorn

    from dataops_assets.environments.model import MissingSecretError
    from dataops_assets.pillars.serving.api.auth import consumers_from
    from dataops_assets.pillars.serving.api.reader import Misconfigured, StoreUnavailable, reader_for

    env = environment()
    served()  # the declarations are valid and dbt's manifest current, before a server starts
    try:
        reader = reader_for(env)
        reader.check()
    except (MissingSecretError, Misconfigured) as error:  # a missing or bad DSN, a writer's login
        fail(str(error))
    except StoreUnavailable as error:  # it may come up later: serve, and let /health say so meanwhile
        click.echo(f"warning: {error}; serving anyway (GET /health reports it)", err=True)
    if not env.api.consumers:
        fail(
            f"environment {env.name} declares no api.consumers: the API serves nobody anonymously "
            f"(declare one in environments/{env.name}.yaml; see docs/api.md)"
        )
    try:
        consumers_from(env.api)  # every consumer's token is set, before a server starts
    except MissingSecretError as error:
        fail(str(error))
    try:  # a taken port or an unknown host is a one-line error, before the server starts
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        fail(f"cannot serve on {host}:{port}: {error.strerror or error}")
    scopes = "; ".join(f"{c.name}: {', '.join(c.tables) or '-'}" for c in env.api.consumers)
    click.echo(f"serving the {env.name} hot store ({reader.backend}) on http://{host}:{port}", err=True)
    click.echo(f"consumers (tables): {scopes}", err=True)
    uvicorn.run(
        "dataops_assets.pillars.serving.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # the app logs each request itself, with its latency
        log_level="warning",
    )
