"""Routes for integrators: dereferenceable IRIs, the ontology and context, collections, the change feed and dumps,
all with content negotiation and HTTP caching (ETag from the dataset's version, 304, Last-Modified, CORS)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from posgraph import formats, linked_data
from posgraph.api import pages
from posgraph.api.caching import MAX_AGE, cache_headers, cached_body, etag, is_cached, last_version
from posgraph.api.examples import (
    EXAMPLE_CHANGES,
    EXAMPLE_COLLECTION,
    EXAMPLE_DUMPS,
    EXAMPLE_EVENT,
    EXAMPLE_PARTY,
    EXAMPLE_POSITION,
)
from posgraph.api.problems import problem_responses
from posgraph.api.state import app_state
from posgraph.config import PROJECT_FILES
from posgraph.errors import InvalidParameter, NotFound
from posgraph.linked_data.resources import describe_versioned, require_described, version_and_merge
from posgraph.namespaces import CONTEXT_IRIS, CONTEXT_VERSION, PGI, PGID, PREFIXES

__all__ = ["router"]

router = APIRouter(tags=["linked data"])

_RESOURCE_TYPES = (formats.RDF_XML, formats.N_TRIPLES, formats.TURTLE, "text/html", formats.JSON_LD)
_JSON_TYPES = (formats.JSON_LD, "application/json")


def local_url(request: Request, iri: str) -> str:
    """This server's URL for an instance or issue IRI (other IRIs are returned unchanged)."""
    return linked_data.local_url(app_state(request).settings.base_url(), iri)


def public_url(request: Request, *, query: bool = True) -> str:
    """The request's URL under the configured public base (POSGRAPH_PUBLIC_BASE), never under the Host header the
    client sent (or a forwarded one): links, Content-Location and cached pages must not carry a forged host."""
    url = app_state(request).settings.base_url() + request.url.path
    return f"{url}?{request.url.query}" if query and request.url.query else url


def _alternates(url: str) -> str:
    return ", ".join(f'<{url}>; rel="alternate"; type="{t}"' for t in _RESOURCE_TYPES)


async def _resource(request: Request, iri: str, *, follow_merges: bool = False) -> Response:
    """The resource ``iri`` as negotiated; with ``follow_merges``, a 301 to the IRI it was merged into, if any."""
    media_type = formats.negotiate(
        request.headers.get("accept"), _RESOURCE_TYPES, {"application/json": formats.JSON_LD}
    )
    engine = app_state(request).engine
    quads = None
    guess = last_version(request)
    if (
        "if-none-match" in request.headers
        or "if-modified-since" in request.headers
        or (guess is not None and is_cached(request, etag(request, media_type, guess)))
    ):
        # A conditional request is answered from the version alone (304), without reading the resource; so is one
        # whose body this worker likely holds already (kept under the version it read last, checked here).
        version, target = await version_and_merge(engine, iri)
    else:
        # One engine round trip reads the description, the version it belongs to and a merge.
        described = await describe_versioned(engine, iri)
        version, target, quads = described.version, described.merged_into, described.quads
    if follow_merges and target is not None:
        headers = {"Cache-Control": MAX_AGE, "Vary": "Accept"}
        return RedirectResponse(local_url(request, target), status_code=301, headers=headers)
    headers = await cache_headers(request, media_type, version)
    headers["Link"] = _alternates(public_url(request, query=False))
    headers["Content-Location"] = public_url(request)
    if media_type == "text/html":
        headers["Content-Security-Policy"] = pages.CONTENT_SECURITY_POLICY
    # The ETag names the version, path, query and media type: all a body depends on (links use the public base).
    body = await cached_body(request, headers["ETag"], lambda: _render(request, iri, media_type, quads))
    return Response(body, media_type=media_type, headers=headers)


async def _render(request: Request, iri: str, media_type: str, quads: list | None) -> bytes:
    """The resource in one media type, from its description ``quads`` (read here when None); raises NotFound."""
    state = app_state(request)
    if quads is None:
        quads = await linked_data.describe(state.engine, iri)
    else:
        quads = require_described(quads, iri)
    if media_type == formats.JSON_LD:
        return formats.jsonld_bytes(linked_data.frame(quads, iri, state.context, state.context_url))
    graph = formats.to_rdflib_graph(quads)
    if media_type == "text/html":
        view = await linked_data.page_view(state.engine, iri, graph)
        page = pages.resource_page(
            graph, iri, base_url=state.settings.base_url(), page_url=public_url(request, query=False), view=view
        )
        return page.encode("utf-8")
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return formats.serialize_graph(graph, formats.format_for_media_type(media_type))


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
        301: {"description": "The resource was merged into another (a reviewed pg:Merge): Location names it"},
        304: {"description": "Not modified"},
        **problem_responses(400, 404, 406, 503, 504),
    },
)
async def resource(path: str, request: Request) -> Response:
    """The resource as framed JSON-LD (a position embeds its terms, conditions and sources; a party lists its
    positions by reference), Turtle, N-Triples, RDF/XML or an HTML page; ``Link`` names the alternates. A
    resource merged into another answers 301 to the one kept, in every media type."""
    return await _resource(request, f"{PGID}{path}", follow_merges=True)


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
    state = app_state(request)
    media_type = formats.negotiate(
        request.headers.get("accept"),
        (formats.RDF_XML, formats.N_TRIPLES, formats.JSON_LD, formats.TURTLE, "text/html"),
        {"application/json": formats.JSON_LD},
    )
    headers = await cache_headers(request, media_type)
    graph = await linked_data.ontology_graph(state.engine)
    if media_type == "text/html":
        headers["Content-Security-Policy"] = pages.CONTENT_SECURITY_POLICY
        return HTMLResponse(pages.ontology_page(graph), headers=headers)
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


@router.get(
    "/ns/context.jsonld",
    summary="The published JSON-LD context",
    responses={200: {"description": "The context", "content": {formats.JSON_LD: {}}}},
)
async def context(request: Request) -> Response:
    """posgraph's JSON-LD @context for the current model version (also at /ns/{version}/context.jsonld)."""
    return Response(
        app_state(request).context_bytes,
        media_type=formats.JSON_LD,
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _context_of(request: Request, version: str) -> bytes:
    """The context document of model ``version``: the current one, or an earlier version's frozen file, served
    byte for byte as it was published. Raises NotFound for a version never published."""
    if version == CONTEXT_VERSION:
        return app_state(request).context_bytes
    if version not in CONTEXT_IRIS:  # checked before the name reaches the file system
        raise NotFound(f"no context version {version!r}; this server publishes {', '.join(CONTEXT_IRIS)}")
    return (PROJECT_FILES.ontology_dir / f"context-{version}.jsonld").read_bytes()


_VERSIONED_CONTEXT = dict(
    summary="The JSON-LD context of one model version (immutable)",
    responses={
        200: {"description": "The context", "content": {formats.JSON_LD: {}}},
        404: {"description": "No such context version"},
    },
)


@router.get("/ns/{version}/context.jsonld", **_VERSIONED_CONTEXT)
async def versioned_context(version: str, request: Request) -> Response:
    """The context as published for model ``version`` (0.1.0, 0.2.0, …), never changed once published: a
    document may pin it as its @context, and posted JSON-LD may use it."""
    return Response(
        _context_of(request, version),
        media_type=formats.JSON_LD,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


@router.get("/ns/context-{version}.jsonld", **_VERSIONED_CONTEXT)
async def versioned_context_by_name(version: str, request: Request) -> Response:
    """The same as /ns/{version}/context.jsonld, at the address 0.1.0 published it under."""
    return await versioned_context(version, request)


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
        state = app_state(request)
        # One read of the dataset's version serves the ETag and tells the collections' index whether it is current.
        version = await linked_data.dataset_version(state.engine)
        headers = await cache_headers(request, media_type, version)
        page = await linked_data.collection_page(
            state.engine, name, params, sort=sort, cursor=cursor, limit=limit, version=version.id
        )
        base = state.settings.base_url() + f"/{name}"
        body: dict = {
            "@context": state.context_url,
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
            **problem_responses(
                400,
                descriptions={400: "A bad filter, sort, limit or cursor (the problem names it)"},
                examples={
                    400: {
                        "type": "https://w3id.org/posgraph/problems/invalid-parameter",
                        "title": "Invalid parameter",
                        "status": 400,
                        "parameter": "stated_from",
                        "detail": "parameter 'stated_from': 'July' is not a date",
                    }
                },
            ),
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
        **problem_responses(400, descriptions={400: "A bad ``since``"}),
    },
)
async def changes(request: Request, since: str | None = None, limit: int = 100) -> Response:
    """Changes after ``since`` (a version from ``X-Posgraph-Version``/ETag-bearing responses or this feed, or an ISO
    date-time), oldest first: batches accepted or loaded (fetch them at their ``graph`` link), reverted (drop them),
    or direct updates (re-download a dump)."""
    media_type = formats.negotiate(request.headers.get("accept"), _JSON_TYPES[::-1])
    headers = await cache_headers(request, media_type)
    state = app_state(request)
    items = await linked_data.changes(state.engine, since, limit)
    for item in items:
        if "batch" in item:
            item["links"] = {
                "batch": local_url(request, item["batch"]),
                "graph": "/store?" + urlencode({"graph": item["batch"]}),
            }
    body = {"@context": state.context_url, "version": headers["X-Posgraph-Version"], "changes": items}
    if len(items) == limit:
        body["next"] = "/changes?" + urlencode({"since": items[-1]["version"], "limit": limit})
        headers["Link"] = f'<{body["next"]}>; rel="next"'
    return JSONResponse(body, media_type=media_type, headers=headers)


# ------------------------------------------------------------------------------------------ dumps
@router.get(
    "/dumps",
    summary="The published dataset's dumps, described with DCAT and VoID",
    responses={
        200: {
            "description": "DCAT dataset",
            "content": {formats.JSON_LD: {"example": EXAMPLE_DUMPS}},
        }
    },
)
async def dumps(request: Request) -> Response:
    """A DCAT dataset with one distribution per format (N-Quads, TriG, Turtle, JSON-LD): URL, media type, size,
    SHA-256, version and licence."""
    state = app_state(request)
    # One query names the version and counts its triples; the dumps are that version's: one version per answer.
    summary = await linked_data.dataset_summary(state.engine)
    headers = await cache_headers(request, formats.JSON_LD, summary.version)
    base = state.settings.base_url()
    distributions = []
    for extension, (media_type, default_only) in linked_data.DUMP_FORMATS.items():
        written = await linked_data.dump_file(state.engine, state.settings.dumps_dir, summary.version, extension)
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
    body = {
        "@context": [
            state.context_url,
            {
                "dcat": "http://www.w3.org/ns/dcat#",
                "spdx": "http://spdx.org/rdf/terms#",
                "void": "http://rdfs.org/ns/void#",
            },
        ],
        "id": f"{base}/dumps",
        "type": ["dcat:Dataset", "void:Dataset"],
        "dcterms:title": "posgraph: negotiation positions",
        "dcterms:hasVersion": summary.version.id,
        "dcterms:license": {"id": "https://creativecommons.org/licenses/by/4.0/"},
        "void:triples": summary.triples,
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
    state = app_state(request)
    media_type = linked_data.DUMP_FORMATS[extension][0]
    version = await linked_data.dataset_version(state.engine)
    headers = await cache_headers(request, media_type, version)
    written = await linked_data.dump_file(state.engine, state.settings.dumps_dir, version, extension)
    headers |= {
        "Content-Length": str(written.size),
        "Digest": f"sha-256={written.sha256}",
        "Content-Disposition": f'attachment; filename="posgraph.{extension}"',
    }
    return StreamingResponse(linked_data.iter_file(written.path), media_type=media_type, headers=headers)
