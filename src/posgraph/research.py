"""Researchers' use cases: run SPARQL queries (ad hoc or saved) against the engine, refusing unsafe ones,
negotiating the answer's format, capping result rows, and describing the service.

The guard works on the query's tokens with comments and string literals taken out, so a keyword hidden in a string
neither trips it nor slips past it. It costs microseconds, unlike a full parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping
from urllib.parse import urljoin

import rdflib

from posgraph import formats
from posgraph.catalog import Catalog
from posgraph.engine import Engine
from posgraph.errors import QueryRefused, QuerySyntaxError
from posgraph.namespaces import DCTERMS, FORMATS, RDF, SD, STAGING, VOID, XSD

__all__ = ["QueryAnswer", "refuse_unsafe", "refuse_staging", "query_form", "run_query", "run_saved",
           "service_description"]

_COMMENTS_AND_STRINGS = re.compile(r"""
      \#[^\n\r]*                                   # comment
    | '''(?:[^'\\]|\\.|'(?!''))*'''                # long strings
    | \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
    | '(?:[^'\\\n\r]|\\.)*'                        # short strings
    | "(?:[^"\\\n\r]|\\.)*"
""", re.VERBOSE | re.DOTALL)
# An IRI reference: an operator '<' is followed by a space or never closed before '{', so no keyword hides in here.
_IRI = re.compile(r"""<([^<>"{}|^`\\\x00-\x20]*)>""")
_KEYWORD = r"(?<![\w?$:]){}(?![\w:-])"
_FORBIDDEN_QUERY = {"SERVICE": "SERVICE (federated query) is not allowed on this endpoint"}
_FORBIDDEN_UPDATE = {"LOAD": "LOAD is not allowed: send the data in the request body instead",
                     **_FORBIDDEN_QUERY}
_FORM = re.compile(r"(?<![\w?$:])(SELECT|ASK|CONSTRUCT|DESCRIBE)(?![\w:-])", re.IGNORECASE)
_PREFIX_DECL = re.compile(r"(?i)(?<![\w?$:])PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^<>\s]*)>")
_BASE_DECL = re.compile(r"(?i)(?<![\w?$:])BASE\s*<([^<>\s]*)>")
_PREFIXED_NAME = re.compile(r"(?<![\w?$:<])([A-Za-z][\w.-]*)?:([\w.%/-]*)")


@dataclass(frozen=True)
class QueryAnswer:
    """A complete answer: body, media type, and whether rows beyond the cap were dropped."""

    content: bytes
    media_type: str
    truncated: bool = False


def _without_comments_and_strings(text: str) -> str:
    return _COMMENTS_AND_STRINGS.sub(" ", text)


def _code_only(text: str) -> str:
    return _IRI.sub(" ", _without_comments_and_strings(text))


def refuse_unsafe(text: str, *, update: bool = False) -> None:
    """Raise QueryRefused if the query (or update) uses SERVICE, or the update uses LOAD; return None otherwise."""
    code = _code_only(text)
    for keyword, reason in (_FORBIDDEN_UPDATE if update else _FORBIDDEN_QUERY).items():
        if re.search(_KEYWORD.format(keyword), code, re.IGNORECASE):
            raise QueryRefused(reason)


def _is_staging(iri: str) -> bool:
    return iri.startswith(str(STAGING))


def refuse_staging(text: str, dataset_iris: Iterable[str] = ()) -> None:
    """Raise QueryRefused if the query text (full, relative or prefixed IRIs) or a dataset parameter names a
    staging graph; staging graphs hold unreviewed batches and are never public."""
    for iri in dataset_iris:
        if _is_staging(iri):
            raise QueryRefused(f"graph <{iri}> is a staging graph of an unreviewed batch and is not public")
    code = _without_comments_and_strings(text)
    base = _BASE_DECL.search(code)
    for match in _IRI.finditer(code):
        iri = urljoin(base.group(1), match.group(1)) if base else match.group(1)
        if _is_staging(iri):
            raise QueryRefused(f"the query names <{iri}>: staging graphs of unreviewed batches are not public")
    prefixes = {m.group(1) or "": m.group(2) for m in _PREFIX_DECL.finditer(code)}
    for match in _PREFIXED_NAME.finditer(_IRI.sub(" ", code)):
        namespace = prefixes.get(match.group(1) or "")
        if namespace is not None and _is_staging(namespace + match.group(2)):
            raise QueryRefused(f"the query names {match.group(0)}: staging graphs of unreviewed batches "
                               "are not public")


def query_form(text: str) -> str:
    """Return "select", "ask", "construct" or "describe"; raises QuerySyntaxError if none is found."""
    match = _FORM.search(_code_only(text))
    if match is None:
        raise QuerySyntaxError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE found")
    return match.group(1).lower()


async def run_query(engine: Engine, text: str, *, accept: str | None = None, default_graphs: Iterable[str] = (),
                    named_graphs: Iterable[str] = (), timeout: float | None = None, max_rows: int | None = None,
                    context: dict | None = None, context_url: str | None = None) -> QueryAnswer:
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
    answer = await engine.query(text, accept=engine_type, default_graphs=default_graphs,
                                named_graphs=named_graphs, timeout=timeout)
    content, truncated = answer.content, False
    if form == "select" and max_rows is not None:
        content, truncated = formats.truncate_results(content, media_type, max_rows)
    if media_type == formats.JSON_LD:
        content = formats.ntriples_to_jsonld(content, context, context_url)
    return QueryAnswer(content, media_type, truncated)


async def run_saved(engine: Engine, catalog: Catalog, name: str, params: Mapping[str, str], *,
                    accept: str | None = None, timeout: float | None = None, max_rows: int | None = None,
                    context: dict | None = None, context_url: str | None = None) -> QueryAnswer:
    """Bind ``params`` into saved query ``name`` and run it; raises NotFound, InvalidParameter or as run_query."""
    return await run_query(engine, catalog.get(name).bind(params), accept=accept, timeout=timeout,
                           max_rows=max_rows, context=context, context_url=context_url)


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
    for fmt in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                "Turtle", "N-Triples", "JSON-LD", "RDF_XML"):
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
