"""Researchers' use cases: run SPARQL queries (ad hoc or saved) against the engine, refusing unsafe ones,
negotiating the answer's format, capping result rows, and describing the service."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, replace
from functools import partial
from typing import Awaitable, Callable, Iterable, Mapping, Sequence
from xml.etree import ElementTree

import rdflib
from cachetools import LRUCache

from posgraph import answer_limits, formats, guard, metrics, workers
from posgraph.catalog import PAGE_PARAMS, Catalog, Page, SavedQuery
from posgraph.engine import Engine
from posgraph.errors import BadInput, PayloadTooLarge, QueryRefused, QuerySyntaxError, WorkerFailed, WorkTimeout
from posgraph.namespaces import DCTERMS, FORMATS, RDF, SD, VOID, XSD

__all__ = [
    "QueryAnswer",
    "check_query",
    "run_query",
    "run_saved",
    "select_saved",
    "service_description",
    "read_graph",
    "prepare_query",
    "run_for_output",
]

# Reads a page of keys elsewhere than in the engine (the collections' derived index): called with a collection's
# name, its filter values, the offset, the limit and whether newest first; None when it cannot answer for the current
# data.
KeyPages = Callable[[str, Mapping[str, rdflib.term.Node], int, int, bool], Awaitable[list[tuple[str, str]] | None]]

# Reads the rows of an aggregate a saved query stands on elsewhere than in the engine (the collections' derived
# index): called with the fact's name and its filter values per combination; None when it cannot answer for the
# current data.
FactRows = Callable[[str, Sequence[Mapping[str, rdflib.term.Node]]], Awaitable[list[tuple] | None]]

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
    """A complete answer: body, media type, and whether it was cut at the row or byte cap. A page of a saved
    query's answer also has ``next_cursor`` (the cursor of the next page; None on the last) and, on its last page,
    ``total`` (rows of the whole answer, for a query paged by rows)."""

    content: bytes
    media_type: str
    truncated: bool = False
    next_cursor: str | None = None
    total: int | None = None


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
    checked_form: str | None = None,
) -> QueryAnswer:
    """Check (see ``check_query``) and run a read-only query; return the complete answer in the negotiated format.
    ``checked_form``: the form of a text whose structure was checked already (only terms were bound into it
    since): it is not parsed again, its dataset is still checked.

    ``accept`` is an HTTP Accept header (q-values honoured). The query is checked in ``guard_pool``; JSON-LD answers
    to CONSTRUCT/DESCRIBE are compacted with ``context`` in ``work_pool``. SELECT answers are cut to ``max_rows``
    rows and, between rows, to ``max_answer_bytes`` bytes of the engine's answer, N-Triples answers to
    ``max_answer_bytes`` between lines (``truncated`` says so); other answers larger than ``max_answer_bytes`` are
    refused with AnswerTooLarge.
    Raises PayloadTooLarge, AnswerTooLarge, QueryRefused, QuerySyntaxError, NotAcceptable, EngineTimeout,
    EngineUnavailable or EngineError.
    """
    default_graphs, named_graphs = list(default_graphs), list(named_graphs)
    if checked_form is None:
        form = await check_query(text, default_graphs + named_graphs, pool=guard_pool, max_bytes=max_query_bytes)
    else:
        guard.refuse_staging_graphs(default_graphs + named_graphs)
        form = checked_form
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
    params: Mapping[str, str | Sequence[str]],
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
    key_pages: KeyPages | None = None,
    facts: FactRows | None = None,
) -> QueryAnswer:
    """Bind ``params`` into saved query ``name`` and run it (over the dataset ``default_graphs`` and
    ``named_graphs`` name, if any). A paged query answers the page ``params`` ask for (``limit``, and ``offset`` or
    ``cursor``) with ``next_cursor`` and ``total`` set (see QueryAnswer); ``truncated`` then means a cap cut the
    page, not that the answer goes on. A query whose keys are a collection's (``#+ keys:``) over the published
    dataset takes its page of keys from ``key_pages`` when that can answer, else from the engine (its subquery
    alone), and then the page's rows (so the engine reads only those): the same page either way. Likewise a query
    standing on an aggregate (``#+ facts:``) takes its rows from ``facts`` when that can answer (in place of the
    subquery that works them out), else the engine works them out. Raises NotFound,
    InvalidParameter (also for a name the query does not take, a bad limit or a cursor of another query or other
    parameters) or as run_query."""
    saved = catalog.get(name)
    default_graphs, named_graphs = list(default_graphs), list(named_graphs)
    # A cursor holds for one dataset too: the same query over other graphs is another answer.
    scope = [f"default-graph-uri={g}" for g in default_graphs] + [f"named-graph-uri={g}" for g in named_graphs]
    paging = saved.paging
    page = saved.page(params, scope=scope) if paging is not None else None
    by_rows = paging is not None and paging.key is None
    # The aggregate's rows, when read elsewhere; then the text is checked with none (cached by its text) and bound
    # with them unparsed: they are terms, which cannot change its structure.
    fact_rows, form = None, None
    if saved.facts is not None and not default_graphs + named_graphs:
        unread = saved.bind(params, scope=scope, facts=[])  # the parameters checked before the index is asked
        fact_rows = await _fact_rows(engine, saved, name, params, page, facts)
        if fact_rows is not None:
            form = await check_query(unread, pool=guard_pool)

    def bind(**how) -> str:
        return saved.bind(params, scope=scope, facts=fact_rows, **how)

    if page is not None and saved.keys is not None and not default_graphs + named_graphs:
        # A page of keys first (one more than the page: whether another follows), then the page's rows.
        check = partial(check_query, pool=guard_pool)
        keys = await _page_keys(engine, saved, name, params, scope, page, key_pages, timeout, check)
        # The text's structure is checked once per set of parameters (with no keys: cached by its text); the keys
        # are terms bound into it, so a page's text is not parsed again (parsing a VALUES block of a page of IRIs
        # would cost more than the page).
        form = await check_query(saved.bind(params, scope=scope, keys=[], facts=fact_rows and []), pool=guard_pool)
        answer = await run_query(
            engine,
            bind(keys=keys[: page.limit]),
            checked_form=form,
            guard_pool=guard_pool,
            work_pool=work_pool,
            accept=accept,
            timeout=timeout,
            max_rows=max_rows,
            max_answer_bytes=max_answer_bytes,
            context=context,
            context_url=context_url,
        )
        if len(keys) > page.limit and not answer.truncated and answer.media_type in formats.RESULT_MEDIA_TYPES:
            return replace(answer, next_cursor=saved.cursor(params, page.offset + page.limit, scope=scope))
        return answer
    if page is not None and by_rows:
        # One row more than the page, cut by the row cap: whether the answer goes on, without a second query.
        text = bind(extra=1)
        cap = page.limit if max_rows is None else min(page.limit, max_rows)
    else:
        text, cap = bind(), max_rows
    answer = await run_query(
        engine,
        text,
        checked_form=form,
        default_graphs=default_graphs,
        named_graphs=named_graphs,
        guard_pool=guard_pool,
        work_pool=work_pool,
        accept=accept,
        timeout=timeout,
        max_rows=cap,
        max_answer_bytes=max_answer_bytes,
        context=context,
        context_url=context_url,
    )
    if page is None or answer.media_type not in formats.RESULT_MEDIA_TYPES:
        return answer
    rows, keys = _count_rows(answer.content, answer.media_type, paging.key)
    if by_rows:
        if not answer.truncated:
            return replace(answer, total=page.offset + rows)
        # Cut at the page's own size: the extra row proved there is more, and nothing was lost. Cut shorter (by
        # the row or byte cap), the next page starts after the last row sent.
        following = saved.cursor(params, page.offset + rows, scope=scope) if rows else None
        return replace(answer, truncated=rows < page.limit, next_cursor=following)
    # Paged by a key (a subquery cuts up to limit keys, each with all its rows): a full page may have a next one.
    if keys >= page.limit and not answer.truncated:
        return replace(answer, next_cursor=saved.cursor(params, page.offset + page.limit, scope=scope))
    return answer


async def select_saved(
    engine: Engine,
    catalog: Catalog,
    name: str,
    params: Mapping[str, str | Sequence[str]],
    *,
    timeout: float | None = None,
    key_pages: KeyPages | None = None,
    facts: FactRows | None = None,
) -> list[dict[str, rdflib.term.Node]]:
    """Bind ``params`` into saved SELECT query ``name`` and return its rows (one page of a paged query) as
    ``Engine.select`` does: for posgraph's own pages, which read a saved query's answer rather than send it. A
    keyed query's keys and an aggregate's rows come from ``key_pages`` and ``facts`` when they can answer, as in
    ``run_saved`` (the same rows either way). Not checked by the guard: the text is a saved query's, with typed
    terms bound into it. Raises NotFound, InvalidParameter, or what the engine raises."""
    saved = catalog.get(name)
    page = saved.page(params) if saved.paging is not None else None
    fact_rows = None
    if saved.facts is not None:
        saved.bind(params, facts=[])  # the parameters checked before the index is asked
        fact_rows = await _fact_rows(engine, saved, name, params, page, facts)
    if page is not None and saved.keys is not None:
        keys = await _page_keys(engine, saved, name, params, [], page, key_pages, timeout)
        text = saved.bind(params, facts=fact_rows, keys=keys[: page.limit])
    else:
        text = saved.bind(params, facts=fact_rows)
    return await engine.select(text, timeout=timeout)


async def _fact_rows(
    engine: Engine, saved: SavedQuery, name: str, params: Mapping, page: Page | None, facts: FactRows | None
) -> list[tuple] | None:
    """The rows of the aggregate ``saved`` stands on, read by ``facts``; None when that cannot answer or the
    engine does not answer a text with them bound in as it answers the subquery (its profile's
    ``bound_aggregates``): then the query works them out."""
    rows = None
    if facts is not None and engine.profile.bound_aggregates:
        rows = await facts(saved.facts.fact, saved.facts.combinations(saved.params, params, page))
    metrics.fact_reads.labels(query=name, source="engine" if rows is None else "index").inc()
    return rows


async def _page_keys(
    engine: Engine,
    saved: SavedQuery,
    name: str,
    params: Mapping,
    scope: list[str],
    page: Page,
    key_pages: KeyPages | None,
    timeout: float | None,
    check: Callable[[str], Awaitable[object]] | None = None,
) -> list[tuple[str, str]]:
    """A keyed query's page of keys (one more than the page: whether another follows), from ``key_pages`` when it
    can answer, else cut by the engine with the query's own subquery (its text passed to ``check`` first)."""
    keys, source = None, "index"
    filters = saved.keys.terms(saved.params, params)
    if key_pages is not None and filters is not None:
        newest = saved.keys.newest_first(params)
        keys = await key_pages(saved.keys.collection, filters, page.offset, page.limit + 1, newest)
    if keys is None:
        if check is not None:
            # Checked as the first page (cached by its text): pages differ only in the integers of LIMIT and OFFSET.
            unpaged = {k: v for k, v in params.items() if k not in PAGE_PARAMS}
            await check(saved.bind(unpaged, scope=scope, keys_only=True))
        rows = await engine.select(saved.bind(params, scope=scope, extra=1, keys_only=True), timeout=timeout)
        keys, source = [(str(row[saved.paging.key]), str(row["key"])) for row in rows], "engine"
    metrics.key_pages.labels(query=name, source=source).inc()
    return keys


def _count_rows(content: bytes, media_type: str, key: str | None) -> tuple[int, int]:
    """The rows of a SELECT results document, and how many distinct values of ``key`` (variables joined by ``+``)
    they bind (0 without a key)."""
    base = media_type.split(";")[0].strip()
    names = key.split("+") if key else []
    values: list[tuple]
    if base == formats.SPARQL_JSON:
        bindings = json.loads(content)["results"]["bindings"]
        values = [tuple((row.get(n) or {}).get("value") for n in names) for row in bindings]
    elif base == formats.SPARQL_XML:
        ns = "{http://www.w3.org/2005/sparql-results#}"
        values = []
        for result in ElementTree.fromstring(content).iter(f"{ns}result"):
            bound = {b.get("name"): ElementTree.tostring(b) for b in result.iter(f"{ns}binding")}
            values.append(tuple(bound.get(n) for n in names))
    else:
        text = content.decode("utf-8")
        # TSV writes no raw line break inside a term; CSV quotes fields that hold one.
        if base == formats.CSV:
            table = list(csv.reader(io.StringIO(text)))
        else:
            table = [line.split("\t") for line in text.splitlines()]
        header = [h.lstrip("?") for h in table[0]] if table else []
        columns = [header.index(n) if n in header else None for n in names]
        values = [tuple(row[c] if c is not None and c < len(row) else None for c in columns) for row in table[1:]]
    return len(values), len({v for v in values if any(v)}) if key else 0


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
