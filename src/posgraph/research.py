"""Researchers' use cases: run SPARQL queries (ad hoc or saved) against the engine, refusing unsafe ones,
negotiating the answer's format, capping result rows, and describing the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import rdflib

from posgraph import formats
from posgraph.catalog import Catalog
from posgraph.engine import Engine
from posgraph.errors import QuerySyntaxError
from posgraph.guard import query_form, refuse_staging, refuse_unsafe
from posgraph.namespaces import DCTERMS, FORMATS, RDF, SD, VOID, XSD

__all__ = ["QueryAnswer", "run_query", "run_saved", "service_description", "read_graph"]


@dataclass(frozen=True)
class QueryAnswer:
    """A complete answer: body, media type, and whether rows beyond the cap were dropped."""

    content: bytes
    media_type: str
    truncated: bool = False


async def run_query(
    engine: Engine,
    text: str,
    *,
    accept: str | None = None,
    default_graphs: Iterable[str] = (),
    named_graphs: Iterable[str] = (),
    timeout: float | None = None,
    max_rows: int | None = None,
    context: dict | None = None,
    context_url: str | None = None,
) -> QueryAnswer:
    """Check and run a read-only query; return the complete answer in the negotiated format.

    ``accept`` is an HTTP Accept header (q-values honoured). JSON-LD answers to CONSTRUCT/DESCRIBE are compacted
    with ``context``. SELECT answers are cut to ``max_rows`` rows (``truncated`` says so).
    Raises QueryRefused, QuerySyntaxError, NotAcceptable, EngineTimeout, EngineUnavailable or EngineError.
    """
    if not text.strip():
        raise QuerySyntaxError("empty query")
    default_graphs, named_graphs = list(default_graphs), list(named_graphs)
    refuse_unsafe(text)
    refuse_staging(text, default_graphs + named_graphs)
    try:
        form = query_form(text)
    except QuerySyntaxError:
        form = "select"  # let the engine's parser say where the query goes wrong
    media_type = formats.result_media_type(form, accept)
    if media_type == formats.JSON_LD and context is None:
        media_type = formats.TURTLE
    engine_type = formats.N_TRIPLES if media_type == formats.JSON_LD else media_type
    answer = await engine.query(
        text, accept=engine_type, default_graphs=default_graphs, named_graphs=named_graphs, timeout=timeout
    )
    content, truncated = answer.content, False
    if form == "select" and max_rows is not None:
        content, truncated = formats.truncate_results(content, media_type, max_rows)
    if media_type == formats.JSON_LD:
        content = formats.ntriples_to_jsonld(content, context, context_url)
    return QueryAnswer(content, media_type, truncated)


async def run_saved(
    engine: Engine,
    catalog: Catalog,
    name: str,
    params: Mapping[str, str],
    *,
    accept: str | None = None,
    timeout: float | None = None,
    max_rows: int | None = None,
    context: dict | None = None,
    context_url: str | None = None,
) -> QueryAnswer:
    """Bind ``params`` into saved query ``name`` and run it; raises NotFound, InvalidParameter or as run_query."""
    return await run_query(
        engine,
        catalog.get(name).bind(params),
        accept=accept,
        timeout=timeout,
        max_rows=max_rows,
        context=context,
        context_url=context_url,
    )


async def service_description(engine: Engine, endpoint: str, *, timeout: float | None = None) -> rdflib.Graph:
    """Return a SPARQL 1.1 Service Description of ``endpoint`` with a VoID description of its default dataset."""
    rows = await engine.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", timeout=timeout)
    graph = rdflib.Graph()
    for prefix, namespace in (("sd", SD), ("void", VOID), ("dcterms", DCTERMS), ("formats", FORMATS)):
        graph.bind(prefix, namespace)
    service, dataset, default = rdflib.URIRef(endpoint), rdflib.BNode("dataset"), rdflib.BNode("default")
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, service))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    for fmt in (
        "SPARQL_Results_JSON",
        "SPARQL_Results_XML",
        "SPARQL_Results_CSV",
        "SPARQL_Results_TSV",
        "Turtle",
        "N-Triples",
        "JSON-LD",
        "RDF_XML",
    ):
        graph.add((service, SD.resultFormat, FORMATS[fmt]))
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, RDF.type, VOID.Dataset))
    graph.add((dataset, DCTERMS.title, rdflib.Literal("posgraph: negotiation positions", lang="en")))
    graph.add((dataset, VOID.sparqlEndpoint, service))
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((default, RDF.type, SD.Graph))
    graph.add((default, VOID.triples, rdflib.Literal(int(rows[0]["n"]), datatype=XSD.integer)))
    graph.add((dataset, VOID.triples, rdflib.Literal(int(rows[0]["n"]), datatype=XSD.integer)))
    return graph


async def read_graph(
    engine: Engine,
    graph: str | None,
    *,
    accept: str | None = None,
    timeout: float | None = None,
    context: dict | None = None,
    context_url: str | None = None,
) -> QueryAnswer:
    """Graph Store GET of one published graph (None: the default graph) in the negotiated RDF format.

    Raises QueryRefused for a staging graph, NotFound for a graph the store lacks, NotAcceptable.
    """
    if graph is not None:
        refuse_staging("", [graph])
    media_type = formats.negotiate(
        accept,
        formats.GRAPH_MEDIA_TYPES
        if context is not None
        else formats.GRAPH_MEDIA_TYPES[:1] + formats.GRAPH_MEDIA_TYPES[2:],
    )
    engine_type = formats.N_TRIPLES if media_type == formats.JSON_LD else media_type
    answer = await engine.graph_get(graph, accept=engine_type, timeout=timeout)
    content = answer.content
    if media_type == formats.JSON_LD:
        content = formats.ntriples_to_jsonld(content, context, context_url)
    return QueryAnswer(content, media_type)
