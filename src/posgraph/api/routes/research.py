"""Routes for researchers: the SPARQL 1.1 query endpoint (Protocol), the service description and saved queries."""

from __future__ import annotations

from functools import partial
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from posgraph import formats, research
from posgraph.api import pages
from posgraph.api.admission import limited
from posgraph.api.problems import problem_responses
from posgraph.api.requests import FORM as _FORM
from posgraph.api.requests import content_type, decode_utf8, graph_parameter, read_body
from posgraph.api.state import app_state
from posgraph.catalog import Param
from posgraph.curation.writes import NEW_GRAPH_PATH
from posgraph.errors import InvalidParameter, QuerySyntaxError, UnsupportedMediaType
from posgraph.linked_data.collection import index_facts, index_keys
from posgraph.namespaces import PREFIXES, sparql_prologue

__all__ = ["router"]

router = APIRouter(tags=["research"])

_SPARQL_QUERY = "application/sparql-query"
_RESULT_CONTENT = {t: {} for t in formats.RESULT_MEDIA_TYPES + formats.GRAPH_MEDIA_TYPES}
_QUERY_RESPONSES = {
    200: {
        "description": "Query results (format by content negotiation)",
        "content": _RESULT_CONTENT,
        "headers": {
            "X-Posgraph-Truncated": {
                "description": "true when rows beyond the cap were dropped",
                "schema": {"type": "string"},
            },
            "X-Posgraph-Row-Limit": {
                "description": "the row cap, on a cut SELECT answer",
                "schema": {"type": "string"},
            },
            "X-Posgraph-Byte-Limit": {
                "description": "the byte cap of engine answers, on any cut answer",
                "schema": {"type": "string"},
            },
        },
    },
    **problem_responses(
        400,
        406,
        401,
        413,
        429,
        503,
        504,
        descriptions={
            400: "Malformed, refused or badly parameterised query",
            406: "No acceptable result format",
            401: "A bearer token was sent and is unknown",
            413: "The query text is too long, or the answer is over the byte cap in a format that cannot be "
            "cut (Turtle, RDF/XML, JSON-LD: add LIMIT, or ask for N-Triples)",
            429: "Too many concurrent queries from this client, or its query time per minute is used up",
            503: "Engine unavailable, or the service at capacity",
            504: "Query timed out",
        },
    ),
}
_PROTOCOL_PARAMS = {
    "parameters": [
        {
            "name": "query",
            "in": "query",
            "schema": {"type": "string"},
            "description": "The SPARQL query; without it, GET returns the service description.",
        },
        {"name": "default-graph-uri", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
        {"name": "named-graph-uri", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
        {
            "name": "timeout",
            "in": "query",
            "schema": {"type": "number"},
            "description": "Seconds (at least 0.1) to wait for the answer (504 after). The query itself runs on to "
            "the server's deadline, holding one of the client's slots and counted in its query time.",
        },
    ]
}


def _wait(request: Request, raw: str | None) -> float:
    """How long the client waits: its ``timeout`` (at least 0.1 s), or a little past the server's deadline, so that
    the engine's own timeout answers first; raises InvalidParameter."""
    ceiling = app_state(request).settings.query_timeout
    if raw is None or raw == "":
        return ceiling + 1.0
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameter("timeout", f"{raw[:50]!r} is not a number of seconds") from None
    if not value >= 0.1:  # a shorter deadline could never be met, and NaN compares false
        raise InvalidParameter("timeout", "must be at least 0.1 seconds")
    return min(value, ceiling)


async def _protocol_fields(request: Request) -> list[tuple[str, str]]:
    """The request's protocol fields: the query string, plus the form body or the sparql-query body."""
    fields = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method != "POST":
        return fields
    media_type = content_type(request)
    body = await read_body(request)
    if not body and not any(key == "query" for key, _ in fields):
        raise QuerySyntaxError(f"the POST body is empty: send the query as {_SPARQL_QUERY}, or as query=… in {_FORM}")
    if media_type == _FORM:
        return fields + parse_qsl(decode_utf8(body, "form body"), keep_blank_values=True)
    if media_type == _SPARQL_QUERY:
        if any(key == "query" for key, _ in fields):
            raise QuerySyntaxError("a query in the body and another in the URL: send one")
        return fields + [("query", decode_utf8(body, "query"))]
    given = f"not {media_type}" if media_type else "no Content-Type was given"
    raise UnsupportedMediaType(f"POST a query as {_FORM} or {_SPARQL_QUERY}; {given}")


def _respond(answer: research.QueryAnswer, request: Request, extra: dict[str, str] | None = None) -> Response:
    headers = {"Vary": "Accept"} | (extra or {})
    if answer.truncated:
        # A cut answer names the caps it may have met: result rows (SELECT only) and bytes read from the engine.
        settings = app_state(request).settings
        headers["X-Posgraph-Truncated"] = "true"
        if answer.media_type in formats.RESULT_MEDIA_TYPES:
            headers["X-Posgraph-Row-Limit"] = str(settings.max_rows)
        headers["X-Posgraph-Byte-Limit"] = str(settings.max_answer_bytes)
    return Response(answer.content, media_type=answer.media_type, headers=headers)


def _dataset(fields: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The request's default-graph-uri and named-graph-uri values, each an absolute IRI (or a known prefixed
    name); raises InvalidParameter (400) naming the parameter of the first that is not."""

    def iris(name: str) -> list[str]:
        return [str(Param(name, "iri", True).to_term(value)) for key, value in fields if key == name]

    return iris("default-graph-uri"), iris("named-graph-uri")


async def _sparql(request: Request) -> Response:
    fields = await _protocol_fields(request)
    queries = [value for key, value in fields if key == "query"]
    state = app_state(request)
    if not queries and request.method == "GET":
        return await _service_description(request)
    if len(queries) != 1:
        raise QuerySyntaxError("the request must carry exactly one 'query' parameter")
    timeouts = [value for key, value in fields if key == "timeout"]
    # Bad parameters are refused before the query takes a slot.
    default_graphs, named_graphs = _dataset(fields)
    wait = _wait(request, timeouts[0] if timeouts else None)
    answer = await limited(
        request,
        lambda: research.run_query(
            state.engine,
            queries[0],
            guard_pool=state.guard_pool,
            work_pool=state.work_pool,
            max_query_bytes=state.settings.max_query_bytes,
            accept=request.headers.get("accept"),
            default_graphs=default_graphs,
            named_graphs=named_graphs,
            timeout=state.settings.query_timeout,
            max_rows=state.settings.max_rows,
            max_answer_bytes=state.settings.max_answer_bytes,
            context=state.context,
            context_url=state.context_url,
        ),
        wait,
    )
    return _respond(answer, request)


async def _service_description(request: Request) -> Response:
    # The endpoint's IRI from the configured public base, never from the (client-chosen) Host header.
    state = app_state(request)
    endpoint = state.settings.base_url() + request.url.path
    graph = await research.service_description(state.engine, endpoint)
    media_type = formats.negotiate(
        request.headers.get("accept"),
        formats.GRAPH_MEDIA_TYPES[:1] + (formats.N_TRIPLES, formats.TURTLE),
        {"application/json": formats.JSON_LD, formats.JSON_LD: formats.JSON_LD},
    )
    if media_type == formats.JSON_LD:
        body = graph.serialize(format="json-ld").encode("utf-8")
    else:
        body = formats.serialize_graph(graph, formats.format_for_media_type(media_type))
    return Response(body, media_type=media_type, headers={"Vary": "Accept"})


@router.get(
    "/sparql",
    summary="SPARQL 1.1 query (GET), or the service description without a query",
    responses=_QUERY_RESPONSES,
    openapi_extra=_PROTOCOL_PARAMS,
)
async def sparql_get(request: Request) -> Response:
    """Run the query given as the ``query`` parameter (dataset parameters honoured, unknown ones ignored).
    Without a query, return the SPARQL Service Description with a VoID description of the dataset."""
    return await _sparql(request)


@router.post(
    "/sparql",
    summary="SPARQL 1.1 query (POST form or application/sparql-query)",
    responses=_QUERY_RESPONSES
    | problem_responses(415, 413, descriptions={415: "Unsupported body type", 413: "Body too large"}),
    openapi_extra={
        "requestBody": {
            "content": {
                _FORM: {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "query": {"type": "string"},
                            "default-graph-uri": {"type": "string"},
                            "named-graph-uri": {"type": "string"},
                            "timeout": {"type": "number"},
                        },
                    }
                },
                _SPARQL_QUERY: {"schema": {"type": "string"}},
            }
        }
    },
)
async def sparql_post(request: Request) -> Response:
    """Run a query sent form-encoded (``query=``) or as the body of an ``application/sparql-query`` request
    (dataset parameters then go in the URL)."""
    return await _sparql(request)


_WELCOME = (
    "# Russia's demands, by issue. Run with the ▶ button or Ctrl+Enter; saved queries are in the other tabs.\n"
    + sparql_prologue(("pg", "pgi", "pgid", "skos", "schema", "prov", "rdfs", "xsd", "wd"))
    + """
SELECT ?issue ?demand ?statedOn ?summary WHERE {
  ?demand a pg:Demand ; pg:heldBy <https://w3id.org/posgraph/id/party/russia> ;
          pg:concerns ?i ; pg:statedOn ?statedOn ; pg:summary ?summary .
  ?i skos:prefLabel ?issue . FILTER (lang(?issue) = "en")
}
ORDER BY ?issue
"""
)


def _page_config(request: Request) -> dict:
    queries = []
    for saved in app_state(request).catalog:
        example = saved.examples[0] if saved.examples else {}
        queries.append(
            {
                "name": saved.name,
                "summary": saved.summary,
                "url": f"/queries/{saved.name}",
                "example": saved.bind(example),
            }
        )
    return {"endpoint": "/sparql", "prefixes": PREFIXES, "queries": queries, "welcome": _WELCOME}


@router.get(
    "/",
    summary="The query page (HTML) or a JSON index of the service",
    responses={200: {"content": {"text/html": {}, "application/json": {}}}},
)
async def index(request: Request) -> Response:
    """Browsers get the query page (YASGUI when installed, a plain form otherwise); JSON clients get links."""
    media_type = formats.negotiate(request.headers.get("accept"), ("application/json", "text/html"))
    if media_type == "application/json":
        return JSONResponse(
            {
                "name": "posgraph",
                "sparql": "/sparql",
                "queries": "/queries",
                "store": "/store",
                "update": "/sparql/update",
                "context": "/ns/context.jsonld",
                "health": "/health",
                "openapi": "/openapi.json",
                "docs": "/docs",
            },
            headers={"Vary": "Accept"},
        )
    return HTMLResponse(
        pages.query_page(_page_config(request)),
        headers={"Vary": "Accept", "Content-Security-Policy": pages.QUERY_PAGE_POLICY},
    )


@router.get("/queries", summary="List the saved research queries")
async def list_queries(request: Request) -> dict:
    """Every saved query with its summary, description, typed parameters and examples."""
    return {"queries": [q.describe() | {"url": f"/queries/{q.name}"} for q in app_state(request).catalog]}


_SAVED_PROTOCOL_PARAMS = ("timeout", "default-graph-uri", "named-graph-uri")


_SAVED_RESPONSES = _QUERY_RESPONSES | {
    200: _QUERY_RESPONSES[200]
    | {
        "headers": _QUERY_RESPONSES[200]["headers"]
        | {
            "Link": {
                "description": 'On a page that is not the last: <URL of the next page>; rel="next" (the same '
                "parameters with a cursor)",
                "schema": {"type": "string"},
            },
            "X-Posgraph-Total": {
                "description": "On the last page of a query paged by rows: the rows of the whole answer",
                "schema": {"type": "string"},
            },
        }
    },
    404: {"description": "No such saved query", "content": {"application/problem+json": {}}},
}


@router.get("/queries/{name}", summary="Run a saved query (one page of its answer)", responses=_SAVED_RESPONSES)
async def run_saved(name: str, request: Request) -> Response:
    """Run saved query ``name`` with its parameters from the query string (a bad value or an unknown name is 400
    naming it); the result format is negotiated as on /sparql, and ``timeout`` and the dataset parameters
    (``default-graph-uri``, ``named-graph-uri``) work the same way. A paged query answers one page (``limit``, and
    ``offset`` or ``cursor``); a page with more after it has a ``Link: <…>; rel="next"`` header, and the last page
    of a query paged by rows an ``X-Posgraph-Total`` header."""
    state = app_state(request)
    fields = parse_qsl(request.url.query, keep_blank_values=True)
    # A misspelt parameter (form= for from=) would silently widen the answer: unknown names are refused, naming the
    # valid ones; the Protocol's own parameters are not the query's.
    # A parameter may come more than once (a `many` one, e.g. party=A&party=B): every value is kept and the catalog
    # refuses several for a parameter that takes one.
    params: dict[str, list[str]] = {}
    for key, value in fields:
        if key not in _SAVED_PROTOCOL_PARAMS:
            params.setdefault(key, []).append(value)
    takes = [p.name for p in state.catalog.get(name).params]
    for key in params:
        if key not in takes:
            raise InvalidParameter(
                key,
                f"query {name!r} has no such parameter; it takes {', '.join(takes) or 'none'}, "
                f"and {', '.join(_SAVED_PROTOCOL_PARAMS)} as on /sparql",
            )
    wait = _wait(request, request.query_params.get("timeout"))
    default_graphs, named_graphs = _dataset(fields)
    answer = await limited(
        request,
        lambda: research.run_saved(
            state.engine,
            state.catalog,
            name,
            params,
            default_graphs=default_graphs,
            named_graphs=named_graphs,
            guard_pool=state.guard_pool,
            work_pool=state.work_pool,
            accept=request.headers.get("accept"),
            timeout=state.settings.query_timeout,
            max_rows=state.settings.max_rows,
            max_answer_bytes=state.settings.max_answer_bytes,
            context=state.context,
            context_url=state.context_url,
            # Pages of keys from the collections' index while it holds the current data: a seek, not a sort.
            key_pages=partial(index_keys, state.engine),
            # Aggregates (the positions in force, when issues last moved, counts) likewise: seeks, not a scan.
            facts=partial(index_facts, state.engine),
        ),
        wait,
    )
    extra = {}
    if answer.next_cursor is not None:
        # The same request with the next page's cursor in place of any offset or cursor it had.
        kept = [(k, v) for k, v in fields if k not in ("offset", "cursor")] + [("cursor", answer.next_cursor)]
        extra["Link"] = f'<{state.settings.base_url()}{request.url.path}?{urlencode(kept)}>; rel="next"'
    if answer.total is not None:
        extra["X-Posgraph-Total"] = str(answer.total)
    return _respond(answer, request, extra)


_STORE_PARAMS = {
    "parameters": [
        {"name": "graph", "in": "query", "schema": {"type": "string"}},
        {"name": "default", "in": "query", "schema": {"type": "string"}},
    ]
}


@router.get(
    "/store",
    summary="Graph Store: read a published graph",
    responses={
        200: {"description": "The graph", "content": {t: {} for t in formats.GRAPH_MEDIA_TYPES}},
        **problem_responses(400, 404, 406, 503, 504),
    },
    openapi_extra=_STORE_PARAMS,
)
async def store_get(request: Request) -> Response:
    """Return ``?graph=IRI`` or ``?default`` in the negotiated RDF format. Staging graphs are never served."""
    return await _read_graph(request, graph_parameter(request))


# HEAD is GET without the body: the same status and headers (Content-Length included), the body dropped by the server.
router.add_api_route(
    "/store",
    store_get,
    methods=["HEAD"],
    summary="Graph Store: the headers of a published graph (HEAD)",
    responses={
        200: {"description": "The graph exists (no body)", "content": {t: {} for t in formats.GRAPH_MEDIA_TYPES}},
        **problem_responses(400, 404, 406, 503, 504),
    },
    openapi_extra=_STORE_PARAMS,
)


@router.api_route(
    NEW_GRAPH_PATH + "{graph_id}",
    methods=["GET", "HEAD"],
    summary="Graph Store: read a graph created by a POST to the store, by its own IRI",
    responses={
        200: {"description": "The graph", "content": {t: {} for t in formats.GRAPH_MEDIA_TYPES}},
        **problem_responses(404, 406, 503, 504),
    },
)
async def store_created_graph(graph_id: str, request: Request) -> Response:
    """Return a graph a POST to /store created (its IRI is this URL under the public base), as GET /store?graph=
    would (direct graph identification)."""
    return await _read_graph(request, app_state(request).settings.base_url() + NEW_GRAPH_PATH + graph_id)


async def _read_graph(request: Request, graph: str | None) -> Response:
    state = app_state(request)
    answer = await research.read_graph(
        state.engine,
        graph,
        accept=request.headers.get("accept"),
        context=state.context,
        context_url=state.context_url,
        max_answer_bytes=state.settings.max_answer_bytes,
        work_pool=state.work_pool,
    )
    return _respond(answer, request)
