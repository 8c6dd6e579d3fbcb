"""Routes for operators: health and the service index."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from posgraph.api.problems import problem_response

__all__ = ["router"]

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    summary="Whether the service and its engine answer",
    responses={503: {"description": "The engine does not answer (yet)", "content": {"application/problem+json": {}}}},
)
async def health(request: Request) -> JSONResponse:
    """200 once the engine answers a trivial query; 503 with Retry-After before that or while it is down."""
    if await request.app.state.engine.ping():
        return JSONResponse({"status": "ok", "engine": "up"}, headers={"Cache-Control": "no-store"})
    return problem_response(
        503,
        "engine-unavailable",
        "Engine unavailable",
        "The engine does not answer.",
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
        engine="down",
    )
