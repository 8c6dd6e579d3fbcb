"""Intake: reading RDF files and client bodies, summarising them for the workflow, and validating them (alone, or
in the context of the live graph).

Parsing, hashing and validating run in worker processes (``posgraph.workers``): the functions here that do that work
take and return bytes and plain data, never pyoxigraph objects (slow to pickle), and stay top-level so a worker can
import them; the event loop only moves bytes between the client, the engine and the workers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterable, Sequence

import pyoxigraph as ox
import rdflib

from posgraph import formats, metrics, workers
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.errors import BadInput, UnsupportedMediaType
from posgraph.namespaces import CONTEXT_IRI, CONTEXT_IRIS, PG, PGI, PREFIXES, SCHEMA, WD
from posgraph.validation import ValidationReport, Validator

__all__ = [
    "ParsedFile",
    "PreparedBatch",
    "read_files",
    "parse_body",
    "refuse_simple_body",
    "validate_files",
    "prepare_quads",
    "prepare_body",
    "prepare_ntriples",
    "turtle_from_ntriples",
    "context_ntriples",
    "validate_ntriples",
    "validate_prepared",
    "validate_body",
    "fetch_context",
    "validate_in_context",
    "NT",
]

NT = formats.format_for_media_type("application/n-triples")
# Key properties of every IRI a batch names: what the rules (shapes/posgraph-rules.ttl) compare with the batch —
# holders and issues (supersession, responses), dates (positions against their sources, events and predecessors),
# and terms (an answer may accept or reject only terms of the position it responds to).
_CONTEXT_KEYS = (
    PG.heldBy,
    PG.hasTerm,
    PG.concerns,
    PG.statedOn,
    SCHEMA.datePublished,
    PG.startDate,
    PG.endDate,
    PG.scheduled,
)
# The links that must not run in a circle: the fetch follows them from what the batch names.
_REVISION_LINKS = (PG.supersedes, PG.revises)
_VALUES_CHUNK = 400
# Chain starts (an IRI and a link) per chain query: each is a UNION branch of the query text.
_CHAIN_CHUNK = 100


@dataclass(frozen=True)
class ParsedFile:
    """A file read completely: its name and its quads."""

    source: str
    quads: list[ox.Quad]


@dataclass(frozen=True)
class PreparedBatch:
    """A batch's triples, parsed: as N-Triples, with the IRIs the checks look up and the facts its record keeps."""

    ntriples: bytes
    subjects: tuple[str, ...]  # IRIs the batch says something about
    mentioned: tuple[str, ...]  # every IRI it names as subject or object
    digest: str
    triples: int
    resources: int
    sources: tuple[str, ...]


def json_ld_context() -> tuple[dict, tuple[str, ...]]:
    """posgraph's JSON-LD context document and the URLs that name it: the canonical IRI and each published
    version's (``CONTEXT_IRIS``); servers add their own URLs.

    An earlier version's IRI reads with the current context: every term an earlier context defines, the current
    one defines the same way (tests/test_migration.py holds them to that), so a pinned document means the same."""
    return json.loads(PROJECT_FILES.context_file.read_bytes()), (CONTEXT_IRI, *CONTEXT_IRIS.values())


def read_files(paths: Sequence[Path], *, on_bytes: Callable[[int], None] | None = None) -> list[ParsedFile]:
    """Parse every file completely before returning (so a syntax error anywhere means nothing is loaded).

    Raises RdfSyntaxError (file, line, column, message), UnsupportedMediaType, or BadInput for an unreadable file
    or a JSON-LD file with a context other than posgraph's.
    """
    parsed = []
    for path in paths:
        fmt = formats.format_for_path(path)
        with open_file(path) as handle:
            source = _CountingReader(handle, on_bytes) if on_bytes else handle
            if fmt.name == "json-ld":
                context, urls = json_ld_context()
                quads = formats.read_jsonld(source.read(), str(path), context, urls)
            else:
                quads = formats.read_quads(source, fmt, str(path), base_iri=Path(path).resolve().as_uri())
            parsed.append(ParsedFile(str(path), quads))
    return parsed


def open_file(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes. Raises BadInput naming the file when it cannot be read."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None


class _CountingReader:
    """A file wrapper that reports how many bytes the parser has read (for progress bars)."""

    def __init__(self, handle, on_bytes: Callable[[int], None]) -> None:
        self._handle, self._on_bytes = handle, on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._on_bytes(len(data))
        return data

    def readinto(self, buffer) -> int:  # pyoxigraph may use either read or readinto
        count = self._handle.readinto(buffer)
        self._on_bytes(count or 0)
        return count


def refuse_simple_body(media_type: str) -> None:
    """Raise UnsupportedMediaType for a text/plain body."""
    # Any web page can make a browser POST text/plain to another origin without asking it first (a CORS "simple"
    # request): a body type that needs a preflight keeps other sites from making visitors' browsers send work here.
    if media_type.split(";", 1)[0].strip().lower() == "text/plain":
        raise UnsupportedMediaType("send N-Triples as application/n-triples (text/plain bodies are not accepted)")


def parse_body(body: bytes, media_type: str, *, context_urls: Sequence[str] = ()) -> list[ParsedFile]:
    """Parse a client's RDF request body (Turtle, TriG, N-Triples, N-Quads, or JSON-LD using posgraph's context).

    Raises UnsupportedMediaType (RDF/XML, text/plain and anything else), RdfSyntaxError with line and column, or
    BadInput for a JSON-LD context that is not posgraph's (none is ever fetched).
    """
    refuse_simple_body(media_type)
    fmt = formats.format_for_media_type(media_type or "application/octet-stream")
    if not fmt.untrusted_ok:
        raise UnsupportedMediaType(
            f"{fmt.media_type} is not accepted from clients; send Turtle, TriG, N-Triples, N-Quads or JSON-LD"
        )
    if fmt.name == "json-ld":
        context, urls = json_ld_context()
        return [ParsedFile("request body", formats.read_jsonld(body, "request body", context, (*urls, *context_urls)))]
    return [ParsedFile("request body", formats.read_quads(body, fmt, "request body"))]


# Offline, a reference to something already published looks dangling: the shape's fix would have it described
# again (a duplicate), so the report says the node is not in the files and how to check against the real data.
OFFLINE_HINT = (
    "If it is already published, validate against a running posgraph so references to its data resolve: "
    "posgraph validate --against URL FILES. Otherwise describe it in these files."
)


def validate_files(validator: Validator, files: Iterable[ParsedFile], *, offline: bool = False) -> ValidationReport:
    """Validate the union of the files' triples (files may refer to each other) and return the report.

    ``offline`` (validating without any server): a result about an IRI the files do not describe says so, with
    ``OFFLINE_HINT`` as its fix, once per reference (see ``Validator.validate``)."""
    graph = None
    for parsed in files:
        graph = formats.to_rdflib_graph(parsed.quads, graph)
    data = graph if graph is not None else formats.to_rdflib_graph([])
    return validator.validate(data, absent_hint=OFFLINE_HINT if offline else None)


def prepare_quads(quads: Iterable[ox.Quad]) -> PreparedBatch:
    """Summarise parsed quads (their graphs dropped) as a PreparedBatch."""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    subjects = {t.subject.value for t in triples if isinstance(t.subject, ox.NamedNode)}
    objects = {t.object.value for t in triples if isinstance(t.object, ox.NamedNode)}
    return PreparedBatch(
        ntriples=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES),
        subjects=tuple(sorted(subjects)),
        mentioned=tuple(sorted(subjects | objects)),
        digest=formats.content_hash(ox.Quad(t.subject, t.predicate, t.object) for t in triples),
        triples=len(triples),
        resources=len(subjects),
        sources=tuple(sorted({t.object.value for t in triples if t.predicate.value == str(PG.source)})),
    )


def prepare_body(body: bytes, media_type: str, context_urls: Sequence[str] = ()) -> PreparedBatch:
    """Parse a client's RDF body (see ``parse_body``, which says what it raises) into a PreparedBatch."""
    return prepare_quads(q for f in parse_body(body, media_type, context_urls=context_urls) for q in f.quads)


def turtle_from_ntriples(data: bytes) -> bytes:
    """N-Triples (a batch's triples) as Turtle with posgraph's prefixes; runs in a worker for large batches."""
    graph = formats.to_rdflib_graph(formats.read_quads(data, NT, "batch", allow_control_chars=True))
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri)
    return graph.serialize(format="turtle").encode("utf-8")


def prepare_ntriples(data: bytes, source: str) -> PreparedBatch:
    """Parse N-Triples (a staged batch) into a PreparedBatch; raises RdfSyntaxError."""
    return prepare_quads(formats.read_quads(data, NT, source))


async def context_ntriples(engine: Engine, prepared: PreparedBatch) -> tuple[bytes, ...]:
    """Return, as N-Triples documents (one per engine answer), the live graph's neighbourhood of the batch, so
    references resolve without reading the whole store.

    For resources the batch adds statements about: their whole description (and their blank nodes', one level
    down), since the batch and what is already there must pass the shapes together. For every IRI the batch
    mentions: its types, key properties (holders, issues, dates) and those values' types; the supersession (and
    revision) chains that start there, with the holders, issues and dates of the positions on them, so a cycle
    closed by the batch shows; and every party or person that carries a Wikidata item the batch names (one
    party per item). One query of each kind per 400 IRIs (per 100 chain starts), so the cost follows the batch's
    size and its neighbourhood, not the store's.
    """
    keys = " ".join(f"<{k}>" for k in _CONTEXT_KEYS)
    # Only Wikidata items can be objects of pg:wikidata, and no vocabulary term or Wikidata item starts a
    # supersession or revision chain: the costlier lookups get only the IRIs they can match.
    items = tuple(i for i in prepared.mentioned if i.startswith(str(WD)))
    linkable = tuple(i for i in prepared.mentioned if not i.startswith((str(WD), str(PG), str(PGI))))
    # IRIs go into the text only as terms written by rdflib, which refuses an IRI that would break out of <…>.
    queries = [
        (
            prepared.subjects,
            "CONSTRUCT { ?x ?p ?o . ?o ?q ?v } WHERE { VALUES ?x { %s } "
            "?x ?p ?o OPTIONAL { FILTER (isBlank(?o)) ?o ?q ?v } }",
        ),
        (
            prepared.mentioned,
            "CONSTRUCT { ?x a ?t . ?x ?key ?v . ?v a ?vt } WHERE { VALUES ?x { %s } "
            "{ ?x a ?t } UNION { VALUES ?key { " + keys + " } ?x ?key ?v OPTIONAL { ?v a ?vt } } }",
        ),
        (
            items,
            "CONSTRUCT { ?other <%s> ?x ; a ?t } WHERE { VALUES ?x { %%s } ?other <%s> ?x ; a ?t }"
            % (PG.wikidata, PG.wikidata),
        ),
    ]
    parts = []
    for iris, template in queries:
        for start in range(0, len(iris), _VALUES_CHUNK):
            parts.append(await engine.construct(template % _terms(iris[start : start + _VALUES_CHUNK])))
    # The chains: only from the IRIs that have a link of that kind in the store (a cheap lookup; most of a batch is
    # new), each walked from its IRI written as a constant: a path's start given by VALUES makes Virtuoso 7.2 fail
    # ("transitive start not given"), and one walk per start costs it a second per hundred starts to compile.
    # One branch per link, its predicate a constant: with the links in a VALUES block too, Oxigraph scans every
    # link in the store (a second at 1M triples instead of milliseconds).
    has_link = " UNION ".join(f"{{ ?x <{link}> ?b BIND (<{link}> AS ?link) }}" for link in _REVISION_LINKS)
    starts: list[tuple[str, str]] = []
    for start in range(0, len(linkable), _VALUES_CHUNK):
        rows = await engine.select(
            "SELECT DISTINCT ?x ?link WHERE { VALUES ?x { %s } %s }"
            % (_terms(linkable[start : start + _VALUES_CHUNK]), has_link)
        )
        starts += [(str(row["x"]), str(row["link"])) for row in rows]
    known, kinds = set(linkable), {str(link) for link in _REVISION_LINKS}
    starts = sorted({(x, link) for x, link in starts if x in known and link in kinds})  # only what was asked
    for start in range(0, len(starts), _CHAIN_CHUNK):
        branches = " UNION ".join(
            f"{{ {_terms([x])} {_terms([link])}* ?a BIND ({_terms([link])} AS ?link) }}"
            for x, link in starts[start : start + _CHAIN_CHUNK]
        )
        # The chain's members first, in a subquery: joined with the edge and keys in one pattern, the engine
        # walks the path from every node of the store (a minute at 1M triples instead of milliseconds).
        parts.append(
            await engine.construct(
                "CONSTRUCT { ?a ?link ?b . ?b a ?t . ?b ?key ?v } WHERE { { SELECT DISTINCT ?a ?link WHERE { "
                + branches
                + " } } ?a ?link ?b OPTIONAL { { ?b a ?t } UNION { VALUES ?key { "
                + keys
                + " } ?b ?key ?v } } }"
            )
        )
    return tuple(parts)  # one document per answer: blank node labels are scoped to their answer


def _terms(iris: Sequence[str]) -> str:
    """IRIs as SPARQL terms separated by spaces. rdflib raises for an IRI that is not valid (never one a parser
    read)."""
    return " ".join(rdflib.URIRef(i).n3() for i in iris)


def validate_ntriples(
    validator: Validator | tuple,
    data: bytes,
    context: Sequence[bytes] | None,
    render: str | None = None,
    shipped: bool = False,
) -> tuple[ValidationReport, bytes | None]:
    """Validate N-Triples ``data`` with ``context`` (see ``Validator.validate``); return the report and, if
    ``render`` names a media type, the report rendered in it (see ``ValidationReport.render``); ``shipped`` (a
    worker process sends it back) and rendered: the report as ``ValidationReport.rendered_summary`` gives it.

    ``validator`` may be the files a Validator is read from (its ``sources``): a worker process reads them once.
    """
    if not isinstance(validator, Validator):
        validator = Validator.cached(validator)
    graph = formats.to_rdflib_graph(formats.read_quads(data, NT, "batch"))
    context_graph = None
    if context is not None:
        context_graph = rdflib.Graph()
        for part in context:
            formats.to_rdflib_graph(formats.read_quads(part, NT, "engine", allow_control_chars=True), context_graph)
    report = validator.validate(graph, context_graph)
    rendered = report.render(render) if render else None
    report.graph = None  # the sh:ValidationReport graph is rendered here or not at all: too costly to ship back
    return (report.rendered_summary() if shipped and render else report), rendered


async def validate_prepared(
    engine: Engine,
    validator: Validator,
    prepared: PreparedBatch,
    *,
    pool: workers.WorkerPool | None = None,
    render: str | None = None,
) -> tuple[ValidationReport, bytes | None]:
    """Validate a prepared batch together with what it references in the live graph (``context_ntriples``), in
    ``pool``; return the report and its rendering (see ``validate_ntriples``).

    Raises an engine error, WorkTimeout, WorkerFailed or Overloaded.
    """
    context = await context_ntriples(engine, prepared)
    shipped = validator.sources if (pool is not None and validator.sources) else validator
    with metrics.validation_seconds.time():
        return await workers.run(pool, validate_ntriples, shipped, prepared.ntriples, context, render, pool is not None)


async def validate_body(
    engine: Engine,
    validator: Validator,
    body: bytes,
    media_type: str,
    *,
    context_urls: Sequence[str] = (),
    pool: workers.WorkerPool | None = None,
    render: str | None = None,
) -> tuple[ValidationReport, bytes | None]:
    """Parse a client's RDF body and validate it in the context of the live graph, all heavy work in ``pool``;
    return the report and its rendering. Raises as ``parse_body`` and ``validate_prepared`` do."""
    prepared = await workers.run(pool, prepare_body, body, media_type, tuple(context_urls))
    return await validate_prepared(engine, validator, prepared, pool=pool, render=render)


async def fetch_context(engine: Engine, files: Sequence[ParsedFile]) -> rdflib.Graph:
    """Return the live graph's neighbourhood of the batch as an rdflib graph (see ``context_ntriples``)."""
    graph = rdflib.Graph()
    for part in await context_ntriples(engine, prepare_quads(q for f in files for q in f.quads)):
        formats.to_rdflib_graph(formats.read_quads(part, NT, "engine", allow_control_chars=True), graph)
    return graph


async def validate_in_context(engine: Engine, validator: Validator, files: Sequence[ParsedFile]) -> ValidationReport:
    """Validate the batch together with what it references in the live graph (see ``context_ntriples``)."""
    prepared = prepare_quads(q for f in files for q in f.quads)
    return (await validate_prepared(engine, validator, prepared))[0]
