"""Saved SPARQL queries: plain ``.rq`` files with a header of ``#+`` lines declaring typed parameters.

Header lines::

    #+ summary: one line
    #+ description: more text (may repeat)
    #+ kind: select | ask | construct | describe
    #+ param: NAME TYPE required|optional [many] — what it means
    #+ example: NAME=VALUE NAME=VALUE   (a name given twice: both values, for a parameter that takes several)
    #+ page: limit=DEFAULT max=MAXIMUM

The query body holds a ``#@values`` line where the parameters are bound: it becomes a ``VALUES`` block of RDF
terms that rdflib serialises and escapes (UNDEF for an optional parameter left out). A subquery sees only what is
bound inside it, so a query may hold several such lines; each becomes the same block. Raw input is never pasted
into query text, so no value can change the query's structure.

A parameter declared ``many`` may be given several values (``party=A&party=B``): the block then has one row per
combination of values, so the query answers for each (it must not group across them). Any other parameter takes one.

A query that declares ``#+ page:`` pages its answer: it takes three more optional parameters, ``limit`` (rows
per page, from 1 to the maximum, the default when left out), ``offset`` (rows to skip, 0 when left out) and
``cursor`` (an opaque token standing for an offset, made by ``SavedQuery.cursor`` for the next page and valid only
with the same query and the same other parameters), and its ``#@page`` line becomes ``LIMIT n OFFSET m``. SPARQL
cannot take LIMIT from a VALUES block, so these two are the only values written into the text, and only as integers
checked here. Such a query must ORDER BY a key that makes its order stable, or pages would overlap. A query whose
``#@page`` line cuts a subquery of some key (the rows of a page are then every row of up to ``limit`` values of
that key, a variable or several joined by ``+``) says so: ``#+ page: limit=… max=… key=position``.

A query paged by one key variable may say that its page of keys is also a page of a collection sorted by date (the
collections' derived index keeps that order, so a page of keys is a seek there instead of a sort in the engine)::

    #+ keys: positions party=party issue=issue stated_from=from stated_to=to [descending=order:newest]

names the collection and which of its filters each of the query's parameters is (and which parameter value, if
any, asks for the newest first). The subquery that cuts the keys then lies between a ``#@keys`` line and a
``#@keys-end`` line (one braced group), selects the key variable and ``?key`` (the collection's date key: the date
as written, "" for none) and orders by ``?key`` then the key's IRI (both descending for the newest first), exactly
as the collection does, so that ``bind(..., keys=…)`` may replace it by a VALUES block of the same rows, and
``bind(..., keys_only=True)`` gives it alone: a page of keys the engine cuts.

A query may also say that one of its subqueries is an aggregate the collections' index keeps (the positions in
force per party and issue on a date, when each issue last moved, how many positions each issue has), so that the
index's rows can stand in for it::

    #+ facts: in-force asOf,party,issue,position,statedOn party=party issue=issue date=date

names the fact, the variables its rows bind (in order) and which of the fact's filters each parameter gives. The
subquery lies between a ``#@facts`` line and a ``#@facts-end`` line (one braced group) and must select exactly
those variables, meaning for each combination of the parameters' values what the fact means (the index's rows for
it are the union over them); ``bind(..., facts=rows)`` replaces it by a VALUES block of those rows, and
``bind(..., facts_only=True)`` gives it alone. A row-paged query may end the line with ``first``: the fact is then
read as a prefix, the first rows of its order up to the page's end (offset + limit + 1, its filter ``first``),
which must hold every row the page needs; the subquery stays the whole (a superset the page is cut from).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Mapping, Sequence

import rdflib
from rdflib.namespace import XSD

from posgraph.errors import InvalidParameter, NotFound
from posgraph.namespaces import PREFIXES

__all__ = [
    "Param",
    "Page",
    "Paging",
    "KeySource",
    "FactSource",
    "SavedQuery",
    "Catalog",
    "PARAM_TYPES",
    "VALUES_MARKER",
    "PAGE_MARKER",
    "KEYS_MARKER",
    "KEYS_END_MARKER",
    "FACTS_MARKER",
    "FACTS_END_MARKER",
]

VALUES_MARKER = "#@values"
PAGE_MARKER = "#@page"
KEYS_MARKER = "#@keys"
KEYS_END_MARKER = "#@keys-end"
FACTS_MARKER = "#@facts"
FACTS_END_MARKER = "#@facts-end"
PAGE_PARAMS = ("limit", "offset", "cursor")
_MAX_OFFSET = 10**9
_MAX_VALUES = 50  # values of one ``many`` parameter
_MAX_ROWS = 500  # rows of a VALUES block (the product of the values' counts)
PARAM_TYPES = ("iri", "date", "integer", "decimal", "string")
_KINDS = ("select", "ask", "construct", "describe")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\+[A-Za-z_][A-Za-z0-9_]*)*$")  # variables, joined by +
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
# What a SPARQL short string literal cannot hold as itself (STRING_LITERAL2), and the whitespace some parsers
# rewrite (rdflib's expands a tab), as escapes (ECHAR).
_STRING_ESCAPES = str.maketrans(
    {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
)
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DATE_FORMS = (
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), XSD.date),
    (re.compile(r"^\d{4}-\d{2}$"), XSD.gYearMonth),
    (re.compile(r"^\d{4}$"), XSD.gYear),
)


def _iri_term(iri: str) -> str:
    """``iri`` written as a SPARQL IRI reference. Raises ValueError for text that no IRI reference can hold."""
    if _IRI_FORBIDDEN.search(iri):
        raise ValueError(f"not an IRI: {iri[:100]!r}")
    return f"<{iri}>"


def _string_term(text: str) -> str:
    """``text`` written as a SPARQL string literal."""
    return '"' + text.translate(_STRING_ESCAPES) + '"'


@dataclass(frozen=True)
class Param:
    """A declared parameter of a saved query."""

    name: str
    type: str
    required: bool
    description: str = ""
    many: bool = False

    def to_term(self, raw: str) -> rdflib.term.Identifier:
        """Convert a raw string to a typed RDF term; raises InvalidParameter naming this parameter."""
        raw = raw.strip()
        if self.type == "iri":
            return _iri(self.name, raw)
        if self.type == "date":
            for pattern, datatype in _DATE_FORMS:
                if pattern.match(raw):
                    if datatype == XSD.date:
                        try:
                            date.fromisoformat(raw)
                        except ValueError:
                            raise InvalidParameter(self.name, f"{raw!r} is not a calendar date") from None
                    elif datatype == XSD.gYearMonth and not 1 <= int(raw[5:7]) <= 12:
                        raise InvalidParameter(self.name, f"{raw!r} has no such month")
                    return rdflib.Literal(raw, datatype=datatype)
            raise InvalidParameter(self.name, f"{raw!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY")
        if self.type == "integer":
            if not re.fullmatch(r"[+-]?\d{1,18}", raw):
                raise InvalidParameter(self.name, f"{raw!r} is not an integer")
            return rdflib.Literal(int(raw))
        if self.type == "decimal":
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise InvalidParameter(self.name, f"{raw!r} is not a number") from None
            if not value.is_finite():
                raise InvalidParameter(self.name, f"{raw!r} is not a finite number")
            return rdflib.Literal(value, datatype=XSD.decimal)
        if len(raw) > 1000:
            raise InvalidParameter(self.name, "is longer than 1000 characters")
        return rdflib.Literal(raw)


@dataclass(frozen=True)
class Page:
    """One page of a paged answer: at most ``limit`` rows (or keys) after the first ``offset``."""

    limit: int
    offset: int


@dataclass(frozen=True)
class Paging:
    """How a saved query pages its answer: rows per page by default and at most, and the key a page counts (None:
    rows)."""

    default: int
    maximum: int
    key: str | None = None

    def params(self) -> tuple[Param, ...]:
        """Return the ``limit``, ``offset`` and ``cursor`` parameters this paging adds to a query."""
        unit = f"Distinct {self.key}" if self.key else "Rows"
        return (
            Param("limit", "integer", False, f"{unit} per page: 1 to {self.maximum}, {self.default} when left out"),
            Param("offset", "integer", False, f"{unit} to skip: the previous offset plus limit (or use cursor)"),
            Param("cursor", "string", False, "Where the next page starts: copy it from the Link rel=next of a page"),
        )

    def clause(self, values: Mapping[str, str], *, extra: int = 0) -> str:
        """Return ``LIMIT n OFFSET m`` for the raw ``limit`` and ``offset`` values (n plus ``extra``, to see whether
        there is more); raises InvalidParameter."""
        limit, offset = self.limit(values), 0
        if values.get("offset"):
            offset = Param("offset", "integer", False).to_term(values["offset"]).toPython()
            if not 0 <= offset <= _MAX_OFFSET:
                raise InvalidParameter("offset", f"must be from 0 to {_MAX_OFFSET}")
        return f"LIMIT {limit + extra} OFFSET {offset}"

    def limit(self, values: Mapping[str, str]) -> int:
        """Return the raw ``limit`` value checked (the default when left out); raises InvalidParameter."""
        if not values.get("limit"):
            return self.default
        limit = Param("limit", "integer", False).to_term(values["limit"]).toPython()
        if not 1 <= limit <= self.maximum:
            raise InvalidParameter("limit", f"must be from 1 to {self.maximum}")
        return limit


@dataclass(frozen=True)
class KeySource:
    """Where the page of keys of a query paged by one key may also be read: collection ``collection`` in date order,
    filtered by ``filters`` (pairs of the collection's filter and the query's parameter that gives it)."""

    collection: str
    filters: tuple[tuple[str, str], ...]
    # The parameter and value that ask for the newest first (the collection's order reversed), if any.
    descending: tuple[str, str] | None = None

    def newest_first(self, values: Mapping[str, str | Sequence[str]]) -> bool:
        """Whether ``values`` ask for the keys newest first."""
        if self.descending is None:
            return False
        param, wanted = self.descending
        value = values.get(param)
        listed = [value] if isinstance(value, str) else list(value or ())
        return [v.strip() for v in listed if v != ""] == [wanted]

    def terms(self, params: Sequence[Param], values: Mapping[str, str | Sequence[str]]) -> dict | None:
        """Return the collection's filter values for a request's ``values`` (typed terms by filter name, the ones
        left out absent), or None when a parameter has several values (a collection filter takes one). Raises
        InvalidParameter for a bad value."""
        declared = {p.name: p for p in params}
        terms = {}
        for filter_name, param in self.filters:
            value = values.get(param)
            listed = [v for v in ([value] if isinstance(value, str) else list(value or ())) if v != ""]
            if len(listed) > 1:
                return None
            if listed:
                terms[filter_name] = declared[param].to_term(listed[0])
        return terms


@dataclass(frozen=True)
class FactSource:
    """An aggregate a subquery of a saved query stands for, which the collections' index may answer instead: fact
    ``fact``, whose rows bind ``variables`` (in order), filtered by ``filters`` (pairs of the fact's filter and the
    query's parameter that gives it)."""

    fact: str
    variables: tuple[str, ...]
    filters: tuple[tuple[str, str], ...]
    # Read as a prefix: the first rows of the fact's order, as many as the page's end needs.
    first: bool = False

    def combinations(
        self, params: Sequence[Param], values: Mapping[str, str | Sequence[str]], page: Page | None = None
    ) -> list[dict[str, rdflib.term.Node]]:
        """The fact's filter values for a request's ``values``: one dict of typed terms by filter name (those left
        out absent) per combination of the values given, as the query's VALUES block has a row per combination;
        for a prefix fact, each with ``first``: the end of ``page`` and one more. Raises InvalidParameter for a bad
        value; ValueError for a prefix fact without a page."""
        extra = {}
        if self.first:
            if page is None:
                raise ValueError(f"fact {self.fact!r} is read up to a page's end: give the page")
            extra = {"first": rdflib.Literal(page.offset + page.limit + 1)}
        declared = {p.name: p for p in params}
        columns = []
        for filter_name, param in self.filters:
            value = values.get(param)
            listed = [v for v in ([value] if isinstance(value, str) else list(value or ())) if v != ""]
            terms = list(dict.fromkeys(declared[param].to_term(v) for v in listed))
            columns.append([(filter_name, t) for t in terms] or [None])
        return [dict(pair for pair in row if pair is not None) | extra for row in itertools.product(*columns)]


def _parse_example(spec: str) -> dict[str, str | list[str]]:
    """An ``#+ example:`` line's parameters: a name given more than once (``party=A party=B``, a parameter that
    takes several values) maps to the list of its values, in order; any other to its value."""
    values: dict[str, list[str]] = {}
    for pair in spec.split():
        name, _, value = pair.partition("=")
        values.setdefault(name, []).append(value)
    return {name: listed[0] if len(listed) == 1 else listed for name, listed in values.items()}


def _iri(name: str, raw: str) -> rdflib.URIRef:
    prefix, _, local = raw.partition(":")
    if prefix in PREFIXES and not local.startswith("//"):
        raw = PREFIXES[prefix] + local  # a prefixed name such as pgid:party/russia
    if not _ABSOLUTE_IRI.match(raw) or _IRI_FORBIDDEN.search(raw) or len(raw) > 2000:
        raise InvalidParameter(name, f"{raw[:100]!r} is not an absolute IRI (or a known prefixed name)")
    return rdflib.URIRef(raw)


@dataclass(frozen=True)
class SavedQuery:
    """One saved query: its header and its text."""

    name: str
    kind: str
    summary: str
    description: str
    params: tuple[Param, ...]
    examples: tuple[dict[str, str | list[str]], ...]
    text: str = field(repr=False)
    paging: Paging | None = None
    keys: KeySource | None = None
    facts: FactSource | None = None

    def bind(
        self,
        values: Mapping[str, str | Sequence[str]],
        *,
        extra: int = 0,
        scope: Sequence[str] = (),
        keys: Sequence[tuple[str, str]] | None = None,
        keys_only: bool = False,
        facts: Sequence[Sequence[rdflib.term.Node | None]] | None = None,
        facts_only: bool = False,
    ) -> str:
        """Return the query text with ``values`` bound (a value or a list of values per name; several only for a
        ``many`` parameter); a paged query's ``#@page`` becomes the page ``values`` ask for (``cursor`` resolved as
        ``page`` does, with ``scope``), its LIMIT raised by ``extra``. Given ``keys`` (the page's keys and their
        date keys, in order, read elsewhere), a query with a ``#+ keys:`` source gets them as a VALUES block in
        place of the subquery that would cut them; with ``keys_only``, the text is that subquery alone (with the
        query's prologue): the page of keys. Given ``facts`` (rows of terms, None for unbound, read elsewhere), a
        query with a ``#+ facts:`` source gets them as a VALUES block in place of the subquery that works them out;
        with ``facts_only``, the text is that subquery alone (with the prologue). Raises InvalidParameter for an
        unknown, missing or bad value, too many values, or a cursor that is not this query's with these values;
        ValueError for ``keys``, ``keys_only``, ``facts`` or ``facts_only`` given to a query without such a
        source."""
        known = {p.name: p for p in self.params}
        given: dict[str, list[str]] = {}
        for name, value in values.items():
            if name not in known:
                raise InvalidParameter(
                    name, f"query {self.name!r} has no such parameter (it takes: {', '.join(known) or 'none'})"
                )
            # Blank values count as left out, as a single blank value always has.
            listed = [v for v in ([value] if isinstance(value, str) else list(value)) if v != ""]
            if len(listed) > 1 and not known[name].many:
                raise InvalidParameter(name, f"takes one value, not {len(listed)}")
            if len(listed) > _MAX_VALUES:
                raise InvalidParameter(name, f"takes at most {_MAX_VALUES} values")
            given[name] = listed
        text = self.text
        if facts is not None:
            text = self._with_facts(text, facts)
        elif facts_only:
            text = self._block_alone(*self._facts_block())
        if keys is not None:
            text = self._with_keys(text, keys)
        elif keys_only:
            text = self._keys_subquery()
        if self.paging is not None:
            page = self.page(values, scope=scope)
            text = text.replace(
                PAGE_MARKER, self.paging.clause({"limit": str(page.limit), "offset": str(page.offset)}, extra=extra)
            )
        bound = [p for p in self.params if not (self.paging is not None and p.name in PAGE_PARAMS)]
        columns: list[list[str]] = []
        for param in bound:
            listed = given.get(param.name) or []
            if not listed:
                if param.required:
                    raise InvalidParameter(param.name, "is required")
                columns.append(["UNDEF"])
            else:
                # The same value twice would repeat every answer row.
                columns.append(list(dict.fromkeys(param.to_term(raw).n3() for raw in listed)))
        if not bound:
            return text
        if math.prod(len(c) for c in columns) > _MAX_ROWS:
            raise InvalidParameter(
                next(p.name for p, c in zip(bound, columns, strict=True) if len(c) > 1),
                f"too many combinations of values (at most {_MAX_ROWS})",
            )
        rows = " ".join("(" + " ".join(row) + ")" for row in itertools.product(*columns))
        block = "VALUES (" + " ".join(f"?{p.name}" for p in bound) + ") { " + rows + " }"
        return text.replace(VALUES_MARKER, block)

    def _keys_block(self) -> tuple[list[str], int, int]:
        """The text's lines, and where its ``#@keys`` and ``#@keys-end`` lines are."""
        if self.keys is None or self.paging is None:
            raise ValueError(f"{self.name}: has no key source")
        lines = self.text.split("\n")
        start = next(i for i, line in enumerate(lines) if line.strip() == KEYS_MARKER)
        end = next(i for i, line in enumerate(lines) if line.strip() == KEYS_END_MARKER)
        return lines, start, end

    def _keys_subquery(self) -> str:
        return self._block_alone(*self._keys_block())

    @staticmethod
    def _block_alone(lines: list[str], start: int, end: int) -> str:
        # The prologue (everything before the query's own SELECT: its PREFIX lines) and the braced subquery between
        # the markers, unbraced.
        select = next(i for i, line in enumerate(lines) if line.lstrip().upper().startswith("SELECT"))
        body = "\n".join(lines[start + 1 : end]).strip()
        return "\n".join(lines[:select]) + "\n" + body[1:-1].strip() + "\n"

    def _facts_block(self) -> tuple[list[str], int, int]:
        """The text's lines, and where its ``#@facts`` and ``#@facts-end`` lines are."""
        if self.facts is None:
            raise ValueError(f"{self.name}: has no fact source")
        lines = self.text.split("\n")
        start = next(i for i, line in enumerate(lines) if line.strip() == FACTS_MARKER)
        end = next(i for i, line in enumerate(lines) if line.strip() == FACTS_END_MARKER)
        return lines, start, end

    def _with_facts(self, text: str, facts: Sequence[Sequence[rdflib.term.Node | None]]) -> str:
        lines, start, end = self._facts_block()
        width = len(self.facts.variables)
        if any(len(row) != width for row in facts):
            raise ValueError(f"{self.name}: a fact row that does not bind {', '.join(self.facts.variables)}")
        # Terms read from the index, each written as rdflib escapes it: nothing pasted as text.
        rows = " ".join("(" + " ".join("UNDEF" if t is None else t.n3() for t in row) + ")" for row in facts)
        block = "VALUES (" + " ".join(f"?{v}" for v in self.facts.variables) + f") {{ {rows} }}"
        return "\n".join(lines[:start] + [block] + lines[end + 1 :])

    def _with_keys(self, text: str, keys: Sequence[tuple[str, str]]) -> str:
        lines, start, end = self._keys_block()
        # IRIs read from the store and date keys, each written as a SPARQL term: an IRI that no IRI reference can
        # hold is refused, a key is escaped; nothing pasted as text. Not through rdflib's terms: a page holds up to
        # 2,000 keys, and building its terms took a tenth of a 200-key page's time at 1M triples.
        rows = " ".join(f"({_iri_term(iri)} {_string_term(key)})" for iri, key in keys)
        block = f"VALUES (?{self.paging.key} ?key) {{ {rows} }}"
        # The limit and offset were the subquery's; the block holds the page's keys already.
        return "\n".join(lines[:start] + [block] + lines[end + 1 :])

    def page(self, values: Mapping[str, str | Sequence[str]], *, scope: Sequence[str] = ()) -> Page:
        """Return the page ``values`` ask for: their ``limit`` and their ``offset`` or ``cursor`` (which must have
        been made by ``cursor`` for this query, the same other values and the same ``scope``). Raises
        InvalidParameter naming ``limit``, ``offset`` or ``cursor``; ValueError for a query that does not page."""
        if self.paging is None:
            raise ValueError(f"{self.name}: does not page")
        single = {}
        for name in PAGE_PARAMS:
            value = values.get(name)
            listed = [v for v in ([value] if isinstance(value, str) else list(value or ())) if v != ""]
            if len(listed) > 1:
                raise InvalidParameter(name, f"takes one value, not {len(listed)}")
            if listed:
                single[name] = listed[0]
        limit = self.paging.limit(single)
        offset = int(self.paging.clause(single).rsplit(" ", 1)[1])
        if "cursor" in single:
            if "offset" in single:
                raise InvalidParameter("cursor", "give cursor or offset, not both")
            offset = self._offset_of(single["cursor"], values, scope)
        return Page(limit, offset)

    def cursor(self, values: Mapping[str, str | Sequence[str]], offset: int, *, scope: Sequence[str] = ()) -> str:
        """Return an opaque cursor for the page at ``offset`` of this query with ``values`` (paging values aside)
        and ``scope`` (what else the answer depends on, e.g. the dataset asked for)."""
        raw = json.dumps([offset, self._digest(values, offset, scope)], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _offset_of(self, cursor: str, values: Mapping[str, str | Sequence[str]], scope: Sequence[str]) -> int:
        try:
            offset, digest = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise InvalidParameter("cursor", "is not a cursor of this service: copy it from a Link rel=next") from None
        if type(offset) is not int or not 0 <= offset <= _MAX_OFFSET or digest != self._digest(values, offset, scope):
            raise InvalidParameter(
                "cursor", f"belongs to another query or other parameters than these of {self.name!r}: start again"
            )
        return offset

    def _digest(self, values: Mapping[str, str | Sequence[str]], offset: int, scope: Sequence[str]) -> str:
        # The parameters that shape the answer, each with its distinct non-blank values in order: the same request
        # in another spelling (a value repeated, parameters reordered) keeps its cursors.
        shape = {
            name: list(dict.fromkeys(v.strip() for v in ([value] if isinstance(value, str) else value) if v != ""))
            for name, value in values.items()
            if name not in PAGE_PARAMS
        }
        material = [self.name, offset, sorted((k, v) for k, v in shape.items() if v), list(scope)]
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:24]

    def describe(self) -> dict:
        """Return the header as JSON-ready data (for listings)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "summary": self.summary,
            "description": self.description,
            "parameters": [
                {"name": p.name, "type": p.type, "required": p.required, "description": p.description}
                | ({"many": True} if p.many else {})
                for p in self.params
            ],
            "examples": list(self.examples),
        } | (
            {
                "paging": {"default": self.paging.default, "maximum": self.paging.maximum}
                | ({"key": self.paging.key} if self.paging.key else {})
            }
            if self.paging is not None
            else {}
        )

    @classmethod
    def parse(cls, name: str, text: str) -> "SavedQuery":
        """Parse a saved query's text; raises ValueError describing the first header problem."""
        header: dict[str, list[str]] = {}
        for line in text.splitlines():
            if line.startswith("#+"):
                key, _, value = line[2:].strip().partition(":")
                header.setdefault(key.strip(), []).append(value.strip())
        kind = (header.get("kind") or [""])[0].lower()
        if kind not in _KINDS:
            raise ValueError(f"{name}: '#+ kind:' must be one of {', '.join(_KINDS)}")
        if not header.get("summary"):
            raise ValueError(f"{name}: missing '#+ summary:'")
        params = tuple(_parse_param(name, spec) for spec in header.get("param", []))
        if params and VALUES_MARKER not in text:
            raise ValueError(f"{name}: declares parameters but has no {VALUES_MARKER} line")
        paging = _parse_paging(name, header.get("page", []), text)
        if paging is not None:
            if any(p.name in PAGE_PARAMS for p in params):
                raise ValueError(
                    f"{name}: 'limit', 'offset' and 'cursor' are the paging parameters; do not declare them"
                )
            params += paging.params()
        keys = _parse_keys(name, header.get("keys", []), text, params, paging)
        facts = _parse_facts(name, header.get("facts", []), text, params, paging)
        examples = tuple(_parse_example(spec) for spec in header.get("example", []))
        return cls(
            name=name,
            kind=kind,
            summary=header["summary"][0],
            description=" ".join(header.get("description", [])),
            params=params,
            examples=examples,
            text=text,
            paging=paging,
            keys=keys,
            facts=facts,
        )


def _parse_paging(query: str, specs: list[str], text: str) -> Paging | None:
    if not specs:
        if PAGE_MARKER in text:
            raise ValueError(f"{query}: has a {PAGE_MARKER} line but no '#+ page:'")
        return None
    fields = dict(pair.partition("=")[::2] for pair in specs[0].split())
    try:
        paging = Paging(int(fields["limit"]), int(fields["max"]), fields.get("key") or None)
    except (KeyError, ValueError):
        raise ValueError(f"{query}: bad '#+ page: {specs[0]}' (want: limit=DEFAULT max=MAXIMUM [key=VAR])") from None
    if (
        len(specs) > 1
        or not {"limit", "max"} <= set(fields) <= {"limit", "max", "key"}
        or not 1 <= paging.default <= paging.maximum
        or (paging.key is not None and not _KEY.match(paging.key))
    ):
        raise ValueError(
            f"{query}: bad '#+ page: {specs[0]}' (want one: limit=DEFAULT max=MAXIMUM, 1 <= DEFAULT <= MAXIMUM)"
        )
    if PAGE_MARKER not in text:
        raise ValueError(f"{query}: declares '#+ page:' but has no {PAGE_MARKER} line")
    # Pages of an unordered answer may overlap or skip rows: the engine is free to return them in any order.
    if "ORDER BY" not in text.upper():
        raise ValueError(f"{query}: declares '#+ page:' but has no ORDER BY, so its pages would not be stable")
    return paging


def _parse_keys(
    query: str, specs: list[str], text: str, params: tuple[Param, ...], paging: Paging | None
) -> KeySource | None:
    lines = [line.strip() for line in text.splitlines()]
    if not specs:
        if KEYS_MARKER in lines or KEYS_END_MARKER in lines:
            raise ValueError(f"{query}: has {KEYS_MARKER} lines but no '#+ keys:'")
        return None
    words = specs[0].split()
    if len(specs) > 1 or not words or not all("=" in w for w in words[1:]):
        raise ValueError(f"{query}: bad '#+ keys: {specs[0]}' (want: COLLECTION FILTER=PARAM ...)")
    if paging is None or paging.key is None or "+" in paging.key:
        raise ValueError(f"{query}: '#+ keys:' needs '#+ page: … key=VAR' (one variable)")
    declared = {p.name: p for p in params}
    pairs = [tuple(w.split("=", 1)) for w in words[1:]]
    filters = tuple(pair for pair in pairs if pair[0] != "descending")
    descending = None
    for _, spec in (pair for pair in pairs if pair[0] == "descending"):
        param, _, wanted = spec.partition(":")
        if param not in declared or not wanted or descending is not None:
            raise ValueError(f"{query}: bad '#+ keys: … descending=PARAM:VALUE' ({spec!r})")
        descending = (param, wanted)
    for _, param in filters:
        # A parameter that takes several values gives a collection filter only when it has one (else the engine
        # cuts the keys).
        if param not in declared or param in PAGE_PARAMS:
            raise ValueError(f"{query}: '#+ keys:' names {param!r}, not one of its parameters")
    # The block that replaces the key subquery must hold its page marker, and nothing else may cut the answer.
    if (
        lines.count(KEYS_MARKER) != 1
        or lines.count(KEYS_END_MARKER) != 1
        or lines.count(PAGE_MARKER) != 1
        or not lines.index(KEYS_MARKER) < lines.index(PAGE_MARKER) < lines.index(KEYS_END_MARKER)
    ):
        raise ValueError(
            f"{query}: '#+ keys:' wants one {KEYS_MARKER} line, then the {PAGE_MARKER} line, then one {KEYS_END_MARKER}"
        )
    block = "\n".join(lines[lines.index(KEYS_MARKER) + 1 : lines.index(KEYS_END_MARKER)]).strip()
    if not (block.startswith("{") and block.endswith("}")):
        raise ValueError(f"{query}: the subquery between {KEYS_MARKER} and {KEYS_END_MARKER} must be one braced group")
    return KeySource(words[0], filters, descending)


_SELECTED = re.compile(r"(?is)^\{\s*SELECT\s+(?:DISTINCT\s+)?(.*?)\s+WHERE\b")
_AS = re.compile(r"(?is)\bAS\s+\?([A-Za-z_][A-Za-z0-9_]*)\s*$")


def _projected(clause: str) -> tuple[str, ...]:
    """The variables a SELECT clause projects, in order: ``?v`` and ``(expression AS ?v)``."""
    out, depth, group = [], 0, ""
    for token in re.findall(r"\?[A-Za-z_][A-Za-z0-9_]*|[()]|[^()?]+|\?", clause):
        if depth == 0 and token.startswith("?") and len(token) > 1:
            out.append(token[1:])
        elif token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth == 0:
                named = _AS.search(group)
                out.append(named.group(1) if named else "")
                group = ""
        if depth > 0 and not (token == "(" and depth == 1):
            group += token
    return tuple(out)


def _parse_facts(
    query: str, specs: list[str], text: str, params: tuple[Param, ...], paging: Paging | None
) -> FactSource | None:
    lines = [line.strip() for line in text.splitlines()]
    if not specs:
        if FACTS_MARKER in lines or FACTS_END_MARKER in lines:
            raise ValueError(f"{query}: has {FACTS_MARKER} lines but no '#+ facts:'")
        return None
    words = specs[0].split()
    first = len(words) > 2 and words[-1] == "first"
    if first:
        words = words[:-1]
        if paging is None or paging.key is not None:
            raise ValueError(f"{query}: '#+ facts: … first' wants a query paged by rows ('#+ page:' without key=)")
    if len(specs) > 1 or len(words) < 2 or not all("=" in w for w in words[2:]):
        raise ValueError(f"{query}: bad '#+ facts: {specs[0]}' (want: FACT VAR,VAR,... FILTER=PARAM ... [first])")
    variables = tuple(words[1].split(","))
    if not all(_NAME.match(v.lower()) for v in variables) or len(set(variables)) != len(variables):
        raise ValueError(f"{query}: bad '#+ facts:' variables {words[1]!r}")
    declared = {p.name for p in params}
    filters = tuple(tuple(w.split("=", 1)) for w in words[2:])
    for _, param in filters:
        if param not in declared or param in PAGE_PARAMS:
            raise ValueError(f"{query}: '#+ facts:' names {param!r}, not one of its parameters")
    if lines.count(FACTS_MARKER) != 1 or lines.count(FACTS_END_MARKER) != 1:
        raise ValueError(f"{query}: '#+ facts:' wants one {FACTS_MARKER} line and one {FACTS_END_MARKER} line")
    start, end = lines.index(FACTS_MARKER), lines.index(FACTS_END_MARKER)
    block = "\n".join(line for line in lines[start + 1 : end] if not line.startswith("#")).strip()
    # What the block selects (a variable, or an expression AS a variable), in order: the fact's rows must bind the
    # same, or the VALUES block would mean something else.
    selected = _SELECTED.match(block)
    projected = _projected(selected.group(1)) if selected else ()
    if start > end or not block.endswith("}") or PAGE_MARKER in lines[start:end] or projected != variables:
        raise ValueError(
            f"{query}: the block between {FACTS_MARKER} and {FACTS_END_MARKER} must be one braced subquery selecting "
            f"?{' ?'.join(variables)} (it selects {' '.join('?' + v for v in projected) or 'nothing'})"
        )
    return FactSource(words[0], variables, filters, first)


def _parse_param(query: str, spec: str) -> Param:
    head, _, description = spec.partition("—")
    words = head.split()
    if (
        len(words) not in (3, 4)
        or not _NAME.match(words[0])
        or words[1] not in PARAM_TYPES
        or words[2] not in ("required", "optional")
        or words[3:] not in ([], ["many"])
    ):
        raise ValueError(f"{query}: bad '#+ param: {spec}' (want: NAME TYPE required|optional [many] — description)")
    return Param(words[0], words[1], words[2] == "required", description.strip(), many=words[3:] == ["many"])


class Catalog:
    """The saved queries of a directory, keyed by file name without ``.rq``."""

    def __init__(self, queries: Mapping[str, SavedQuery]) -> None:
        self._queries = dict(sorted(queries.items()))

    @classmethod
    def from_dir(cls, directory: Path) -> "Catalog":
        """Load every ``*.rq`` in ``directory``; raises ValueError for a malformed header."""
        return cls(
            {
                p.stem: SavedQuery.parse(p.stem, p.read_text(encoding="utf-8"))
                for p in sorted(Path(directory).glob("*.rq"))
            }
        )

    def __iter__(self):
        return iter(self._queries.values())

    def __len__(self) -> int:
        return len(self._queries)

    def get(self, name: str) -> SavedQuery:
        """Return the saved query ``name``; raises NotFound."""
        try:
            return self._queries[name]
        except KeyError:
            raise NotFound(f"no saved query named {name!r}; known: {', '.join(self._queries)}") from None
