"""The public corpus of real negotiation facts (tests/examples/corpus/, issue #11), encoded in model 0.2.

(a) All corpus files validate together as one batch, offline, with no violation. (b) Loaded into a real Oxigraph
store - the additions as one accepted batch, each correction file through review (submit, accept) - SPARQL probes
answer researchers' questions from the graph's structure (figures, ranks, versions, units, dates), never from text.
(c) Every point of #11 is used by at least two corpus files, over at least five negotiations and forty facts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest
import rdflib
from conftest import EXAMPLES, run
from rdflib.namespace import RDF, XSD

from posgraph import curation
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.namespaces import PG, PGID
from posgraph.supervisor import ManagedEngine

CORPUS = EXAMPLES / "corpus"
FILES = sorted(CORPUS.glob("*.ttl"))
_AMENDMENT_TYPES = (PG.Retraction, PG.Merge)
# A missing Wikidata item is only a warning, and the corpus leaves one out rather than guess it.
_ALLOWED_WARNINGS = {"pgsh:State-wikidata", "pgsh:InternationalOrganization-wikidata"}
_NAME = re.compile(r"^(?P<negotiation>[a-z]+)-(?P<nn>\d\d)-[a-z0-9-]+\.ttl$")
UNIT = "http://qudt.org/vocab/unit/"
PREFIXES = f"""PREFIX pg: <{PG}> PREFIX pgi: <https://w3id.org/posgraph/issue/>
PREFIX party: <{PGID}party/> PREFIX position: <{PGID}position/> PREFIX term: <{PGID}term/>
PREFIX doc: <{PGID}doc/> PREFIX event: <{PGID}event/> PREFIX source: <{PGID}source/> PREFIX person: <{PGID}person/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#> PREFIX xsd: <{XSD}>
"""


def _graph(path: Path) -> rdflib.Graph:
    return rdflib.Graph().parse(path, format="turtle")


GRAPHS = {path.name: _graph(path) for path in FILES}
AMENDING = [p for p in FILES if any((None, RDF.type, t) in GRAPHS[p.name] for t in _AMENDMENT_TYPES)]
ADDITIONS = [p for p in FILES if p not in AMENDING]
FACTS = [p for p in ADDITIONS if _NAME.match(p.name) and _NAME.match(p.name)["nn"] != "00"]


def _id(kind: str, name: str) -> rdflib.URIRef:
    return rdflib.URIRef(f"{PGID}{kind}/{name}")


def _number(term: rdflib.term.Node) -> Decimal:
    """A numeric literal as an exact Decimal (so 50.22 compares equal whatever its datatype)."""
    return Decimal(str(term))


# ---------------------------------------------------------------------------------------------- (a) one batch
def test_every_corpus_file_is_named_and_cites_its_source():
    assert FILES, "no corpus files"
    for path in FILES:
        assert _NAME.match(path.name), f"{path.name}: not <negotiation>-<nn>-<slug>.ttl"
        first = path.read_text(encoding="utf-8").lstrip().splitlines()[:6]
        assert first[0].startswith("# "), f"{path.name}: does not start with a comment stating the fact"
        assert any("Source" in line for line in first), f"{path.name}: its opening comment cites no source"


def test_the_corpus_validates_as_one_batch_without_a_violation(validator):
    report = curation.validate_files(validator, curation.read_files(FILES), offline=True)
    assert report.violation_count == 0, report.to_text("corpus")
    unexpected = [r for r in report.results if r.shape not in _ALLOWED_WARNINGS]
    assert not unexpected, report.to_text("corpus")


def test_the_corpus_and_the_seed_validate_together(validator):
    """The corpus names some of the seed's parties, people and outlets by the same IRIs: no conflict between them."""
    report = curation.validate_files(validator, curation.read_files([*PROJECT_FILES.seed_files, *FILES]), offline=True)
    assert report.violation_count == 0, report.to_text("seed and corpus")


# ---------------------------------------------------------------------------------------------- (b) a real store
async def _publish(public_url: str, staging_url: str, validator) -> tuple:
    """Load the additions as one accepted batch, then put each correction file through review; return the records."""
    async with Engine(public_url, timeout=300) as public, Engine(staging_url, timeout=300) as staging:
        await curation.ensure_bootstrapped(public, validator, PROJECT_FILES.ontology_files, [], seed=False)
        loaded = await curation.load_batch(
            public, validator, curation.read_files(ADDITIONS), curator="corpus-curator", label="issue #11 corpus"
        )
        accepted = []
        for path in AMENDING:
            batch = await curation.submit_batch(
                public, staging, validator, curation.read_files([path]), curator="corpus-curator"
            )
            accepted.append(
                await curation.accept_batch(
                    public, staging, validator, batch["id"], reviewer="corpus-reviewer", role="reviewer"
                )
            )
        return loaded, accepted


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory, validator) -> Iterator[tuple[str, tuple]]:
    """A real engine holding the ontology and the corpus, its corrections applied through review."""
    base = tmp_path_factory.mktemp("corpus")
    public, staging = ManagedEngine(base / "public"), ManagedEngine(base / "staging")
    public.start()
    staging.start()
    try:
        yield public.url, run(_publish(public.url, staging.url, validator))
    finally:
        staging.stop()
        public.stop()


def _select(store: tuple[str, tuple], query: str) -> list[dict[str, rdflib.term.Node]]:
    async def go():
        async with Engine(store[0], timeout=120) as engine:
            return await engine.select(PREFIXES + query)

    return run(go())


def _ask(store: tuple[str, tuple], query: str) -> bool:
    async def go():
        async with Engine(store[0], timeout=120) as engine:
            return await engine.ask(PREFIXES + query)

    return run(go())


def test_probe_disputed_figures_which_report_gives_which_and_the_preferred_one(corpus_store):
    rows = _select(
        corpus_store,
        """SELECT ?value ?source ?rank WHERE {
            term:lausanne-enriching-centrifuges pg:quantity ?q . ?q pg:value ?value ; pg:accordingTo ?report .
            ?report pg:source ?source . OPTIONAL { ?report pg:rank ?rank } }""",
    )
    assert {(_number(r["value"]), r["source"], r.get("rank")) for r in rows} == {
        (Decimal(5060), _id("source", "us-2015-04-02-parameters"), PG.preferredRank),
        (Decimal(10000), _id("source", "jpost-2015-04-iran-fact-sheet"), PG.normalRank),
    }
    # Every disputed figure in the corpus (one term, figures attributed to different reports), with the value of
    # the preferred report where there is one: answered from ranks, not from the summaries.
    rows = _select(
        corpus_store,
        """SELECT ?term ?value ?unit WHERE {
            ?term pg:quantity ?q . ?q pg:value ?value ; pg:accordingTo ?report . ?report pg:rank pg:preferredRank .
            OPTIONAL { ?q pg:unit ?unit }
            FILTER EXISTS { ?term pg:quantity ?other . ?other pg:accordingTo ?otherReport .
                            FILTER (?otherReport != ?report) } }""",
    )
    assert {(r["term"], _number(r["value"]), r.get("unit")) for r in rows} == {
        (_id("term", "lausanne-enriching-centrifuges"), Decimal(5060), None),
        (_id("term", "lausanne-limits-duration"), Decimal(10), rdflib.URIRef(UNIT + "YR")),
        (_id("term", "co-2016-06-transitional-zones"), Decimal(23), None),
        (_id("term", "co-plebiscite-votes-against"), Decimal(6438552), None),
        (_id("term", "co-plebiscite-votes-against"), Decimal("50.22"), rdflib.URIRef(UNIT + "PERCENT")),
    }
    # A deprecated report stays on record: the preliminary count of the Colombian plebiscite.
    rows = _select(
        corpus_store,
        """SELECT ?value WHERE { term:co-plebiscite-votes-against pg:quantity ?q .
            ?q pg:value ?value ; pg:accordingTo ?r . ?r pg:rank pg:deprecatedRank .
            FILTER NOT EXISTS { ?q pg:unit ?u } }""",
    )
    assert [_number(r["value"]) for r in rows] == [Decimal(6428776)]
    # A disputed term: a leaked draft and anonymous diplomats describe the Parchin arrangement differently.
    rows = _select(
        corpus_store,
        """SELECT ?term ?sourcing ?rank WHERE { position:iran-iaea-2015-parchin-arrangement pg:hasTerm ?term .
            ?term pg:accordingTo ?r . ?r pg:sourcing ?sourcing ; pg:rank ?rank }""",
    )
    assert {(r["term"], r["sourcing"], r["rank"]) for r in rows} == {
        (_id("term", "parchin-per-ap-draft"), PG.leak, PG.normalRank),
        (_id("term", "parchin-per-diplomats"), PG.anonymousOfficials, PG.preferredRank),
    }
    # A disputed time window: two terms of one position, each as one report gives it.
    rows = _select(
        corpus_store,
        """SELECT ?sourcing ?end WHERE { position:ua-2014-06-20-unilateral-ceasefire pg:hasTerm ?t .
            ?t pg:windowEnd ?end ; pg:accordingTo ?r . ?r pg:sourcing ?sourcing }""",
    )
    assert {(r["sourcing"], str(r["end"])) for r in rows} == {
        (PG.officialText, "2014-06-27T22:00:00+03:00"),
        (PG.relayed, "2014-06-27T10:00:00+03:00"),
    }


def test_probe_a_documents_versions_in_order_with_their_point_counts(corpus_store):
    rows = _select(
        corpus_store,
        """SELECT ?version ?label ?points (COUNT(DISTINCT ?earlier) AS ?depth) WHERE {
            ?version pg:versionOf doc:colombia-final-agreement ; pg:versionLabel ?label .
            OPTIONAL { ?version pg:pointCount ?points } OPTIONAL { ?version pg:revises+ ?earlier } }
            GROUP BY ?version ?label ?points ORDER BY ?depth""",
    )
    assert [(str(r["label"]), int(r["points"].toPython()), int(r["depth"].toPython())) for r in rows] == [
        ("agreement of August 2016", 6, 0),
        ("revised agreement of November 2016", 6, 1),
    ]
    # The lifecycle of the revised version, in date order, and the positions its text states.
    rows = _select(
        corpus_store,
        """SELECT ?stage ?date WHERE { doc:colombia-final-agreement-2016-11-24 pg:lifecycleStep ?s .
            ?s pg:stage ?stage ; pg:startDate ?date } ORDER BY ?date""",
    )
    assert [(r["stage"], str(r["date"])) for r in rows] == [(PG.signed, "2016-11-24"), (PG.ratified, "2016-11-30")]
    rows = _select(corpus_store, "SELECT ?p WHERE { ?p pg:statedIn doc:colombia-final-agreement-2016-11-24 }")
    assert {r["p"] for r in rows} == {
        _id("position", "co-farc-2016-08-24-jep-sanctions"),
        _id("position", "co-farc-2016-11-24-final-agreement"),
        _id("position", "co-farc-2016-11-partial-acceptance"),
    }
    # The JCPOA: the Lausanne parameters, then the final text that revises them.
    rows = _select(
        corpus_store,
        """SELECT ?label WHERE { ?v pg:versionOf doc:jcpoa ; pg:versionLabel ?label .
            OPTIONAL { ?v pg:revises ?earlier } } ORDER BY BOUND(?earlier)""",
    )
    assert [str(r["label"]) for r in rows] == ["Lausanne parameters", "final text"]
    # Dayton: one version, initialled then signed.
    rows = _select(
        corpus_store,
        """SELECT ?stage ?date WHERE { doc:gfap-1995 pg:lifecycleStep ?s . ?s pg:stage ?stage ; pg:startDate ?date }
            ORDER BY ?date""",
    )
    assert [(r["stage"], str(r["date"])) for r in rows] == [(PG.initialled, "1995-11-21"), (PG.signed, "1995-12-14")]


def test_probe_ranges_with_their_units_and_kinds(corpus_store):
    rows = _select(
        corpus_store,
        """SELECT ?min ?max ?unit ?kind WHERE {
            ?q pg:minValue ?min ; pg:maxValue ?max ; pg:unit ?unit ; pg:quantityKind ?kind }""",
    )
    assert {(_number(r["min"]), _number(r["max"]), r["unit"], r["kind"]) for r in rows} == {
        (Decimal(94), Decimal(96), rdflib.URIRef(UNIT + "PERCENT"), PG.percentage),
        (Decimal(1), Decimal(3), rdflib.URIRef(UNIT + "PERCENT"), PG.percentage),
        (Decimal(5), Decimal(8), rdflib.URIRef(UNIT + "YR"), PG.timeSpan),
    }
    # Alternatives ("nine months, a year"), per side against in total, and an hour with its time zone.
    rows = _select(
        corpus_store,
        """SELECT ?v WHERE { position:rs-1995-12-26-delay-sarajevo pg:hasTerm/pg:quantity ?q .
            ?q pg:alternativeValue ?v ; pg:unit <http://qudt.org/vocab/unit/MO> }""",
    )
    assert sorted(_number(r["v"]) for r in rows) == [Decimal(9), Decimal(12)]
    rows = _select(
        corpus_store,
        """SELECT ?distribution ?v WHERE { position:minsk-2014-09-19-buffer-zone pg:hasTerm/pg:quantity ?q .
            ?q pg:distribution ?distribution ; pg:value ?v ; pg:unit <http://qudt.org/vocab/unit/KiloM> }""",
    )
    assert {(r["distribution"], _number(r["v"])) for r in rows} == {(PG.perSide, 15), (PG.inTotal, 30)}
    assert _ask(
        corpus_store,
        """ASK { position:minsk-2015-02-12-ceasefire pg:hasTerm/pg:windowStart ?start .
            FILTER (datatype(?start) = xsd:dateTime && ?start = "2015-02-14T22:00:00Z"^^xsd:dateTime) }""",
    )


def test_probe_negative_terms_and_partial_conditional_and_in_principle_answers(corpus_store):
    rows = _select(corpus_store, "SELECT DISTINCT ?p WHERE { ?p pg:hasTerm ?t . ?t pg:polarity pg:negative }")
    assert {r["p"] for r in rows} == {
        _id("position", "iran-2013-11-24-no-nuclear-weapons"),
        _id("position", "cd-2000-07-25-no-unilateral-actions"),
        _id("position", "gfap-1995-11-21-initialled"),
    }
    rows = _select(
        corpus_store,
        "SELECT ?p WHERE { ?p a pg:Acceptance ; pg:modality pg:inPrinciple ; pg:hasCondition ?c }",
    )
    assert {r["p"] for r in rows} == {
        _id("position", "il-2000-12-28-accepts-clinton-parameters"),
        _id("position", "plo-2001-01-02-accepts-clinton-parameters"),
    }
    rows = _select(
        corpus_store,
        """SELECT ?how ?term WHERE { position:co-farc-2016-11-partial-acceptance pg:extent pg:partialExtent .
            { position:co-farc-2016-11-partial-acceptance pg:acceptsTerm ?term BIND ("accepts" AS ?how) }
            UNION { position:co-farc-2016-11-partial-acceptance pg:rejectsTerm ?term BIND ("rejects" AS ?how) } }""",
    )
    assert {(str(r["how"]), r["term"]) for r in rows} == {
        ("accepts", _id("term", "no-camp-assets")),
        ("accepts", _id("term", "no-camp-constitution")),
        ("rejects", _id("term", "no-camp-bar-from-office")),
        ("rejects", _id("term", "no-camp-prison")),
    }
    # Permanent neutrality that names no alliance, and terms that lapse when an event happens.
    rows = _select(
        corpus_store,
        """SELECT DISTINCT ?p WHERE { ?p pg:hasTerm ?t . ?t pg:commitment pg:permanentNeutrality .
            FILTER NOT EXISTS { ?t pg:alliance ?a } }""",
    )
    assert {r["p"] for r in rows} == {
        _id("position", "ua-2014-12-23-drop-non-aligned-status"),
        _id("position", "ru-2014-03-17-support-group"),
    }
    rows = _select(
        corpus_store,
        "SELECT DISTINCT ?p WHERE { ?p pg:hasTerm ?t . ?t pg:hasCondition ?c . ?c pg:conditionType pg:resolutory }",
    )
    assert {r["p"] for r in rows} == {
        _id("position", "unsc-2015-07-20-restrictions"),
        _id("position", "gfa-1998-04-10-prisoners"),
    }


def test_probe_lapsed_ultimatums_and_counts_per_side_of_an_implementation(corpus_store):
    rows = _select(
        corpus_store,
        "SELECT ?p ?deadline WHERE { ?p a pg:Threat ; pg:outcomeStatus pg:lapsed ; pg:deadline ?deadline }",
    )
    assert {(r["p"], str(r["deadline"])) for r in rows} == {
        (_id("position", "plo-2000-08-statehood-on-13-september"), "2000-09-13"),
        (_id("position", "plo-1999-statehood-in-may"), "1999-05"),
    }
    rows = _select(corpus_store, "SELECT ?p WHERE { ?p pg:outcomeStatus pg:lapsed }")
    assert len(rows) == 5
    rows = _select(
        corpus_store,
        """SELECT ?party ?n WHERE { ?event pg:implements position:minsk-2017-12-exchange ; pg:quantity ?q .
            ?q pg:forParty ?party ; pg:value ?n }""",
    )
    assert {(r["party"], _number(r["n"])) for r in rows} == {
        (_id("party", "ukraine"), 233),
        (_id("party", "dpr"), 58),
        (_id("party", "lpr"), 16),
    }
    rows = _select(
        corpus_store,
        """SELECT ?party ?n WHERE { ?event pg:implements position:iran-us-2016-01-16-prisoner-swap ; pg:quantity ?q .
            ?q pg:forParty ?party ; pg:value ?n }""",
    )
    assert {(r["party"], _number(r["n"])) for r in rows} == {
        (_id("party", "iran"), 4),
        (_id("party", "united-states"), 7),
    }
    # The agreement behind the 2017 exchange was carried out only in part: 233 of the 306 Ukraine was to hand over.
    assert _ask(corpus_store, "ASK { position:minsk-2017-12-exchange pg:outcomeStatus pg:partlyExecuted }")


def test_probe_places_have_names_and_corrections_were_applied_through_review(corpus_store):
    rows = _select(
        corpus_store,
        """SELECT ?event ?name WHERE { ?event pg:place ?place .
            FILTER (?event IN (event:2016-11-24-bogota-signing, event:1995-12-14-paris-signing,
                               event:1998-05-22-ni-referendum))
            ?place a pg:Place ; skos:prefLabel ?name . FILTER (lang(?name) = "en") }""",
    )
    assert {(r["event"], str(r["name"])) for r in rows} == {
        (_id("event", "2016-11-24-bogota-signing"), "Bogotá"),
        (_id("event", "1995-12-14-paris-signing"), "Paris"),
        (_id("event", "1998-05-22-ni-referendum"), "Northern Ireland"),
    }
    loaded, accepted = corpus_store[1]
    assert not loaded.already_loaded and len(accepted) == len(AMENDING) == 4
    assert all(record["state"] == "accepted" for record in accepted)
    # Retractions: the misspelt label and the wrong issue are gone, the replacement stays.
    farc = "party:farc-ep skos:altLabel"
    assert not _ask(
        corpus_store, f'ASK {{ {farc} "Fuerzas Armadas Revolucionarias de Colombia - Ejercito del Pueblo"@es }}'
    )
    assert _ask(
        corpus_store, f'ASK {{ {farc} "Fuerzas Armadas Revolucionarias de Colombia - Ejército del Pueblo"@es }}'
    )
    swap = "position:iran-us-2016-01-16-prisoner-swap pg:concerns"
    assert not _ask(corpus_store, f"ASK {{ {swap} pgi:amnesty-justice }}")
    assert _ask(corpus_store, f"ASK {{ {swap} pgi:prisoner-exchange }}")
    # Merges: the duplicates now redirect, and what named them names the IRI kept.
    rows = _select(corpus_store, "SELECT ?from ?into WHERE { ?from pg:mergedInto ?into }")
    assert {(r["from"], r["into"]) for r in rows} == {
        (_id("person", "timoleon-jimenez"), _id("person", "rodrigo-londono")),
        (_id("event", "1995-12-14-elysee-ceremony"), _id("event", "1995-12-14-paris-signing")),
    }
    assert _ask(
        corpus_store,
        """ASK { event:2015-09-23-havana-justice-accord pg:delegate/pg:member person:rodrigo-londono .
            position:gfap-1995-12-14-entities pg:atEvent event:1995-12-14-paris-signing }""",
    )
    assert not _ask(
        corpus_store,
        """ASK { { person:timoleon-jimenez ?p ?o FILTER (?p != pg:mergedInto) }
            UNION { ?s ?p2 person:timoleon-jimenez } }""",
    )


# ---------------------------------------------------------------------------------------------- (c) coverage
def _uses(graph: rdflib.Graph, feature: rdflib.URIRef) -> bool:
    """True if the file uses the feature: as a predicate, a class it types something with, or a value (a concept)."""
    return (None, feature, None) in graph or (None, None, feature) in graph


def _uses_datetime_window(graph: rdflib.Graph) -> bool:
    return any(
        isinstance(o, rdflib.Literal) and o.datatype == XSD.dateTime
        for p in (PG.windowStart, PG.windowEnd, PG.deadline)
        for o in graph.objects(None, p)
    )


def _uses_government_publisher(graph: rdflib.Graph) -> bool:
    """True if the file has a source published by a government body it describes."""
    return any(
        (body, RDF.type, PG.GovernmentBody) in graph
        for body in graph.objects(None, rdflib.URIRef("https://schema.org/publisher"))
    )


def _uses_neutrality_without_alliance(graph: rdflib.Graph) -> bool:
    return any((t, PG.alliance, None) not in graph for t in graph.subjects(PG.commitment, PG.permanentNeutrality))


def _uses_conditional_acceptance(graph: rdflib.Graph) -> bool:
    return any((p, PG.hasCondition, None) in graph for p in graph.subjects(RDF.type, PG.Acceptance))


def _uses_place_described(graph: rdflib.Graph) -> bool:
    return any(graph.subjects(RDF.type, PG.Place))


# The ceasefire scopes added in 0.2 (vocabularies.ttl); pg:fullCeasefire, energyInfrastructure and maritime are 0.1's.
NEW_CEASEFIRE_SCOPES = (
    PG.civilianInfrastructure,
    PG.localPause,
    PG.humanitarianPause,
    PG.holidayTruce,
    PG.sectorCeasefire,
)


def _any(*features: rdflib.URIRef):
    return lambda graph: any(_uses(graph, f) for f in features)


def _all(*features: rdflib.URIRef):
    return lambda graph: all(_uses(graph, f) for f in features)


# Each point of #11 and the marker features that show it in use; each marker must be in two files or more.
POINTS = {
    "1 reports and disputes": {
        "report with sourcing": _all(PG.report, PG.sourcing),
        "rank": _any(PG.rank),
        "figure or term attributed to a report": _any(PG.accordingTo),
        "confidence on a report": _any(PG.confidence),
        "relayed via an outlet": _any(PG.reportedVia),
    },
    "2 documents and versions": {
        "document version": _any(PG.DocumentVersion),
        "version revises version": _any(PG.revises),
        "lifecycle step": _any(PG.lifecycleStep),
        "position stated in a version": _any(PG.statedIn),
        "point count": _any(PG.pointCount),
        "government body as publisher": _uses_government_publisher,
    },
    "3 quantities": {
        "range": _all(PG.minValue, PG.maxValue),
        "alternatives": _any(PG.alternativeValue, PG.alternativeTo),
        "qualifier": _any(PG.qualifier),
        "per side or in total": _any(PG.perSide, PG.inTotal),
        "count for a party": _any(PG.forParty),
        "unit": _any(PG.unit),
        "time span": _any(PG.timeSpan),
        "dateTime window or deadline": _uses_datetime_window,
        "deadline": _any(PG.deadline),
    },
    "4 polarity, modality, partial answers": {
        "negative polarity": _any(PG.negative),
        "in principle": _any(PG.inPrinciple),
        "partial extent": _any(PG.partialExtent),
        "accepts or rejects named terms": _any(PG.acceptsTerm, PG.rejectsTerm),
        "conditional acceptance": _uses_conditional_acceptance,
        "permanent neutrality without an alliance": _uses_neutrality_without_alliance,
        "resolutory condition": _any(PG.resolutory),
    },
    "5 wider vocabulary": {
        "new issue": _any(
            rdflib.URIRef("https://w3id.org/posgraph/issue/nuclear-safety"),
            rdflib.URIRef("https://w3id.org/posgraph/issue/amnesty-justice"),
            rdflib.URIRef("https://w3id.org/posgraph/issue/bloc-accession"),
            rdflib.URIRef("https://w3id.org/posgraph/issue/humanitarian-access"),
            rdflib.URIRef("https://w3id.org/posgraph/issue/military-aid"),
            rdflib.URIRef("https://w3id.org/posgraph/issue/reparations-reconstruction"),
        ),
        "new action": _any(PG.freeze, PG.reduce, PG.negotiate, PG.seize, PG.guarantee, PG.handOver),
        # 0.1 knew only full, energy and maritime ceasefires: the marker takes the scopes 0.2 added.
        "ceasefire scope": _any(*NEW_CEASEFIRE_SCOPES),
        "security guarantee": _any(PG.SecurityGuaranteeTerm),
        "delegation with roles": _all(PG.delegate, PG.delegateRole),
        "implementation": _any(PG.Implementation),
        "lapsed deadline": _all(PG.lapsed, PG.deadline),
    },
    "6 places": {
        "place referred to": _any(PG.place, PG.region, PG.venueProposed, PG.dateline),
        "place added by the batch": _uses_place_described,
    },
    "7 corrections": {
        "retraction": _any(PG.Retraction),
        "merge": _any(PG.Merge),
    },
}


@pytest.mark.parametrize("point", sorted(POINTS))
def test_every_point_of_issue_11_is_used_by_two_corpus_files_or_more(point):
    thin = {
        marker: users
        for marker, uses in POINTS[point].items()
        if len(users := sorted(name for name, graph in GRAPHS.items() if uses(graph))) < 2
    }
    assert not thin, f"point {point}: markers used by fewer than two files: {thin}"


def test_new_ceasefire_scopes_are_used_as_scopes_of_ceasefire_terms():
    """Two entries or more give a ceasefire term a 0.2 scope; the 0.1 value alone does not count."""
    users = sorted(
        name
        for name, graph in GRAPHS.items()
        if any(
            (term, RDF.type, PG.CeasefireTerm) in graph
            for scope in NEW_CEASEFIRE_SCOPES
            for term in graph.subjects(PG.ceasefireScope, scope)
        )
    )
    assert len(users) >= 2, users
    # Every new scope used is a concept of the ceasefire-scope scheme the ontology ships (no typo passes).
    vocabulary = rdflib.Graph().parse(PROJECT_FILES.ontology_dir / "vocabularies.ttl")
    scheme = rdflib.URIRef(str(PG) + "CeasefireScopes")
    for scope in NEW_CEASEFIRE_SCOPES:
        assert (scope, rdflib.URIRef("http://www.w3.org/2004/02/skos/core#inScheme"), scheme) in vocabulary, scope
    used = {o for graph in GRAPHS.values() for o in graph.objects(None, PG.ceasefireScope)}
    assert used - {PG.fullCeasefire}, "only pg:fullCeasefire is used as a ceasefire scope"


def test_the_corpus_spans_five_negotiations_and_forty_facts():
    negotiations = {_NAME.match(p.name)["negotiation"] for p in FACTS}
    assert len(negotiations) >= 5, negotiations
    assert len(FACTS) >= 40, len(FACTS)
    # Every negotiation has its facts, and none of them is the 2025 Russia-Ukraine talks (the seed's subject).
    assert all(sum(_NAME.match(p.name)["negotiation"] == n for p in FACTS) >= 4 for n in negotiations)
    for path in FACTS:
        for date in GRAPHS[path.name].objects(None, PG.statedOn):
            assert not str(date).startswith("2025"), f"{path.name}: a 2025 position"
