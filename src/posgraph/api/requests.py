"""What every route reads from a request the same way: the body (within a byte limit), UTF-8 text, the body's
media type, the Graph Store Protocol's target graph and the client's address."""

from __future__ import annotations

from typing import Sequence

from fastapi import Request

from posgraph.api.state import app_state
from posgraph.errors import BadInput, InvalidParameter, PayloadTooLarge, UnsupportedMediaType

__all__ = [
    "read_body",
    "decode_utf8",
    "graph_parameter",
    "client_address",
    "content_type",
    "require_media_type",
    "FORM",
]

FORM = "application/x-www-form-urlencoded"


async def read_body(request: Request, limit: int | None = None, *, required: str | None = None) -> bytes:
    """Return the request body, refusing (PayloadTooLarge) one over ``limit`` bytes (default the configured body
    limit) without reading it all. With ``required`` (what the body should hold), an empty body is a BadInput."""
    limit = limit or app_state(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body larger than {limit} bytes")
    if required and not body:
        raise BadInput(f"the request body is empty: send {required}")
    return bytes(body)


def decode_utf8(body: bytes, what: str) -> str:
    """Decode UTF-8 or raise BadInput naming the first bad byte."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not valid UTF-8 (byte {exc.start})") from None


def content_type(request: Request) -> str:
    """The body's media type from Content-Type, lower-cased and without parameters ("" when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media_type(request: Request, accepted: Sequence[str]) -> str:
    """The body's media type (as ``content_type``) when it is one of ``accepted``; raises UnsupportedMediaType
    naming exactly those (also when the request names none)."""
    media_type = content_type(request)
    if media_type not in accepted:
        given = f"not {media_type}" if media_type else "no Content-Type was given"
        raise UnsupportedMediaType(f"send the body as {' or '.join(accepted)}; {given}")
    return media_type


def client_address(request: Request) -> str:
    """The address the request came from ("unknown" when the server does not know it)."""
    return request.client.host if request.client else "unknown"


def graph_parameter(request: Request) -> str | None:
    """The Graph Store Protocol's target: ``?graph=IRI`` (an IRI) or ``?default`` (None); raises InvalidParameter."""
    params = request.query_params
    if "graph" in params and "default" in params:
        raise InvalidParameter("graph", "name either ?graph=IRI or ?default, not both")
    if "default" in params:
        return None
    graph = params.get("graph")
    if not graph:
        raise InvalidParameter("graph", "name a graph with ?graph=IRI, or the default graph with ?default")
    if ":" not in graph or any(c in graph for c in ' <>"{}|^`\\'):
        raise InvalidParameter("graph", f"{graph[:100]!r} is not an absolute IRI")
    return graph
