"""Researchers' use cases: run SPARQL queries (ad hoc or saved) against the engine, refusing unsafe ones,
negotiating the answer's format, capping result rows, and describing the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import rdflib
from cachetools import LRUCache

from posgraph import answer_limits, formats, guard, workers
from posgraph.catalog import Catalog
from posgraph.engine import Engine
from posgraph.errors import BadInput, PayloadTooLarge, QueryRefused, QuerySyntaxError, WorkerFailed, WorkTimeout
from posgraph.namespaces import DCTERMS, FORMATS, RDF, SD, VOID, XSD

__all__ = [
    "QueryAnswer",
    "check_query",
    "run_query",
    "run_saved",
    "service_description",
    "read_graph",
    "prepare_query",
    "run_for_output",
]

# Verdicts on query texts already checked (their form), so a repeated query is not parsed again.
_CHECKED: LRUCache = LRUCache(maxsize=4096)


async def check_query(
    text: str,
    dataset_iris: Iterable[str] = (),
    *,
    pool: workers.WorkerPool | None = None,
    max_bytes: int | None = None,
) -> str:
    """Parse and check a query (in ``pool``'s worker processes) and return its form ("select", "ask", "construct",
    "describe").

    Raises PayloadTooLarge (longer than ``max_bytes``), QuerySyntaxError (empty, or does not parse, or too nested to
    check), QueryRefused (SERVICE, a staging graph, or too costly to check within the pool's time limit).
    """
    if not text.strip():
        raise QuerySyntaxError("empty query")
    if max_bytes is not None and len(text.encode("utf-8")) > max_bytes:
        raise PayloadTooLarge(f"the query is longer than {max_bytes} bytes")
    key = (text, tuple(dataset_iris))
    form = _CHECKED.get(key)
    if form is None:
        try:
            form = await workers.run(pool, guard.check_query, text, key[1])
        except WorkTimeout:
            raise QueryRefused("the query is too costly to check within the time allowed: simplify it") from None
        except WorkerFailed:
            raise QuerySyntaxError("the query could not be checked (too large or too deeply nested)") from None
        _CHECKED[key] = form
    return form


@dataclass(frozen=True)
class QueryAnswer:
    """A complete answer: body, media type, and whether it was cut at the row or byte cap."""

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
    guard_pool: workers.WorkerPool | None = None,
    work_pool: workers.WorkerPool | None = None,
    max_query_bytes: int | None = None,
    max_answer_bytes: int | None = None,
) -> QueryAnswer:
    """Check (see ``check_query``) and run a read-only query; return the complete answer in the negotiated format.

    ``accept`` is an HTTP Accept header (q-values honoured). The query is checked in ``guard_pool``; JSON-LD answers
    to CONSTRUCT/DESCRIBE are compacted with ``context`` in ``work_pool``. SELECT answers are cut to ``max_rows``
    rows and, between rows, to ``max_answer_bytes`` bytes of the engine's answer, N-Triples answers to
    ``max_answer_bytes`` between lines (``truncated`` says so); other answers larger than ``max_answer_bytes`` are
    refused with AnswerTooLarge.
    Raises PayloadTooLarge, AnswerTooLarge, QueryRefused, QuerySyntaxError, NotAcceptable, EngineTimeout,
    EngineUnavailable or EngineError.
    """
    default_graphs, named_graphs = list(default_graphs), list(named_graphs)
    form = await check_query(text, default_graphs + named_graphs, pool=guard_pool, max_bytes=max_query_bytes)
    media_type = formats.result_media_type(form, accept)
    if media_type == formats.JSON_LD and context is None:
        media_type = formats.TURTLE
    engine_type = formats.N_TRIPLES if media_type == formats.JSON_LD else media_type
    limiter = answer_limits.limiter_for(
        form, media_type, max_rows=max_rows, max_bytes=max_answer_bytes, read_as=engine_type
    )
    answer = await engine.query(
        text,
        accept=engine_type,
        default_graphs=default_graphs,
        named_graphs=named_graphs,
        timeout=timeout,
        limiter=limiter,
    )
    content = answer.content
    if media_type == formats.JSON_LD:
        content = await workers.run(work_pool, formats.ntriples_to_jsonld, content, context, context_url)
    return QueryAnswer(content, media_type, answer.truncated)


async def run_saved(
    engine: Engine,
    catalog: Catalog,
    name: str,
    params: Mapping[str, str],
    *,
    accept: str | None = None,
    default_graphs: Iterable[str] = (),
    named_graphs: Iterable[str] = (),
    timeout: float | None = None,
    max_rows: int | None = None,
    context: dict | None = None,
    context_url: str | None = None,
    guard_pool: workers.WorkerPool | None = None,
    work_pool: workers.WorkerPool | None = None,
    max_answer_bytes: int | None = None,
) -> QueryAnswer:
    """Bind ``params`` into saved query ``name`` and run it (over the dataset ``default_graphs`` and
    ``named_graphs`` name, if any); raises NotFound, InvalidParameter (also for a name the query does not take) or
    as run_query."""
    return await run_query(
        engine,
        catalog.get(name).bind(params),
        default_graphs=default_graphs,
        named_graphs=named_graphs,
        guard_pool=guard_pool,
        work_pool=work_pool,
        accept=accept,
        timeout=timeout,
        max_rows=max_rows,
        max_answer_bytes=max_answer_bytes,
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
    max_answer_bytes: int | None = None,
    work_pool: workers.WorkerPool | None = None,
) -> QueryAnswer:
    """Graph Store GET of one published graph (None: the default graph) in the negotiated RDF format.

    N-Triples is cut to ``max_answer_bytes`` between lines (``truncated`` says so).
    Raises QueryRefused for a staging graph, NotFound for a graph the store lacks, NotAcceptable, PayloadTooLarge
    (another format over ``max_answer_bytes``).
    """
    if graph is not None:
        guard.refuse_staging_graphs([graph])
    media_type = formats.negotiate(
        accept,
        formats.GRAPH_MEDIA_TYPES
        if context is not None
        else formats.GRAPH_MEDIA_TYPES[:1] + formats.GRAPH_MEDIA_TYPES[2:],
    )
    engine_type = formats.N_TRIPLES if media_type == formats.JSON_LD else media_type
    limiter = answer_limits.limiter_for("graph", media_type, max_bytes=max_answer_bytes, read_as=engine_type)
    answer = await engine.graph_get(graph, accept=engine_type, timeout=timeout, limiter=limiter)
    content = answer.content
    if media_type == formats.JSON_LD:
        content = await workers.run(work_pool, formats.ntriples_to_jsonld, content, context, context_url)
    return QueryAnswer(content, media_type, answer.truncated)


# ------------------------------------------------------------------------------------------ the command line
def _looks_like_a_name(argument: str) -> bool:
    # SPARQL text always holds a space or a brace; a saved query's name neither.
    return " " not in argument.strip() and "{" not in argument


async def prepare_query(catalog: Catalog, argument: str, params: Mapping[str, str], *, is_text: bool = False) -> str:
    """Return the checked SPARQL text of a query given on the command line: saved query ``argument`` bound with
    ``params`` when it is a name (one word without braces; never when ``is_text``), else ``argument`` itself.

    Checked before any engine is reached, so a bad query fails fast. Raises BadInput (``params`` with SPARQL text),
    NotFound (no such saved query), InvalidParameter, or as ``check_query``.
    """

    if not is_text and _looks_like_a_name(argument):
        text = catalog.get(argument).bind(params)
    elif params:
        raise BadInput("--param applies to saved queries only")
    else:
        text = argument
    await check_query(text)
    return text


async def run_for_output(engine: Engine, text: str, results_type: str, *, timeout: float | None = None) -> QueryAnswer:
    """Run a query whose complete answer goes to a terminal or file and return it: SELECT and ASK results as
    ``results_type`` (a SPARQL results media type, e.g. SPARQL JSON or CSV), CONSTRUCT and DESCRIBE graphs as Turtle;
    ``media_type`` says which. No row or byte cap: the command line's user is trusted. Raises as ``run_query``.
    """
    # One Accept header covers both kinds of form: results types are not graph types, and the reverse.
    return await run_query(engine, text, accept=f"{results_type}, {formats.TURTLE};q=0.5", timeout=timeout)
