"""Prometheus metrics: requests and latency per route, engine restarts, timeouts, validation time, batches."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = [
    "REGISTRY",
    "CONTENT_TYPE",
    "requests",
    "latency",
    "engine_events",
    "timeouts",
    "validation_seconds",
    "batches",
    "key_pages",
    "fact_reads",
    "engine_memory",
    "queries_in_flight",
    "queries_refused",
    "engine_event",
    "render",
]

# One registry per process (uvicorn workers are processes): what this process did.
REGISTRY = CollectorRegistry()
CONTENT_TYPE = CONTENT_TYPE_LATEST

requests = Counter(
    "posgraph_requests_total", "HTTP requests answered", ["route", "method", "status"], registry=REGISTRY
)
latency = Histogram(
    "posgraph_request_seconds",
    "HTTP request latency",
    ["route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
engine_events = Counter(
    "posgraph_engine_events_total",
    "Managed engine lifecycle events (started, died, restarted, restart-failed)",
    ["event"],
    registry=REGISTRY,
)
timeouts = Counter("posgraph_query_timeouts_total", "Engine calls that hit their deadline", registry=REGISTRY)
validation_seconds = Histogram(
    "posgraph_validation_seconds",
    "SHACL validation time",
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
engine_memory = Gauge(
    "posgraph_engine_resident_mib", "Resident memory of a managed engine", ["engine"], registry=REGISTRY
)
queries_in_flight = Gauge(
    "posgraph_queries_in_flight",
    "Admitted queries not yet answered by the engine (a client that gave up still holds its slot)",
    registry=REGISTRY,
)
queries_refused = Counter(
    "posgraph_queries_refused_total",
    "Queries refused at admission, by which limit refused them",
    ["limit"],
    registry=REGISTRY,
)
batches = Counter("posgraph_batches_total", "Curation batch actions", ["action"], registry=REGISTRY)
key_pages = Counter(
    "posgraph_saved_query_key_pages_total",
    "Pages of keys of saved queries that page by a collection's keys, by who cut them (index or engine)",
    ["query", "source"],
    registry=REGISTRY,
)

fact_reads = Counter(
    "posgraph_saved_query_fact_reads_total",
    "Aggregates that saved queries stand on (#+ facts:), by who worked them out (index or engine)",
    ["query", "source"],
    registry=REGISTRY,
)


def engine_event(kind: str, detail: str) -> None:
    """Count a supervisor event (the supervisor's ``on_event`` callback)."""
    engine_events.labels(event=kind).inc()


def render() -> bytes:
    """The metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)
