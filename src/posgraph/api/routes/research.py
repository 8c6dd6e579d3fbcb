"""Routes for researchers: the SPARQL 1.1 query endpoint (Protocol), the service description and saved queries."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from posgraph import formats, research
from posgraph.api.problems import problem_responses
from posgraph.api.security import require_role
from posgraph.catalog import Param
from posgraph.errors import (
    BadInput,
    EngineTimeout,
    InvalidParameter,
    Overloaded,
    PayloadTooLarge,
    QuerySyntaxError,
    TooManyRequests,
    UnsupportedMediaType,
)
from posgraph.namespaces import PREFIXES, sparql_prologue

__all__ = ["router", "QueryLimiter", "read_body", "decode_utf8", "graph_parameter"]

router = APIRouter(tags=["research"])
T = TypeVar("T")

_FORM = "application/x-www-form-urlencoded"
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
    400: {
        "description": "Malformed, refused or badly parameterised query",
        "content": {"application/problem+json": {}},
    },
    406: {"description": "No acceptable result format", "content": {"application/problem+json": {}}},
    401: {"description": "A bearer token was sent and is unknown", "content": {"application/problem+json": {}}},
    413: {
        "description": "The query text is too long, or the answer is over the byte cap in a format that cannot be "
        "cut (Turtle, RDF/XML, JSON-LD: add LIMIT, or ask for N-Triples)",
        "content": {"application/problem+json": {}},
    },
    429: {
        "description": "Too many concurrent queries from this client, or its query time per minute is used up",
        "content": {"application/problem+json": {}},
    },
    503: {"description": "Engine unavailable, or the service at capacity", "content": {"application/problem+json": {}}},
    504: {"description": "Query timed out", "content": {"application/problem+json": {}}},
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


class QueryLimiter:
    """Admission of queries in this worker: what one client may have in flight, what all anonymous clients together
    may, and how many engine seconds an anonymous client may use per minute (a query that timed out counts twice
    its time: hostile queries cost the one who sends them)."""

    def __init__(self, per_client: int, *, concurrent: int, seconds_per_minute: float, window: float = 60.0) -> None:
        self.per_client, self.concurrent = per_client, concurrent
        self.seconds_per_minute, self.window = seconds_per_minute, window
        self._active: dict[str, int] = {}
        self._anonymous = 0
        self._spent: dict[str, deque[tuple[float, float]]] = {}  # client -> (finished at, seconds)

    def _used(self, client: str, now: float) -> float:
        spent = self._spent.get(client)
        if not spent:
            return 0.0
        while spent and spent[0][0] < now - self.window:
            spent.popleft()
        if not spent:
            del self._spent[client]
            return 0.0
        return sum(seconds for _, seconds in spent)

    def _retry_after(self, client: str, now: float) -> float:
        # When enough of the window's spending will have expired to bring the client under its budget again.
        spent, excess = self._spent[client], self._used(client, now) - self.seconds_per_minute
        for finished, seconds in spent:
            excess -= seconds
            if excess < 0:
                return max(1.0, finished + self.window - now)
        return self.window

    def admit(self, client: str, *, anonymous: bool = True) -> "Ticket":
        """Take a slot for one query of ``client``; give it back with ``release``.

        Raises TooManyRequests (the client's concurrent queries or, if anonymous, its engine seconds are used up;
        Retry-After says when to come back) or Overloaded (every anonymous slot of this worker is taken).
        """
        now = time.monotonic()
        if self._active.get(client, 0) >= self.per_client:
            raise TooManyRequests(f"more than {self.per_client} concurrent queries from one client; retry shortly")
        if anonymous:
            if self._used(client, now) >= self.seconds_per_minute:
                raise TooManyRequests(
                    f"this client used its {self.seconds_per_minute:g} s of query time per minute; "
                    "send a token, or retry later",
                    retry_after=self._retry_after(client, now),
                )
            if self._anonymous >= self.concurrent:
                raise Overloaded(f"{self.concurrent} anonymous queries are running; retry shortly")
            self._anonymous += 1
        self._active[client] = self._active.get(client, 0) + 1
        return Ticket(client, anonymous, now)

    def release(self, ticket: "Ticket", *, timed_out: bool) -> None:
        """Give back ``ticket``'s slot and charge its client the engine time used (twice that if it timed out)."""
        self._active[ticket.client] -= 1
        if not self._active[ticket.client]:
            del self._active[ticket.client]
        if ticket.anonymous:
            self._anonymous -= 1
            finished = time.monotonic()
            cost = (2.0 if timed_out else 1.0) * (finished - ticket.started)
            self._spent.setdefault(ticket.client, deque()).append((finished, cost))


@dataclass
class Ticket:
    """One admitted query: whose, whether metered, since when, and whether its client stopped waiting."""

    client: str
    anonymous: bool
    started: float
    gave_up: bool = False


async def _limited(request: Request, run: Callable[[], Awaitable[T]], wait: float) -> T:
    """Run ``run()`` (a query) under the admission limits and return its result, waiting at most ``wait`` seconds.

    A client's shorter ``timeout`` only shortens its wait: the query goes on until the engine answers or reaches
    the server's deadline (where the engine stops it), still holding the client's slot and charged to it, so a short
    timeout neither frees a slot early nor makes the engine abandon work it would finish. Raises what
    ``QueryLimiter.admit`` raises, EngineTimeout when the wait ends first, or what ``run`` raises.
    """
    limiter: QueryLimiter = request.app.state.limiter
    ticket = limiter.admit(_client(request), anonymous=_anonymous(request))
    task = asyncio.ensure_future(run())

    def finished(done: asyncio.Future) -> None:
        failed = None if done.cancelled() else done.exception()
        limiter.release(ticket, timed_out=ticket.gave_up or isinstance(failed, EngineTimeout))

    task.add_done_callback(finished)
    try:
        return await asyncio.wait_for(asyncio.shield(task), wait)
    except TimeoutError:
        ticket.gave_up = True
        raise EngineTimeout(f"no answer within the {wait:g} s asked for") from None


async def read_body(request: Request, limit: int | None = None) -> bytes:
    """Return the request body, refusing (PayloadTooLarge) one over ``limit`` bytes (default the configured body
    limit) without reading it all."""
    limit = limit or request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body larger than {limit} bytes")
    return bytes(body)


def decode_utf8(body: bytes, what: str) -> str:
    """Decode UTF-8 or raise BadInput naming the first bad byte."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not valid UTF-8 (byte {exc.start})") from None


def _wait(request: Request, raw: str | None) -> float:
    """How long the client waits: its ``timeout`` (at least 0.1 s), or a little past the server's deadline, so that
    the engine's own timeout answers first; raises InvalidParameter."""
    ceiling = request.app.state.settings.query_timeout
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
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await read_body(request)
    if media_type == _FORM:
        return fields + parse_qsl(decode_utf8(body, "form body"), keep_blank_values=True)
    if media_type == _SPARQL_QUERY:
        if any(key == "query" for key, _ in fields):
            raise QuerySyntaxError("a query in the body and another in the URL: send one")
        return fields + [("query", decode_utf8(body, "query"))]
    raise UnsupportedMediaType(f"POST a query as {_FORM} or {_SPARQL_QUERY}, not {media_type or 'no type'}")


def _respond(answer: research.QueryAnswer, request: Request) -> Response:
    headers = {"Vary": "Accept"}
    if answer.truncated:
        # A cut answer names the caps it may have met: result rows (SELECT only) and bytes read from the engine.
        settings = request.app.state.settings
        headers["X-Posgraph-Truncated"] = "true"
        if answer.media_type in formats.RESULT_MEDIA_TYPES:
            headers["X-Posgraph-Row-Limit"] = str(settings.max_rows)
        headers["X-Posgraph-Byte-Limit"] = str(settings.max_answer_bytes)
    return Response(answer.content, media_type=answer.media_type, headers=headers)


def _graph_iris(fields: list[tuple[str, str]], name: str) -> list[str]:
    """The values of a dataset parameter, each an absolute IRI (or a known prefixed name); else 400 naming it."""
    return [str(Param(name, "iri", True).to_term(value)) for key, value in fields if key == name]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _anonymous(request: Request) -> bool:
    """False for a request with a valid token (of any role), whose queries are not metered; a wrong token is 401
    and counts towards the address's failed attempts."""
    if "authorization" not in request.headers:
        return True
    require_role(request, "reader")
    return False


async def _sparql(request: Request) -> Response:
    fields = await _protocol_fields(request)
    queries = [value for key, value in fields if key == "query"]
    state = request.app.state
    if not queries and request.method == "GET":
        return await _service_description(request)
    if len(queries) != 1:
        raise QuerySyntaxError("the request must carry exactly one 'query' parameter")
    timeouts = [value for key, value in fields if key == "timeout"]
    answer = await _limited(
        request,
        lambda: research.run_query(
            state.engine,
            queries[0],
            guard_pool=state.guard_pool,
            work_pool=state.work_pool,
            max_query_bytes=state.settings.max_query_bytes,
            accept=request.headers.get("accept"),
            default_graphs=_graph_iris(fields, "default-graph-uri"),
            named_graphs=_graph_iris(fields, "named-graph-uri"),
            timeout=state.settings.query_timeout,
            max_rows=state.settings.max_rows,
            max_answer_bytes=state.settings.max_answer_bytes,
            context=state.context,
            context_url=state.context_url,
        ),
        _wait(request, timeouts[0] if timeouts else None),
    )
    return _respond(answer, request)


async def _service_description(request: Request) -> Response:
    # The endpoint's IRI from the configured public base, never from the (client-chosen) Host header.
    endpoint = request.app.state.settings.base_url() + request.url.path
    graph = await research.service_description(request.app.state.engine, endpoint)
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
    | {
        415: {"description": "Unsupported body type", "content": {"application/problem+json": {}}},
        413: {"description": "Body too large", "content": {"application/problem+json": {}}},
    },
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
    for saved in request.app.state.catalog:
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
    config = json.dumps(_page_config(request), ensure_ascii=False).replace("</", "<\\/")
    page = request.app.state.page_template.replace("__POSGRAPH_CONFIG__", config)
    return HTMLResponse(page, headers={"Vary": "Accept"})


@router.get("/queries", summary="List the saved research queries")
async def list_queries(request: Request) -> dict:
    """Every saved query with its summary, description, typed parameters and examples."""
    return {"queries": [q.describe() | {"url": f"/queries/{q.name}"} for q in request.app.state.catalog]}


@router.get(
    "/queries/{name}",
    summary="Run a saved query",
    responses=_QUERY_RESPONSES
    | {404: {"description": "No such saved query", "content": {"application/problem+json": {}}}},
)
async def run_saved(name: str, request: Request) -> Response:
    """Run saved query ``name`` with its parameters from the query string (a bad value is 400 naming it); the
    result format is negotiated as on /sparql, and ``timeout`` works the same way."""
    state = request.app.state
    known = {p.name for p in state.catalog.get(name).params}
    # Unknown parameters are ignored, as on /sparql (clients add their own, such as format=json).
    params = {k: v for k, v in request.query_params.items() if k in known}
    wait = _wait(request, request.query_params.get("timeout"))
    answer = await _limited(
        request,
        lambda: research.run_saved(
            state.engine,
            state.catalog,
            name,
            params,
            guard_pool=state.guard_pool,
            work_pool=state.work_pool,
            accept=request.headers.get("accept"),
            timeout=state.settings.query_timeout,
            max_rows=state.settings.max_rows,
            max_answer_bytes=state.settings.max_answer_bytes,
            context=state.context,
            context_url=state.context_url,
        ),
        wait,
    )
    return _respond(answer, request)


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


@router.get(
    "/store",
    summary="Graph Store: read a published graph",
    responses={
        200: {"description": "The graph", "content": {t: {} for t in formats.GRAPH_MEDIA_TYPES}},
        **problem_responses(400, 404, 406, 503, 504),
    },
    openapi_extra={
        "parameters": [
            {"name": "graph", "in": "query", "schema": {"type": "string"}},
            {"name": "default", "in": "query", "schema": {"type": "string"}},
        ]
    },
)
async def store_get(request: Request) -> Response:
    """Return ``?graph=IRI`` or ``?default`` in the negotiated RDF format. Staging graphs are never served."""
    state = request.app.state
    answer = await research.read_graph(
        state.engine,
        graph_parameter(request),
        accept=request.headers.get("accept"),
        context=state.context,
        context_url=state.context_url,
        max_answer_bytes=state.settings.max_answer_bytes,
        work_pool=state.work_pool,
    )
    return _respond(answer, request)
