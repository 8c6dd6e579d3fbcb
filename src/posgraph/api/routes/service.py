"""Routes for operators: health and the service index."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from posgraph import metrics
from posgraph.api.problems import problem_response, problem_responses
from posgraph.api.state import app_state

__all__ = ["router"]

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    summary="Whether the service and its engine answer",
    responses=problem_responses(503, descriptions={503: "The engine does not answer (yet)"}),
)
async def health(request: Request) -> JSONResponse:
    """200 once the engine answers a trivial query (``"status": "degraded"`` while a managed engine cannot write
    its store, e.g. on a full disk, with the reason in ``write_error``); 503 with Retry-After before that or while
    it is down (being restarted, say). Managed engines report their restarts and the causes of their last deaths."""
    managed = {
        name: {"restarts": engine.restarts, "causes": engine.causes[-5:]}
        | ({"write_error": engine.write_error} if engine.write_error else {})
        for name, engine in app_state(request).managed_engines.items()
    }
    if await app_state(request).engine.ping():
        # Reads work; a store that cannot be written (a full disk) is "degraded" until the supervisor reopens it.
        status = "degraded" if any("write_error" in m for m in managed.values()) else "ok"
        body = {"status": status, "engine": "up"} | ({"managed": managed} if managed else {})
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
    return problem_response(
        503,
        "engine-unavailable",
        "Engine unavailable",
        "The engine does not answer.",
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
        engine="down",
        managed=managed or None,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "The Prometheus text format"}},
)
async def metrics_endpoint(request: Request) -> Response:
    """Requests and latency per route, engine lifecycle events, timeouts, validation time, batch actions, and the
    managed engines' resident memory."""
    for name, engine in app_state(request).managed_engines.items():
        resident = engine.resident_mb()
        if resident is not None:
            metrics.engine_memory.labels(engine=name).set(resident)
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
