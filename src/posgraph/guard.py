"""Lexical checks on SPARQL text: what the public endpoint refuses (SERVICE, LOAD, staging graphs) and which
query form a text is. They work on the tokens with comments and string literals taken out, so a keyword hidden
in a string neither trips them nor slips past them, and cost microseconds, unlike a full parse.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import urljoin

from posgraph.errors import QueryRefused, QuerySyntaxError
from posgraph.namespaces import STAGING

__all__ = ["refuse_unsafe", "refuse_staging", "query_form"]

_COMMENTS_AND_STRINGS = re.compile(
    r"""
      \#[^\n\r]*                                   # comment
    | '''(?:[^'\\]|\\.|'(?!''))*'''                # long strings
    | \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
    | '(?:[^'\\\n\r]|\\.)*'                        # short strings
    | "(?:[^"\\\n\r]|\\.)*"
""",
    re.VERBOSE | re.DOTALL,
)
# An IRI reference: an operator '<' is followed by a space or never closed before '{', so no keyword hides in here.
_IRI = re.compile(r"""<([^<>"{}|^`\\\x00-\x20]*)>""")
_KEYWORD = r"(?<![\w?$:]){}(?![\w:-])"
_FORBIDDEN_QUERY = {"SERVICE": "SERVICE (federated query) is not allowed on this endpoint"}
_FORBIDDEN_UPDATE = {"LOAD": "LOAD is not allowed: send the data in the request body instead", **_FORBIDDEN_QUERY}
_FORM = re.compile(r"(?<![\w?$:])(SELECT|ASK|CONSTRUCT|DESCRIBE)(?![\w:-])", re.IGNORECASE)
_PREFIX_DECL = re.compile(r"(?i)(?<![\w?$:])PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^<>\s]*)>")
_BASE_DECL = re.compile(r"(?i)(?<![\w?$:])BASE\s*<([^<>\s]*)>")
_PREFIXED_NAME = re.compile(r"(?<![\w?$:<])([A-Za-z][\w.-]*)?:([\w.%/-]*)")


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
            raise QueryRefused(f"the query names {match.group(0)}: staging graphs of unreviewed batches are not public")


def query_form(text: str) -> str:
    """Return "select", "ask", "construct" or "describe"; raises QuerySyntaxError if none is found."""
    match = _FORM.search(_code_only(text))
    if match is None:
        raise QuerySyntaxError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE found")
    return match.group(1).lower()
