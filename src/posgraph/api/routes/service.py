"""Routes for operators and integrators: health, metrics, and the API documentation viewers (/docs, /redoc)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from posgraph import metrics
from posgraph.api import pages
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


_FAVICON = (pages.STATIC_DIR / "favicon.svg").read_bytes()


@router.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
async def favicon() -> Response:
    """posgraph's icon (SVG, which browsers take at this address too): every page has one without a link to it, and
    a browser's first visit asks here, where a 404 would be a console error on every page."""
    return Response(_FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


# FastAPI's own /docs and /redoc load their viewers from a CDN (blank offline) with an inline script; these serve the
# copies vendored from npm under a Content-Security-Policy, or say that they are not installed.
@router.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    """The API documentation in Swagger UI (a plain page linking /openapi.json when it is not installed)."""
    return _viewer("swagger-ui", request)


@router.api_route("/redoc", methods=["GET", "HEAD"], include_in_schema=False)
async def redoc(request: Request) -> HTMLResponse:
    """The API documentation in ReDoc (a plain page linking /openapi.json when it is not installed)."""
    return _viewer("redoc", request)


def _viewer(name: str, request: Request) -> HTMLResponse:
    page, policy = pages.api_docs_page(name, request.app.openapi_url)
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})
