"""What the readable HTML pages show: one function per kind of resource (position, party, person, issue, event,
source, document, anything else), each gathering the page's data in a few queries and returning plain data classes.

Every query here is built from fixed text plus RDF terms that rdflib serialises (``.n3()``); no request value is
pasted in. Lists that can grow without bound (a party's positions, an issue's, a source's citations) are capped at
``LIST_CAP`` items, and the view says when it was capped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Union

import rdflib
from rdflib.term import Node

from posgraph import formats
from posgraph.engine import Engine
from posgraph.namespaces import PG, PGI, POSITION_TYPES, RDF, RDFS, SCHEMA, SKOS, compact_iri

__all__ = [
    "LIST_CAP",
    "Ref",
    "Lit",
    "Detail",
    "QuantityView",
    "ConditionView",
    "TermView",
    "ReportView",
    "SourceItem",
    "PositionItem",
    "Step",
    "VersionItem",
    "PageView",
    "page_view",
    "position_view",
    "party_view",
    "person_view",
    "issue_view",
    "event_view",
    "source_view",
    "document_view",
    "generic_view",
]

LIST_CAP = 200
_NT = formats.format_for_media_type("application/n-triples")
_POSITION_CLASSES = tuple(PG[n] for n in POSITION_TYPES)
# What a position in a list needs: enough for one line (kind, holders, date, issues, summary, change type).
_ITEM_PROPS = (RDF.type, PG.summary, PG.statedOn, PG.heldBy, PG.concerns, PG.changeType, PG.addressedTo)
# Where a label comes from, best first (a position is known by its summary, a term by its wording).
_LABEL_PROPS = (SKOS.prefLabel, RDFS.label, SCHEMA.headline, PG.summary, PG.versionLabel, PG.roleTitle, PG.wording)
_LABEL_CAP = 2000


# ------------------------------------------------------------------------------------------ data classes
@dataclass(frozen=True)
class Ref:
    """A resource a page names: its IRI and the best label known for it (its compact IRI when none)."""

    iri: str
    label: str


@dataclass(frozen=True)
class Lit:
    """A literal as stored: lexical form, datatype IRI (None for a plain or language string) and language."""

    text: str
    datatype: str | None = None
    language: str | None = None


Value = Union[Ref, Lit]


@dataclass(frozen=True)
class Detail:
    """One property of a node and its values, with the property's label from the ontology."""

    label: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class QuantityView:
    """A figure as a term states it: a value, a range or alternatives, with qualifier, unit and whose count."""

    values: tuple[Lit, ...] = ()
    minimum: Lit | None = None
    maximum: Lit | None = None
    alternatives: tuple[Lit, ...] = ()
    qualifier: Ref | None = None
    distribution: Ref | None = None
    party: Ref | None = None
    kind: Ref | None = None
    unit: Ref | None = None
    according_to: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class ConditionView:
    """A condition: its type, what it requires (terms, positions, events) and its wording."""

    kind: Ref | None
    requires: tuple[Ref, ...]
    wording: tuple[Lit, ...]
    according_to: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class TermView:
    """A term in parts that read as words: who is to act, the action (and whether it is negated), the source's
    wording, other details (regions, alliance, dates …), figures and conditions."""

    iri: str | None
    kind: Ref | None
    action: Ref | None
    negative: bool
    obligated: tuple[Ref, ...]
    wording: tuple[Lit, ...]
    details: tuple[Detail, ...]
    quantities: tuple[QuantityView, ...]
    conditions: tuple[ConditionView, ...]
    according_to: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class ReportView:
    """One source's account of a position."""

    source: Ref | None
    sourcing: Ref | None
    rank: Ref | None
    confidence: Lit | None
    via: tuple[Ref, ...]
    quotes: tuple[Lit, ...]
    summaries: tuple[Lit, ...]


@dataclass(frozen=True)
class SourceItem:
    """A source as a list shows it: title, publisher, date, syndication and where to read it."""

    ref: Ref
    publishers: tuple[Ref, ...]
    syndicated_from: tuple[Ref, ...]
    date: Lit | None
    urls: tuple[str, ...]


@dataclass(frozen=True)
class PositionItem:
    """A position as a list shows it: summary, kind, holders, date, issues and (where it matters) change type."""

    ref: Ref
    kinds: tuple[Ref, ...]
    holders: tuple[Ref, ...]
    addressees: tuple[Ref, ...]
    date: Lit | None
    issues: tuple[Ref, ...]
    change: Ref | None = None


@dataclass(frozen=True)
class Step:
    """A dated lifecycle step of a document version, or an event's participant role."""

    stage: Ref | None
    date: Lit | None
    by: tuple[Ref, ...]


@dataclass(frozen=True)
class VersionItem:
    """A document version: label, point count, lifecycle steps and the positions stated in it."""

    ref: Ref
    version_label: tuple[Lit, ...]
    point_count: Lit | None
    steps: tuple[Step, ...]
    revises: tuple[Ref, ...]
    positions: tuple[PositionItem, ...]


@dataclass
class PageView:
    """Everything a readable page shows. ``kind`` names the page (position, party, person, issue, event, source,
    document or resource); ``facts`` are labelled values for the page's head; the lists are the kind's own
    (empty where they do not apply); ``capped`` names the lists cut at ``LIST_CAP``."""

    kind: str
    iri: str
    title: str
    types: tuple[Ref, ...] = ()
    description: tuple[Lit, ...] = ()
    facts: list[Detail] = field(default_factory=list)
    # position
    holders: tuple[Ref, ...] = ()
    addressees: tuple[Ref, ...] = ()
    date: Lit | None = None
    date_notes: tuple[Lit, ...] = ()
    terms: tuple[TermView, ...] = ()
    conditions: tuple[ConditionView, ...] = ()
    supersedes: tuple[PositionItem, ...] = ()
    superseded_by: tuple[PositionItem, ...] = ()
    responds_to: tuple[PositionItem, ...] = ()
    responses: tuple[PositionItem, ...] = ()
    reports: tuple[ReportView, ...] = ()
    sources: tuple[SourceItem, ...] = ()
    quotes: tuple[Lit, ...] = ()
    stated_in: tuple[Ref, ...] = ()
    change: Ref | None = None
    issues: tuple[Ref, ...] = ()
    # party, person, issue, event, source, document
    people: tuple[tuple[Ref, tuple[Lit, ...]], ...] = ()
    bodies: tuple[Ref, ...] = ()
    by_issue: tuple[tuple[Ref, tuple[PositionItem, ...]], ...] = ()
    positions: tuple[PositionItem, ...] = ()
    delegates: tuple[Step, ...] = ()
    resulting: tuple[PositionItem, ...] = ()
    implements: tuple[PositionItem, ...] = ()
    quantities: tuple[QuantityView, ...] = ()
    events: tuple[Ref, ...] = ()
    versions: tuple[VersionItem, ...] = ()
    steps: tuple[Step, ...] = ()
    links: tuple[Detail, ...] = ()
    mentioned_by: tuple[Ref, ...] = ()
    capped: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ reading helpers
class _Reader:
    """A graph and the labels of the IRIs in it, turned into the data classes above."""

    def __init__(self, graph: rdflib.Graph, labels: dict[str, str]) -> None:
        self.g, self.labels = graph, labels

    def ref(self, node: Node) -> Ref:
        iri = str(node)
        return Ref(iri, self.labels.get(iri) or compact_iri(iri))

    def refs(self, s: Node, p: Node) -> tuple[Ref, ...]:
        return tuple(sorted((self.ref(o) for o in self.g.objects(s, p) if isinstance(o, rdflib.URIRef)), key=_ref_key))

    def one_ref(self, s: Node, p: Node) -> Ref | None:
        found = self.refs(s, p)
        return found[0] if found else None

    def lits(self, s: Node, p: Node) -> tuple[Lit, ...]:
        return tuple(sorted((_lit(o) for o in self.g.objects(s, p) if isinstance(o, rdflib.Literal)), key=_lit_key))

    def one_lit(self, s: Node, p: Node) -> Lit | None:
        found = self.lits(s, p)
        return found[0] if found else None

    def value(self, node: Node) -> Value:
        return _lit(node) if isinstance(node, rdflib.Literal) else self.ref(node)

    def types(self, s: Node) -> tuple[Ref, ...]:
        return self.refs(s, RDF.type)

    def kinds(self, s: Node) -> tuple[Ref, ...]:
        """The most specific posgraph position classes of ``s`` (pg:Position itself only when alone)."""
        found = [t for t in self.g.objects(s, RDF.type) if t in _POSITION_CLASSES]
        return tuple(sorted((self.ref(t) for t in found), key=_ref_key)) or self.refs(s, RDF.type)

    def report_sources(self, s: Node) -> tuple[Ref, ...]:
        """The sources of the reports a term, figure or condition is ``pg:accordingTo``."""
        return tuple(r for report in self.g.objects(s, PG.accordingTo) for r in self.refs(report, PG.source))

    def item(self, s: Node) -> PositionItem:
        return PositionItem(
            ref=self.ref(s),
            kinds=self.kinds(s),
            holders=self.refs(s, PG.heldBy),
            addressees=self.refs(s, PG.addressedTo),
            date=self.one_lit(s, PG.statedOn),
            issues=self.refs(s, PG.concerns),
            change=self.one_ref(s, PG.changeType),
        )

    def items(self, subjects: Iterable[Node], *, newest_first: bool = True) -> tuple[PositionItem, ...]:
        found = [self.item(s) for s in set(subjects)]
        found.sort(key=lambda i: (i.date.text if i.date else "", i.ref.iri), reverse=newest_first)
        return tuple(found)

    def quantity(self, q: Node) -> QuantityView:
        return QuantityView(
            values=self.lits(q, PG.value),
            minimum=self.one_lit(q, PG.minValue),
            maximum=self.one_lit(q, PG.maxValue),
            alternatives=self.lits(q, PG.alternativeValue),
            qualifier=self.one_ref(q, PG.qualifier),
            distribution=self.one_ref(q, PG.distribution),
            party=self.one_ref(q, PG.forParty),
            kind=self.one_ref(q, PG.quantityKind),
            unit=self.one_ref(q, PG.unit),
            according_to=self.report_sources(q),
        )

    def condition(self, c: Node) -> ConditionView:
        return ConditionView(
            kind=self.one_ref(c, PG.conditionType),
            requires=self.refs(c, PG.requires),
            wording=self.lits(c, PG.wording),
            according_to=self.report_sources(c),
        )

    def term(self, t: Node) -> TermView:
        shown = {RDF.type, PG.action, PG.polarity, PG.obligatedParty, PG.wording, PG.quantity, PG.hasCondition}
        shown |= {PG.accordingTo}
        details = []
        for p in sorted({p for p in self.g.predicates(t, None) if p not in shown}, key=str):
            values = tuple(
                sorted(
                    (self.value(o) for o in self.g.objects(t, p) if not isinstance(o, rdflib.BNode)),
                    key=lambda v: v.label if isinstance(v, Ref) else v.text,
                )
            )
            if values:
                details.append(Detail(self.labels.get(str(p)) or compact_iri(str(p)), values))
        kinds = [self.ref(k) for k in self.g.objects(t, RDF.type) if isinstance(k, rdflib.URIRef) and k != PG.Term]
        return TermView(
            iri=str(t) if isinstance(t, rdflib.URIRef) else None,
            kind=sorted(kinds, key=_ref_key)[0] if kinds else None,
            action=self.one_ref(t, PG.action),
            negative=(t, PG.polarity, PG.negative) in self.g,
            obligated=self.refs(t, PG.obligatedParty),
            wording=self.lits(t, PG.wording),
            details=tuple(details),
            quantities=tuple(self.quantity(q) for q in sorted(self.g.objects(t, PG.quantity), key=str)),
            conditions=tuple(self.condition(c) for c in sorted(self.g.objects(t, PG.hasCondition), key=str)),
            according_to=self.report_sources(t),
        )

    def source_item(self, s: Node) -> SourceItem:
        return SourceItem(
            ref=self.ref(s),
            publishers=self.refs(s, SCHEMA.publisher),
            syndicated_from=self.refs(s, PG.syndicatedFrom),
            date=self.one_lit(s, SCHEMA.datePublished),
            urls=tuple(sorted(str(u) for u in self.g.objects(s, SCHEMA.url))),
        )

    def step(self, s: Node) -> Step:
        return Step(self.one_ref(s, PG.stage), self.one_lit(s, PG.startDate), self.refs(s, PG.stepBy))

    def details(self, s: Node, predicates: Iterable[Node]) -> list[Detail]:
        """The values of ``predicates`` on ``s`` that exist, each with its property label."""
        out = []
        for p in predicates:
            values = tuple(
                self.value(o) for o in sorted(self.g.objects(s, p), key=str) if not isinstance(o, rdflib.BNode)
            )
            if values:
                out.append(Detail(self.labels.get(str(p)) or compact_iri(str(p)), values))
        return out


def _lit(node: rdflib.Literal) -> Lit:
    return Lit(str(node), str(node.datatype) if node.datatype else None, node.language)


def _ref_key(ref: Ref) -> tuple[str, str]:
    return (ref.label.casefold(), ref.iri)


def _lit_key(lit: Lit) -> tuple[int, str]:
    # English first, then untagged, then other languages: pages are in English.
    return ({"en": 0, None: 1}.get(lit.language, 2), lit.text)


async def _construct(engine: Engine, query: str) -> rdflib.Graph:
    data = await engine.construct(query)
    # The engine's own answer, shown as stored (bodies coming in are checked, not answers).
    return formats.to_rdflib_graph(formats.read_quads(data, _NT, "engine", allow_control_chars=True))


async def _labels(engine: Engine, *graphs: rdflib.Graph) -> dict[str, str]:
    """The best label of every IRI in ``graphs`` (subjects, predicates, objects), in one query; at most
    ``_LABEL_CAP`` IRIs, taken from the first graphs first (the page's own data before its full description)."""
    chosen: dict[rdflib.URIRef, None] = {}
    for graph in graphs:
        found = {n for triple in graph for n in triple if isinstance(n, rdflib.URIRef)}
        for iri in sorted(found, key=str):
            if len(chosen) < _LABEL_CAP:
                chosen.setdefault(iri, None)
    iris = list(chosen)
    if not iris:
        return {}
    values = " ".join(i.n3() for i in iris)
    props = " ".join(p.n3() for p in _LABEL_PROPS)
    rows = await engine.select(f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {values} }} VALUES ?p {{ {props} }} ?s ?p ?o }}")
    rank = {str(p): i for i, p in enumerate(_LABEL_PROPS)}
    best: dict[str, tuple] = {}
    for row in rows:
        o = row["o"]
        if not isinstance(o, rdflib.Literal):
            continue
        lang = o.language
        key = (rank.get(str(row["p"]), 99), {"en": 0, None: 1}.get(lang, 2), str(o))
        s = str(row["s"])
        if s not in best or key < best[s][0]:
            best[s] = (key, str(o))
    return {s: label for s, (_, label) in best.items()}


def _title(reader: _Reader, root: rdflib.URIRef) -> str:
    return reader.labels.get(str(root)) or compact_iri(str(root))


def _capped(found: Iterable, name: str) -> tuple[list, tuple[str, ...]]:
    found = list(found)
    return (found[:LIST_CAP], (name,)) if len(found) > LIST_CAP else (found, ())


def _item_filter(var: str, extra: tuple[Node, ...] = ()) -> str:
    return f"FILTER ({var} IN ({', '.join(p.n3() for p in _ITEM_PROPS + extra)}))"


def _positions_in(graph: rdflib.Graph) -> set[Node]:
    """The positions described in ``graph`` (by their types)."""
    return {s for s, o in graph.subject_objects(RDF.type) if o == PG.Position or o in _POSITION_CLASSES}


# Up to LIST_CAP + 1 positions (one more tells the page the list was capped), newest first, with what a list shows.
_POSITIONS_WHERE = """{{ SELECT DISTINCT ?x WHERE {{ {pattern} OPTIONAL {{ ?x <%s> ?xd }} }}
       ORDER BY DESC(STR(?xd)) ?x LIMIT %d }} ?x ?xp ?xo . {filter}""" % (PG.statedOn, LIST_CAP + 1)


def _positions_block(pattern: str, extra: tuple[Node, ...] = ()) -> str:
    """Up to LIST_CAP + 1 positions matching ``pattern`` (binding ?x), newest first, with the properties a list shows
    and ``extra`` ones (the property that ties them to the page, so the page can tell them apart)."""
    return _POSITIONS_WHERE.format(pattern=pattern, filter=_item_filter("?xp", extra))


# ------------------------------------------------------------------------------------------ views
async def page_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return the readable page's data for ``iri``, whose description (``linked_data.describe``) is ``described``:
    the page kind follows its types. Raises an engine error."""
    root = rdflib.URIRef(iri)
    types = set(described.objects(root, RDF.type))
    if PG.Position in types or types & set(_POSITION_CLASSES):
        return await position_view(engine, iri, described)
    if PG.Party in types:
        return await party_view(engine, iri, described)
    if PG.Person in types:
        return await person_view(engine, iri, described)
    if PG.Document in types:
        return await document_view(engine, iri, described)
    if PG.Source in types or PG.DocumentVersion in types:
        return await source_view(engine, iri, described)
    if PG.Event in types:
        return await event_view(engine, iri, described)
    if iri.startswith(str(PGI)) and SKOS.Concept in types:
        return await issue_view(engine, iri, described)
    return await generic_view(engine, iri, described)


_POSITION_EXTRA = """CONSTRUCT { ?s ?p ?o } WHERE {
  { %(root)s pg:hasTerm|pg:report|pg:hasCondition ?s . FILTER (isIRI(?s)) ?s ?p ?o }
  UNION { %(root)s pg:hasTerm ?t . ?t pg:quantity|pg:hasCondition ?s . ?s ?p ?o }
  UNION { %(root)s pg:hasTerm ?t . FILTER (isIRI(?t)) ?t ?p1 ?b . FILTER (isBlank(?b))
          ?b ?p2 ?s . FILTER (isBlank(?s)) ?s ?p ?o }
  UNION { %(root)s pg:statedIn ?s . ?s ?p ?o . FILTER (!isBlank(?o)) }
  UNION { %(root)s pg:supersedes|pg:respondsTo ?s . ?s ?p ?o . %(filter)s }
  UNION { { SELECT DISTINCT ?s WHERE { ?s pg:supersedes %(root)s } LIMIT %(cap)d } ?s ?p ?o . %(filter)s }
  UNION { { SELECT DISTINCT ?s WHERE { ?s pg:respondsTo %(root)s } LIMIT %(cap)d } ?s ?p ?o . %(filter)s }
}"""


async def position_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return a position's page data: who takes it towards whom, when, its terms and conditions, what it
    supersedes and answers and what supersedes and answers it, its reports and sources. Two queries."""
    root = rdflib.URIRef(iri)
    extra = await _construct(
        engine,
        "PREFIX pg: <%s>\n" % PG
        + _POSITION_EXTRA
        % {"root": root.n3(), "filter": _item_filter("?p", (PG.supersedes, PG.respondsTo)), "cap": LIST_CAP + 1},
    )
    graph = rdflib.Graph()
    for triple in described:
        graph.add(triple)
    for triple in extra:
        graph.add(triple)
    r = _Reader(graph, await _labels(engine, extra, described))
    superseded_by, cap1 = _capped(r.items(graph.subjects(PG.supersedes, root)), "superseded by")
    responses, cap2 = _capped(r.items(graph.subjects(PG.respondsTo, root)), "responses")
    facts = r.details(
        root,
        (PG.statedBy, PG.conveyedBy, PG.atEvent, PG.medium, PG.modality, PG.extent, PG.effectiveFrom, PG.deadline)
        + (PG.outcomeStatus, PG.alternativeTo, PG.conflictsWith),
    )
    reports = []
    for rep in graph.objects(root, PG.report):
        reports.append(
            ReportView(
                source=r.one_ref(rep, PG.source),
                sourcing=r.one_ref(rep, PG.sourcing),
                rank=r.one_ref(rep, PG.rank),
                confidence=r.one_lit(rep, PG.confidence),
                via=r.refs(rep, PG.reportedVia),
                quotes=r.lits(rep, PG.quote),
                summaries=r.lits(rep, PG.summary),
            )
        )
    reports.sort(key=lambda rv: (rv.source.label if rv.source else "", rv.sourcing.label if rv.sourcing else ""))
    terms = [r.term(t) for t in graph.objects(root, PG.hasTerm)]
    terms.sort(key=lambda t: (t.kind.label if t.kind else "", t.iri or "", [w.text for w in t.wording]))
    return PageView(
        kind="position",
        iri=iri,
        title=_title(r, root),
        types=r.kinds(root),
        description=r.lits(root, PG.summary),
        facts=facts,
        holders=r.refs(root, PG.heldBy),
        addressees=r.refs(root, PG.addressedTo),
        date=r.one_lit(root, PG.statedOn),
        date_notes=r.lits(root, PG.dateNote),
        terms=tuple(terms),
        conditions=tuple(r.condition(c) for c in sorted(graph.objects(root, PG.hasCondition), key=str)),
        supersedes=r.items(graph.objects(root, PG.supersedes)),
        superseded_by=tuple(superseded_by),
        responds_to=r.items(graph.objects(root, PG.respondsTo)),
        responses=tuple(responses),
        reports=tuple(reports),
        sources=tuple(sorted((r.source_item(s) for s in graph.objects(root, PG.source)), key=lambda s: s.ref.label)),
        quotes=r.lits(root, PG.quote),
        stated_in=r.refs(root, PG.statedIn),
        change=r.one_ref(root, PG.changeType),
        issues=r.refs(root, PG.concerns),
        links=tuple(r.details(root, (PG.acceptsTerm, PG.rejectsTerm))),
        capped=cap1 + cap2,
    )


async def party_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return a party's page data: its people and their roles, its government bodies, and its positions grouped
    by issue, latest first (capped at LIST_CAP). Two queries."""
    root = rdflib.URIRef(iri)
    n3 = root.n3()
    query = f"""PREFIX pg: <{PG}>
    CONSTRUCT {{ ?x ?xp ?xo . ?person pg:holdsRole ?role . ?role ?rp ?ro . ?body pg:partOf {n3} }} WHERE {{
      {{ {_positions_block(f"?x pg:heldBy {n3} .")} }}
      UNION {{ ?role pg:roleFor {n3} . ?person pg:holdsRole ?role . ?role ?rp ?ro }}
      UNION {{ ?body pg:partOf {n3} }}
    }}"""
    graph = await _construct(engine, query)
    r = _Reader(graph | described, await _labels(engine, graph, described))
    held = {s for s in graph.subjects(PG.heldBy, root)}
    items, capped = _capped(r.items(held), "positions")
    people: dict[str, tuple[Ref, list[Lit]]] = {}
    for person, role in graph.subject_objects(PG.holdsRole):
        ref = r.ref(person)
        people.setdefault(ref.iri, (ref, []))[1].extend(r.lits(role, PG.roleTitle))
    groups: dict[str, tuple[Ref, list[PositionItem]]] = {}
    for item in items:
        for issue in item.issues or (Ref("", "No issue named"),):
            groups.setdefault(issue.iri, (issue, []))[1].append(item)
    return PageView(
        kind="party",
        iri=iri,
        title=_title(r, root),
        types=r.types(root),
        description=r.lits(root, PG.summary) + r.lits(root, SKOS.definition),
        facts=r.details(root, (SKOS.altLabel, PG.wikidata)),
        people=tuple(sorted(((ref, tuple(titles)) for ref, titles in people.values()), key=lambda p: _ref_key(p[0]))),
        bodies=tuple(sorted((r.ref(b) for b in graph.subjects(PG.partOf, root)), key=_ref_key)),
        by_issue=tuple(
            sorted(
                ((issue, tuple(found)) for issue, found in groups.values()),
                key=lambda g: (not g[0].iri, _ref_key(g[0])),
            )
        ),
        positions=tuple(items),
        capped=capped,
    )


async def person_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return a person's page data: roles, the positions they stated or conveyed (capped), and the events they
    were a delegate at. Two queries."""
    root = rdflib.URIRef(iri)
    n3 = root.n3()
    query = f"""PREFIX pg: <{PG}>
    CONSTRUCT {{ ?x ?xp ?xo . ?e pg:delegate ?d . ?d ?dp ?do . ?e a pg:Event }} WHERE {{
      {{ {_positions_block(f"?x pg:statedBy|pg:conveyedBy {n3} .", (PG.statedBy, PG.conveyedBy))} }}
      UNION {{ {{ SELECT DISTINCT ?e ?d WHERE {{ ?e pg:delegate ?d . ?d pg:member {n3} }} LIMIT {LIST_CAP} }}
               ?d ?dp ?do }}
    }}"""
    graph = await _construct(engine, query)
    whole = graph | described
    r = _Reader(whole, await _labels(engine, graph, described))
    items, capped = _capped(r.items(_positions_in(graph)), "positions")
    roles = tuple(
        sorted(
            (
                (r.one_ref(role, PG.roleFor) or Ref("", "no party named"), r.lits(role, PG.roleTitle))
                for role in described.objects(root, PG.holdsRole)
            ),
            key=lambda pair: _ref_key(pair[0]),
        )
    )
    delegates = tuple(
        Step(r.one_ref(d, PG.delegateRole), None, (r.ref(e),) + r.refs(d, PG.roleFor))
        for e, d in graph.subject_objects(PG.delegate)
    )
    return PageView(
        kind="person",
        iri=iri,
        title=_title(r, root),
        types=r.types(root),
        description=r.lits(root, PG.summary) + r.lits(root, SKOS.definition),
        facts=r.details(root, (SKOS.altLabel, PG.wikidata)),
        people=roles,
        delegates=delegates,
        positions=tuple(items),
        capped=capped,
    )


async def issue_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return an issue's page data: its definition and every party's positions on it, oldest first (capped).
    Two queries."""
    root = rdflib.URIRef(iri)
    query = f"""PREFIX pg: <{PG}>
    CONSTRUCT {{ ?x ?xp ?xo }} WHERE {{ {_positions_block(f"?x pg:concerns {root.n3()} . ?x a pg:Position .")} }}"""
    graph = await _construct(engine, query)
    r = _Reader(graph | described, await _labels(engine, graph, described))
    items, capped = _capped(r.items(graph.subjects(PG.concerns, root)), "positions")
    items.sort(key=lambda i: (i.date.text if i.date else "", i.ref.iri))
    return PageView(
        kind="issue",
        iri=iri,
        title=_title(r, root),
        types=r.types(root),
        description=r.lits(root, SKOS.definition),
        facts=r.details(root, (SKOS.altLabel, SKOS.notation, SKOS.broader, SKOS.closeMatch, SKOS.inScheme)),
        positions=tuple(items),
        capped=capped,
    )


async def event_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return an event's page data: dates, place, participants, mediator, delegates, outcome, sources, positions
    taken at it and resulting from it (capped), and what an implementation carries out. Two queries."""
    root = rdflib.URIRef(iri)
    n3 = root.n3()
    query = f"""PREFIX pg: <{PG}>
    CONSTRUCT {{ ?x ?xp ?xo }} WHERE {{
      {{ {_positions_block(f"?x pg:atEvent {n3} .", (PG.atEvent,))} }}
      UNION {{ {n3} pg:resultedIn|pg:implements ?x . ?x ?xp ?xo . {_item_filter("?xp")} }}
    }}"""
    graph = await _construct(engine, query)
    whole = graph | described
    r = _Reader(whole, await _labels(engine, graph, described))
    at, capped = _capped(r.items(graph.subjects(PG.atEvent, root)), "positions taken at it")
    delegates = tuple(
        sorted(
            (
                Step(r.one_ref(d, PG.delegateRole), None, r.refs(d, PG.member) + r.refs(d, PG.roleFor))
                for d in described.objects(root, PG.delegate)
            ),
            key=lambda s: [b.label for b in s.by],
        )
    )
    facts = r.details(
        root,
        (PG.startDate, PG.endDate, PG.scheduled, PG.place, PG.participant, PG.mediator, PG.concerns, PG.outcome),
    )
    return PageView(
        kind="event",
        iri=iri,
        title=_title(r, root),
        types=r.types(root),
        description=r.lits(root, PG.summary),
        facts=facts,
        date=r.one_lit(root, PG.startDate),
        delegates=delegates,
        positions=tuple(at),
        resulting=r.items(described.objects(root, PG.resultedIn)),
        implements=r.items(described.objects(root, PG.implements)),
        sources=tuple(
            sorted((r.source_item(s) for s in described.objects(root, PG.source)), key=lambda s: s.ref.label)
        ),
        quantities=tuple(r.quantity(q) for q in sorted(described.objects(root, PG.quantity), key=str)),
        capped=capped,
    )


async def source_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return a source's page data: title, publisher, date, and the positions and events citing it (capped); for a
    document version also its document, points, lifecycle and the positions stated in it. Two queries."""
    root = rdflib.URIRef(iri)
    n3 = root.n3()
    query = f"""PREFIX pg: <{PG}>
    CONSTRUCT {{ ?x ?xp ?xo . ?e pg:source {n3} . ?e a pg:Event }} WHERE {{
      {{ {_positions_block(f"?x pg:source|pg:statedIn {n3} . ?x a pg:Position .", (PG.statedIn,))} }}
      UNION {{ SELECT DISTINCT ?e WHERE {{ ?e pg:source {n3} . ?e a pg:Event }} LIMIT {LIST_CAP + 1} }}
    }}"""
    graph = await _construct(engine, query)
    whole = graph | described
    r = _Reader(whole, await _labels(engine, graph, described))
    citing, cap1 = _capped(r.items(_positions_in(graph)), "positions")
    events, cap2 = _capped(
        sorted((r.ref(e) for e in graph.subjects(PG.source, root) if (e, RDF.type, PG.Event) in graph), key=_ref_key),
        "events",
    )
    facts = r.details(
        root,
        (SCHEMA.publisher, PG.syndicatedFrom, SCHEMA.datePublished, PG.dateline, SCHEMA.url, PG.versionOf)
        + (PG.versionLabel, PG.pointCount, PG.revises),
    )
    steps = sorted(
        (r.step(s) for s in described.objects(root, PG.lifecycleStep)), key=lambda s: s.date.text if s.date else ""
    )
    return PageView(
        kind="source",
        iri=iri,
        title=_title(r, root),
        types=r.types(root),
        description=r.lits(root, PG.summary) + r.lits(root, PG.dateNote),
        facts=facts,
        date=r.one_lit(root, SCHEMA.datePublished),
        positions=tuple(citing),
        stated_in=tuple(r.ref(s) for s in graph.subjects(PG.statedIn, root)),
        events=tuple(events),
        steps=tuple(steps),
        capped=cap1 + cap2,
    )


async def document_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return a document's page data: kind, drafters and its versions in order (by their earliest lifecycle date,
    then label), each with point count, lifecycle steps and the positions stated in it (capped). Two queries."""
    root = rdflib.URIRef(iri)
    n3 = root.n3()
    query = f"""PREFIX pg: <{PG}>
    CONSTRUCT {{ ?v ?vp ?vo . ?st ?sp ?so . ?x ?xp ?xo }} WHERE {{
      {{ ?v pg:versionOf {n3} . ?v ?vp ?vo }}
      UNION {{ ?v pg:versionOf {n3} ; pg:lifecycleStep ?st . ?st ?sp ?so }}
      UNION {{ {_positions_block(f"?x pg:statedIn ?v0 . ?v0 pg:versionOf {n3} .", (PG.statedIn,))} }}
    }}"""
    graph = await _construct(engine, query)
    whole = graph | described
    r = _Reader(whole, await _labels(engine, graph, described))
    stated = set(graph.subjects(PG.statedIn, None))
    capped = ("positions",) if len(stated) > LIST_CAP else ()
    versions = []
    for v in set(graph.subjects(PG.versionOf, root)):
        steps = sorted(
            (r.step(s) for s in graph.objects(v, PG.lifecycleStep)), key=lambda s: s.date.text if s.date else ""
        )
        versions.append(
            VersionItem(
                ref=r.ref(v),
                version_label=r.lits(v, PG.versionLabel),
                point_count=r.one_lit(v, PG.pointCount),
                steps=tuple(steps),
                revises=r.refs(v, PG.revises),
                positions=r.items((x for x in graph.subjects(PG.statedIn, v)), newest_first=False),
            )
        )

    def order(v: VersionItem) -> tuple:
        first = min((s.date.text for s in v.steps if s.date), default="9999")
        return (first, v.ref.label, v.ref.iri)

    versions.sort(key=order)
    return PageView(
        kind="document",
        iri=iri,
        title=_title(r, root),
        types=r.types(root),
        description=r.lits(root, PG.summary),
        facts=r.details(root, (PG.documentKind, PG.draftedBy, SKOS.altLabel, PG.wikidata)),
        versions=tuple(versions),
        capped=capped,
    )


async def generic_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return a page for any other resource (a place, a term, a media organisation, a government body …): label,
    description, its links with labels, the term in words where it is one, and what mentions it (capped). Two
    queries."""
    root = rdflib.URIRef(iri)
    n3 = root.n3()
    query = f"""CONSTRUCT {{ ?s <{RDFS.seeAlso}> {n3} }} WHERE {{
      {{ SELECT DISTINCT ?s WHERE {{
        {{ ?s ?p {n3} }}
        UNION {{ ?s ?p1 ?b . FILTER (isBlank(?b)) ?b ?p2 {n3} }}
        UNION {{ ?s ?p1 ?b1 . FILTER (isBlank(?b1)) ?b1 ?p2 ?b2 . FILTER (isBlank(?b2)) ?b2 ?p3 {n3} }}
        FILTER (isIRI(?s) && ?s != {n3})
      }} LIMIT {LIST_CAP + 1} }}
    }}"""
    graph = await _construct(engine, query)
    whole = graph | described
    r = _Reader(whole, await _labels(engine, graph, described))
    mentioned, capped = _capped(
        sorted((r.ref(s) for s in graph.subjects(RDFS.seeAlso, root)), key=_ref_key), "mentioned by"
    )
    skip = {RDF.type, SKOS.prefLabel, SKOS.definition, PG.summary, RDFS.label}
    links = r.details(root, sorted({p for p in described.predicates(root, None) if p not in skip}, key=str))
    is_term = any(str(t).startswith(str(PG)) and str(t).endswith("Term") for t in described.objects(root, RDF.type))
    return PageView(
        kind="resource",
        iri=iri,
        title=_title(r, root),
        types=r.types(root),
        description=r.lits(root, SKOS.definition) + r.lits(root, PG.summary),
        # Its own page: the term needs no link to itself.
        terms=(replace(r.term(root), iri=None),) if is_term else (),
        links=tuple(links),
        mentioned_by=tuple(mentioned),
        capped=capped,
    )
