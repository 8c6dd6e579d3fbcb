"""Routes for integrators: dereferenceable IRIs, the ontology and context, collections, the change feed and dumps,
all with content negotiation and HTTP caching (ETag from the dataset's version, 304, Last-Modified, CORS)."""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import rdflib
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from posgraph import formats, linked_data
from posgraph.api.problems import problem_responses
from posgraph.errors import InvalidParameter, NotFound, NotModified
from posgraph.namespaces import ONTOLOGY_GRAPH, ONTOLOGY_IRI, PGI, PGID, PREFIXES, compact_iri

__all__ = ["router"]

router = APIRouter(tags=["linked data"])

_RESOURCE_TYPES = (formats.RDF_XML, formats.N_TRIPLES, formats.TURTLE, "text/html", formats.JSON_LD)
_JSON_TYPES = (formats.JSON_LD, "application/json")
_MAX_AGE = "public, max-age=60"
_CTX = "http://127.0.0.1:8000/ns/context.jsonld"
EXAMPLE_POSITION = {
    "@context": _CTX,
    "id": "https://w3id.org/posgraph/id/position/ru-2025-07-army-cap",
    "type": "Demand",
    "heldBy": "https://w3id.org/posgraph/id/party/russia",
    "addressedTo": "https://w3id.org/posgraph/id/party/ukraine",
    "concerns": "https://w3id.org/posgraph/issue/armed-forces-size",
    "statedOnMonth": "2025-07",
    "hasTerm": {
        "type": "ArmedForcesTerm",
        "action": "pg:cap",
        "quantityKind": "pg:personnel",
        "obligatedParty": "https://w3id.org/posgraph/id/party/ukraine",
        "wording": {"en": "limits on the future size of Ukraine's army"},
    },
    "source": {
        "id": "https://w3id.org/posgraph/id/source/st-2025-07-istanbul-offer",
        "type": ["Source", "NewsArticle"],
        "headline": {"en": "Faint signs of life appear in effort to halt Ukraine war"},
        "publisher": "https://w3id.org/posgraph/id/org/straits-times",
        "datePublishedMonth": "2025-07",
    },
    "summary": {"en": "Russia wants a ceiling on the size of Ukraine's future army; the source gives no figure."},
}
EXAMPLE_PARTY = {
    "@context": _CTX,
    "id": "https://w3id.org/posgraph/id/party/russia",
    "type": ["Party", "State"],
    "prefLabel": {"en": "Russia", "ru": "Россия"},
    "wikidata": "http://www.wikidata.org/entity/Q159",
    "positions": [
        "https://w3id.org/posgraph/id/position/ru-2025-07-army-cap",
        "https://w3id.org/posgraph/id/position/ru-2025-07-territory",
    ],
}
EXAMPLE_EVENT = {
    "@context": _CTX,
    "id": "https://w3id.org/posgraph/id/event/2025-06-istanbul-round-2",
    "type": ["Event", "NegotiationRound"],
    "prefLabel": {"en": "Istanbul talks, second round"},
    "startDateMonth": "2025-06",
    "place": "http://www.wikidata.org/entity/Q406",
    "participant": ["https://w3id.org/posgraph/id/party/russia", "https://w3id.org/posgraph/id/party/ukraine"],
    "mediator": "https://w3id.org/posgraph/id/party/united-states",
    "resultedIn": "https://w3id.org/posgraph/id/position/ru-ua-2025-06-exchange-of-bodies",
}
EXAMPLE_COLLECTION = {
    "@context": _CTX,
    "id": "http://127.0.0.1:8000/positions?party=pgid:party/russia&limit=2",
    "type": "Collection",
    "items": [
        {
            "id": "https://w3id.org/posgraph/id/position/ru-2025-05-rejects-leaders-meeting",
            "type": "Rejection",
            "statedOnMonth": "2025-05",
            "summary": {"en": "After days of silence, Putin turns down Zelensky's offer of a direct meeting."},
        },
        {
            "id": "https://w3id.org/posgraph/id/position/ru-ua-2025-06-exchange-of-bodies",
            "type": "Agreement",
            "statedOnMonth": "2025-06",
            "summary": {"en": "At the June round in Istanbul the two sides agree to exchange the bodies of the dead."},
        },
    ],
    "next": "http://127.0.0.1:8000/positions?party=pgid%3Aparty%2Frussia&limit=2&cursor=WyIyMDI1LTA2Ii…",
}
EXAMPLE_CHANGES = {
    "@context": _CTX,
    "version": "20261128T071056974567Z-5ccc",
    "changes": [
        {
            "version": "20261128T071056974567Z-5ccc",
            "id": "https://w3id.org/posgraph/id/change/20261128T071056974567Z-5ccc",
            "kind": "accepted",
            "atTime": "2026-11-28T07:10:56.974567+00:00",
            "by": "rita",
            "batch": "https://w3id.org/posgraph/id/batch/20261128T070311252781Z-7aaeee92",
            "links": {
                "batch": "http://127.0.0.1:8000/id/batch/20261128T070311252781Z-7aaeee92",
                "graph": "/store?graph=https%3A%2F%2Fw3id.org%2Fposgraph%2Fid%2Fbatch%2F"
                "20261128T070311252781Z-7aaeee92",
            },
        }
    ],
}


async def _cache_headers(request: Request, media_type: str) -> dict[str, str]:
    """ETag (dataset version + URL + media type), Last-Modified, Cache-Control, Vary. Raises NotModified (a 304
    carrying these headers) when the client's copy is current (If-None-Match, else If-Modified-Since)."""
    version = await linked_data.dataset_version(request.app.state.engine)
    key = f"{version.id}|{request.url.path}?{request.url.query}|{media_type}"
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:24] + '"'
    headers = {"ETag": etag, "Cache-Control": _MAX_AGE, "Vary": "Accept", "X-Posgraph-Version": version.id}
    if version.modified is not None:
        headers["Last-Modified"] = format_datetime(version.modified, usegmt=True)
    match = request.headers.get("if-none-match")
    if match is not None:
        if match.strip() == "*" or etag in {tag.strip().removeprefix("W/") for tag in match.split(",")}:
            raise NotModified(headers)
    elif version.modified is not None and request.headers.get("if-modified-since"):
        try:
            since = parsedate_to_datetime(request.headers["if-modified-since"])
        except (TypeError, ValueError):
            since = None
        if since is not None and version.modified.replace(microsecond=0) <= since:
            raise NotModified(headers)
    return headers


def local_url(request: Request, iri: str) -> str:
    """This server's URL for an instance or issue IRI (other IRIs are returned unchanged)."""
    base = request.app.state.settings.base_url()
    if iri.startswith(str(PGID)):
        return f"{base}/id/{iri[len(str(PGID)) :]}"
    if iri.startswith(str(PGI)):
        return f"{base}/issue/{iri[len(str(PGI)) :]}"
    return iri


def public_url(request: Request, *, query: bool = True) -> str:
    """The request's URL under the configured public base (POSGRAPH_PUBLIC_BASE), never under the Host header the
    client sent (or a forwarded one): links, Content-Location and cached pages must not carry a forged host."""
    url = request.app.state.settings.base_url() + request.url.path
    return f"{url}?{request.url.query}" if query and request.url.query else url


def _alternates(url: str) -> str:
    return ", ".join(f'<{url}>; rel="alternate"; type="{t}"' for t in _RESOURCE_TYPES)


async def _resource(request: Request, iri: str) -> Response:
    state = request.app.state
    media_type = formats.negotiate(
        request.headers.get("accept"), _RESOURCE_TYPES, {"application/json": formats.JSON_LD}
    )
    headers = await _cache_headers(request, media_type)
    headers["Link"] = _alternates(public_url(request, query=False))
    headers["Content-Location"] = public_url(request)
    # The ETag names the version, path, query and media type: all a body depends on (links use the public base).
    key = headers["ETag"]
    cache = state.representations  # None when turned off
    body = cache.get(key) if cache is not None else None
    if body is None:
        body = await _render(request, iri, media_type)
        if cache is not None:
            cache[key] = body
    return Response(body, media_type=media_type, headers=headers)


async def _render(request: Request, iri: str, media_type: str) -> bytes:
    """The resource in one media type; raises NotFound."""
    state = request.app.state
    quads = await linked_data.describe(state.engine, iri)
    if media_type == formats.JSON_LD:
        return JSONResponse(linked_data.frame(quads, iri, state.context, state.context_url)).body
    graph = formats.to_rdflib_graph(quads)
    if media_type == "text/html":
        return _resource_html(request, graph, iri).encode("utf-8")
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return formats.serialize_graph(graph, formats.format_for_media_type(media_type))


def _show(request: Request, term: rdflib.term.Node) -> str:
    if isinstance(term, rdflib.URIRef):
        target = local_url(request, str(term))
        shown = html.escape(compact_iri(str(term)))
        # Only web IRIs become links: javascript:, data: and the like would run or render in the reader's page.
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            return f"<code>{shown}</code>"
        return f"<a href='{html.escape(target)}'>{shown}</a>"
    if isinstance(term, rdflib.Literal):
        suffix = f" <small>@{term.language}</small>" if term.language else ""
        return html.escape(str(term)) + suffix
    return "<em>(below)</em>"


def _resource_html(request: Request, graph: rdflib.Graph, iri: str) -> str:
    root = rdflib.URIRef(iri)
    title = next(
        (
            str(o)
            for p in (
                rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"),
                rdflib.URIRef("https://w3id.org/posgraph/ns#summary"),
                rdflib.URIRef("https://schema.org/headline"),
            )
            for o in graph.objects(root, p)
        ),
        compact_iri(iri),
    )

    def table(subject: rdflib.term.Node) -> str:
        rows = []
        for p, o in sorted(graph.predicate_objects(subject), key=lambda po: (str(po[0]), str(po[1]))):
            cell = table(o) if isinstance(o, rdflib.BNode) else _show(request, o)
            rows.append(f"<tr><th>{_show(request, p)}</th><td>{cell}</td></tr>")
        return "<table>" + "".join(rows) + "</table>"

    incoming = sorted({s for s in graph.subjects(None, root) if isinstance(s, rdflib.URIRef)}, key=str)
    links = "".join(f"<li>{_show(request, s)}</li>" for s in incoming)
    url = html.escape(public_url(request, query=False))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} — posgraph</title><style>body{{font-family:system-ui,sans-serif;margin:1.5rem;"
        "max-width:70rem}table{border-collapse:collapse;margin:.3rem 0}"
        "th,td{border:1px solid #ddd;padding:.25rem .5rem;"
        "text-align:left;vertical-align:top}th{font-weight:normal;color:#555}</style></head><body>"
        f"<p><a href='/'>posgraph</a></p><h1>{html.escape(title)}</h1><p><code>{html.escape(iri)}</code></p>"
        f"{table(root)}"
        + (f"<h2>Referred to by</h2><ul>{links}</ul>" if links else "")
        + f"<p>The same resource at <code>{url}</code> as JSON-LD, Turtle, N-Triples and RDF/XML: ask with an "
        "<code>Accept</code> header.</p></body></html>"
    )


@router.get(
    "/id/{path:path}",
    summary="A resource by its IRI (https://w3id.org/posgraph/id/…)",
    responses={
        200: {
            "content": {t: {} for t in _RESOURCE_TYPES}
            | {
                formats.JSON_LD: {
                    "examples": {
                        "position": {
                            "summary": "A position embeds its terms, conditions and sources",
                            "value": EXAMPLE_POSITION,
                        },
                        "party": {"summary": "A party lists its positions by reference", "value": EXAMPLE_PARTY},
                        "event": {"summary": "An event lists participants and outcomes", "value": EXAMPLE_EVENT},
                    }
                },
                "text/turtle": {
                    "example": "<https://w3id.org/posgraph/id/party/russia> a pg:Party, pg:State ;\n"
                    '    skos:prefLabel "Russia"@en .'
                },
            },
            "description": "The resource",
        },
        304: {"description": "Not modified"},
        **problem_responses(400, 404, 406, 503, 504),
    },
)
async def resource(path: str, request: Request) -> Response:
    """The resource as framed JSON-LD (a position embeds its terms, conditions and sources; a party lists its
    positions by reference), Turtle, N-Triples, RDF/XML or an HTML page; ``Link`` names the alternates."""
    return await _resource(request, f"{PGID}{path}")


@router.get(
    "/issue/{slug}",
    summary="An issue of the issue scheme",
    responses={304: {"description": "Not modified"}, **problem_responses(400, 404, 406, 503, 504)},
)
async def issue(slug: str, request: Request) -> Response:
    """An issue concept, as a resource."""
    return await _resource(request, f"{PGI}{slug}")


@router.get(
    "/ns",
    summary="The posgraph ontology",
    responses={
        200: {
            "content": {
                t: {} for t in (formats.TURTLE, formats.N_TRIPLES, formats.RDF_XML, formats.JSON_LD, "text/html")
            }
        }
    },
)
async def ontology(request: Request) -> Response:
    """The ontology and its vocabularies, as RDF or as an HTML page listing classes and properties."""
    state = request.app.state
    media_type = formats.negotiate(
        request.headers.get("accept"),
        (formats.RDF_XML, formats.N_TRIPLES, formats.JSON_LD, formats.TURTLE, "text/html"),
        {"application/json": formats.JSON_LD},
    )
    headers = await _cache_headers(request, media_type)
    content = (await state.engine.graph_get(str(ONTOLOGY_GRAPH))).content
    graph = formats.to_rdflib_graph(
        formats.read_quads(content, formats.format_for_media_type(formats.N_TRIPLES), "ontology")
    )
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    if media_type == "text/html":
        return HTMLResponse(_ontology_html(request, graph), headers=headers)
    if media_type == formats.JSON_LD:
        body = json.dumps(
            json.loads(graph.serialize(format="json-ld", context=state.context["@context"], auto_compact=True))
            | {"@context": state.context_url}
        )
        return Response(body, media_type=media_type, headers=headers)
    return Response(
        formats.serialize_graph(graph, formats.format_for_media_type(media_type)),
        media_type=media_type,
        headers=headers,
    )


def _ontology_html(request: Request, graph: rdflib.Graph) -> str:
    owl = rdflib.Namespace("http://www.w3.org/2002/07/owl#")
    definition = rdflib.URIRef("http://www.w3.org/2004/02/skos/core#definition")
    sections = []
    for title, kind in (
        ("Classes", owl.Class),
        ("Object properties", owl.ObjectProperty),
        ("Datatype properties", owl.DatatypeProperty),
    ):
        items = "".join(
            f"<dt id='{html.escape(str(t).rsplit('#', 1)[-1])}'><code>{html.escape(compact_iri(str(t)))}"
            f"</code></dt><dd>{html.escape(str(graph.value(t, definition) or ''))}</dd>"
            for t in sorted(graph.subjects(rdflib.RDF.type, kind), key=str)
            if str(t).startswith(ONTOLOGY_IRI)
        )
        sections.append(f"<h2>{title}</h2><dl>{items}</dl>")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>posgraph ontology</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:60rem}dd{margin-bottom:.6rem}"
        "</style></head><body><h1>posgraph ontology</h1>"
        f"<p><code>{ONTOLOGY_IRI}#</code> — also as Turtle, N-Triples, RDF/XML and JSON-LD.</p>"
        + "".join(sections)
        + "</body></html>"
    )


@router.get(
    "/ns/context.jsonld",
    summary="The published JSON-LD context",
    responses={200: {"description": "The context", "content": {formats.JSON_LD: {}}}},
)
async def context(request: Request) -> Response:
    """posgraph's JSON-LD @context for this version (0.1.0): stable, and immutable for a version."""
    return Response(
        request.app.state.context_bytes, media_type=formats.JSON_LD, headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get(
    "/ns/context-{version}.jsonld",
    summary="The JSON-LD context of one version (immutable)",
    responses={
        200: {"description": "The context", "content": {formats.JSON_LD: {}}},
        404: {"description": "No such context version"},
    },
)
async def versioned_context(version: str, request: Request) -> Response:
    """The context as published for ``version``; documents may pin it. Only the current version is served."""
    if version != request.app.state.context_version:
        raise NotFound(f"no context version {version!r}; this server publishes {request.app.state.context_version}")
    return Response(
        request.app.state.context_bytes,
        media_type=formats.JSON_LD,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


# ------------------------------------------------------------------------------------------ collections
def _collection_route(name: str):
    spec = linked_data.COLLECTIONS[name]

    async def handler(request: Request) -> Response:
        params = dict(request.query_params)
        sort, cursor = params.pop("sort", None), params.pop("cursor", None)
        raw_limit = params.pop("limit", "50")
        try:
            limit = int(raw_limit)
        except ValueError:
            raise InvalidParameter("limit", f"{raw_limit[:30]!r} is not a whole number") from None
        media_type = formats.negotiate(request.headers.get("accept"), _JSON_TYPES[::-1])
        headers = await _cache_headers(request, media_type)
        page = await linked_data.collection_page(
            request.app.state.engine, name, params, sort=sort, cursor=cursor, limit=limit
        )
        base = request.app.state.settings.base_url() + f"/{name}"
        body: dict = {
            "@context": request.app.state.context_url,
            "id": public_url(request),
            "type": "Collection",
            "items": page.items,
        }
        if page.next_cursor:
            query = {k: v for k, v in request.query_params.items() if k != "cursor"} | {"cursor": page.next_cursor}
            body["next"] = f"{base}?{urlencode(query)}"
            headers["Link"] = f'<{body["next"]}>; rel="next"'
        return JSONResponse(body, media_type=media_type, headers=headers)

    handler.__name__ = f"list_{name}"
    handler.__doc__ = (
        f"{name.capitalize()}, {'filtered by ' + ', '.join(spec.filters) + ';' if spec.filters else ''}"
        " sorted (``sort``: date, label or id, ``-`` for descending) and paged with an opaque "
        '``cursor`` (``Link: rel="next"``); ``limit`` up to 500.'
    )
    return handler


for _name in linked_data.COLLECTIONS:
    router.add_api_route(
        f"/{_name}",
        _collection_route(_name),
        methods=["GET"],
        summary=f"The {_name}",
        responses={
            200: {"description": "One page", "content": {t: {"example": EXAMPLE_COLLECTION} for t in _JSON_TYPES}},
            304: {"description": "Not modified"},
            400: {
                "description": "A bad filter, sort, limit or cursor (the problem names it)",
                "content": {
                    "application/problem+json": {
                        "example": {
                            "type": "https://w3id.org/posgraph/problems/invalid-parameter",
                            "title": "Invalid parameter",
                            "status": 400,
                            "parameter": "stated_from",
                            "detail": "parameter 'stated_from': 'July' is not a date",
                        }
                    }
                },
            },
        },
    )


@router.get(
    "/changes",
    summary="What changed since a version or a time",
    responses={
        200: {
            "description": "Changes, oldest first",
            "content": {t: {"example": EXAMPLE_CHANGES} for t in _JSON_TYPES},
        },
        400: {"description": "A bad ``since``", "content": {"application/problem+json": {}}},
    },
)
async def changes(request: Request, since: str | None = None, limit: int = 100) -> Response:
    """Changes after ``since`` (a version from ``X-Posgraph-Version``/ETag-bearing responses or this feed, or an ISO
    date-time), oldest first: batches accepted or loaded (fetch them at their ``graph`` link), reverted (drop them),
    or direct updates (re-download a dump)."""
    media_type = formats.negotiate(request.headers.get("accept"), _JSON_TYPES[::-1])
    headers = await _cache_headers(request, media_type)
    items = await linked_data.changes(request.app.state.engine, since, limit)
    for item in items:
        if "batch" in item:
            item["links"] = {
                "batch": local_url(request, item["batch"]),
                "graph": "/store?" + urlencode({"graph": item["batch"]}),
            }
    body = {"@context": request.app.state.context_url, "version": headers["X-Posgraph-Version"], "changes": items}
    if len(items) == limit:
        body["next"] = "/changes?" + urlencode({"since": items[-1]["version"], "limit": limit})
        headers["Link"] = f'<{body["next"]}>; rel="next"'
    return JSONResponse(body, media_type=media_type, headers=headers)


# ------------------------------------------------------------------------------------------ dumps
# Dumps being written, by (directory, format): concurrent requests for the same one share a single writer.
_dumps_in_flight: dict[tuple[Path, str], asyncio.Task] = {}


async def _dump_file(request: Request, extension: str) -> linked_data.Dump:
    state = request.app.state
    version = await linked_data.dataset_version(state.engine)
    directory = Path(state.settings.dumps_dir) / version.id
    written = linked_data.read_dump(directory, extension)
    if written is not None:
        return written
    key = (directory, extension)
    task = _dumps_in_flight.get(key)
    if task is None:
        task = asyncio.ensure_future(linked_data.write_dump(state.engine, extension, directory))
        _dumps_in_flight[key] = task
        task.add_done_callback(lambda _: _dumps_in_flight.pop(key, None))
    # Shielded: a client that goes away does not cancel the dump the others are waiting for.
    return await asyncio.shield(task)


@router.get(
    "/dumps",
    summary="The published dataset's dumps, described with DCAT and VoID",
    responses={
        200: {
            "description": "DCAT dataset",
            "content": {
                formats.JSON_LD: {
                    "example": {
                        "id": "http://127.0.0.1:8000/dumps",
                        "type": ["dcat:Dataset", "void:Dataset"],
                        "dcterms:hasVersion": "20261128T071056974567Z-5ccc",
                        "void:triples": 1370,
                        "dcat:distribution": [
                            {
                                "type": "dcat:Distribution",
                                "dcat:mediaType": "application/n-quads",
                                "dcat:downloadURL": {"id": "http://127.0.0.1:8000/dumps/posgraph.nq"},
                                "dcat:byteSize": 412873,
                                "spdx:checksum": {"spdx:checksumValue": "9f2c…"},
                            }
                        ],
                    }
                }
            },
        }
    },
)
async def dumps(request: Request) -> Response:
    """A DCAT dataset with one distribution per format (N-Quads, TriG, Turtle, JSON-LD): URL, media type, size,
    SHA-256, version and licence."""
    headers = await _cache_headers(request, formats.JSON_LD)
    base = request.app.state.settings.base_url()
    distributions = []
    for extension, (media_type, default_only) in linked_data.DUMP_FORMATS.items():
        written = await _dump_file(request, extension)
        distributions.append(
            {
                "type": "dcat:Distribution",
                "dcat:downloadURL": {"id": f"{base}/dumps/posgraph.{extension}"},
                "dcat:mediaType": media_type,
                "dcat:byteSize": written.size,
                "dcterms:description": "the default graph" if default_only else "every published graph",
                "spdx:checksum": {
                    "spdx:algorithm": {"id": "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"},
                    "spdx:checksumValue": written.sha256,
                },
            }
        )
    rows = await request.app.state.engine.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    body = {
        "@context": [
            request.app.state.context_url,
            {
                "dcat": "http://www.w3.org/ns/dcat#",
                "spdx": "http://spdx.org/rdf/terms#",
                "void": "http://rdfs.org/ns/void#",
            },
        ],
        "id": f"{base}/dumps",
        "type": ["dcat:Dataset", "void:Dataset"],
        "dcterms:title": "posgraph: negotiation positions",
        "dcterms:hasVersion": headers["X-Posgraph-Version"],
        "dcterms:license": {"id": "https://creativecommons.org/licenses/by/4.0/"},
        "void:triples": int(rows[0]["n"]),
        "void:sparqlEndpoint": {"id": f"{base}/sparql"},
        "dcat:distribution": distributions,
    }
    return JSONResponse(body, media_type=formats.JSON_LD, headers=headers)


@router.get(
    "/dumps/posgraph.{extension}",
    summary="A dump of the published dataset",
    responses={200: {"content": {m: {} for m, _ in linked_data.DUMP_FORMATS.values()}}, 404: {}},
)
async def dump(extension: str, request: Request) -> Response:
    """The whole published dataset in one file, at a stable URL (its content follows the dataset's version)."""
    if extension not in linked_data.DUMP_FORMATS:
        raise NotFound(f"no dump format {extension!r}; use {', '.join(linked_data.DUMP_FORMATS)}")
    media_type = linked_data.DUMP_FORMATS[extension][0]
    headers = await _cache_headers(request, media_type)
    written = await _dump_file(request, extension)
    headers |= {
        "Content-Length": str(written.size),
        "Digest": f"sha-256={written.sha256}",
        "Content-Disposition": f'attachment; filename="posgraph.{extension}"',
    }
    return StreamingResponse(linked_data.iter_file(written.path), media_type=media_type, headers=headers)
