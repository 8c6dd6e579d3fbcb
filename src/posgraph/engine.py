"""An async client for any SPARQL 1.1 engine (Protocol for query and update, Graph Store Protocol for bulk writes).

Every call has a deadline; transport failures become EngineUnavailable/EngineTimeout, an engine's 400 becomes
QuerySyntaxError carrying the engine's message. Nothing here knows posgraph's data model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import AsyncIterator, Iterable, Mapping

import httpx
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

__all__ = ["Engine", "EngineResponse", "SPARQL_JSON", "term_from_json"]

SPARQL_JSON = "application/sparql-results+json"
_MAX_ERROR_TEXT = 2000
# Oxigraph streams answers: when its own deadline (--timeout-s) fires after the 200 header went out, it appends
# this text to the body and ends the response cleanly. Such a body is incomplete, never a result.
_CANCELLED = b"The SPARQL operation has been cancelled"


@dataclass(frozen=True)
class EngineResponse:
    """A complete engine answer: status, media type and the whole body (never a half-sent one)."""

    status: int
    media_type: str
    content: bytes


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
    """A SPARQL engine reached over HTTP at ``base_url``; use as an async context manager or call ``aclose``."""

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
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            trust_env=False,  # never route engine traffic through a proxy from the environment
        )

    async def __aenter__(self) -> "Engine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def ping(self) -> bool:
        """Return True if the engine answers a trivial ASK within two seconds, False otherwise (never raises)."""
        try:
            response = await self._client.post(
                self.query_url, data={"query": "ASK {}"}, headers={"Accept": SPARQL_JSON}, timeout=2.0
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def query(
        self,
        query: str,
        *,
        accept: str = SPARQL_JSON,
        default_graphs: Iterable[str] = (),
        named_graphs: Iterable[str] = (),
        timeout: float | None = None,
    ) -> EngineResponse:
        """Run a SPARQL query and return the engine's complete answer.

        Raises QuerySyntaxError (engine said 400), EngineTimeout (also when the engine cut the answer at its own
        deadline), EngineUnavailable or EngineError.
        """
        form: dict[str, str | list[str]] = {"query": query}
        if default_graphs:
            form["default-graph-uri"] = list(default_graphs)
        if named_graphs:
            form["named-graph-uri"] = list(named_graphs)
        response = await self._send("POST", self.query_url, data=form, headers={"Accept": accept}, timeout=timeout)
        if response.content.endswith(_CANCELLED):
            raise EngineTimeout("the engine stopped the query at its deadline")
        return EngineResponse(response.status_code, response.headers.get("content-type", ""), response.content)

    async def select(self, query: str, *, timeout: float | None = None) -> list[dict[str, rdflib.term.Node]]:
        """Run a SELECT query and return its rows as dicts of rdflib terms (unbound variables are absent)."""
        response = await self.query(query, accept=SPARQL_JSON, timeout=timeout)
        doc = json.loads(response.content)
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
            content=update.encode("utf-8"),
            params=params or None,
            headers={"Content-Type": "application/sparql-update"},
            timeout=timeout,
        )

    @staticmethod
    def _graph_params(graph: str | None) -> dict[str, str]:
        return {"default": ""} if graph is None else {"graph": graph}

    async def graph_get(
        self, graph: str | None, *, accept: str = "application/n-triples", timeout: float | None = None
    ) -> EngineResponse:
        """Graph Store GET of one graph (None: the default graph); raises NotFound if the engine has no such graph."""
        response = await self._send(
            "GET", self.store_url, params=self._graph_params(graph), headers={"Accept": accept}, timeout=timeout
        )
        return EngineResponse(response.status_code, response.headers.get("content-type", ""), response.content)

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
            content=body,
            headers={"Content-Type": media_type},
            timeout=timeout,
        )
        return response.status_code

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
        await self._send("POST", self.store_url, content=body, headers={"Content-Type": media_type}, timeout=timeout)

    async def dump(
        self, *, media_type: str = "application/n-quads", default_graph_only: bool = False, timeout: float | None = None
    ) -> AsyncIterator[bytes]:
        """Yield the dataset (or only its default graph) serialised as ``media_type``, chunk by chunk."""
        url = self.store_url + ("?default" if default_graph_only else "")
        try:
            async with self._client.stream(
                "GET", url, headers={"Accept": media_type}, timeout=timeout or self.timeout
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    self._raise_for(response)
                # Hold back a marker's length so a cancelled dump is an error, not a silently short file.
                held = b""
                async for chunk in response.aiter_bytes():
                    held += chunk
                    if len(held) > len(_CANCELLED):
                        yield held[: -len(_CANCELLED)]
                        held = held[-len(_CANCELLED) :]
                if held == _CANCELLED:
                    raise EngineTimeout("the engine stopped the dump at its deadline")
                if held:
                    yield held
        except httpx.TimeoutException as exc:
            raise EngineTimeout(f"engine dump timed out: {exc.__class__.__name__}") from None
        except httpx.TransportError as exc:
            raise EngineUnavailable(f"engine at {self.store_url} unreachable: {exc.__class__.__name__}") from None

    async def _send(self, method: str, url: str, *, timeout: float | None, **kwargs: object) -> httpx.Response:
        try:
            response = await self._client.request(method, url, timeout=timeout or self.timeout, **kwargs)
        except httpx.TimeoutException:
            raise EngineTimeout(f"the engine did not answer within {timeout or self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise EngineUnavailable(f"engine at {url} unreachable ({exc.__class__.__name__})") from None
        if response.status_code >= 300:
            self._raise_for(response)
        return response

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        text = response.text[:_MAX_ERROR_TEXT].strip()
        if response.status_code == 400:
            raise QuerySyntaxError(text or "the engine rejected the request")
        if response.status_code == 404:
            raise NotFound(text or "no such graph")
        if response.status_code == 406:
            raise NotAcceptable(text or "the engine cannot produce the requested media type")
        if response.status_code == 415:
            raise UnsupportedMediaType(text or "the engine does not accept this media type")
        if response.status_code in (502, 503, 504):
            raise EngineUnavailable(f"engine answered {response.status_code}")
        raise EngineError(f"engine answered {response.status_code}: {text}")
