"""Routes for researchers: the SPARQL 1.1 query endpoint and saved queries."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from posgraph import research
from posgraph.engine import EngineResponse
from posgraph.errors import BadInput, PayloadTooLarge, QuerySyntaxError, UnsupportedMediaType

__all__ = ["router"]

router = APIRouter(tags=["research"])

_FORM = "application/x-www-form-urlencoded"
_SPARQL_QUERY = "application/sparql-query"
_QUERY_RESPONSES = {
    200: {"description": "Query results", "content": {
        "application/sparql-results+json": {}, "application/sparql-results+xml": {}, "text/csv": {},
        "text/tab-separated-values": {}, "text/turtle": {}, "application/n-triples": {}}},
    400: {"description": "Malformed or refused query", "content": {"application/problem+json": {}}},
    504: {"description": "Query timed out", "content": {"application/problem+json": {}}},
}


def _accept(request: Request) -> str | None:
    accept = request.headers.get("accept", "").strip()
    return None if accept in ("", "*/*") else accept


def _respond(answer: EngineResponse) -> Response:
    return Response(answer.content, status_code=200, media_type=answer.media_type or None,
                    headers={"Vary": "Accept"})


async def _read_body(request: Request) -> bytes:
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body larger than {limit} bytes")
    return bytes(body)


def _decode(body: bytes, what: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not valid UTF-8 (byte {exc.start})") from None


@router.get("/sparql", summary="SPARQL 1.1 query (GET)", responses=_QUERY_RESPONSES)
async def sparql_get(request: Request) -> Response:
    """Run the query given as the ``query`` parameter; other parameters are ignored."""
    query = request.query_params.get("query")
    if query is None:
        raise QuerySyntaxError("missing 'query' parameter")
    answer = await research.run_query(request.app.state.engine, query, accept=_accept(request))
    return _respond(answer)


@router.post("/sparql", summary="SPARQL 1.1 query (POST form or application/sparql-query)",
             responses=_QUERY_RESPONSES, openapi_extra={"requestBody": {"content": {
                 _FORM: {"schema": {"type": "object", "properties": {"query": {"type": "string"}}}},
                 _SPARQL_QUERY: {"schema": {"type": "string"}}}}})
async def sparql_post(request: Request) -> Response:
    """Run a query sent form-encoded (``query=``) or as the body of an ``application/sparql-query`` request."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await _read_body(request)
    if media_type == _FORM:
        fields = parse_qsl(_decode(body, "form body"), keep_blank_values=True)
        queries = [value for key, value in fields if key == "query"]
        if len(queries) != 1:
            raise QuerySyntaxError("the form must carry exactly one 'query' field")
        query = queries[0]
    elif media_type == _SPARQL_QUERY:
        query = _decode(body, "query")
    else:
        raise UnsupportedMediaType(f"POST a query as {_FORM} or {_SPARQL_QUERY}, not {media_type or 'no type'}")
    answer = await research.run_query(request.app.state.engine, query, accept=_accept(request))
    return _respond(answer)


@router.get("/queries", summary="List the saved research queries")
async def list_queries(request: Request) -> dict:
    """Every saved query with its summary, description, typed parameters and examples."""
    return {"queries": [q.describe() | {"url": f"/queries/{q.name}"} for q in request.app.state.catalog]}


@router.get("/queries/{name}", summary="Run a saved query", responses=_QUERY_RESPONSES | {
    404: {"description": "No such saved query", "content": {"application/problem+json": {}}}})
async def run_saved(name: str, request: Request) -> Response:
    """Run saved query ``name`` with its parameters taken from the query string (a bad value is 400)."""
    catalog = request.app.state.catalog
    known = {p.name for p in catalog.get(name).params}
    # Unknown parameters are ignored, as on /sparql (clients add their own, such as format=json).
    params = {k: v for k, v in request.query_params.items() if k in known}
    answer = await research.run_saved(request.app.state.engine, catalog, name, params, accept=_accept(request))
    return _respond(answer)
