"""Routes for curators and admins: SPARQL Update and Graph Store Protocol writes (bearer token required)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from posgraph import curation
from posgraph.api.routes.research import decode_utf8, graph_parameter, read_body
from posgraph.api.security import require_role
from posgraph.errors import QuerySyntaxError, UnsupportedMediaType

__all__ = ["router"]

router = APIRouter(tags=["curation"])

_FORM = "application/x-www-form-urlencoded"
_SPARQL_UPDATE = "application/sparql-update"
_AUTH_RESPONSES = {
    401: {"description": "No or unknown bearer token", "content": {"application/problem+json": {}}},
    403: {"description": "The token's role is too low", "content": {"application/problem+json": {}}},
}


@router.post("/sparql/update", status_code=204, summary="SPARQL 1.1 Update (curator token)",
             responses=_AUTH_RESPONSES | {400: {"description": "Malformed or refused update",
                                                "content": {"application/problem+json": {}}}},
             openapi_extra={"requestBody": {"content": {
                 _FORM: {"schema": {"type": "object", "properties": {"update": {"type": "string"}}}},
                 _SPARQL_UPDATE: {"schema": {"type": "string"}}}}})
async def sparql_update(request: Request) -> Response:
    """Apply one update request atomically (all of it or none of it). LOAD and SERVICE are refused."""
    token = require_role(request, "curator")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    fields = parse_qsl(request.url.query, keep_blank_values=True)
    body = await read_body(request)
    if media_type == _FORM:
        fields += parse_qsl(decode_utf8(body, "form body"), keep_blank_values=True)
    elif media_type == _SPARQL_UPDATE:
        fields.append(("update", decode_utf8(body, "update")))
    else:
        raise UnsupportedMediaType(f"POST an update as {_FORM} or {_SPARQL_UPDATE}, not {media_type or 'no type'}")
    updates = [v for k, v in fields if k == "update"]
    if len(updates) != 1:
        raise QuerySyntaxError("the request must carry exactly one 'update'")
    await curation.run_update(request.app.state.engine, updates[0],
                              using_graphs=[v for k, v in fields if k == "using-graph-uri"],
                              using_named_graphs=[v for k, v in fields if k == "using-named-graph-uri"])
    request.app.state.audit.record(token.name, "sparql-update", role=token.role, update=updates[0][:10_000])
    return Response(status_code=204)


async def _write(request: Request, method: str) -> Response:
    token = require_role(request, "curator")
    graph = graph_parameter(request)
    body = await read_body(request)
    status, triples = await curation.write_graph(request.app.state.engine, method, graph, body,
                                                 request.headers.get("content-type", ""))
    request.app.state.audit.record(token.name, f"gsp-{method.lower()}", role=token.role, graph=graph or "default",
                                   triples=triples)
    return Response(status_code=201 if status == 201 else 204)


_GSP_BODY = {"requestBody": {"content": {"text/turtle": {"schema": {"type": "string"}},
                                         "application/n-triples": {"schema": {"type": "string"}}}},
             "parameters": [{"name": "graph", "in": "query", "schema": {"type": "string"}},
                            {"name": "default", "in": "query", "schema": {"type": "string"}}]}


@router.put("/store", status_code=204, summary="Graph Store: replace a graph (curator token)",
            responses=_AUTH_RESPONSES | {201: {"description": "Graph created"}}, openapi_extra=_GSP_BODY)
async def store_put(request: Request) -> Response:
    """Replace ``?graph=IRI`` (or ``?default``) with the Turtle or N-Triples body, atomically."""
    return await _write(request, "PUT")


@router.post("/store", status_code=204, summary="Graph Store: add to a graph (curator token)",
             responses=_AUTH_RESPONSES | {201: {"description": "Graph created"}}, openapi_extra=_GSP_BODY)
async def store_post(request: Request) -> Response:
    """Add the Turtle or N-Triples body to ``?graph=IRI`` (or ``?default``), atomically."""
    return await _write(request, "POST")


@router.delete("/store", status_code=204, summary="Graph Store: delete a graph (curator token)",
               responses=_AUTH_RESPONSES | {404: {"description": "No such graph"}},
               openapi_extra={"parameters": _GSP_BODY["parameters"]})
async def store_delete(request: Request) -> Response:
    """Delete ``?graph=IRI`` (or empty the default graph with ``?default``)."""
    token = require_role(request, "curator")
    graph = graph_parameter(request)
    await curation.delete_graph(request.app.state.engine, graph)
    request.app.state.audit.record(token.name, "gsp-delete", role=token.role, graph=graph or "default")
    return Response(status_code=204)
