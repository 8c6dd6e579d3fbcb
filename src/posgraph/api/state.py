"""The application's state, typed: one AppState per app, set once on ``app.state.posgraph``; routes read it through
``app_state(request)`` instead of an untyped attribute bag."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

if TYPE_CHECKING:
    from cachetools import LRUCache

    from posgraph.api.admission import QueryLimiter
    from posgraph.api.routes.workbench import FormsDocument
    from posgraph.api.security import FailedAttempts
    from posgraph.audit import AuditLog
    from posgraph.catalog import Catalog
    from posgraph.config import Settings
    from posgraph.engine import Engine
    from posgraph.linked_data import Version
    from posgraph.linked_data.index import CollectionIndex
    from posgraph.tokens import TokenStore
    from posgraph.validation import Validator
    from posgraph.workers import WorkerPool

__all__ = ["AppState", "app_state"]


@dataclass
class AppState:
    """Everything the routes share: settings, project files read at start-up, per-worker limits and stores, and
    (set by the app's lifespan, None before it starts) the engines and worker pools."""

    settings: Settings
    catalog: Catalog
    context_bytes: bytes
    context: dict
    context_url: str
    context_version: str
    limiter: QueryLimiter
    tokens: TokenStore
    auth_failures: FailedAttempts
    validator: Validator
    audit: AuditLog
    forms: FormsDocument  # the workbench's forms, described from the validator's shapes
    managed_engines: dict[str, Any] = field(default_factory=dict)  # name -> ManagedEngine, for /health and /metrics
    # Rendered resources by ETag: the ETag names the dataset version, so an entry is never stale, only unused.
    representations: LRUCache | None = None
    # The dataset version this worker last read for an ETag: a guess of the next one, never served as such.
    last_version: Version | None = None
    # Set when the app starts (they need the running event loop); the staging engine stays None when not configured.
    engine: Engine = field(default=None)  # type: ignore[assignment]
    staging: Engine | None = None
    guard_pool: WorkerPool = field(default=None)  # type: ignore[assignment]
    work_pool: WorkerPool = field(default=None)  # type: ignore[assignment]
    chart_pool: WorkerPool = field(default=None)  # type: ignore[assignment]
    # The collections' derived index (answers pages while it holds the engine's current version); set at start.
    collection_index: CollectionIndex | None = None


def app_state(request: Request) -> AppState:
    """Return the AppState of the app answering ``request``."""
    return request.app.state.posgraph
