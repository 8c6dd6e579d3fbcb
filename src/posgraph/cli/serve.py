"""``posgraph serve``: start the engines (unless configured ones are given), seed an empty store, run the HTTP API."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
from pathlib import Path

import click

from posgraph import metrics
from posgraph.cli.common import bootstrap, check_layout, cli, data_dir_option, handled
from posgraph.config import Settings, load_settings
from posgraph.errors import EngineError, EngineStartError
from posgraph.supervisor import ManagedEngine

__all__ = ["serve"]


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise EngineStartError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another server running? choose another "
                "port: posgraph serve --port N, POSGRAPH_PORT=N, or make serve PORT=N)"
            ) from None


def _structured_logs() -> None:
    """Log posgraph's records (access lines, engine events, errors) as JSON lines on stderr."""
    from posgraph.api.observability import JsonLogFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("posgraph")
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _start_engine(settings: Settings, directory: Path, managed: dict[str, ManagedEngine], name: str) -> str:
    """Start a managed engine on ``directory``, record it in ``managed`` under ``name`` and return its URL."""
    # The engine's own timeout stops most queries posgraph has already given up on (the client got a 504); the
    # abandon grace ends the rest, the memory cap a runaway one. The sandbox denies SERVICE/LOAD any egress.
    engine = ManagedEngine(
        directory,
        binary=settings.engine_binary,
        start_timeout=settings.engine_start_timeout,
        query_timeout_s=math.ceil(settings.query_timeout),
        memory_limit_mb=settings.engine_memory_limit_mb,
        abandon_grace=settings.engine_abandon_grace,
        restart_backoff_max=settings.engine_restart_backoff_max,
        sandbox=settings.engine_sandbox,
        on_event=metrics.engine_event,
        avoid_ports=(settings.port,),  # the web server binds its port only after the engines are up
    )
    url = engine.start()
    managed[name] = engine
    return url


def _seed(url: str, settings: Settings) -> None:
    try:
        loaded = asyncio.run(bootstrap(url, settings))
        if loaded:
            click.echo(f"posgraph: loaded {', '.join(loaded)}", err=True)
    except EngineError as exc:  # an external engine not up yet: /health says 503 until it is
        click.echo(
            f"posgraph: warning: engine at {url} not ready ({exc.message}); the seed is loaded on the next start",
            err=True,
        )


def _run_http(settings: Settings, url: str, staging_url: str, managed: dict[str, ManagedEngine], workers: int) -> None:
    import uvicorn

    from posgraph.api.app import create_app

    common = dict(
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: a client could name its own address.
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=[p.strip() for p in settings.trusted_proxies.split(",") if p.strip()],
    )
    if workers == 1:
        uvicorn.run(create_app(settings, engine_url=url, staging_url=staging_url, managed_engines=managed), **common)
        return
    # Each worker is its own process and builds its app from the environment: point it at the engines.
    os.environ["POSGRAPH_ENGINE_URL"], os.environ["POSGRAPH_STAGING_ENGINE_URL"] = url, staging_url
    uvicorn.run("posgraph.api.app:app_from_env", factory=True, workers=workers, **common)


@cli.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, or POSGRAPH_HOST).")
@click.option("--port", type=int, default=None, help="Port to bind (default 8000, or POSGRAPH_PORT).")
@data_dir_option
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Web worker processes, all stateless, sharing the engines.",
)
@handled
def serve(host: str | None, port: int | None, data_dir: Path | None, workers: int) -> None:
    """Start the engine (unless POSGRAPH_ENGINE_URL names one), load the seed data into an empty store, and
    serve the HTTP API until interrupted."""
    settings = load_settings(host=host, port=port, data_dir=data_dir)
    _check_port_free(settings.host, settings.port)
    if not settings.engine_url:
        check_layout(settings)
    _structured_logs()
    managed: dict[str, ManagedEngine] = {}
    try:
        url = settings.engine_url or _start_engine(settings, settings.store_dir, managed, "public")
        staging_url = settings.staging_engine_url or _start_engine(settings, settings.staging_dir, managed, "staging")
        _seed(url, settings)
        click.echo(
            f"posgraph: serving on http://{settings.host}:{settings.port} (engine {url}, staging {staging_url})",
            err=True,
        )
        _run_http(settings, url, staging_url, managed, workers)
    finally:
        for engine in managed.values():
            engine.stop()
