"""Curators' use cases: read and validate RDF files, and add them to the store as an accepted batch with provenance.

A batch is its own named graph (``pgid:batch/{id}``); its triples are also written to the default graph, which
is what public queries see, and it is described with PROV-O in the default graph. The whole batch — both
copies and the description — goes to the engine in one Graph Store request, which the engine applies as one
transaction: the store holds all of it or none of it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator, Callable, Iterable, Sequence

import pyoxigraph as ox
import rdflib

from posgraph import formats
from posgraph.engine import Engine
from posgraph.errors import BadInput, NotConformant, QuerySyntaxError, UnsupportedMediaType
from posgraph.guard import refuse_staging, refuse_unsafe
from posgraph.namespaces import (DCTERMS, ONTOLOGY_GRAPH, PG, PGID, PROV, RDF, RDFS, STAGING, XSD, batch_iri,
                                 sparql_prologue)
from posgraph.validation import ValidationReport, Validator

__all__ = ["ParsedFile", "LoadResult", "read_files", "validate_files", "load_batch", "ensure_bootstrapped",
           "SEED_BATCH_ID", "run_update", "write_graph", "delete_graph"]

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


def read_files(paths: Sequence[Path], *, on_bytes: Callable[[int], None] | None = None) -> list[ParsedFile]:
    """Parse every file completely before returning (so a syntax error anywhere means nothing is loaded).

    Raises RdfSyntaxError (file, line, column, message), UnsupportedMediaType, or BadInput for an unreadable file.
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
            parsed.append(ParsedFile(str(path), formats.read_quads(source, fmt, str(path),
                                                                  base_iri=Path(path).resolve().as_uri())))
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


def validate_files(validator: Validator, files: Iterable[ParsedFile]) -> ValidationReport:
    """Validate the union of the files' triples (files may refer to each other) and return the report."""
    graph = None
    for parsed in files:
        graph = formats.to_rdflib_graph(parsed.quads, graph)
    return validator.validate(graph if graph is not None else formats.to_rdflib_graph([]))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "anonymous"


def _batch_quads(triples: list[ox.Triple], *, batch_id: str, curator: str, label: str, digest: str,
                 shapes_version: str, now: datetime) -> list[ox.Quad]:
    graph = ox.NamedNode(batch_iri(batch_id))
    default = ox.DefaultGraph()
    quads = [ox.Quad(t.subject, t.predicate, t.object, default) for t in triples]
    quads += [ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples]
    agent = ox.NamedNode(f"{PGID}agent/{_slug(curator)}")
    nn, lit = ox.NamedNode, ox.Literal
    description = [
        (graph, nn(str(RDF.type)), nn(str(PG.Batch))),
        (graph, nn(str(RDF.type)), nn(str(PROV.Bundle))),
        (graph, nn(str(RDFS.label)), lit(label)),
        (graph, nn(str(PROV.wasAttributedTo)), agent),
        (graph, nn(str(PROV.generatedAtTime)), lit(now.isoformat(timespec="seconds"), datatype=nn(str(XSD.dateTime)))),
        (graph, nn(str(PG.batchState)), nn(str(PG.accepted))),
        (graph, nn(str(PG.tripleCount)), lit(str(len(triples)), datatype=nn(str(XSD.integer)))),
        (graph, nn(str(PG.contentHash)), lit(digest)),
        (graph, nn(str(PG.shapesVersion)), lit(shapes_version)),
        (agent, nn(str(RDF.type)), nn(str(PROV.Agent))),
        (agent, nn(str(RDFS.label)), lit(curator)),
    ]
    sources = {t.object for t in triples if t.predicate.value == str(PG.source)}
    description += [(graph, nn(str(PROV.hadPrimarySource)), s) for s in sorted(sources, key=str)]
    description += [(graph, nn(str(DCTERMS.modified)), lit(now.isoformat(timespec="seconds"),
                                                           datatype=nn(str(XSD.dateTime))))]
    return quads + [ox.Quad(s, p, o, default) for s, p, o in description]


async def _chunks(data: bytes, on_bytes: Callable[[int], None] | None) -> AsyncIterator[bytes]:
    for start in range(0, len(data), _CHUNK):
        chunk = data[start:start + _CHUNK]
        yield chunk
        if on_bytes:
            on_bytes(len(chunk))


async def find_batch_by_hash(engine: Engine, digest: str) -> str | None:
    """Return the IRI of an accepted batch whose content hash is ``digest``, or None."""
    rows = await engine.select(sparql_prologue(("pg",)) + "SELECT ?batch WHERE { ?batch a pg:Batch ; pg:contentHash "
                               + rdflib.Literal(digest).n3() + " ; pg:batchState pg:accepted } LIMIT 1")
    return str(rows[0]["batch"]) if rows else None


async def load_batch(engine: Engine, validator: Validator, files: Sequence[ParsedFile], *, curator: str,
                     label: str | None = None, batch_id: str | None = None, validate: bool = True,
                     on_upload: Callable[[int], None] | None = None) -> LoadResult:
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
    quads = _batch_quads(triples, batch_id=batch_id, curator=curator, digest=digest,
                         label=label or "Loaded from " + ", ".join(Path(f.source).name for f in files),
                         shapes_version=validator.shapes_version, now=now)
    body = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    await engine.add_quads(_chunks(body, on_upload), media_type="application/n-quads",
                           timeout=max(engine.timeout, 600.0))
    log.info("batch %s loaded by %s: %d triples", batch_id, curator, len(triples))
    return LoadResult(batch_id, batch_iri(batch_id), len(triples), False, report)


async def ensure_bootstrapped(engine: Engine, validator: Validator, ontology_files: Sequence[Path],
                              seed_files: Sequence[Path], *, seed: bool = True) -> list[str]:
    """Load the ontology (once, into its own graph and the default graph) and the seed batch into an empty store.

    Returns what was loaded (empty when the store was already set up). Safe to call on every start.
    """
    loaded = []
    if not await engine.ask(f"ASK {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s ?p ?o }} }}"):
        triples = [ox.Triple(q.subject, q.predicate, q.object) for f in read_files(ontology_files) for q in f.quads]
        graph = ox.NamedNode(str(ONTOLOGY_GRAPH))
        quads = [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples for g in (ox.DefaultGraph(), graph)]
        await engine.add_quads(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
        loaded.append("ontology")
    if seed and not await engine.ask(f"ASK {{ <{batch_iri(SEED_BATCH_ID)}> ?p ?o }}"):
        result = await load_batch(engine, validator, read_files(seed_files), curator="posgraph seed",
                                  label="Seed data: the July 2025 Istanbul offer article", batch_id=SEED_BATCH_ID)
        loaded.append(f"seed ({result.triples} triples)")
    return loaded


# ------------------------------------------------------------------------------------------ direct writes
def _refuse_managed_graph(graph: str | None) -> None:
    if graph is None:
        return
    if graph.startswith(str(STAGING)) or graph.startswith(f"{PGID}batch/") or graph == str(ONTOLOGY_GRAPH):
        raise BadInput(f"graph <{graph}> is managed by posgraph (batches, staging, ontology); "
                       "change it through a curation batch instead")


async def run_update(engine: Engine, text: str, *, using_graphs: Sequence[str] = (),
                     using_named_graphs: Sequence[str] = (), timeout: float | None = None) -> None:
    """Run a SPARQL update as one transaction, refusing LOAD, SERVICE and staging graphs.

    Raises QueryRefused, QuerySyntaxError or an engine error; on any error the engine has changed nothing.
    """
    if not text.strip():
        raise QuerySyntaxError("empty update")
    refuse_unsafe(text, update=True)
    refuse_staging(text, list(using_graphs) + list(using_named_graphs))
    await engine.update(text, using_graphs=using_graphs, using_named_graphs=using_named_graphs, timeout=timeout)


async def write_graph(engine: Engine, method: str, graph: str | None, body: bytes, media_type: str, *,
                      timeout: float | None = None) -> tuple[int, int]:
    """Replace (PUT) or add to (POST) one graph with a client's RDF body; return (engine status, triples).

    The body is parsed completely first (RdfSyntaxError with line and column; RDF/XML and quad formats are
    refused with UnsupportedMediaType), so the engine only ever receives well-formed N-Triples.
    """
    _refuse_managed_graph(graph)
    fmt = formats.format_for_media_type(media_type)
    if not fmt.untrusted_ok or fmt.quads:
        raise UnsupportedMediaType(f"send a graph as Turtle or N-Triples, not {fmt.media_type}")
    quads = formats.read_quads(body, fmt, "request body")
    payload = formats.serialize_quads(quads, formats.format_for_media_type("application/n-triples"))
    status = await engine.graph_write(method, graph, payload, timeout=timeout)
    return status, len(quads)


async def delete_graph(engine: Engine, graph: str | None, *, timeout: float | None = None) -> None:
    """Delete one graph (None: empty the default graph); raises NotFound or BadInput for a managed graph."""
    _refuse_managed_graph(graph)
    await engine.graph_delete(graph, timeout=timeout)
