"""Curators' use cases: read and validate RDF files, and add them to the store as an accepted batch with provenance.

A batch is its own named graph (``pgid:batch/{id}``); its triples are also written to the default graph, which
is what public queries see, and it is described with PROV-O in the default graph. The whole batch — both
copies and the description — goes to the engine in one Graph Store request, which the engine applies as one
transaction: the store holds all of it or none of it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator, Callable, Iterable, Sequence

import pyoxigraph as ox
import rdflib

from posgraph import formats, guard, metrics, supervisor, workers
from posgraph.audit import AuditLog
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.errors import (
    BadInput,
    Conflict,
    Forbidden,
    NotConformant,
    NotFound,
    QueryRefused,
    QuerySyntaxError,
    UnsupportedMediaType,
    WorkerFailed,
    WorkTimeout,
)
from posgraph.namespaces import (
    CONTEXT_IRI,
    ONTOLOGY_GRAPH,
    PG,
    PGID,
    PREFIXES,
    PROV,
    RDF,
    RDFS,
    STAGING,
    XSD,
    batch_iri,
    is_managed_graph,
    sparql_prologue,
)
from posgraph.validation import ValidationReport, Validator

__all__ = [
    "ParsedFile",
    "LoadResult",
    "read_files",
    "validate_files",
    "load_batch",
    "ensure_bootstrapped",
    "SEED_BATCH_ID",
    "parse_body",
    "run_update",
    "write_graph",
    "delete_graph",
    "staging_graph",
    "fetch_context",
    "validate_in_context",
    "submit_batch",
    "list_batches",
    "get_batch",
    "batch_triples",
    "accept_batch",
    "reject_batch",
    "revert_preview",
    "revert_batch",
]

log = logging.getLogger("posgraph.curation")

SEED_BATCH_ID = "seed"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ParsedFile:
    """A file read completely: its name and its quads."""

    source: str
    quads: list[ox.Quad]


@dataclass(frozen=True)
class LoadResult:
    """What ``load_batch`` did: the batch, how many triples, and whether identical content was already loaded."""

    batch_id: str
    batch_iri: str
    triples: int
    already_loaded: bool
    report: ValidationReport | None


def json_ld_context() -> tuple[dict, tuple[str, ...]]:
    """posgraph's JSON-LD context document and the URLs that name it (the canonical IRI; servers add their own)."""
    return json.loads(PROJECT_FILES.context_file.read_bytes()), (CONTEXT_IRI,)


def read_files(paths: Sequence[Path], *, on_bytes: Callable[[int], None] | None = None) -> list[ParsedFile]:
    """Parse every file completely before returning (so a syntax error anywhere means nothing is loaded).

    Raises RdfSyntaxError (file, line, column, message), UnsupportedMediaType, or BadInput for an unreadable file
    or a JSON-LD file with a context other than posgraph's.
    """
    parsed = []
    for path in paths:
        fmt = formats.format_for_path(path)
        try:
            handle = open(path, "rb")
        except OSError as exc:
            raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
        with handle:
            source = _CountingReader(handle, on_bytes) if on_bytes else handle
            if fmt.name == "json-ld":
                context, urls = json_ld_context()
                quads = formats.read_jsonld(source.read(), str(path), context, urls)
            else:
                quads = formats.read_quads(source, fmt, str(path), base_iri=Path(path).resolve().as_uri())
            parsed.append(ParsedFile(str(path), quads))
    return parsed


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


def _refuse_simple_body(media_type: str) -> None:
    # Any web page can make a browser POST text/plain to another origin without asking it first (a CORS "simple"
    # request): a body type that needs a preflight keeps other sites from making visitors' browsers send work here.
    if media_type.split(";", 1)[0].strip().lower() == "text/plain":
        raise UnsupportedMediaType("send N-Triples as application/n-triples (text/plain bodies are not accepted)")


def parse_body(body: bytes, media_type: str, *, context_urls: Sequence[str] = ()) -> list[ParsedFile]:
    """Parse a client's RDF request body (Turtle, TriG, N-Triples, N-Quads, or JSON-LD using posgraph's context).

    Raises UnsupportedMediaType (RDF/XML, text/plain and anything else), RdfSyntaxError with line and column, or
    BadInput for a JSON-LD context that is not posgraph's (none is ever fetched).
    """
    _refuse_simple_body(media_type)
    fmt = formats.format_for_media_type(media_type or "application/octet-stream")
    if not fmt.untrusted_ok:
        raise UnsupportedMediaType(
            f"{fmt.media_type} is not accepted from clients; send Turtle, TriG, N-Triples, N-Quads or JSON-LD"
        )
    if fmt.name == "json-ld":
        context, urls = json_ld_context()
        return [ParsedFile("request body", formats.read_jsonld(body, "request body", context, (*urls, *context_urls)))]
    return [ParsedFile("request body", formats.read_quads(body, fmt, "request body"))]


def validate_files(validator: Validator, files: Iterable[ParsedFile]) -> ValidationReport:
    """Validate the union of the files' triples (files may refer to each other) and return the report."""
    graph = None
    for parsed in files:
        graph = formats.to_rdflib_graph(parsed.quads, graph)
    return validator.validate(graph if graph is not None else formats.to_rdflib_graph([]))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "anonymous"


def change_triples(
    kind: str, actor: str, *, batch: str | None = None, moment: datetime | None = None
) -> list[tuple[ox.NamedNode, ox.NamedNode, object]]:
    """The triples recording one change to the published data (its IRI sorts by time: the dataset's version)."""
    moment = moment or datetime.now(timezone.utc)
    change = ox.NamedNode(f"{PGID}change/{moment:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(2)}")
    nn, lit = ox.NamedNode, ox.Literal
    triples = [
        (change, nn(str(RDF.type)), nn(str(PG.Change))),
        (change, nn(str(PG.changeKind)), lit(kind)),
        (change, nn(str(PROV.atTime)), lit(moment.isoformat(timespec="microseconds"), datatype=nn(str(XSD.dateTime)))),
        (change, nn(str(PROV.wasAssociatedWith)), _agent(actor)),
    ]
    if batch is not None:
        triples.append((change, nn(str(PG.changedBatch)), nn(batch)))
    return triples


def _change_update(kind: str, actor: str, batch: str | None = None) -> str:
    body = " ".join(f"{s} {p} {o} ." for s, p, o in change_triples(kind, actor, batch=batch))
    return f"INSERT DATA {{ {body} }}"


def _agent(name: str) -> ox.NamedNode:
    return ox.NamedNode(f"{PGID}agent/{_slug(name)}")


def _batch_quads(
    triples: list[ox.Triple],
    *,
    batch_id: str,
    curator: str,
    label: str,
    digest: str,
    shapes_version: str,
    now: datetime,
    reviewer: str | None = None,
    accepted: datetime | None = None,
    bulk_count: int | None = None,
) -> list[ox.Quad]:
    """The batch's quads: its triples in the default graph and in its own graph, and its PROV description.

    With ``bulk_count`` only the description (``triples`` are already in the store, bulk-loaded, uncopied).
    """
    graph = ox.NamedNode(batch_iri(batch_id))
    default = ox.DefaultGraph()
    quads = [ox.Quad(t.subject, t.predicate, t.object, default) for t in triples]
    quads += [ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples]
    agent = _agent(curator)
    nn, lit = ox.NamedNode, ox.Literal
    resources = {t.subject for t in triples if isinstance(t.subject, ox.NamedNode)}
    count = len(triples) if bulk_count is None else bulk_count
    description = [
        (graph, nn(str(RDF.type)), nn(str(PG.Batch))),
        (graph, nn(str(RDF.type)), nn(str(PROV.Bundle))),
        (graph, nn(str(RDFS.label)), lit(label)),
        (graph, nn(str(PROV.wasAttributedTo)), agent),
        (graph, nn(str(PROV.generatedAtTime)), lit(now.isoformat(timespec="seconds"), datatype=nn(str(XSD.dateTime)))),
        (graph, nn(str(PG.batchState)), nn(str(PG.accepted))),
        (graph, nn(str(PG.tripleCount)), lit(str(count), datatype=nn(str(XSD.integer)))),
        (graph, nn(str(PG.shapesVersion)), lit(shapes_version)),
        (agent, nn(str(RDF.type)), nn(str(PROV.Agent))),
        (agent, nn(str(RDFS.label)), lit(curator)),
    ]
    if bulk_count is None:
        description += [
            (graph, nn(str(PG.contentHash)), lit(digest)),
            (graph, nn(str(PG.resourceCount)), lit(str(len(resources)), datatype=nn(str(XSD.integer)))),
        ]
    else:
        description.append((graph, nn(str(PG.bulkLoaded)), lit("true", datatype=nn(str(XSD.boolean)))))
    if reviewer is not None:
        description += [
            (graph, nn(str(PG.reviewedBy)), _agent(reviewer)),
            (_agent(reviewer), nn(str(RDF.type)), nn(str(PROV.Agent))),
            (_agent(reviewer), nn(str(RDFS.label)), lit(reviewer)),
        ]
    if accepted is not None:
        description.append(
            (graph, nn(str(PG.acceptedAt)), lit(accepted.isoformat(timespec="seconds"), datatype=nn(str(XSD.dateTime))))
        )
    sources = {t.object for t in triples if t.predicate.value == str(PG.source)}
    description += [(graph, nn(str(PROV.hadPrimarySource)), s) for s in sorted(sources, key=str)]
    description += change_triples(
        "accepted" if reviewer else "loaded", reviewer or curator, batch=graph.value, moment=accepted or now
    )
    return quads + [ox.Quad(s, p, o, default) for s, p, o in description]


def publication_body(ntriples: bytes, description: dict) -> bytes:
    """The N-Quads that publish a batch given as N-Triples (see ``_batch_quads``, whose keyword arguments
    ``description`` holds); runs in a worker process for large batches."""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in formats.read_quads(ntriples, _NT, "batch")]
    return ox.serialize(_batch_quads(triples, **description), format=ox.RdfFormat.N_QUADS)


async def _chunks(data: bytes, on_bytes: Callable[[int], None] | None) -> AsyncIterator[bytes]:
    for start in range(0, len(data), _CHUNK):
        chunk = data[start : start + _CHUNK]
        yield chunk
        if on_bytes:
            on_bytes(len(chunk))


async def find_batch_by_hash(engine: Engine, digest: str) -> str | None:
    """Return the IRI of an accepted batch whose content hash is ``digest``, or None."""
    rows = await engine.select(
        sparql_prologue(("pg",))
        + "SELECT ?batch WHERE { ?batch a pg:Batch ; pg:contentHash "
        + rdflib.Literal(digest).n3()
        + " ; pg:batchState pg:accepted } LIMIT 1"
    )
    return str(rows[0]["batch"]) if rows else None


async def load_batch(
    engine: Engine,
    validator: Validator,
    files: Sequence[ParsedFile],
    *,
    curator: str,
    label: str | None = None,
    batch_id: str | None = None,
    validate: bool = True,
    on_upload: Callable[[int], None] | None = None,
) -> LoadResult:
    """Validate ``files`` and add them to the store as one accepted batch; return what was done.

    Content identical to an accepted batch is not loaded twice (``already_loaded`` is then True).
    Raises NotConformant (nothing is written) or an engine error (the engine's transaction wrote nothing).
    """
    report = None
    if validate:
        report = validate_files(validator, files)
        if not report.conforms:
            raise NotConformant(report, source=", ".join(f.source for f in files))
    triples = [ox.Triple(q.subject, q.predicate, q.object) for f in files for q in f.quads]
    digest = formats.content_hash(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    existing = await find_batch_by_hash(engine, digest)
    if existing is not None:
        return LoadResult(existing.rsplit("/", 1)[-1], existing, len(triples), True, report)
    now = datetime.now(timezone.utc)
    batch_id = batch_id or f"{now:%Y%m%dT%H%M%SZ}-{digest[:8]}"
    quads = _batch_quads(
        triples,
        batch_id=batch_id,
        curator=curator,
        digest=digest,
        label=label or "Loaded from " + ", ".join(Path(f.source).name for f in files),
        shapes_version=validator.shapes_version,
        now=now,
    )
    body = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    await engine.add_quads(
        _chunks(body, on_upload), media_type="application/n-quads", timeout=max(engine.timeout, 600.0)
    )
    log.info("batch %s loaded by %s: %d triples", batch_id, curator, len(triples))
    return LoadResult(batch_id, batch_iri(batch_id), len(triples), False, report)


def bulk_build_store(data_dir: Path, files: Sequence[Path], *, binary: str | None = None) -> int:
    """Build a new store at ``data_dir`` from ``files`` with the engine's bulk loader; return its triple count.

    All or nothing: the loader writes into a scratch directory beside ``data_dir``, which replaces ``data_dir``
    (by one rename) only once every file has loaded. Raises BadInput when ``data_dir`` already holds a store or
    anything but a stopped engine's log, when a file is not a triple format (N-Triples, Turtle, RDF/XML), or
    when a file does not parse.
    """
    if (data_dir / "CURRENT").exists():  # RocksDB's marker: a store is there
        raise BadInput(f"{data_dir} already holds a store: a bulk load builds a new one (use `posgraph load`)")
    # What a stopped managed engine leaves beside a store; anything else is not ours to delete.
    leftovers = list(data_dir.iterdir()) if data_dir.is_dir() else []
    strangers = [p.name for p in leftovers if p.name not in (supervisor.RUNTIME_FILE, supervisor.LOG_FILE)]
    if strangers or (data_dir.exists() and not data_dir.is_dir()):
        raise BadInput(
            f"{data_dir} is not empty ({', '.join(strangers[:3]) or 'a file'}): a bulk load needs a new directory"
        )
    typed = []
    for path in files:
        fmt = formats.format_for_path(path)
        if fmt.quads:
            raise BadInput(f"{path}: a bulk load takes N-Triples, Turtle or RDF/XML, not {fmt.name}")
        if not path.is_file():
            raise BadInput(f"{path}: cannot read: no such file")
        typed.append((path, fmt.media_type))
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = data_dir.parent / f".{data_dir.name}.bulk-{secrets.token_hex(4)}"
    try:
        supervisor.bulk_load(scratch, typed, binary=binary)
        count = len(ox.Store.read_only(str(scratch)))
        for leftover in leftovers:
            leftover.unlink()
        if data_dir.exists():
            data_dir.rmdir()
        scratch.rename(data_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return count


async def record_bulk_batch(
    engine: Engine, validator: Validator, files: Sequence[Path], count: int, *, curator: str, label: str | None = None
) -> LoadResult:
    """Describe a bulk-loaded store's content as one accepted, non-revertible batch (PROV, counts, a change
    event); its triples are not copied into the batch's graph. Returns what was recorded."""
    now = datetime.now(timezone.utc)
    batch_id = f"{now:%Y%m%dT%H%M%SZ}-bulk-{secrets.token_hex(4)}"
    quads = _batch_quads(
        [],
        batch_id=batch_id,
        curator=curator,
        digest="",
        label=label or "Bulk-loaded from " + ", ".join(Path(f).name for f in files),
        shapes_version=validator.shapes_version,
        now=now,
        bulk_count=count,
    )
    await engine.add_quads(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
    log.info("batch %s bulk-loaded by %s: %d triples", batch_id, curator, count)
    return LoadResult(batch_id, batch_iri(batch_id), count, False, None)


async def ensure_bootstrapped(
    engine: Engine,
    validator: Validator,
    ontology_files: Sequence[Path],
    seed_files: Sequence[Path],
    *,
    seed: bool = True,
) -> list[str]:
    """Load the ontology (once, into its own graph and the default graph) and the seed batch into an empty store.

    Returns what was loaded (empty when the store was already set up). Safe to call on every start.
    """
    loaded = []
    if not await engine.ask(f"ASK {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s ?p ?o }} }}"):
        triples = [ox.Triple(q.subject, q.predicate, q.object) for f in read_files(ontology_files) for q in f.quads]
        graph = ox.NamedNode(str(ONTOLOGY_GRAPH))
        quads = [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples for g in (ox.DefaultGraph(), graph)]
        quads += [ox.Quad(s, p, o, ox.DefaultGraph()) for s, p, o in change_triples("ontology", "posgraph")]
        await engine.add_quads(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
        loaded.append("ontology")
    if seed and not await engine.ask(f"ASK {{ <{batch_iri(SEED_BATCH_ID)}> ?p ?o }}"):
        result = await load_batch(
            engine,
            validator,
            read_files(seed_files),
            curator="posgraph seed",
            label="Seed data: the July 2025 Istanbul offer article",
            batch_id=SEED_BATCH_ID,
        )
        loaded.append(f"seed ({result.triples} triples)")
    return loaded


# ------------------------------------------------------------------------------------------ direct writes
def _refuse_managed_graph(graph: str | None, method: str) -> None:
    if graph is None:
        if method in ("PUT", "DELETE"):  # replacing or emptying the default graph erases the provenance in it
            raise BadInput(
                f"{method} of the default graph would erase posgraph's provenance and change records: "
                "POST to add triples, or submit a batch"
            )
        return
    if is_managed_graph(graph):
        raise BadInput(
            f"graph <{graph}> is managed by posgraph (batches, staging, ontology); "
            "change it through a curation batch instead"
        )


async def run_update(
    engine: Engine,
    text: str,
    *,
    actor: str,
    using_graphs: Sequence[str] = (),
    using_named_graphs: Sequence[str] = (),
    timeout: float | None = None,
    pool: workers.WorkerPool | None = None,
) -> None:
    """Check a SPARQL update (parsed in ``pool``: see ``guard.check_update``) and run it as one transaction.

    The change is recorded (for the dataset version and the change feed) in the same request.
    Raises QueryRefused (LOAD, SERVICE, staging or managed graphs, provenance, control characters, or too costly
    to check), QuerySyntaxError or an engine error; on any error the engine has changed nothing.
    """
    if not text.strip():
        raise QuerySyntaxError("empty update")
    try:
        await workers.run(pool, guard.check_update, text, list(using_graphs) + list(using_named_graphs))
    except WorkTimeout:
        raise QueryRefused("the update is too costly to check within the time allowed: split it") from None
    except WorkerFailed:
        raise QuerySyntaxError("the update could not be checked (too large or too deeply nested)") from None
    await engine.update(
        text + " ;\n" + _change_update("updated", actor),
        using_graphs=using_graphs,
        using_named_graphs=using_named_graphs,
        timeout=timeout,
    )


async def write_graph(
    engine: Engine,
    method: str,
    graph: str | None,
    body: bytes,
    media_type: str,
    *,
    actor: str,
    timeout: float | None = None,
) -> tuple[int, int]:
    """Replace (PUT) or add to (POST) one graph with a client's RDF body; return (engine status, triples).

    The body is parsed completely first (RdfSyntaxError with line and column; RDF/XML and quad formats are
    refused with UnsupportedMediaType), so the engine only ever receives well-formed N-Triples.
    """
    _refuse_managed_graph(graph, method)
    _refuse_simple_body(media_type)
    fmt = formats.format_for_media_type(media_type)
    if not fmt.untrusted_ok or fmt.quads:
        raise UnsupportedMediaType(f"send a graph as Turtle or N-Triples, not {fmt.media_type}")
    quads = formats.read_quads(body, fmt, "request body")
    if graph is None:  # the default graph holds the provenance: no statement of it may come this way
        guard.refuse_managed_triples(
            (q.subject.value if isinstance(q.subject, ox.NamedNode) else None, q.predicate.value, q.object.value)
            for q in quads
        )
    payload = formats.serialize_quads(quads, formats.format_for_media_type("application/n-triples"))
    status = await engine.graph_write(method, graph, payload, timeout=timeout)
    # A Graph Store request cannot carry the change record too: it follows in a second, tiny transaction.
    await engine.update(_change_update("updated", actor), timeout=timeout)
    return status, len(quads)


async def delete_graph(engine: Engine, graph: str | None, *, actor: str, timeout: float | None = None) -> None:
    """Delete one graph; raises NotFound, or BadInput for a managed graph or the default graph."""
    _refuse_managed_graph(graph, "DELETE")
    await engine.graph_delete(graph, timeout=timeout)
    await engine.update(_change_update("updated", actor), timeout=timeout)


# ------------------------------------------------------------------------------------------ batches: review workflow
# A submitted batch lives in the staging store (a separate engine public queries never reach): its triples in the
# graph STAGING/{id}, its record (curator, report, state, history) as a JSON literal on pgid:batch/{id}. Accepting
# copies it into the public store in one Graph Store request (one transaction); the public store's pg:batchState
# is the truth when the two disagree (a crash between publishing and updating the record).

# The staging store's own bookkeeping predicates: private, so they live in the staging namespace, not the ontology.
_RECORD, _STATE, _HASH = STAGING["record"], STAGING["state"], STAGING["contentHash"]
_CONTEXT_KEYS = (PG.heldBy, PG.concerns, PG.statedOn)
_VALUES_CHUNK = 400


def staging_graph(batch_id: str) -> str:
    """The staging graph that holds a submitted batch's triples."""
    return f"{STAGING}{batch_id}"


# Parsing, hashing and validating run in worker processes (``posgraph.workers``): the functions below that do that
# work take and return bytes and plain data, never pyoxigraph objects (slow to pickle); the event loop only moves
# bytes between the client, the engine and the workers.
_NT = formats.format_for_media_type("application/n-triples")


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
    graph = formats.to_rdflib_graph(formats.read_quads(data, _NT, "batch", allow_control_chars=True))
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri)
    return graph.serialize(format="turtle").encode("utf-8")


def prepare_ntriples(data: bytes, source: str) -> PreparedBatch:
    """Parse N-Triples (a staged batch) into a PreparedBatch; raises RdfSyntaxError."""
    return prepare_quads(formats.read_quads(data, _NT, source))


async def context_ntriples(engine: Engine, prepared: PreparedBatch) -> tuple[bytes, ...]:
    """Return, as N-Triples documents (one per engine answer), the live graph's neighbourhood of the batch, so
    references resolve without reading the whole store.

    For resources the batch adds statements about: their whole description (and their blank nodes', one level
    down), since the batch and what is already there must pass the shapes together. For every IRI the batch
    mentions: its types, key properties (holder, issues, date) and those values' types. One query of each kind
    per 400 IRIs, so the cost follows the batch's size, not the store's.
    """
    keys = " ".join(f"<{k}>" for k in _CONTEXT_KEYS)
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
    ]
    parts = []
    for iris, template in queries:
        for start in range(0, len(iris), _VALUES_CHUNK):
            values = " ".join(rdflib.URIRef(i).n3() for i in iris[start : start + _VALUES_CHUNK])
            parts.append(await engine.construct(template % values))
    return tuple(parts)  # one document per answer: blank node labels are scoped to their answer


def validate_ntriples(
    validator: Validator | tuple, data: bytes, context: Sequence[bytes] | None, render: str | None = None
) -> tuple[ValidationReport, bytes | None]:
    """Validate N-Triples ``data`` with ``context`` (see ``Validator.validate``); return the report and, if
    ``render`` names a media type, the report rendered in it (see ``ValidationReport.render``).

    ``validator`` may be the files a Validator is read from (its ``sources``): a worker process reads them once.
    """
    if not isinstance(validator, Validator):
        validator = Validator.cached(validator)
    graph = formats.to_rdflib_graph(formats.read_quads(data, _NT, "batch"))
    context_graph = None
    if context is not None:
        context_graph = rdflib.Graph()
        for part in context:
            formats.to_rdflib_graph(formats.read_quads(part, _NT, "engine", allow_control_chars=True), context_graph)
    report = validator.validate(graph, context_graph)
    rendered = report.render(render) if render else None
    report.graph = None  # the sh:ValidationReport graph is rendered here or not at all: too costly to ship back
    return report, rendered


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
        return await workers.run(pool, validate_ntriples, shipped, prepared.ntriples, context, render)


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
        formats.to_rdflib_graph(formats.read_quads(part, _NT, "engine", allow_control_chars=True), graph)
    return graph


async def validate_in_context(engine: Engine, validator: Validator, files: Sequence[ParsedFile]) -> ValidationReport:
    """Validate the batch together with what it references in the live graph (see ``context_ntriples``)."""
    prepared = prepare_quads(q for f in files for q in f.quads)
    return (await validate_prepared(engine, validator, prepared))[0]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


async def _records(staging: Engine, batch_id: str | None = None) -> list[dict]:
    where = f"BIND ({rdflib.URIRef(batch_iri(batch_id)).n3()} AS ?b) " if batch_id else ""
    rows = await staging.select(f"SELECT ?r WHERE {{ {where}?b <{_RECORD}> ?r }}")
    return [json.loads(str(row["r"])) for row in rows]


async def _public_states(public: Engine, batch_id: str | None = None) -> dict[str, dict]:
    where = f"BIND ({rdflib.URIRef(batch_iri(batch_id)).n3()} AS ?b) " if batch_id else ""
    rows = await public.select(
        sparql_prologue(("pg", "prov", "rdfs"))
        + f"""
        SELECT ?b ?state ?label ?curator ?submitted ?triples ?hash ?reviewer ?accepted ?acceptedBy ?reverted ?bulk
        WHERE {{
          {where}?b a pg:Batch ; pg:batchState ?state .
          OPTIONAL {{ ?b rdfs:label ?label }} OPTIONAL {{ ?b prov:wasAttributedTo/rdfs:label ?curator }}
          OPTIONAL {{ ?b prov:generatedAtTime ?submitted }} OPTIONAL {{ ?b pg:tripleCount ?triples }}
          OPTIONAL {{ ?b pg:contentHash ?hash }} OPTIONAL {{ ?b pg:reviewedBy/rdfs:label ?reviewer }}
          OPTIONAL {{ ?b pg:acceptedAt ?accepted }} OPTIONAL {{ ?b pg:revertedAt ?reverted }}
          OPTIONAL {{ ?b pg:bulkLoaded ?bulk }}
          OPTIONAL {{ ?acceptance pg:changedBatch ?b ; pg:changeKind "accepted" ;
                      prov:wasAssociatedWith/rdfs:label ?acceptedBy }} }}"""
    )
    out = {}
    for row in rows:
        iri = str(row["b"])
        out[iri.rsplit("/", 1)[-1]] = {k: str(v) for k, v in row.items()}
    return out


def _merge(record: dict | None, public: dict | None) -> dict:
    """One view of a batch: the staging record, corrected by the public store's state where it has one."""
    if record is None:  # loaded directly (seed, `posgraph load`): only the public description exists
        assert public is not None
        record = {
            "id": public["b"].rsplit("/", 1)[-1],
            "label": public.get("label"),
            "curator": public.get("curator"),
            "submitted": public.get("submitted"),
            "triples": int(public.get("triples", 0)),
            "content_hash": public.get("hash"),
            "reviewer": public.get("reviewer"),
            "history": [],
            "report": None,
            "staged": False,
        }
        if public.get("bulk") == "true":
            record["bulk_loaded"] = True
    record = dict(record)
    if public is not None:
        record["state"] = public["state"].rsplit("#", 1)[-1]
        if public.get("accepted"):
            record.setdefault("accepted", public["accepted"])
        # A service stopped between the publishing write and the record's update leaves a record without the
        # decision; the acceptance's change record, written in the same transaction as the batch, names it.
        accepted_by = public.get("acceptedBy")
        if accepted_by and not record.get("reviewer"):
            record["reviewer"] = accepted_by
        history = record.get("history") or []
        if accepted_by and record.get("staged", True) and not any(h.get("action") == "accepted" for h in history):
            record["history"] = [*history, {"time": record.get("accepted"), "actor": accepted_by, "action": "accepted"}]
    record["iri"] = batch_iri(record["id"])
    return record


async def list_batches(public: Engine, staging: Engine, *, state: str | None = None) -> list[dict]:
    """Every batch (staged ones and those loaded directly), newest first, optionally in one state."""
    records = {r["id"]: r for r in await _records(staging)}
    published = await _public_states(public)
    merged = [_merge(records.get(i), published.get(i)) for i in set(records) | set(published)]
    if state:
        merged = [b for b in merged if b["state"] == state]
    return sorted(merged, key=lambda b: (b.get("submitted") or "", b["id"]), reverse=True)


async def get_batch(public: Engine, staging: Engine, batch_id: str) -> dict:
    """The batch's record (state, curator, report, history); raises NotFound."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", batch_id):
        raise NotFound(f"no batch {batch_id[:100]!r}")
    records = await _records(staging, batch_id)
    published = (await _public_states(public, batch_id)).get(batch_id)
    if not records and published is None:
        raise NotFound(f"no batch {batch_id!r}")
    return _merge(records[0] if records else None, published)


async def batch_triples(public: Engine, staging: Engine, batch_id: str) -> bytes:
    """The batch's triples as N-Triples (from staging, or from its public graph for a directly loaded batch).

    Raises NotFound, or Conflict for a bulk-loaded batch (which keeps no copy)."""
    batch = await get_batch(public, staging, batch_id)
    if batch.get("bulk_loaded"):
        raise Conflict(f"batch {batch_id} was bulk-loaded: its triples are the store's baseline (see /dumps)")
    if batch.get("staged", True):
        return (await staging.graph_get(staging_graph(batch_id))).content
    if batch["state"] == "accepted":
        return (await public.graph_get(batch_iri(batch_id))).content
    return b""


async def _save_record(staging: Engine, record: dict) -> None:
    """Replace the batch's record in the staging store, in one update."""
    subject = rdflib.URIRef(batch_iri(record["id"])).n3()
    literal = rdflib.Literal(json.dumps(record, ensure_ascii=False)).n3()
    state = rdflib.Literal(record["state"]).n3()
    digest = rdflib.Literal(record["content_hash"]).n3()
    await staging.update(
        f"DELETE {{ {subject} ?p ?o }} WHERE {{ {subject} ?p ?o }} ;\n"
        f"INSERT DATA {{ {subject} <{_RECORD}> {literal} ; <{_STATE}> {state} ; <{_HASH}> {digest} }}"
    )


def _history(record: dict, actor: str, action: str, note: str | None = None) -> None:
    entry = {"time": _stamp(_now()), "actor": actor, "action": action}
    if note:
        entry["note"] = note
    record.setdefault("history", []).append(entry)


async def submit_batch(
    public: Engine,
    staging: Engine,
    validator: Validator,
    batch: Sequence[ParsedFile] | PreparedBatch,
    *,
    curator: str,
    label: str | None = None,
    pool: workers.WorkerPool | None = None,
) -> dict:
    """Validate the batch (parsed files, or prepared in a worker) in context, in ``pool``, and store it in staging
    as "submitted"; return its record.

    Raises NotConformant (nothing is stored), BadInput (no triples), Conflict when the same content is already
    submitted or published, or an engine or worker error.
    """
    prepared = batch if isinstance(batch, PreparedBatch) else prepare_quads(q for f in batch for q in f.quads)
    if not prepared.triples:
        raise BadInput("the batch holds no triples")
    report, _ = await validate_prepared(public, validator, prepared, pool=pool)
    if not report.conforms:
        raise NotConformant(report, source="batch")
    digest = prepared.digest
    rows = await staging.select(
        f"SELECT ?b WHERE {{ ?b <{_HASH}> {rdflib.Literal(digest).n3()} ; "
        f'<{_STATE}> ?s FILTER (?s IN ("submitted", "accepted")) }} LIMIT 1'
    )
    existing = str(rows[0]["b"]) if rows else await find_batch_by_hash(public, digest)
    if existing:
        raise Conflict(f"the same content was already submitted as batch {existing.rsplit('/', 1)[-1]}", existing)
    now = _now()
    batch_id = f"{now:%Y%m%dT%H%M%S%fZ}-{digest[:8]}"
    record = {
        "id": batch_id,
        "label": label or f"Batch submitted by {curator}",
        "curator": curator,
        "submitted": _stamp(now),
        "state": "submitted",
        "content_hash": digest,
        "triples": prepared.triples,
        "resources": prepared.resources,
        "sources": list(prepared.sources),
        "shapes_version": validator.shapes_version,
        "report": report.to_dict(),
        "staged": True,
    }
    _history(record, curator, "submitted")
    await staging.graph_write("PUT", staging_graph(batch_id), prepared.ntriples)  # one transaction
    await _save_record(staging, record)
    log.info("batch %s submitted by %s: %d triples", batch_id, curator, prepared.triples)
    return await get_batch(public, staging, batch_id)


def _may_decide(batch: dict, actor: str, role: str, allow_self_accept: bool) -> None:
    if role == "admin":
        return
    own = batch.get("curator") == actor
    if own and not allow_self_accept:
        raise Forbidden("a batch is reviewed by someone other than its curator (POSGRAPH_ALLOW_SELF_ACCEPT is off)")
    if role not in ("reviewer",) and not (own and allow_self_accept):
        raise Forbidden("reviewing batches needs the reviewer role")


async def accept_batch(
    public: Engine,
    staging: Engine,
    validator: Validator,
    batch_id: str,
    *,
    reviewer: str,
    role: str,
    allow_self_accept: bool = False,
    audit: AuditLog | None = None,
    pool: workers.WorkerPool | None = None,
) -> dict:
    """Publish a submitted batch: re-validate it against the live graph (parsing and validating in ``pool``), then
    write its graph, its triples in the default graph and its PROV-O description in one transaction; return the
    updated record. With ``audit``, the
    publishing write is logged as an attempt ("batch-accept", naming the batch; the reviewer is the actor) before
    it is made, and its outcome after.

    Raises NotFound, Conflict (not in state submitted), Forbidden, NotConformant (the graph changed since).
    """
    batch = await get_batch(public, staging, batch_id)
    if batch["state"] != "submitted":
        raise Conflict(f"batch {batch_id} is {batch['state']}, not submitted")
    _may_decide(batch, reviewer, role, allow_self_accept)
    content = (await staging.graph_get(staging_graph(batch_id))).content
    prepared = await workers.run(pool, prepare_ntriples, content, f"batch {batch_id}")
    report, _ = await validate_prepared(public, validator, prepared, pool=pool)
    if not report.conforms:
        raise NotConformant(report, source=f"batch {batch_id} (against the graph as it is now)")
    now = _now()
    body = await workers.run(
        pool,
        publication_body,
        prepared.ntriples,
        {
            "batch_id": batch_id,
            "curator": batch["curator"],
            "label": batch["label"],
            "digest": batch["content_hash"],
            "shapes_version": validator.shapes_version,
            "now": datetime.fromisoformat(batch["submitted"]),
            "reviewer": reviewer,
            "accepted": now,
        },
    )
    with audit.attempt(reviewer, "batch-accept", batch=batch_id, role=role) if audit else nullcontext():
        await public.add_quads(body, timeout=max(public.timeout, 600.0))
    # Stopped here, the record still says submitted: get_batch then takes the decision from the public store.
    record = {k: v for k, v in batch.items() if k != "iri"}
    record.update(state="accepted", reviewer=reviewer, accepted=_stamp(now))
    _history(record, reviewer, "accepted")
    await _save_record(staging, record)
    log.info("batch %s accepted by %s", batch_id, reviewer)
    return await get_batch(public, staging, batch_id)


async def reject_batch(
    public: Engine,
    staging: Engine,
    batch_id: str,
    *,
    reviewer: str,
    role: str,
    note: str | None = None,
    allow_self_accept: bool = False,
) -> dict:
    """Mark a submitted batch rejected (it stays in staging, never public); return the updated record."""
    batch = await get_batch(public, staging, batch_id)
    if batch["state"] != "submitted":
        raise Conflict(f"batch {batch_id} is {batch['state']}, not submitted")
    if role not in ("reviewer", "admin") and batch.get("curator") != reviewer:
        raise Forbidden("rejecting another curator's batch needs the reviewer role")
    record = {k: v for k, v in batch.items() if k != "iri"}
    record.update(state="rejected", reviewer=reviewer, decided=_stamp(_now()))
    _history(record, reviewer, "rejected", note)
    await _save_record(staging, record)
    return await get_batch(public, staging, batch_id)


def _refuse_bulk(batch: dict) -> None:
    if batch.get("bulk_loaded"):
        raise Conflict(
            f"batch {batch['id']} was bulk-loaded as the store's baseline: no copy of its triples is kept, so it "
            "cannot be reverted (build a new store instead)"
        )


async def revert_preview(public: Engine, staging: Engine, batch_id: str) -> dict:
    """What reverting would take away, and what in other batches depends on it (supersedes, responds to, …)."""
    batch = await get_batch(public, staging, batch_id)
    _refuse_bulk(batch)
    graph = rdflib.URIRef(batch_iri(batch_id)).n3()
    rows = await public.select(f"""SELECT DISTINCT ?dependent ?property ?target ?g WHERE {{
        GRAPH {graph} {{ ?target ?x ?y FILTER (isIRI(?target)) }}
        GRAPH ?g {{ ?dependent ?property ?target }}
        FILTER (isIRI(?dependent) && ?g != {graph} && ?property != <{RDF.type}>
                && STRSTARTS(STR(?g), "{PGID}batch/")) }}
        ORDER BY ?dependent ?property""")
    removed = await public.select(f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }}
        FILTER NOT EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (?g != {graph}) }} }}""")
    return {
        "batch": batch_id,
        "state": batch["state"],
        "triples_removed": int(removed[0]["n"]) if batch["state"] == "accepted" else 0,
        "dependents": [
            {
                "resource": str(r["dependent"]),
                "property": str(r["property"]),
                "depends_on": str(r["target"]),
                "batch": str(r["g"]).rsplit("/", 1)[-1],
            }
            for r in rows
        ],
    }


async def revert_batch(
    public: Engine,
    staging: Engine,
    batch_id: str,
    *,
    actor: str,
    role: str,
    audit: AuditLog | None = None,
    audit_detail: dict | None = None,
) -> dict:
    """Withdraw an accepted batch from the default graph in one update: its triples go unless another graph
    still asserts them, its graph is dropped, and its description says reverted (by whom, when). The content
    stays in staging (or, for a directly loaded batch, nowhere but the record). Returns the updated record.
    With ``audit``, the update is logged as an attempt ("batch-revert", with ``audit_detail``) before it is made.

    Raises Forbidden, NotFound, Conflict (not accepted, or bulk-loaded) or an engine error."""
    if role not in ("reviewer", "admin"):
        raise Forbidden("reverting a batch needs the reviewer role")
    batch = await get_batch(public, staging, batch_id)
    if batch["state"] != "accepted":
        raise Conflict(f"batch {batch_id} is {batch['state']}, not accepted")
    _refuse_bulk(batch)
    graph = rdflib.URIRef(batch_iri(batch_id)).n3()
    stamp = _stamp(_now())
    now = rdflib.Literal(stamp, datatype=XSD.dateTime).n3()
    agent = rdflib.URIRef(_agent(actor).value).n3()
    logged = audit.attempt(actor, "batch-revert", batch=batch_id, role=role, **(audit_detail or {})) if audit else None
    with logged or nullcontext():
        await public.update(
            f"""
            DELETE {{ ?s ?p ?o }} WHERE {{ GRAPH {graph} {{ ?s ?p ?o }}
                FILTER NOT EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (?g != {graph}) }} }} ;
            DROP SILENT GRAPH {graph} ;
            DELETE {{ {graph} <{PG.batchState}> ?state }} WHERE {{ {graph} <{PG.batchState}> ?state }} ;
            INSERT DATA {{ {graph} <{PG.batchState}> <{PG.reverted}> ; <{PG.revertedAt}> {now} ;
                <{PG.reviewedBy}> {agent} . {agent} a <{PROV.Agent}> ; <{RDFS.label}> {rdflib.Literal(actor).n3()} }} ;
            {_change_update("reverted", actor, batch_iri(batch_id))}""",
            timeout=max(public.timeout, 600.0),
        )
    if batch.get("staged", True):
        record = {k: v for k, v in batch.items() if k != "iri"}
        record.update(state="reverted", reverted=stamp)
        _history(record, actor, "reverted")
        await _save_record(staging, record)
    log.info("batch %s reverted by %s", batch_id, actor)
    return await get_batch(public, staging, batch_id)
