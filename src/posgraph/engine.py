"""An async client for any SPARQL 1.1 engine (Protocol for query and update, Graph Store Protocol for bulk writes).

Every call has a deadline; transport failures become EngineUnavailable/EngineTimeout, an engine's 400 becomes
QuerySyntaxError carrying the engine's message (paths taken out). Other engine errors reach callers as generic
messages: their text, which can name the store's files, is logged instead. Answers can be read through a limiter
(posgraph.answer_limits) that caps them while they stream. Nothing here knows posgraph's data model.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Mapping

import aiohttp
import rdflib

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

__all__ = ["Engine", "EngineResponse", "SPARQL_JSON", "term_from_json"]

SPARQL_JSON = "application/sparql-results+json"
_MAX_ERROR_TEXT = 2000
# Oxigraph streams answers: when its own deadline (--timeout-s) fires after the 200 header went out, it appends
# this text to the body and ends the response cleanly. Such a body is incomplete, never a result.
_CANCELLED = b"The SPARQL operation has been cancelled"
# What an absolute file path looks like in an engine's message (not the path part of an IRI: that follows a letter
# or a slash).
_PATH = re.compile(r"(?<![\w.~:/\\-])~?/[\w.@%+=~-]+(?:/[\w.@%+=~-]*)*")

log = logging.getLogger("posgraph.engine")


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
        query_path: str = "/query",
        update_path: str = "/update",
        store_path: str = "/store",
        timeout: float = 30.0,
        max_connections: int = 64,
    ) -> None:
        base = base_url.rstrip("/")
        self.query_url, self.update_url, self.store_url = base + query_path, base + update_path, base + store_path
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
        form = [("query", query)]
        form += [("default-graph-uri", g) for g in default_graphs]
        form += [("named-graph-uri", g) for g in named_graphs]
        return await self._send(
            "POST", self.query_url, data=form, headers={"Accept": accept}, timeout=timeout, limiter=limiter
        )

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
        await self._send("DELETE", self.store_url, params=self._graph_params(graph), timeout=timeout)

    async def add_quads(
        self,
        body: bytes | AsyncIterator[bytes],
        *,
        media_type: str = "application/n-quads",
        timeout: float | None = None,
    ) -> None:
        """POST RDF quads into the engine's dataset through the Graph Store Protocol, in one request."""
        await self._send("POST", self.store_url, data=body, headers={"Content-Type": media_type}, timeout=timeout)

    async def dump(
        self, *, media_type: str = "application/n-quads", default_graph_only: bool = False, timeout: float | None = None
    ) -> AsyncIterator[bytes]:
        """Yield the dataset (or only its default graph) serialised as ``media_type``, chunk by chunk."""
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

    async def _send(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None,
        limiter: AnswerLimiter | None = None,
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
