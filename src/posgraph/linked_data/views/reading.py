"""Reading a page's data: the labels of what it names, the queries that gather it, and the graph turned into
the view classes. Lists that can grow without bound are capped at ``LIST_CAP`` items."""

from __future__ import annotations

from typing import Iterable

import rdflib
from rdflib.term import Node

from posgraph import formats
from posgraph.engine import Engine
from posgraph.linked_data.views.model import (
    ConditionView,
    Detail,
    Lit,
    PositionItem,
    QuantityView,
    Ref,
    SourceItem,
    Step,
    TermView,
    Value,
)
from posgraph.namespaces import PG, POSITION_TYPES, RDF, RDFS, SCHEMA, SKOS, compact_iri

__all__ = [
    "LIST_CAP",
    "NT",
    "POSITION_CLASSES",
    "ITEM_PROPS",
    "LABEL_PROPS",
    "LABEL_CAP",
    "Reader",
    "literal",
    "ref_key",
    "lit_key",
    "construct",
    "labels_of",
    "title",
    "cap_list",
    "item_filter",
    "positions_in",
    "POSITIONS_WHERE",
    "positions_block",
]

LIST_CAP = 200
NT = formats.format_for_media_type("application/n-triples")
POSITION_CLASSES = tuple(PG[n] for n in POSITION_TYPES)
# What a position in a list needs: enough for one line (kind, holders, date, issues, summary, change type).
ITEM_PROPS = (RDF.type, PG.summary, PG.statedOn, PG.heldBy, PG.concerns, PG.changeType, PG.addressedTo)
# Where a label comes from, best first (a position is known by its summary, a term by its wording).
LABEL_PROPS = (SKOS.prefLabel, RDFS.label, SCHEMA.headline, PG.summary, PG.versionLabel, PG.roleTitle, PG.wording)
LABEL_CAP = 2000


# ------------------------------------------------------------------------------------------ reading helpers
class Reader:
    """A graph and the labels of the IRIs in it, turned into the data classes above."""

    def __init__(self, graph: rdflib.Graph, labels: dict[str, str]) -> None:
        self.g, self.labels = graph, labels

    def ref(self, node: Node) -> Ref:
        iri = str(node)
        return Ref(iri, self.labels.get(iri) or compact_iri(iri))

    def refs(self, s: Node, p: Node) -> tuple[Ref, ...]:
        return tuple(sorted((self.ref(o) for o in self.g.objects(s, p) if isinstance(o, rdflib.URIRef)), key=ref_key))

    def one_ref(self, s: Node, p: Node) -> Ref | None:
        found = self.refs(s, p)
        return found[0] if found else None

    def lits(self, s: Node, p: Node) -> tuple[Lit, ...]:
        return tuple(sorted((literal(o) for o in self.g.objects(s, p) if isinstance(o, rdflib.Literal)), key=lit_key))

    def oneliteral(self, s: Node, p: Node) -> Lit | None:
        found = self.lits(s, p)
        return found[0] if found else None

    def value(self, node: Node) -> Value:
        return literal(node) if isinstance(node, rdflib.Literal) else self.ref(node)

    def types(self, s: Node) -> tuple[Ref, ...]:
        return self.refs(s, RDF.type)

    def kinds(self, s: Node) -> tuple[Ref, ...]:
        """The most specific posgraph position classes of ``s`` (pg:Position itself only when alone)."""
        found = [t for t in self.g.objects(s, RDF.type) if t in POSITION_CLASSES]
        return tuple(sorted((self.ref(t) for t in found), key=ref_key)) or self.refs(s, RDF.type)

    def report_sources(self, s: Node) -> tuple[Ref, ...]:
        """The sources of the reports a term, figure or condition is ``pg:accordingTo``."""
        return tuple(r for report in self.g.objects(s, PG.accordingTo) for r in self.refs(report, PG.source))

    def item(self, s: Node) -> PositionItem:
        return PositionItem(
            ref=self.ref(s),
            kinds=self.kinds(s),
            holders=self.refs(s, PG.heldBy),
            addressees=self.refs(s, PG.addressedTo),
            date=self.oneliteral(s, PG.statedOn),
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
            minimum=self.oneliteral(q, PG.minValue),
            maximum=self.oneliteral(q, PG.maxValue),
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
            kind=sorted(kinds, key=ref_key)[0] if kinds else None,
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
            date=self.oneliteral(s, SCHEMA.datePublished),
            urls=tuple(sorted(str(u) for u in self.g.objects(s, SCHEMA.url))),
        )

    def step(self, s: Node) -> Step:
        return Step(self.one_ref(s, PG.stage), self.oneliteral(s, PG.startDate), self.refs(s, PG.stepBy))

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


def literal(node: rdflib.Literal) -> Lit:
    return Lit(str(node), str(node.datatype) if node.datatype else None, node.language)


def ref_key(ref: Ref) -> tuple[str, str]:
    return (ref.label.casefold(), ref.iri)


def lit_key(lit: Lit) -> tuple[int, str]:
    # English first, then untagged, then other languages: pages are in English.
    return ({"en": 0, None: 1}.get(lit.language, 2), lit.text)


async def construct(engine: Engine, query: str) -> rdflib.Graph:
    data = await engine.construct(query)
    # The engine's own answer, shown as stored (bodies coming in are checked, not answers).
    return formats.to_rdflib_graph(formats.read_quads(data, NT, "engine", allow_control_chars=True))


async def labels_of(engine: Engine, *graphs: rdflib.Graph) -> dict[str, str]:
    """The best label of every IRI in ``graphs`` (subjects, predicates, objects), in one query; at most
    ``LABEL_CAP`` IRIs, taken from the first graphs first (the page's own data before its full description)."""
    chosen: dict[rdflib.URIRef, None] = {}
    for graph in graphs:
        found = {n for triple in graph for n in triple if isinstance(n, rdflib.URIRef)}
        for iri in sorted(found, key=str):
            if len(chosen) < LABEL_CAP:
                chosen.setdefault(iri, None)
    iris = list(chosen)
    if not iris:
        return {}
    values = " ".join(i.n3() for i in iris)
    props = ", ".join(p.n3() for p in LABEL_PROPS)
    # The properties as a FILTER, not a second VALUES block: with two, the engine joined them with a scan of the
    # store (5 s for a party page at 1M triples); with one, it looks each IRI up (70 ms).
    rows = await engine.select(
        f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {values} }} ?s ?p ?o FILTER (?p IN ({props})) }}"
    )
    rank = {str(p): i for i, p in enumerate(LABEL_PROPS)}
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


def title(reader: Reader, root: rdflib.URIRef) -> str:
    return reader.labels.get(str(root)) or compact_iri(str(root))


def cap_list(found: Iterable, name: str) -> tuple[list, tuple[str, ...]]:
    found = list(found)
    return (found[:LIST_CAP], (name,)) if len(found) > LIST_CAP else (found, ())


def item_filter(var: str, extra: tuple[Node, ...] = ()) -> str:
    return f"FILTER ({var} IN ({', '.join(p.n3() for p in ITEM_PROPS + extra)}))"


def positions_in(graph: rdflib.Graph) -> set[Node]:
    """The positions described in ``graph`` (by their types)."""
    return {s for s, o in graph.subject_objects(RDF.type) if o == PG.Position or o in POSITION_CLASSES}


# Up to LIST_CAP + 1 positions (one more tells the page the list was capped), newest first, with what a list shows.
POSITIONS_WHERE = """{{ SELECT DISTINCT ?x WHERE {{ {pattern} OPTIONAL {{ ?x <%s> ?xd }} }}
       ORDER BY DESC(STR(?xd)) ?x LIMIT %d }} ?x ?xp ?xo . {filter}""" % (PG.statedOn, LIST_CAP + 1)


def positions_block(pattern: str, extra: tuple[Node, ...] = ()) -> str:
    """Up to LIST_CAP + 1 positions matching ``pattern`` (binding ?x), newest first, with the properties a list shows
    and ``extra`` ones (the property that ties them to the page, so the page can tell them apart)."""
    return POSITIONS_WHERE.format(pattern=pattern, filter=item_filter("?xp", extra))
