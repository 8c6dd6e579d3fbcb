"""The FastAPI application factory: one app per Settings, talking to one engine."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import AsyncIterator

from cachetools import LRUCache
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from posgraph import __version__
from posgraph.api import pages
from posgraph.api.admission import QueryLimiter
from posgraph.api.observability import install_observability
from posgraph.api.problems import install_problem_handlers
from posgraph.api.routes import curation, linked_data, research, service, views, workbench
from posgraph.api.security import FailedAttempts
from posgraph.api.state import AppState
from posgraph.audit import AuditLog
from posgraph.catalog import Catalog
from posgraph.config import PROJECT_FILES, Settings
from posgraph.engine import Engine
from posgraph.linked_data import CollectionIndex
from posgraph.tokens import TokenStore
from posgraph.validation import Validator
from posgraph.workers import WorkerPool

__all__ = ["create_app", "app_from_env", "STATIC_DIR"]

STATIC_DIR = pages.STATIC_DIR


def create_app(
    settings: Settings,
    *,
    engine_url: str | None = None,
    staging_url: str | None = None,
    managed_engines: dict | None = None,
) -> FastAPI:
    """Return the posgraph app, reaching the engine at ``engine_url`` (default: ``settings.engine_url``) and the
    staging engine at ``staging_url`` (default: ``settings.staging_engine_url``).

    Raises ConfigError when no engine is named.
    """
    base = engine_url or settings.engine_base()
    staging_base = staging_url or settings.staging_engine_url
    state = _app_state(settings, managed_engines or {})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _start(state, base, staging_base)
        try:
            yield
        finally:
            await _stop(state)

    app = FastAPI(
        title="posgraph",
        version=__version__,
        lifespan=lifespan,
        # /docs and /redoc are posgraph's own (api/routes/service.py): FastAPI's load their viewers from a CDN.
        docs_url=None,
        redoc_url=None,
        # Starlette's trailing-slash redirect would be built from the client's Host header: links come from
        # POSGRAPH_PUBLIC_BASE only.
        redirect_slashes=False,
        description="A knowledge graph of negotiation positions: SPARQL 1.1 for researchers, "
        "linked data for integrators, validated batches for curators.",
    )
    app.state.posgraph = state  # the one attribute: routes read it through api.state.app_state
    install_problem_handlers(app)
    install_observability(app)
    # Routes are matched in order, one by one: the linked data (resource GETs and collection pages, the integrators'
    # hot path) first; no path of it overlaps another router's.
    app.include_router(linked_data.router)
    app.include_router(service.router)
    app.include_router(research.router)
    app.include_router(curation.router)
    app.include_router(views.router)
    app.include_router(workbench.router)
    # Reads are open to pages on any origin; writes need a token, which browsers never send cross-origin here.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=["Accept", "If-None-Match", "If-Modified-Since"],
        expose_headers=[
            "ETag",
            "Link",
            "Last-Modified",
            "X-Posgraph-Version",
            "X-Posgraph-Truncated",
            "X-Posgraph-Row-Limit",
            "X-Posgraph-Byte-Limit",
            "X-Posgraph-Total",
        ],
    )
    # Third-party front-end files (YASGUI) are installed here by the Makefile; absent files are just 404.
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app


def _app_state(settings: Settings, managed_engines: dict) -> AppState:
    """The state shared by the routes, from the settings and the project files (engines come at start-up)."""
    context_bytes = PROJECT_FILES.context_file.read_bytes()
    entries = settings.resource_cache_entries
    validator = Validator.from_files(settings.shapes_files(), PROJECT_FILES.ontology_files)
    return AppState(
        settings=settings,
        catalog=Catalog.from_dir(PROJECT_FILES.queries_dir),
        context_bytes=context_bytes,
        context=json.loads(context_bytes),
        context_url=settings.base_url() + "/ns/context.jsonld",
        context_version=__version__,
        limiter=QueryLimiter(
            settings.max_concurrent_per_client,
            concurrent=settings.max_concurrent_queries,
            seconds_per_minute=settings.query_seconds_per_minute,
        ),
        tokens=TokenStore(settings.tokens_file),
        auth_failures=FailedAttempts(),
        validator=validator,
        forms=workbench.forms_document(validator),
        audit=AuditLog(settings.audit_log),
        managed_engines=managed_engines,
        representations=LRUCache(maxsize=entries) if entries else None,
    )


async def _start(state: AppState, base: str, staging_base: str | None) -> None:
    """Open the engines and start the worker pools (they need the running event loop)."""
    settings = state.settings
    state.engine = Engine(base, **settings.engine_options(base))
    # Without a staging engine, reads and direct writes work; the batch routes answer 503.
    state.staging = Engine(staging_base, **settings.engine_options(staging_base)) if staging_base else None
    # Parsing every query gets processes of its own, so a long validation never delays the checks of queries.
    state.guard_pool = WorkerPool(
        settings.worker_processes, timeout=settings.guard_timeout, memory_mb=settings.worker_memory_mb
    )
    state.work_pool = WorkerPool(
        settings.worker_processes,
        timeout=settings.worker_timeout,
        memory_mb=settings.worker_memory_mb,
        max_tasks=50,
    )
    # Charts (vl-convert) run V8, which reserves far more address space than the work pool's cap allows (it aborts
    # under any RLIMIT_AS): one process of their own, bounded by time and by the size of their data (paged queries).
    state.chart_pool = WorkerPool(
        1, timeout=settings.worker_timeout, max_tasks=200, preload=("posgraph.overview.charts",)
    )
    await state.guard_pool.start()
    await state.work_pool.start()
    # Built from the engine in the background; until it holds the current version the engine answers pages.
    state.collection_index = CollectionIndex(state.engine, directory=settings.index_dir)
    state.collection_index.start()


async def _stop(state: AppState) -> None:
    if state.collection_index is not None:
        await state.collection_index.stop()
    state.guard_pool.close()
    state.work_pool.close()
    state.chart_pool.close()
    await state.engine.aclose()
    if state.staging is not None:
        await state.staging.aclose()


def app_from_env() -> FastAPI:
    """The app for one of several uvicorn workers: settings from the environment, engines named by
    ``POSGRAPH_ENGINE_URL`` and ``POSGRAPH_STAGING_ENGINE_URL`` (``posgraph serve --workers N`` sets both)."""
    from posgraph.config import load_settings

    return create_app(load_settings())
