"""The async client: :class:`Engine` speaks SPARQL 1.1 Protocol and Graph Store Protocol to one engine, as its
:class:`~posgraph.engine.profile.EngineProfile` says (see :mod:`posgraph.engine`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Mapping

import aiohttp
import pyoxigraph as ox
import rdflib

from posgraph.engine.answers import (
    _PATH,
    _RESULT_TYPES,
    SPARQL_JSON,
    _GraphTranslator,
    _normalise,
    _ox_term,
    _parse,
    _ResultsTranslator,
    _Translator,
)
from posgraph.engine.profile import EngineProfile
from posgraph.engine.virtuoso import (
    _FROM,
    _GRAPH_WORD,
    VIRTUOSO,
    _graphs_named_in,
    _operations,
    _plain_iri,
    _with_using,
    _without_blank_data,
    insert_update,
)
from posgraph.errors import (
    EngineError,
    EngineTimeout,
    EngineUnavailable,
    NotAcceptable,
    NotFound,
    QuerySyntaxError,
    UnsupportedMediaType,
)

if TYPE_CHECKING:  # pragma: no cover
    from posgraph.answer_limits import AnswerLimiter

__all__ = ["Engine", "EngineResponse", "PROFILES", "term_from_json"]

_MAX_ERROR_TEXT = 2000
# Oxigraph streams answers: when its own deadline (--timeout-s) fires after the 200 header went out, it appends
# this text to the body and ends the response cleanly. Such a body is incomplete, never a result.
_CANCELLED = b"The SPARQL operation has been cancelled"
_DUMP_PAGE = 10_000

log = logging.getLogger("posgraph.engine")

PROFILES: dict[str, EngineProfile] = {
    "oxigraph": EngineProfile("oxigraph", query_body=True),
    "generic": EngineProfile("generic"),
    "virtuoso": VIRTUOSO,
}


@dataclass(frozen=True)
class EngineResponse:
    """An engine answer: status, media type and the body (never a half-sent one); ``truncated`` when a limiter
    cut the body short (it is then still a whole document)."""

    status: int
    media_type: str
    content: bytes
    truncated: bool = False


def term_from_json(binding: Mapping[str, str]) -> rdflib.term.Node:
    """Convert one SPARQL 1.1 JSON results binding to an rdflib term."""
    kind, value = binding["type"], binding["value"]
    if kind == "uri":
        return rdflib.URIRef(value)
    if kind == "bnode":
        return rdflib.BNode(value)
    if "xml:lang" in binding:
        return rdflib.Literal(value, lang=binding["xml:lang"])
    datatype = binding.get("datatype")
    if datatype in (None, "http://www.w3.org/2001/XMLSchema#string"):
        return rdflib.Literal(value)
    return rdflib.Literal(value, datatype=rdflib.URIRef(datatype))


class Engine:
    """A SPARQL engine reached over HTTP at ``base_url``; use as an async context manager or call ``aclose``.

    Speaks HTTP with aiohttp: per request it costs less than half the CPU of httpx, which matters because every
    API request makes one or two engine requests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        profile: str | EngineProfile = "oxigraph",
        query_path: str | None = None,
        update_path: str | None = None,
        store_path: str | None = None,
        timeout: float = 30.0,
        max_connections: int = 64,
    ) -> None:
        """``profile`` is a name in :data:`PROFILES` or a profile; the paths, when given, replace its own. Raises
        ValueError for an unknown profile name."""
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ValueError(f"unknown engine profile {profile!r}: choose one of {', '.join(PROFILES)}")
            profile = PROFILES[profile]
        self.profile = profile
        base = base_url.rstrip("/")
        self.query_url = base + (query_path or profile.query_path)
        self.update_url = base + (update_path or profile.update_path)
        self.store_url = base + (store_path or profile.store_path)
        self.timeout = timeout
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop that will use it.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                trust_env=False,  # never route engine traffic through a proxy from the environment
                auto_decompress=False,
            )
        return self._session

    async def __aenter__(self) -> "Engine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def ping(self) -> bool:
        """Return True if the engine answers a trivial ASK within two seconds, False otherwise (never raises)."""
        try:
            response = await self._send(
                "POST", self.query_url, data={"query": "ASK {}"}, headers={"Accept": SPARQL_JSON}, timeout=2.0
            )
        except EngineError:
            return False
        return response.status == 200

    async def query(
        self,
        query: str,
        *,
        accept: str = SPARQL_JSON,
        default_graphs: Iterable[str] = (),
        named_graphs: Iterable[str] = (),
        timeout: float | None = None,
        limiter: AnswerLimiter | None = None,
    ) -> EngineResponse:
        """Run a SPARQL query and return the engine's answer: whole, or as ``limiter`` (fed the answer as it
        streams) returns it, with its ``truncated`` flag. Reading stops, and the connection is dropped so that the
        engine stops too, as soon as the limiter has enough.

        Raises QuerySyntaxError (engine said 400), EngineTimeout (also when the engine cut the answer at its own
        deadline), EngineUnavailable, EngineError, or what the limiter raises (PayloadTooLarge, EngineError).
        """
        default_graphs, named_graphs = list(default_graphs), list(named_graphs)
        if self.profile.default_graph is not None and not default_graphs and not named_graphs:
            query = await self._dataset_prologue(query, timeout) + query
        form = [("query", query)]
        form += [("default-graph-uri", g) for g in default_graphs]
        form += [("named-graph-uri", g) for g in named_graphs]
        if not self.profile.rewrite_results:
            if self.profile.query_body and len(form) == 1:
                # Form-encoding a long text costs more of a small request than the engine's answer does.
                data: object = query.encode("utf-8")
                headers = {"Accept": accept, "Content-Type": "application/sparql-query"}
            else:
                data, headers = form, {"Accept": accept}
            return await self._send(
                "POST", self.query_url, data=data, headers=headers, timeout=timeout, limiter=limiter
            )
        return await self._rewritten(form, accept, timeout, limiter)

    async def select(self, query: str, *, timeout: float | None = None) -> list[dict[str, rdflib.term.Node]]:
        """Run a SELECT query and return its rows as dicts of rdflib terms (unbound variables are absent)."""
        response = await self.query(query, accept=SPARQL_JSON, timeout=timeout)
        try:
            doc = json.loads(response.content)
        except ValueError:  # the engine broke off after its 200 header and appended its error
            log.warning("the engine broke off an answer; its last bytes: %r", response.content[-300:])
            raise EngineError("the engine broke off its answer") from None
        return [{k: term_from_json(v) for k, v in row.items()} for row in doc["results"]["bindings"]]

    async def ask(self, query: str, *, timeout: float | None = None) -> bool:
        """Run an ASK query and return its boolean."""
        response = await self.query(query, accept=SPARQL_JSON, timeout=timeout)
        return bool(json.loads(response.content)["boolean"])

    async def construct(self, query: str, *, timeout: float | None = None) -> bytes:
        """Run a CONSTRUCT or DESCRIBE query and return N-Triples."""
        return (await self.query(query, accept="application/n-triples", timeout=timeout)).content

    async def update(
        self,
        update: str,
        *,
        using_graphs: Iterable[str] = (),
        using_named_graphs: Iterable[str] = (),
        timeout: float | None = None,
    ) -> None:
        """Run a SPARQL update; the engine applies it as one transaction. Raises as ``query`` does."""
        params = [("using-graph-uri", g) for g in using_graphs] + [
            ("using-named-graph-uri", g) for g in using_named_graphs
        ]
        if self.profile.form_update or self.profile.default_graph is not None:
            await self._profiled_update(update, params, timeout)
            return
        await self._send(
            "POST",
            self.update_url,
            data=update.encode("utf-8"),
            params=params or None,
            headers={"Content-Type": "application/sparql-update"},
            timeout=timeout,
        )

    @staticmethod
    def _graph_params(graph: str | None) -> dict[str, str]:
        return {"default": ""} if graph is None else {"graph": graph}

    async def graph_get(
        self,
        graph: str | None,
        *,
        accept: str = "application/n-triples",
        timeout: float | None = None,
        limiter: AnswerLimiter | None = None,
    ) -> EngineResponse:
        """Graph Store GET of one graph (None: the default graph), read whole or through ``limiter`` as ``query``
        does; raises NotFound if the engine has no such graph, or as ``query``."""
        if not self.profile.store_protocol:
            return await self._emulated_get(graph, accept, timeout, limiter)
        return await self._send(
            "GET",
            self.store_url,
            params=self._graph_params(graph),
            headers={"Accept": accept},
            timeout=timeout,
            limiter=limiter,
        )

    async def graph_write(
        self,
        method: str,
        graph: str | None,
        body: bytes,
        *,
        media_type: str = "application/n-triples",
        timeout: float | None = None,
    ) -> int:
        """Graph Store PUT (replace) or POST (add) of one graph, as one transaction; returns the engine's status
        (201 when the graph was created)."""
        if not self.profile.store_protocol:
            return await self._emulated_write(method, graph, body, media_type, timeout)
        response = await self._send(
            method,
            self.store_url,
            params=self._graph_params(graph),
            data=body,
            headers={"Content-Type": media_type},
            timeout=timeout,
        )
        return response.status

    async def graph_delete(self, graph: str | None, *, timeout: float | None = None) -> None:
        """Graph Store DELETE of one graph (None: empty the default graph); raises NotFound for an unknown graph."""
        if not self.profile.store_protocol:
            target = self._graph_name(graph)
            if graph is not None and not await self._graph_exists(target, timeout):
                raise NotFound("no such graph")
            await self._profiled_update(f"CLEAR SILENT GRAPH <{target}>", [], timeout, prologue=False)
            return
        await self._send("DELETE", self.store_url, params=self._graph_params(graph), timeout=timeout)

    async def add_quads(
        self,
        body: bytes | AsyncIterator[bytes],
        *,
        media_type: str = "application/n-quads",
        timeout: float | None = None,
    ) -> None:
        """POST RDF quads into the engine's dataset through the Graph Store Protocol, in one request (as one SPARQL
        update when the engine has no Graph Store Protocol). Raises QuerySyntaxError for quads that do not parse,
        or as ``query``."""
        if not self.profile.store_protocol:
            if not isinstance(body, bytes):
                body = b"".join([chunk async for chunk in body])
            quads = _parse(body, media_type)
            await self._profiled_update(self._insert(quads), [], timeout, prologue=False)
            return
        await self._send("POST", self.store_url, data=body, headers={"Content-Type": media_type}, timeout=timeout)

    async def dump(
        self, *, media_type: str = "application/n-quads", default_graph_only: bool = False, timeout: float | None = None
    ) -> AsyncIterator[bytes]:
        """Yield the dataset (or only its default graph) serialised as ``media_type``, chunk by chunk."""
        if not self.profile.store_protocol:
            async for chunk in self._emulated_dump(media_type, default_graph_only, timeout):
                yield chunk
            return
        url = self.store_url + ("?default" if default_graph_only else "")
        # A dump may take long as a whole: the deadline is on each read, not on the total.
        limit = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=timeout or self.timeout)
        try:
            async with self._client().get(url, headers={"Accept": media_type}, timeout=limit) as response:
                if response.status != 200:
                    content = await _read_prefix(response, _MAX_ERROR_TEXT)
                    self._raise_for(EngineResponse(response.status, response.headers.get("Content-Type", ""), content))
                # Hold back a marker's length so a cancelled dump is an error, not a silently short file.
                held = b""
                async for chunk in response.content.iter_any():
                    held += chunk
                    if len(held) > len(_CANCELLED):
                        yield held[: -len(_CANCELLED)]
                        held = held[-len(_CANCELLED) :]
                if held == _CANCELLED:
                    raise EngineTimeout("the engine stopped the dump at its deadline")
                if held:
                    yield held
        except TimeoutError:
            raise EngineTimeout("engine dump timed out") from None
        except aiohttp.ClientError as exc:
            raise self._unreachable(self.store_url, exc) from None

    # ---------------------------------------------------------------- engines without a default graph or a store
    def _graph_name(self, graph: str | None) -> str:
        """The engine's name for a graph: the profile's stand-in for the default graph (None)."""
        return self.profile.default_graph if graph is None else graph  # type: ignore[return-value]

    def _stored(self, text: str) -> str:
        """N-Triples text with each opaque datatype under the IRI the engine keeps it by."""
        for datatype, stand_in in self.profile.opaque_datatypes:
            text = text.replace(f"^^<{datatype}>", f"^^<{stand_in}>")
        return text

    def _read(self, content: bytes) -> bytes:
        """An N-Triples answer with each opaque datatype under its own IRI again."""
        for datatype, stand_in in self.profile.opaque_datatypes:
            content = content.replace(f"^^<{stand_in}>".encode(), f"^^<{datatype}>".encode())
        return content

    async def _named_graphs(self, timeout: float | None) -> list[str]:
        """Every graph of the dataset but the default graph's stand-in and the engine's own graphs."""
        rows = await self._raw_select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", timeout)
        skip = (self.profile.default_graph or "",)
        return [
            row["g"]["value"]
            for row in rows
            if row.get("g", {}).get("type") == "uri"
            and row["g"]["value"] not in skip
            and not row["g"]["value"].startswith(self.profile.system_graphs)
            and _plain_iri(row["g"]["value"])
        ]

    async def _dataset_prologue(self, text: str, timeout: float | None) -> str:
        """The dataset posgraph means, as Virtuoso ``define``s: its default graph is the stand-in graph, its named
        graphs all others (listed only when the text can reach named graphs). Nothing when the text names its own
        dataset (FROM), which then rules."""
        if _FROM.search(text):
            return ""
        named = await self._named_graphs(timeout) if _GRAPH_WORD.search(text) else []
        return self._prologue_for(text, named)

    def _prologue_for(self, text: str, named: list[str]) -> str:
        """The ``define``s of ``_dataset_prologue`` for ``text``, given the dataset's named graphs."""
        if _FROM.search(text):
            return ""
        lines = [f"define input:default-graph-uri <{self.profile.default_graph}>"]
        if _GRAPH_WORD.search(text):
            # Virtuoso 7.2 answers ASK (and COUNT) over ``GRAPH <g>`` as if it matched when g is not among the
            # dataset's named graphs: every graph the text names is listed too (one that does not exist is empty).
            graphs = dict.fromkeys([*named, *_graphs_named_in(text)])
            graphs.pop(self.profile.default_graph or "", None)
            lines += [f"define input:named-graph-uri <{g}>" for g in graphs]
        return "\n".join(lines) + "\n"

    async def _raw_select(self, text: str, timeout: float | None) -> list[dict]:
        """The bindings of a SELECT sent as it is (no dataset added), read as SPARQL JSON."""
        response = await self._send(
            "POST", self.query_url, data=[("query", text)], headers={"Accept": SPARQL_JSON}, timeout=timeout
        )
        return json.loads(response.content)["results"]["bindings"]

    async def _graph_exists(self, graph: str, timeout: float | None) -> bool:
        response = await self._send(
            "POST",
            self.query_url,
            data=[("query", f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")],
            headers={"Accept": SPARQL_JSON},
            timeout=timeout,
        )
        return _normalise(json.loads(response.content)).get("boolean") is True

    async def _profiled_update(
        self, update: str, params: list[tuple[str, str]], timeout: float | None, *, prologue: bool = True
    ) -> None:
        """Send an update as the profile says: form-encoded, with posgraph's dataset unless the caller names one
        (``using-graph-uri``) or ``prologue`` is False (the text names every graph it touches). With the dataset,
        an update of several operations goes one operation per request: Virtuoso drops the operations after one
        whose template names graphs through a variable (it carries that one out, then fails on its status). The
        named graphs are listed for each operation that mentions GRAPH, after the ones before it: those may have
        made graphs it must see."""
        if not prologue or self.profile.default_graph is None:
            await self._update_request(update, params, timeout)
            return
        if params:
            # The caller's dataset for the WHERE, written into the text as USING (Virtuoso takes the parameters as
            # the graph to write into); the default graph, where a template without GRAPH writes, as a define.
            using = [g for key, g in params if key == "using-graph-uri"]
            using_named = [g for key, g in params if key == "using-named-graph-uri"]
            define = f"define input:default-graph-uri <{self.profile.default_graph}>\n"
            for operation in map(self._data_operation, _operations(update)):
                await self._update_request(define + _with_using(operation, using, using_named), [], timeout)
            return
        for operation in map(self._data_operation, _operations(update)):
            named = await self._named_graphs(timeout) if _GRAPH_WORD.search(operation) else []
            await self._update_request(self._prologue_for(operation, named) + operation, [], timeout)

    def _data_operation(self, operation: str) -> str:
        """An update operation as the engine takes it: ``INSERT DATA`` with blank nodes as ``INSERT … WHERE {}``
        when the profile says the engine refuses them there."""
        return operation if self.profile.data_blank_nodes else _without_blank_data(operation)

    async def _update_request(self, update: str, params: list[tuple[str, str]], timeout: float | None) -> None:
        await self._send(
            "POST",
            self.update_url,
            data=[("update", update), *params],
            timeout=timeout,
            applied_despite=self.profile.applied_despite,
        )

    async def _rewritten(
        self, form: list[tuple[str, str]], accept: str, timeout: float | None, limiter: AnswerLimiter | None
    ) -> EngineResponse:
        """Run a query whose answer posgraph writes itself: SELECT and ASK answers read as SPARQL JSON and written in
        ``accept``; graphs read as N-Triples and written in ``accept``. Written while the answer streams in, and fed
        to the limiter, if any, as it is written: reading stops when the limiter has enough."""
        media_type = accept.split(";")[0].strip()
        translator: _Translator
        if media_type in _RESULT_TYPES:
            translator = _ResultsTranslator(media_type, limiter, self.profile.opaque_datatypes)
            read_as = SPARQL_JSON
            max_rows = getattr(limiter, "max_rows", None)
            if max_rows is not None and self.profile.max_rows_parameter:
                # One row more than the cap, so that a cut answer is still seen to be cut; without it the engine
                # computes and sends the whole answer before the first row arrives.
                form = [*form, (self.profile.max_rows_parameter, str(max_rows + 1))]
        else:
            translator = _GraphTranslator(media_type, limiter, self._read)
            read_as = "application/n-triples"
        response = await self._send(
            "POST", self.query_url, data=form, headers={"Accept": read_as}, timeout=timeout, limiter=translator
        )
        return EngineResponse(response.status, media_type, response.content, response.truncated)

    async def _emulated_get(
        self, graph: str | None, accept: str, timeout: float | None, limiter: AnswerLimiter | None
    ) -> EngineResponse:
        target = self._graph_name(graph)
        if graph is not None and not await self._graph_exists(target, timeout):
            raise NotFound("no such graph")
        form = [("query", f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{target}> {{ ?s ?p ?o }} }}")]
        return await self._rewritten(form, accept, timeout, limiter)

    async def _emulated_write(
        self, method: str, graph: str | None, body: bytes, media_type: str, timeout: float | None
    ) -> int:
        target = self._graph_name(graph)
        existed = await self._graph_exists(target, timeout)
        triples = _parse(body, media_type)
        quads = [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(target)) for t in triples]
        insert = self._insert(quads)
        if method == "PUT":
            update = f"CLEAR SILENT GRAPH <{target}>" + (f" ;\n{insert}" if quads else "")
        else:
            update = insert if quads else ""
        if update:
            await self._profiled_update(update, [], timeout, prologue=False)
        return 204 if existed or graph is None else 201

    def _insert(self, quads: list) -> str:
        """One SPARQL update adding ``quads`` (see :func:`posgraph.engine.virtuoso.insert_update`)."""
        return insert_update(quads, self._graph_name(None), self._stored)

    async def _emulated_dump(
        self, media_type: str, default_graph_only: bool, timeout: float | None
    ) -> AsyncIterator[bytes]:
        """The dataset read page by page with SELECT and written by posgraph (one document, so held whole)."""
        default = self._graph_name(None)
        if default_graph_only:
            where = f"GRAPH <{default}> {{ ?s ?p ?o }} BIND (<{default}> AS ?g)"
        else:
            where = "GRAPH ?g { ?s ?p ?o } " + "".join(
                f'FILTER (!STRSTARTS(STR(?g), "{prefix}")) ' for prefix in self.profile.system_graphs
            )
        quads = []
        offset = 0
        while True:
            text = f"SELECT ?s ?p ?o ?g WHERE {{ {where} }} ORDER BY ?g ?s ?p ?o LIMIT {_DUMP_PAGE} OFFSET {offset}"
            rows = await self._raw_select(text, timeout)
            for row in rows:
                doc = _normalise({"results": {"bindings": [row]}}, self.profile.opaque_datatypes)
                row = doc["results"]["bindings"][0]
                graph = row["g"]["value"]
                name = ox.DefaultGraph() if graph == default else ox.NamedNode(graph)
                quads.append(ox.Quad(_ox_term(row["s"]), _ox_term(row["p"]), _ox_term(row["o"]), name))
            if len(rows) < _DUMP_PAGE:
                break
            offset += _DUMP_PAGE
        fmt = ox.RdfFormat.from_media_type(media_type)
        if fmt is None:
            raise NotAcceptable("cannot write the dataset in this media type")
        if not fmt.supports_datasets:
            quads = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
        data = ox.serialize(quads, format=fmt) or b""
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    async def _send(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None,
        limiter: AnswerLimiter | None = None,
        applied_despite: str | None = None,
        **kwargs: object,
    ) -> EngineResponse:
        limit = timeout or self.timeout
        truncated = False
        try:
            async with self._client().request(
                method, url, timeout=aiohttp.ClientTimeout(total=limit, sock_connect=min(limit, 5.0)), **kwargs
            ) as response:
                if response.status >= 300:
                    content = await _read_prefix(response, _MAX_ERROR_TEXT)
                elif limiter is None:
                    content = await response.read()
                    if content.endswith(_CANCELLED):  # a query or graph read cut at the engine's own deadline
                        raise EngineTimeout("the engine stopped the request at its deadline")
                else:
                    content, truncated = await _read_limited(response, limiter)
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors (and some also ClientErrors): test first
            raise EngineTimeout(f"the engine did not answer within {limit:g} s") from None
        except aiohttp.ClientError as exc:
            raise self._unreachable(url, exc) from None
        answer = EngineResponse(response.status, response.headers.get("Content-Type", ""), content, truncated)
        if answer.status >= 300:
            if applied_despite and applied_despite.encode() in content:
                log.info("the engine answered %d after carrying out the update (a known fault)", answer.status)
                return EngineResponse(200, "", b"")
            self._raise_for(answer)
        return answer

    @staticmethod
    def _unreachable(url: str, exc: Exception) -> EngineUnavailable:
        log.info("engine at %s unreachable: %s", url, exc.__class__.__name__)
        return EngineUnavailable("the engine cannot be reached; retry shortly")

    @staticmethod
    def _raise_for(response: EngineResponse) -> None:
        """Raise the error an engine's error answer stands for. Only a 400's text (the parser's message, which says
        where the request goes wrong) reaches the caller, without anything path-like; other texts are logged."""
        text = response.content[:_MAX_ERROR_TEXT].decode("utf-8", "replace").strip()
        if response.status == 400:
            raise QuerySyntaxError(_PATH.sub("[path]", text) or "the engine rejected the request")
        log.warning("engine answered %d: %s", response.status, text)
        if response.status == 404:
            raise NotFound("no such graph")
        if response.status == 406:
            raise NotAcceptable("the engine cannot produce the requested media type")
        if response.status == 415:
            raise UnsupportedMediaType("the engine does not accept this media type")
        if response.status in (502, 503, 504):
            raise EngineUnavailable(f"the engine answered {response.status}; retry shortly")
        raise EngineError(f"the engine failed to carry out the request (it answered {response.status})")


async def _read_prefix(response: aiohttp.ClientResponse, size: int) -> bytes:
    """The first ``size`` bytes of a body (an error's text: the rest is never read)."""
    data = b""
    while len(data) < size:
        chunk = await response.content.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


async def _read_limited(response: aiohttp.ClientResponse, limiter: AnswerLimiter) -> tuple[bytes, bool]:
    """Feed a body to ``limiter`` as it streams and return what it makes of it. A body that ends with the engine's
    cancellation text was cut at its deadline: EngineTimeout (unless the limiter had enough before that)."""
    tail = b""
    async for chunk in response.content.iter_any():
        tail = chunk[-len(_CANCELLED) :] if len(chunk) >= len(_CANCELLED) else (tail + chunk)[-len(_CANCELLED) :]
        if limiter.feed(chunk):
            response.close()  # drop the connection: the engine stops writing, and so stops the query
            return limiter.result()
    if tail == _CANCELLED:
        raise EngineTimeout("the engine stopped the request at its deadline")
    return limiter.result()
