"""The one table that maps posgraph's exceptions to HTTP statuses and RFC 9457 problem types.

Every error body is ``application/problem+json`` with a stable ``type`` URI. Internal details are logged,
never echoed: a 500 says only that something went wrong and gives the request's id.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from posgraph import errors, metrics
from posgraph.api.observability import request_id

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_BASE",
    "problem_response",
    "problem_responses",
    "install_problem_handlers",
    "PROBLEMS",
]

log = logging.getLogger("posgraph.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://w3id.org/posgraph/problems/"

# Most specific classes first: the first isinstance match wins. Columns: class, status, type, title, headers.
_RETRY_SOON = {"Retry-After": "5"}
PROBLEMS: tuple[tuple[type[Exception], int, str, str, dict[str, str] | None], ...] = (
    (errors.TooManyRequests, 429, "too-many-requests", "Too many requests", {"Retry-After": "1"}),
    (errors.Unauthorized, 401, "unauthorized", "Unauthorized", {"WWW-Authenticate": 'Bearer realm="posgraph"'}),
    (errors.Forbidden, 403, "forbidden", "Forbidden", None),
    (errors.RdfSyntaxError, 400, "rdf-syntax", "RDF syntax error", None),
    (errors.QuerySyntaxError, 400, "query-syntax", "SPARQL syntax error", None),
    (errors.QueryRefused, 400, "query-refused", "Query refused", None),
    (errors.InvalidParameter, 400, "invalid-parameter", "Invalid parameter", None),
    (errors.AnswerTooLarge, 413, "answer-too-large", "Answer too large", None),
    (errors.PayloadTooLarge, 413, "too-large", "Request body too large", None),
    (errors.UnsupportedMediaType, 415, "unsupported-media-type", "Unsupported media type", None),
    (errors.BadInput, 400, "bad-request", "Bad request", None),
    (errors.NotAcceptable, 406, "not-acceptable", "Not acceptable", None),
    (errors.NotFound, 404, "not-found", "Not found", None),
    (errors.Conflict, 409, "conflict", "Conflict", None),
    (errors.NotConformant, 422, "not-conformant", "Data does not conform to the shapes", None),
    (errors.EngineTimeout, 504, "query-timeout", "Query timed out", None),
    (errors.WorkTimeout, 422, "too-costly", "Too costly to process", None),
    (errors.WorkerFailed, 422, "too-costly", "Too costly to process", None),
    (errors.Overloaded, 503, "overloaded", "Service at capacity", _RETRY_SOON),
    (errors.EngineUnavailable, 503, "engine-unavailable", "Engine unavailable", _RETRY_SOON),
    (errors.EngineError, 502, "engine-error", "Engine error", None),
    (errors.ConfigError, 500, "configuration", "Server misconfigured", None),
)
_STATUS_TYPES = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


_DESCRIPTIONS = {
    400: "Bad request (the problem names the parameter or the parser's position)",
    401: "No or unknown bearer token",
    403: "The token's role is too low",
    404: "Not found",
    406: "No acceptable representation",
    409: "Conflicts with the resource's state",
    413: "Request body too large",
    415: "Unsupported body media type",
    422: "Not conformant",
    429: "Too many requests",
    503: "Engine unavailable",
    504: "Timed out",
}


def problem_responses(
    *codes: int, descriptions: dict[int, str] | None = None, examples: dict[int, dict] | None = None
) -> dict[int, dict]:
    """Return OpenAPI ``responses`` entries for problem+json answers with these status codes, each described as
    in ``descriptions`` (default: the generic text for its status) and with its example body from ``examples``."""
    descriptions, examples = descriptions or {}, examples or {}
    return {
        code: {
            "description": descriptions.get(code) or _DESCRIPTIONS[code],
            "content": {PROBLEM_JSON: {"example": examples[code]} if code in examples else {}},
        }
        for code in codes
    }


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    encoded: dict[str, bytes] | None = None,
    **extra: Any,
) -> Response:
    """Return an RFC 9457 problem+json response with the ``extra`` members, and the ``encoded`` ones (each value
    already JSON, as bytes) added as they are."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    if not encoded:
        return response
    # Spliced in, not decoded and encoded again: a validation report a worker rendered runs to megabytes, and
    # encoding it here would hold up the event loop (every other request) for a tenth of a second.
    members = b"".join(b",%s:%s" % (json.dumps(name).encode(), value) for name, value in encoded.items())
    return Response(response.body[:-1] + members + b"}", status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _extra(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, errors.RdfSyntaxError):
        return {"source": exc.source, "line": exc.line, "column": exc.column}
    if isinstance(exc, errors.InvalidParameter):
        return {"parameter": exc.name}
    if isinstance(exc, errors.NotConformant):
        return {"encoded": {"report": exc.rendered}} if exc.rendered else {"report": exc.report.to_dict()}
    if isinstance(exc, errors.Conflict):
        return {"existing": exc.existing}
    return {}


async def _posgraph_error(request: Request, exc: errors.PosgraphError) -> Response:
    if isinstance(exc, errors.NotModified):  # not a problem: the answer to a conditional GET, with no body
        return Response(status_code=304, headers=exc.validators)
    for cls, status, slug, title, headers in PROBLEMS:
        if isinstance(exc, cls):
            if isinstance(exc, errors.EngineTimeout):
                metrics.timeouts.inc()
            if status >= 500:
                log.warning(
                    "%s %s -> %d: %s",
                    request.method,
                    request.url.path,
                    status,
                    exc.message,
                    extra={"request_id": request_id(request)},
                )
            if getattr(exc, "retry_after", None):
                headers = {**(headers or {}), "Retry-After": str(math.ceil(exc.retry_after))}
            return problem_response(
                status, slug, title, exc.message, headers=headers, request_id=request_id(request), **_extra(exc)
            )
    return await _unexpected(request, exc)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    slug, title = _STATUS_TYPES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(
        exc.status_code, slug, title, detail, headers=getattr(exc, "headers", None), request_id=request_id(request)
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path", "header")]
    name = ".".join(loc) or None
    return problem_response(
        400,
        "invalid-parameter",
        "Invalid parameter",
        f"parameter {name!r}: {first.get('msg', 'invalid')}",
        parameter=name,
        request_id=request_id(request),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = request_id(request) or uuid.uuid4().hex[:16]
    log.exception("unexpected error on %s %s", request.method, request.url.path, extra={"request_id": incident})
    return problem_response(
        500,
        "internal",
        "Internal error",
        f"The server could not complete the request (request {incident}).",
        request_id=incident,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(errors.PosgraphError, _posgraph_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
