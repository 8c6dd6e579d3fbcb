"""Routes for people: the timeline and the gap matrix, as HTML pages (which work without JavaScript) and as SVG and
PNG pictures at stable URLs with the same filters, cached by the dataset's version like the resource pages."""

from __future__ import annotations

from typing import Awaitable, Callable
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from posgraph import linked_data, overview, workers
from posgraph.api import pages
from posgraph.api.admission import limited
from posgraph.api.caching import cache_headers, cached_body
from posgraph.api.problems import problem_responses
from posgraph.api.state import app_state
from posgraph.errors import InvalidParameter

__all__ = ["router"]


router = APIRouter(tags=["views"])

_TIMELINE_PARAMS = ("party", "issue", "from", "to", "as_of")
_GAPS_PARAMS = ("party", "issue", "as_of")
_MEDIA = {"html": "text/html; charset=utf-8", "svg": "image/svg+xml", "png": "image/png"}
_RESPONSES = {
    200: {"content": {"text/html": {}, "image/svg+xml": {}, "image/png": {}}},
    304: {"description": "Not modified"},
    **problem_responses(400, 503, 504),
}
_FILTER_DOC = {
    "parameters": [
        {
            "name": "party",
            "in": "query",
            "schema": {"type": "array", "items": {"type": "string"}},
            "description": "A party's IRI or pgid: name (repeatable)",
        },
        {
            "name": "issue",
            "in": "query",
            "schema": {"type": "array", "items": {"type": "string"}},
            "description": "An issue's IRI or pgi: name (repeatable)",
        },
        {
            "name": "as_of",
            "in": "query",
            "schema": {"type": "string"},
            "description": "A date: YYYY-MM-DD, YYYY-MM or YYYY",
        },
    ]
}
_PERIOD_DOC = {
    "parameters": _FILTER_DOC["parameters"]
    + [
        {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "Earliest date, any precision"},
        {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "Latest date, any precision"},
    ]
}


def _filters(request: Request, allowed: tuple[str, ...]) -> overview.Filters:
    """The request's filters; a name the view does not take (a misspelt filter would silently widen the view) or
    a bad value is 400 naming it."""
    fields = parse_qsl(request.url.query, keep_blank_values=True)
    for key, _ in fields:
        if key not in allowed:
            raise InvalidParameter(key, f"not a filter of this view; it takes {', '.join(allowed)}")
    for key in ("from", "to", "as_of"):
        if len([v for k, v in fields if k == key]) > 1:
            raise InvalidParameter(key, "give it once")

    def one(key: str) -> str:
        return next((v for k, v in fields if k == key), "")

    return overview.Filters.parse(
        [v for k, v in fields if k == "party"],
        [v for k, v in fields if k == "issue"],
        one("from"),
        one("to"),
        one("as_of"),
    )


async def _cached(request: Request, fmt: str, render: Callable[[linked_data.Version], Awaitable[bytes]]) -> Response:
    """The answer in ``fmt`` with the caching headers (ETag from data version, URL and format; 304 when current),
    the body kept in the representations cache under its ETag."""
    state = app_state(request)
    version = await linked_data.dataset_version(state.engine)
    # The format is in the path (.svg, .png), never negotiated: no Vary: Accept.
    headers = await cache_headers(request, fmt, version, vary_accept=False)
    if fmt == "html":
        headers["Content-Security-Policy"] = pages.VIEWS_CONTENT_SECURITY_POLICY
    else:
        # A picture opened on its own is a document: its links and styles, nothing else.
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
    # Building a view runs saved queries (the gap matrix: meet-or-collide per pair of parties): it takes a slot and
    # engine time from the client's admission budget like any query, so views cannot bypass those limits.
    body = await cached_body(
        request, headers["ETag"], lambda: limited(request, lambda: render(version), state.settings.query_timeout)
    )
    return Response(body, media_type=_MEDIA[fmt], headers=headers)


def _link(request: Request) -> Callable[[str], str]:
    base = app_state(request).settings.base_url()
    return lambda iri: linked_data.local_url(base, iri) if not iri.startswith("/") else base + iri


def _caption(request: Request, version: linked_data.Version) -> overview.Caption:
    path = request.url.path.rsplit(".", 1)[0]
    query = f"?{request.url.query}" if request.url.query else ""
    return overview.Caption(version.id, app_state(request).settings.base_url() + path + query)


async def _picture(request: Request, fmt: str, spec: dict) -> bytes:
    function = overview.render_svg if fmt == "svg" else overview.render_png
    result = await workers.run(app_state(request).chart_pool, function, spec)
    return result.encode("utf-8") if isinstance(result, str) else result


async def _view(request: Request, fmt: str, allowed: tuple[str, ...], load, to_spec, to_page) -> Response:
    """A view in ``fmt``: its data loaded by ``load`` (an overview loader) with the request's filters, drawn by
    ``to_spec`` as a Vega-Lite spec, then a picture or the page ``to_page(data, filters, spec, parties, issues,
    **page options)`` builds; cached as ``_cached`` says."""
    filters = _filters(request, allowed)
    state = app_state(request)
    timeout = state.settings.query_timeout

    async def render(version: linked_data.Version) -> bytes:
        data = await load(state.engine, state.catalog, filters, timeout=timeout)
        spec = to_spec(data, _caption(request, version), _link(request))
        if fmt != "html":
            return await _picture(request, fmt, spec)
        parties, issues = await overview.load_choices(state.engine, state.catalog, timeout=timeout)
        page = to_page(
            data,
            filters,
            spec,
            parties,
            issues,
            base_url=state.settings.base_url(),
            version=version.id,
            query=request.url.query,
        )
        return page.encode("utf-8")

    return await _cached(request, fmt, render)


def _timeline_page(timeline, filters, spec, parties, issues, **options) -> str:
    return pages.timeline_page(timeline, filters, spec, parties=parties, issues=issues, **options)


def _gaps_page(matrix, filters, spec, parties, _issues, **options) -> str:
    return pages.gaps_page(matrix, filters, spec, parties=parties, **options)


async def _timeline(request: Request, fmt: str) -> Response:
    return await _view(request, fmt, _TIMELINE_PARAMS, overview.load_timeline, overview.timeline_spec, _timeline_page)


async def _gaps(request: Request, fmt: str) -> Response:
    return await _view(request, fmt, _GAPS_PARAMS, overview.load_gaps, overview.gaps_spec, _gaps_page)


@router.get("/timeline", summary="The timeline of positions (HTML)", responses=_RESPONSES, openapi_extra=_PERIOD_DOC)
async def timeline_html(request: Request) -> Response:
    """One lane per issue, one mark per position (colour: party; shape: kind; a bar: a month or year), supersession
    as dashed lines, events as rules; filters ``party`` and ``issue`` (repeatable), ``from``, ``to`` and ``as_of``
    (marks not in force that day fade). A full table of the positions follows the chart."""
    return await _timeline(request, "html")


@router.get("/timeline.svg", summary="The timeline as SVG", responses=_RESPONSES, openapi_extra=_PERIOD_DOC)
async def timeline_svg(request: Request) -> Response:
    """The timeline's chart (same filters as /timeline) as SVG, with a caption naming the data version and sources."""
    return await _timeline(request, "svg")


@router.get("/timeline.png", summary="The timeline as PNG", responses=_RESPONSES, openapi_extra=_PERIOD_DOC)
async def timeline_png(request: Request) -> Response:
    """The timeline's chart (same filters as /timeline) as PNG at twice the screen size, for papers."""
    return await _timeline(request, "png")


@router.get("/gaps", summary="The gap matrix between parties (HTML)", responses=_RESPONSES, openapi_extra=_FILTER_DOC)
async def gaps_html(request: Request) -> Response:
    """Parties × issues as of a date (``as_of``; default: the latest day a position was stated): each cell the
    party's positions in force, each issue marked meet, partly, collide, open or no-position, with the gap between
    comparable figures. ``party`` repeatable, at least two (default: the two with most positions in force)."""
    return await _gaps(request, "html")


@router.get("/gaps.svg", summary="The gap matrix as SVG", responses=_RESPONSES, openapi_extra=_FILTER_DOC)
async def gaps_svg(request: Request) -> Response:
    """The gap matrix (same filters as /gaps) as SVG, with a caption naming the data version and sources."""
    return await _gaps(request, "svg")


@router.get("/gaps.png", summary="The gap matrix as PNG", responses=_RESPONSES, openapi_extra=_FILTER_DOC)
async def gaps_png(request: Request) -> Response:
    """The gap matrix (same filters as /gaps) as PNG at twice the screen size, for papers."""
    return await _gaps(request, "png")
