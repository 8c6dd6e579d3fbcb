"""One gatherer per kind of readable page: position, party, person, issue, event, source, document, and a generic
page for anything else. Each returns a ``PageView`` built from a few queries."""

from __future__ import annotations

from dataclasses import replace

import rdflib

from posgraph.engine import Engine
from posgraph.linked_data.views.model import (
    Lit,
    PageView,
    PositionItem,
    Ref,
    ReportView,
    Step,
    VersionItem,
)
from posgraph.linked_data.views.reading import (
    LIST_CAP,
    Reader,
    cap_list,
    construct,
    item_filter,
    labels_of,
    positions_block,
    positions_in,
    ref_key,
    title,
)
from posgraph.namespaces import PG, RDF, RDFS, SCHEMA, SKOS

__all__ = [
    "position_view",
    "party_view",
    "person_view",
    "issue_view",
    "event_view",
    "source_view",
    "document_view",
    "generic_view",
]


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
    extra = await construct(
        engine,
        "PREFIX pg: <%s>\n" % PG
        + _POSITION_EXTRA
        % {"root": root.n3(), "filter": item_filter("?p", (PG.supersedes, PG.respondsTo)), "cap": LIST_CAP + 1},
    )
    graph = rdflib.Graph()
    for triple in described:
        graph.add(triple)
    for triple in extra:
        graph.add(triple)
    r = Reader(graph, await labels_of(engine, extra, described))
    superseded_by, cap1 = cap_list(r.items(graph.subjects(PG.supersedes, root)), "superseded by")
    responses, cap2 = cap_list(r.items(graph.subjects(PG.respondsTo, root)), "responses")
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
                confidence=r.oneliteral(rep, PG.confidence),
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
        title=title(r, root),
        types=r.kinds(root),
        description=r.lits(root, PG.summary),
        facts=facts,
        holders=r.refs(root, PG.heldBy),
        addressees=r.refs(root, PG.addressedTo),
        date=r.oneliteral(root, PG.statedOn),
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
      {{ {positions_block(f"?x pg:heldBy {n3} .")} }}
      UNION {{ ?role pg:roleFor {n3} . ?person pg:holdsRole ?role . ?role ?rp ?ro }}
      UNION {{ ?body pg:partOf {n3} }}
    }}"""
    graph = await construct(engine, query)
    r = Reader(graph | described, await labels_of(engine, graph, described))
    held = {s for s in graph.subjects(PG.heldBy, root)}
    items, capped = cap_list(r.items(held), "positions")
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
        title=title(r, root),
        types=r.types(root),
        description=r.lits(root, PG.summary) + r.lits(root, SKOS.definition),
        facts=r.details(root, (SKOS.altLabel, PG.wikidata)),
        people=tuple(sorted(((ref, tuple(titles)) for ref, titles in people.values()), key=lambda p: ref_key(p[0]))),
        bodies=tuple(sorted((r.ref(b) for b in graph.subjects(PG.partOf, root)), key=ref_key)),
        by_issue=tuple(
            sorted(
                ((issue, tuple(found)) for issue, found in groups.values()),
                key=lambda g: (not g[0].iri, ref_key(g[0])),
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
      {{ {positions_block(f"?x pg:statedBy|pg:conveyedBy {n3} .", (PG.statedBy, PG.conveyedBy))} }}
      UNION {{ {{ SELECT DISTINCT ?e ?d WHERE {{ ?e pg:delegate ?d . ?d pg:member {n3} }} LIMIT {LIST_CAP} }}
               ?d ?dp ?do }}
    }}"""
    graph = await construct(engine, query)
    whole = graph | described
    r = Reader(whole, await labels_of(engine, graph, described))
    items, capped = cap_list(r.items(positions_in(graph)), "positions")
    roles = tuple(
        sorted(
            (
                (r.one_ref(role, PG.roleFor) or Ref("", "no party named"), r.lits(role, PG.roleTitle))
                for role in described.objects(root, PG.holdsRole)
            ),
            key=lambda pair: ref_key(pair[0]),
        )
    )
    delegates = tuple(
        Step(r.one_ref(d, PG.delegateRole), None, (r.ref(e),) + r.refs(d, PG.roleFor))
        for e, d in graph.subject_objects(PG.delegate)
    )
    return PageView(
        kind="person",
        iri=iri,
        title=title(r, root),
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
    CONSTRUCT {{ ?x ?xp ?xo }} WHERE {{ {positions_block(f"?x pg:concerns {root.n3()} . ?x a pg:Position .")} }}"""
    graph = await construct(engine, query)
    r = Reader(graph | described, await labels_of(engine, graph, described))
    items, capped = cap_list(r.items(graph.subjects(PG.concerns, root)), "positions")
    items.sort(key=lambda i: (i.date.text if i.date else "", i.ref.iri))
    return PageView(
        kind="issue",
        iri=iri,
        title=title(r, root),
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
      {{ {positions_block(f"?x pg:atEvent {n3} .", (PG.atEvent,))} }}
      UNION {{ {n3} pg:resultedIn|pg:implements ?x . ?x ?xp ?xo . {item_filter("?xp")} }}
    }}"""
    graph = await construct(engine, query)
    whole = graph | described
    r = Reader(whole, await labels_of(engine, graph, described))
    at, capped = cap_list(r.items(graph.subjects(PG.atEvent, root)), "positions taken at it")
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
        title=title(r, root),
        types=r.types(root),
        description=r.lits(root, PG.summary),
        facts=facts,
        date=r.oneliteral(root, PG.startDate),
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
      {{ {positions_block(f"?x pg:source|pg:statedIn {n3} . ?x a pg:Position .", (PG.statedIn,))} }}
      UNION {{ SELECT DISTINCT ?e WHERE {{ ?e pg:source {n3} . ?e a pg:Event }} LIMIT {LIST_CAP + 1} }}
    }}"""
    graph = await construct(engine, query)
    whole = graph | described
    r = Reader(whole, await labels_of(engine, graph, described))
    citing, cap1 = cap_list(r.items(positions_in(graph)), "positions")
    events, cap2 = cap_list(
        sorted((r.ref(e) for e in graph.subjects(PG.source, root) if (e, RDF.type, PG.Event) in graph), key=ref_key),
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
        title=title(r, root),
        types=r.types(root),
        description=r.lits(root, PG.summary) + r.lits(root, PG.dateNote),
        facts=facts,
        date=r.oneliteral(root, SCHEMA.datePublished),
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
      UNION {{ {positions_block(f"?x pg:statedIn ?v0 . ?v0 pg:versionOf {n3} .", (PG.statedIn,))} }}
    }}"""
    graph = await construct(engine, query)
    whole = graph | described
    r = Reader(whole, await labels_of(engine, graph, described))
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
                point_count=r.oneliteral(v, PG.pointCount),
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
        title=title(r, root),
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
    graph = await construct(engine, query)
    whole = graph | described
    r = Reader(whole, await labels_of(engine, graph, described))
    mentioned, capped = cap_list(
        sorted((r.ref(s) for s in graph.subjects(RDFS.seeAlso, root)), key=ref_key), "mentioned by"
    )
    skip = {RDF.type, SKOS.prefLabel, SKOS.definition, PG.summary, RDFS.label}
    links = r.details(root, sorted({p for p in described.predicates(root, None) if p not in skip}, key=str))
    is_term = any(str(t).startswith(str(PG)) and str(t).endswith("Term") for t in described.objects(root, RDF.type))
    return PageView(
        kind="resource",
        iri=iri,
        title=title(r, root),
        types=r.types(root),
        description=r.lits(root, SKOS.definition) + r.lits(root, PG.summary),
        # Its own page: the term needs no link to itself.
        terms=(replace(r.term(root), iri=None),) if is_term else (),
        links=tuple(links),
        mentioned_by=tuple(mentioned),
        capped=capped,
    )
