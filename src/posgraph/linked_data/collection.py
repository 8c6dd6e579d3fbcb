"""Filtered, sorted collections of positions, parties, people, events, sources, documents, places, media,
government bodies and issues, paged by keyset cursor.

Every query here is built from fixed text plus RDF terms that rdflib serialises; no request value is pasted in.
"""

from __future__ import annotations

import base64
import json
import weakref
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

import rdflib

from posgraph.catalog import Param
from posgraph.engine import Engine
from posgraph.errors import InvalidParameter, NotFound
from posgraph.namespaces import PG, PGI, POSITION_TYPES, RDFS, SCHEMA, SKOS, XSD


# ------------------------------------------------------------------------------------------ collections
@dataclass(frozen=True)
class Collection:
    """One listable kind of resource: which class, which label and date it sorts by, which filters it takes."""

    name: str
    cls: str
    label: str
    date: str | None
    filters: tuple[str, ...]
    # Where an item lacks ``label``: a source that is a document version has a title, not a headline.
    fallback_label: str | None = None


COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in (
        Collection(
            "positions",
            str(PG.Position),
            str(PG.summary),
            str(PG.statedOn),
            ("party", "issue", "person", "type", "stated_from", "stated_to", "as_of", "q"),
        ),
        Collection("parties", str(PG.Party), str(SKOS.prefLabel), None, ("q",)),
        Collection("people", str(PG.Person), str(SKOS.prefLabel), None, ("party", "q")),
        Collection(
            "events",
            str(PG.Event),
            str(SKOS.prefLabel),
            str(PG.startDate),
            ("party", "stated_from", "stated_to", "q"),
        ),
        Collection(
            "sources",
            str(PG.Source),
            str(SCHEMA.headline),
            str(SCHEMA.datePublished),
            ("stated_from", "stated_to", "q"),
            fallback_label=str(SKOS.prefLabel),
        ),
        Collection("documents", str(PG.Document), str(SKOS.prefLabel), None, ("q",)),
        Collection("places", str(PG.Place), str(SKOS.prefLabel), None, ("q",)),
        # Publishers and relaying outlets that are not parties: news media, and ministries or other state bodies.
        Collection("media", str(PG.MediaOrganization), str(SKOS.prefLabel), None, ("q",)),
        Collection("government-bodies", str(PG.GovernmentBody), str(SKOS.prefLabel), None, ("q",)),
        Collection(
            "issues",
            str(SKOS.Concept),
            str(SKOS.prefLabel),
            None,
            ("q",),
        ),
    )
}
_PARAMS = {
    "party": Param("party", "iri", False),
    "issue": Param("issue", "iri", False),
    "person": Param("person", "iri", False),
    "stated_from": Param("stated_from", "date", False),
    "stated_to": Param("stated_to", "date", False),
    "as_of": Param("as_of", "date", False),
    "q": Param("q", "string", False),
}
_FIRST = 'IF(STRLEN(%s) = 4, CONCAT(%s, "-01-01"), IF(STRLEN(%s) = 7, CONCAT(%s, "-01"), %s))'
_LAST = 'IF(STRLEN(%s) = 4, CONCAT(%s, "-12-31"), IF(STRLEN(%s) = 7, CONCAT(%s, "-31"), %s))'


def _span(expr: str, template: str) -> str:
    return template % ((expr,) * 5)


def first_day(d: str) -> str:
    """The first day a date value covers, as the engine's filters compute it (``_FIRST``)."""
    return d + "-01-01" if len(d) == 4 else d + "-01" if len(d) == 7 else d


def last_day(d: str) -> str:
    """The last day a date value covers, as the engine's filters compute it (``_LAST``)."""
    return d + "-12-31" if len(d) == 4 else d + "-31" if len(d) == 7 else d


@dataclass(frozen=True)
class Page:
    """One page of a collection: its items and the cursor of the next page (None on the last)."""

    items: list[dict]
    next_cursor: str | None


def encode_cursor(key: str, item: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([key, item]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        key, item = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(key, str) and isinstance(item, str)):
            raise ValueError
        return key, item
    except (ValueError, TypeError):
        raise InvalidParameter("cursor", "not a cursor this server issued; follow the Link headers") from None


def _checked(spec: Collection, params: Mapping[str, str], sort: str | None, limit: int) -> tuple[str, bool]:
    """Refuse filters, sorts and limits the collection does not take; return the sort field and direction."""
    for key in params:
        if key not in spec.filters and key != "type":
            raise InvalidParameter(key, f"/{spec.name} has no such filter (it takes: {', '.join(spec.filters)})")
    sortable = ("date", "-date", "label", "-label", "id", "-id") if spec.date else ("label", "-label", "id", "-id")
    sort = sort or ("date" if spec.date else "label")
    if sort not in sortable:
        raise InvalidParameter("sort", f"use one of {', '.join(sortable)}")
    if not 1 <= limit <= 500:
        raise InvalidParameter("limit", "must be between 1 and 500")
    return sort.lstrip("-"), sort.startswith("-")


_BOUND = ["party", "issue", "person", "stated_from", "stated_to", "as_of", "q", "klass", "afterKey", "afterId"]


def request_terms(spec: Collection, params: Mapping[str, str], cursor: str | None) -> dict[str, rdflib.term.Node]:
    """The request's filter values and cursor as typed terms, by variable name (unset ones absent). Raises
    InvalidParameter naming a bad value, type or cursor."""
    values = {k: _PARAMS[k].to_term(v) for k, v in params.items() if k in _PARAMS and v != ""}
    type_name = params.get("type")
    if type_name:
        if spec.name != "positions" or type_name not in POSITION_TYPES:
            raise InvalidParameter("type", f"use one of {', '.join(POSITION_TYPES)}")
        values["klass"] = rdflib.URIRef(str(PG) + type_name)
    if cursor:
        after_key, after_id = _decode_cursor(cursor)
        values["afterKey"], values["afterId"] = rdflib.Literal(after_key), rdflib.Literal(after_id)
    return values


def _values_block(values: Mapping[str, rdflib.term.Node]) -> str:
    """The request's values as one VALUES row (unset ones UNDEF): typed terms, never text pasted into the query."""
    terms = " ".join(values[n].n3() if n in values else "UNDEF" for n in _BOUND)
    return "VALUES (" + " ".join(f"?{n}" for n in _BOUND) + f") {{ ({terms}) }}"


def _membership(spec: Collection) -> list[str]:
    """What makes a resource an item of the collection, and its own party and issue filters."""
    typed = f"?item a <{spec.cls}> . BIND (<{spec.cls}> AS ?type)"
    if spec.name == "positions":
        return [
            f"?item a ?type . ?type <{RDFS.subClassOf}> <{PG.Position}> .",
            "FILTER (!BOUND(?klass) || ?type = ?klass)",
            f"FILTER (!BOUND(?party) || EXISTS {{ ?item <{PG.heldBy}> ?party }})",
            f"FILTER (!BOUND(?issue) || EXISTS {{ ?item <{PG.concerns}> ?issue }})",
            f"FILTER (!BOUND(?person) || EXISTS {{ ?item <{PG.statedBy}> ?person }})",
        ]
    if spec.name == "events":
        return [typed, f"FILTER (!BOUND(?party) || EXISTS {{ ?item <{PG.participant}>|<{PG.mediator}> ?party }})"]
    if spec.name == "people":
        return [typed, f"FILTER (!BOUND(?party) || EXISTS {{ ?item <{PG.holdsRole}>/<{PG.roleFor}> ?party }})"]
    if spec.name == "issues":
        return [f"?item <{SKOS.inScheme}> <{PGI}scheme> . BIND (<{spec.cls}> AS ?type)"]
    return [typed]


def _label_and_dates(spec: Collection) -> list[str]:
    """The item's label (English first) and the text and date filters."""
    where = [
        f'OPTIONAL {{ ?item <{spec.label}> ?labelEn FILTER (lang(?labelEn) = "en") }}',
        f"OPTIONAL {{ ?item <{spec.label}> ?labelAny }}",
    ]
    if spec.fallback_label:
        where += [
            f'OPTIONAL {{ ?item <{spec.fallback_label}> ?otherEn FILTER (lang(?otherEn) = "en") }}',
            f"OPTIONAL {{ ?item <{spec.fallback_label}> ?otherAny }}",
            f"BIND (IF(BOUND(?labelAny), <{spec.label}>, <{spec.fallback_label}>) AS ?labelProp)",
            "BIND (COALESCE(?labelEn, ?labelAny, ?otherEn, ?otherAny) AS ?label)",
        ]
    else:
        where.append("BIND (COALESCE(?labelEn, ?labelAny) AS ?label)")
    where.append("FILTER (!BOUND(?q) || CONTAINS(LCASE(STR(?label)), LCASE(STR(?q))))")
    if spec.date:
        where += [
            f"OPTIONAL {{ ?item <{spec.date}> ?date }}",
            "BIND (STR(?date) AS ?d)",
            f"FILTER (!BOUND(?stated_from) || {_span('?d', _LAST)} >= {_span('STR(?stated_from)', _FIRST)})",
            f"FILTER (!BOUND(?stated_to) || {_span('?d', _FIRST)} <= {_span('STR(?stated_to)', _LAST)})",
        ]
    if spec.name == "positions":  # as_of: stated by then and not yet superseded by then
        asof = _span("STR(?as_of)", _LAST)
        where.append(
            f"FILTER (!BOUND(?as_of) || ({_span('?d', _FIRST)} <= {asof} && NOT EXISTS {{ "
            f"?later <{PG.supersedes}> ?item ; <{PG.statedOn}> ?lo . "
            f"FILTER ({_span('STR(?lo)', _FIRST)} <= {asof}) }}))"
        )
    return where


_KEYS = {"date": 'COALESCE(STR(?date), "")', "label": 'LCASE(COALESCE(STR(?label), ""))', "id": "STR(?item)"}


def _keyset(field: str, descending: bool, limit: int) -> tuple[list[str], str]:
    """The sort key, the filter that starts after the cursor, and the ORDER BY … LIMIT tail."""
    op = "<" if descending else ">"
    where = [
        f"BIND ({_KEYS[field]} AS ?key)",
        f"FILTER (!BOUND(?afterKey) || ?key {op} ?afterKey || (?key = ?afterKey && STR(?item) {op} ?afterId))",
    ]
    order = "DESC(?key) DESC(STR(?item))" if descending else "?key STR(?item)"
    return where, f"ORDER BY {order} LIMIT {limit + 1}"


class CollectionIndexLike(Protocol):
    """What collection_page needs of a derived index (posgraph.linked_data.index.CollectionIndex)."""

    async def page(
        self,
        spec: Collection,
        values: Mapping[str, rdflib.term.Node],
        field: str,
        descending: bool,
        limit: int,
        *,
        version: str | None = None,
    ) -> Page | None: ...

    async def keys(
        self,
        spec: Collection,
        values: Mapping[str, rdflib.term.Node],
        offset: int,
        limit: int,
        descending: bool = False,
        *,
        version: str | None = None,
    ) -> list[tuple[str, str]] | None: ...

    async def facts(
        self, fact: str, combinations: Sequence[Mapping[str, rdflib.term.Node]], *, version: str | None = None
    ) -> list[tuple] | None: ...


# Derived indexes (posgraph.linked_data.index) by the engine they mirror; an engine without one is asked directly.
_INDEXES: weakref.WeakKeyDictionary[Engine, CollectionIndexLike] = weakref.WeakKeyDictionary()


def use_index(engine: Engine, index: CollectionIndexLike | None) -> None:
    """Answer collection pages of ``engine`` from ``index`` whenever it is current (None: stop using one)."""
    if index is None:
        _INDEXES.pop(engine, None)
    else:
        _INDEXES[engine] = index


async def collection_page(
    engine: Engine,
    name: str,
    params: Mapping[str, str],
    *,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    version: str | None = None,
) -> Page:
    """One page of collection ``name``, filtered and sorted, after ``cursor`` (keyset pagination: pages neither
    skip nor repeat items while the data is unchanged). Raises NotFound or InvalidParameter naming the parameter.

    Answered from the engine's derived index when it has one that holds the dataset's current version (a page
    is then an index seek), otherwise by the engine itself (``sparql_collection_page``): the same page either way.
    ``version``: the dataset version the caller has just read (else the index reads it).
    """
    spec, values, field, descending = _request(name, params, sort, cursor, limit)
    index = _INDEXES.get(engine)
    if index is not None:
        page = await index.page(spec, values, field, descending, limit, version=version)
        if page is not None:
            return page
    return await _sparql_page(engine, spec, values, field, descending, limit)


async def index_keys(
    engine: Engine,
    name: str,
    values: Mapping[str, rdflib.term.Node],
    offset: int,
    limit: int,
    descending: bool = False,
) -> list[tuple[str, str]] | None:
    """Up to ``limit`` (item, date key) pairs of collection ``name`` filtered by ``values`` (typed terms by filter
    name), in date order (the date as written, then the item's IRI; both reversed when ``descending``) after the
    first ``offset``: a saved query's page of keys, read from the engine's derived index. None when the engine has
    no index or it does not hold the dataset's current version (then the query must cut its keys itself). Raises
    NotFound for an unknown collection, InvalidParameter for a filter it does not take."""
    spec = COLLECTIONS.get(name)
    if spec is None or not spec.date:
        raise NotFound(f"no collection {name!r} in date order")
    for key in values:
        if key not in spec.filters:
            raise InvalidParameter(key, f"/{spec.name} has no such filter (it takes: {', '.join(spec.filters)})")
    index = _INDEXES.get(engine)
    if index is None:
        return None
    return await index.keys(spec, values, offset, limit, descending)


async def index_facts(
    engine: Engine, fact: str, combinations: Sequence[Mapping[str, rdflib.term.Node]]
) -> list[tuple] | None:
    """The rows of aggregate ``fact`` (posgraph.linked_data.aggregates) for any of ``combinations`` (its filter
    values as typed terms by name): what a saved query's ``#@facts`` subquery would give, read from the engine's
    derived index. None when the engine has no index or it does not hold the dataset's current version (then the
    query works them out itself). Raises KeyError for an unknown fact or filter."""
    index = _INDEXES.get(engine)
    if index is None:
        return None
    return await index.facts(fact, combinations)


async def sparql_collection_page(
    engine: Engine,
    name: str,
    params: Mapping[str, str],
    *,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The page ``collection_page`` returns, always computed by the engine (one query that sorts the whole
    collection): the reference the derived index must agree with. Raises what ``collection_page`` raises."""
    return await _sparql_page(engine, *_request(name, params, sort, cursor, limit), limit)


def _request(
    name: str, params: Mapping[str, str], sort: str | None, cursor: str | None, limit: int
) -> tuple[Collection, dict[str, rdflib.term.Node], str, bool]:
    """The collection, the request's values as terms, the sort field and direction; raises NotFound or
    InvalidParameter naming the parameter."""
    spec = COLLECTIONS.get(name)
    if spec is None:
        raise NotFound(f"no collection {name!r}")
    field, descending = _checked(spec, params, sort, limit)
    return spec, request_terms(spec, params, cursor), field, descending


async def _sparql_page(
    engine: Engine, spec: Collection, values: Mapping[str, rdflib.term.Node], field: str, descending: bool, limit: int
) -> Page:
    keyset, tail = _keyset(field, descending, limit)
    where = [_values_block(values), *_membership(spec), *_label_and_dates(spec), *keyset]
    query = "SELECT DISTINCT ?item ?type ?label ?labelProp ?date ?key WHERE {\n  " + "\n  ".join(where) + f"\n}} {tail}"
    return page_of(await engine.select(query), spec, limit)


def page_of(rows: list[Mapping[str, rdflib.term.Node]], spec: Collection, limit: int) -> Page:
    """The page made of up to ``limit`` + 1 sorted rows (item, type, label, labelProp, date, key): each item once
    (an item of two move classes appears once), and a next cursor when there were more rows than items shown."""
    items, seen = [], set()
    for row in rows:
        if str(row["item"]) not in seen:
            seen.add(str(row["item"]))
            items.append(row)
    more, items = len(items) > limit, items[:limit]
    next_cursor = encode_cursor(str(items[-1]["key"]), str(items[-1]["item"])) if more and items else None
    return Page([_item(row, spec) for row in items], next_cursor)


_DATE_TERMS = {
    str(XSD.date): "",
    str(XSD.gYearMonth): "Month",
    str(XSD.gYear): "Year",
}
_DATE_NAMES = {
    str(PG.statedOn): "statedOn",
    str(PG.startDate): "startDate",
    str(SCHEMA.datePublished): "datePublished",
}
_LABEL_NAMES = {
    str(PG.summary): "summary",
    str(SKOS.prefLabel): "prefLabel",
    str(SCHEMA.headline): "headline",
}


def _item(row: Mapping[str, rdflib.term.Node], spec: Collection) -> dict:
    """A compact JSON-LD node for one collection item (terms chosen so the values expand to the stored RDF)."""
    item: dict = {
        "id": str(row["item"]),
        "type": str(row["type"]).rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        if str(row["type"]).startswith(str(PG))
        else str(row["type"]),
    }
    if spec.name == "issues":
        item["type"] = "skos:Concept"
    label = row.get("label")
    if isinstance(label, rdflib.Literal):
        prop = str(row.get("labelProp") or spec.label)
        item[_LABEL_NAMES[prop]] = {label.language or "@none": str(label)}
    date = row.get("date")
    if isinstance(date, rdflib.Literal) and spec.date and str(date.datatype) in _DATE_TERMS:
        item[_DATE_NAMES[spec.date] + _DATE_TERMS[str(date.datatype)]] = str(date)
    return item
