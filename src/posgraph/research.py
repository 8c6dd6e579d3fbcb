"""Researchers' use cases: run SPARQL queries (ad hoc or saved) against the engine, refusing unsafe ones.

The guard works on the query's tokens with comments, string literals and IRIs taken out, so a keyword hidden in
a string or an IRI neither trips it nor slips past it. It costs microseconds, unlike a full parse.
"""

from __future__ import annotations

import re
from typing import Mapping

from posgraph.catalog import Catalog
from posgraph.engine import Engine, EngineResponse
from posgraph.errors import QueryRefused, QuerySyntaxError

__all__ = ["refuse_unsafe", "query_form", "run_query", "run_saved", "DEFAULT_ACCEPT"]

_LEXEMES = re.compile(r"""
      \#[^\n\r]*                                   # comment
    | '''(?:[^'\\]|\\.|'(?!''))*'''                # long strings
    | \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
    | '(?:[^'\\\n\r]|\\.)*'                        # short strings
    | "(?:[^"\\\n\r]|\\.)*"
    | <[^<>"{}|^`\\\x00-\x20]*>                    # IRI reference (an operator '<' is followed by a space or
                                                   # never closed before '{', so no keyword can hide in here)
""", re.VERBOSE | re.DOTALL)
_KEYWORD = r"(?<![\w?$:]){}(?![\w:-])"
_FORBIDDEN_QUERY = {"SERVICE": "SERVICE (federated query) is not allowed on this endpoint"}
_FORBIDDEN_UPDATE = {"LOAD": "LOAD is not allowed: send the data in the request body instead",
                     **_FORBIDDEN_QUERY}
_FORM = re.compile(r"(?<![\w?$:])(SELECT|ASK|CONSTRUCT|DESCRIBE)(?![\w:-])", re.IGNORECASE)

DEFAULT_ACCEPT = {"select": "application/sparql-results+json", "ask": "application/sparql-results+json",
                  "construct": "text/turtle", "describe": "text/turtle"}


def _code_only(text: str) -> str:
    return _LEXEMES.sub(" ", text)


def refuse_unsafe(text: str, *, update: bool = False) -> None:
    """Raise QueryRefused if the query (or update) uses SERVICE, or the update uses LOAD; return None otherwise."""
    code = _code_only(text)
    for keyword, reason in (_FORBIDDEN_UPDATE if update else _FORBIDDEN_QUERY).items():
        if re.search(_KEYWORD.format(keyword), code, re.IGNORECASE):
            raise QueryRefused(reason)


def query_form(text: str) -> str:
    """Return "select", "ask", "construct" or "describe"; raises QuerySyntaxError if none is found."""
    match = _FORM.search(_code_only(text))
    if match is None:
        raise QuerySyntaxError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE found")
    return match.group(1).lower()


async def run_query(engine: Engine, text: str, *, accept: str | None = None,
                    timeout: float | None = None) -> EngineResponse:
    """Check and run a read-only query; returns the engine's complete answer.

    Raises QueryRefused, QuerySyntaxError, EngineTimeout, EngineUnavailable or EngineError.
    """
    if not text.strip():
        raise QuerySyntaxError("empty query")
    refuse_unsafe(text)
    if accept is None:
        try:
            accept = DEFAULT_ACCEPT[query_form(text)]
        except QuerySyntaxError:  # let the engine's parser say where the query goes wrong
            accept = DEFAULT_ACCEPT["select"]
    return await engine.query(text, accept=accept, timeout=timeout)


async def run_saved(engine: Engine, catalog: Catalog, name: str, params: Mapping[str, str], *,
                    accept: str | None = None, timeout: float | None = None) -> EngineResponse:
    """Bind ``params`` into saved query ``name`` and run it; raises NotFound, InvalidParameter or as run_query."""
    saved = catalog.get(name)
    return await run_query(engine, saved.bind(params), accept=accept or DEFAULT_ACCEPT[saved.kind],
                           timeout=timeout)
