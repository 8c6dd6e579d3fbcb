"""Model 0.2 (ontology, vocabularies, gazetteer and structure shapes): what it lets a curator say, and the
mistakes its structure shapes refuse. Each case validates a small graph offline with the product's validator."""

import pytest
import rdflib

from posgraph.config import PROJECT_FILES
from posgraph.namespaces import PG

PREFIXES = """
@prefix pg:     <https://w3id.org/posgraph/ns#> .
@prefix pgi:    <https://w3id.org/posgraph/issue/> .
@prefix ex:     <https://w3id.org/posgraph/id/example/> .
@prefix wd:     <http://www.wikidata.org/entity/> .
@prefix unit:   <http://qudt.org/vocab/unit/> .
@prefix skos:   <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <https://schema.org/> .
@prefix xsd:    <http://www.w3.org/2001/XMLSchema#> .
ex:a a pg:Party, pg:State ; skos:prefLabel "Aland"@en ; pg:wikidata wd:Q1 .
ex:b a pg:Party, pg:State ; skos:prefLabel "Borduria"@en ; pg:wikidata wd:Q2 .
ex:paper a pg:MediaOrganization ; skos:prefLabel "The Daily Paper"@en .
ex:wire a pg:MediaOrganization ; skos:prefLabel "The Wire Agency"@en .
ex:src a pg:Source ; schema:headline "Talks resume"@en ; schema:publisher ex:paper ;
    schema:datePublished "2025-07-21"^^xsd:date .
ex:src2 a pg:Source ; schema:headline "Talks resume, officials say"@en ; schema:publisher ex:wire ;
    schema:datePublished "2025-07-22"^^xsd:date .
"""


def _report(validator, turtle: str):
    graph = rdflib.Graph().parse(data=PREFIXES + turtle, format="turtle")
    return validator.validate(graph)


def _violations(report) -> set[tuple[str, str]]:
    return {(r.shape, r.focus_node) for r in report.results if r.severity == "Violation"}


def _position(extra: str, kind: str = "Demand", issue: str = "pgi:neutrality-alliances") -> str:
    return f"""ex:p a pg:{kind} ; pg:heldBy ex:a ; pg:addressedTo ex:b ; pg:statedOn "2025-07-20"^^xsd:date ;
        pg:concerns {issue} ; pg:source ex:src ; pg:summary "A position."@en ; {extra} ."""


def test_the_ontology_is_version_0_2_0_and_names_its_prior_version():
    graph = rdflib.Graph()
    for path in PROJECT_FILES.ontology_files:
        graph.parse(path)
    ontology = rdflib.URIRef("https://w3id.org/posgraph/ns")
    assert str(graph.value(ontology, rdflib.OWL.versionInfo)) == "0.2.0"
    assert graph.value(ontology, rdflib.OWL.priorVersion) == rdflib.URIRef("https://w3id.org/posgraph/ns/0.1.0")
    # The gazetteer ships with the ontology: Istanbul has names in three languages.
    names = {
        (n.language, str(n))
        for n in graph.objects(rdflib.URIRef("http://www.wikidata.org/entity/Q406"), rdflib.SKOS.prefLabel)
    }
    assert {("en", "Istanbul"), ("uk", "Стамбул"), ("ru", "Стамбул")} <= names
    assert (rdflib.URIRef("http://www.wikidata.org/entity/Q406"), rdflib.RDF.type, PG.Place) in graph


# ----------------------------------------------------------------------------- the two 0.1 refusals, gone
def test_permanent_neutrality_needs_no_alliance(validator):
    term = "pg:hasTerm [ a pg:NeutralityTerm ; pg:obligatedParty ex:b ; pg:commitment pg:permanentNeutrality ]"
    assert _report(validator, _position(term)).conforms


@pytest.mark.parametrize(
    "commitment", ["pg:nonAccession", "pg:noForeignTroops", "pg:permanentNeutrality, pg:nonAccession"]
)
def test_not_joining_or_hosting_an_alliance_still_names_it(validator, commitment):
    term = f"pg:hasTerm ex:t . ex:t a pg:NeutralityTerm ; pg:commitment {commitment}"
    assert ("pgsh:NeutralityTerm-allianceNamed", "pgid:example/t") in _violations(_report(validator, _position(term)))


OFFICIAL = "pg:report [ a pg:Report ; pg:source ex:communique ; pg:sourcing pg:officialText ] ; pg:source ex:communique"


@pytest.mark.parametrize(
    "publisher",
    [
        "ex:a",  # the government itself
        'ex:mfa . ex:mfa a pg:GovernmentBody ; skos:prefLabel "Ministry of Foreign Affairs"@en ; pg:partOf ex:a',
    ],
)
def test_a_government_or_ministry_may_publish_a_source(validator, publisher):
    data = f"""ex:communique a pg:Source ; skos:prefLabel "Joint communiqué"@en ;
        schema:datePublished "2025-07-20"^^xsd:date ; schema:publisher {publisher} .
        {_position(OFFICIAL)}"""
    report = _report(validator, data)
    assert report.conforms, report.to_text()


def test_a_person_cannot_publish_a_source(validator):
    data = """ex:envoy a pg:Person ; skos:prefLabel "An Envoy"@en .
        ex:blog a pg:Source ; schema:headline "My view"@en ; schema:publisher ex:envoy ;
            schema:datePublished "2025-07-20"^^xsd:date ."""
    assert ("pgsh:Source-publisher", "pgid:example/blog") in _violations(_report(validator, data))


# ----------------------------------------------------------------------------- reports and disputes
DISPUTE = """pg:source ex:src2 ;
    pg:report ex:r1, ex:r2 ;
    pg:hasTerm [ a pg:ArmedForcesTerm ; pg:obligatedParty ex:b ; pg:action pg:cap ; pg:quantityKind pg:personnel ;
        pg:quantity [ a pg:Quantity ; pg:value 50000 ; pg:accordingTo ex:r1 ],
                    [ a pg:Quantity ; pg:value 65000 ; pg:accordingTo ex:r2 ] ] .
    ex:r1 a pg:Report ; pg:source ex:src ; pg:sourcing pg:leak ; pg:rank pg:preferredRank ; pg:confidence 0.8 .
    ex:r2 a pg:Report ; pg:source ex:src2 ; pg:sourcing pg:anonymousOfficials ; pg:reportedVia ex:wire"""


def test_a_disputed_figure_is_one_position_with_two_ranked_reports(validator):
    report = _report(validator, _position(DISPUTE, issue="pgi:armed-forces-size"))
    assert report.conforms, report.to_text()


def test_a_report_source_must_be_a_source_of_its_position(validator):
    data = _position(DISPUTE.replace("pg:source ex:src2 ;", "", 1), issue="pgi:armed-forces-size")
    assert ("pgsh:Report-sourceListed", "pgid:example/r2") in _violations(_report(validator, data))


def test_a_figure_can_only_cite_a_report_of_its_own_position(validator):
    other = """ex:q a pg:Offer ; pg:heldBy ex:b ; pg:addressedTo ex:a ; pg:statedOn "2025-07-20"^^xsd:date ;
        pg:concerns pgi:armed-forces-size ; pg:source ex:src ; pg:summary "Another."@en ;
        pg:report ex:foreign . ex:foreign a pg:Report ; pg:source ex:src ; pg:sourcing pg:readout ."""
    data = _position(
        DISPUTE.replace("pg:accordingTo ex:r2", "pg:accordingTo ex:foreign"), issue="pgi:armed-forces-size"
    )
    violations = _violations(_report(validator, data + other))
    assert any(shape == "pgsh:AccordingTo-ownReport" for shape, _ in violations)


def test_confidence_and_reported_via_moved_from_the_position_to_its_report(validator):
    data = _position("pg:confidence 0.8 ; pg:reportedVia ex:wire")
    violations = _violations(_report(validator, data))
    assert {
        ("pgsh:Position-confidence", "pgid:example/p"),
        ("pgsh:Position-reportedVia", "pgid:example/p"),
    } <= violations
    message = next(r.message for r in _report(validator, data).results if r.shape == "pgsh:Position-confidence")
    assert "report" in message


def test_a_report_needs_its_sourcing_and_one_source(validator):
    data = _position("pg:report ex:r . ex:r a pg:Report ; pg:source ex:src, ex:src2")
    violations = _violations(_report(validator, data))
    assert {("pgsh:Report-sourcing", "pgid:example/r"), ("pgsh:Report-source", "pgid:example/r")} <= violations


# ----------------------------------------------------------------------------- documents and versions
DOCUMENT = """ex:plan a pg:Document ; skos:prefLabel "Peace plan"@en ; pg:documentKind pg:pointPlan ;
    pg:draftedBy ex:a .
ex:plan-v1 a pg:DocumentVersion ; pg:versionOf ex:plan ; skos:prefLabel "Peace plan, 12-point draft"@en ;
    pg:pointCount 12 ; pg:lifecycleStep [ a pg:LifecycleStep ; pg:stage pg:leaked ;
        pg:startDate "2025-06"^^xsd:gYearMonth ] .
ex:plan-v2 a pg:DocumentVersion ; pg:versionOf ex:plan ; skos:prefLabel "Peace plan, 9-point draft"@en ;
    pg:pointCount 9 ; pg:revises ex:plan-v1 ;
    pg:lifecycleStep [ a pg:LifecycleStep ; pg:stage pg:published ; pg:startDate "2025-07-19"^^xsd:date ;
        pg:stepBy ex:a ] .
"""


def test_a_document_in_versions_states_positions_and_is_a_source(validator):
    data = DOCUMENT + _position("pg:statedIn ex:plan-v2 ; pg:source ex:plan-v2")
    report = _report(validator, data)
    assert report.conforms, report.to_text()


def test_a_version_revises_only_versions_of_the_same_document(validator):
    data = (
        DOCUMENT
        + """ex:other a pg:Document ; skos:prefLabel "Other memo"@en ; pg:documentKind pg:memorandum .
        ex:memo a pg:DocumentVersion ; pg:versionOf ex:other ; skos:prefLabel "Memo"@en ; pg:revises ex:plan-v1 ."""
    )
    assert ("pgsh:Revision-sameDocument", "pgid:example/memo") in _violations(_report(validator, data))


def test_a_version_needs_its_work_and_a_step_its_stage(validator):
    data = """ex:v a pg:DocumentVersion ; skos:prefLabel "Loose draft"@en ;
        pg:lifecycleStep ex:step . ex:step a pg:LifecycleStep ; pg:stage pg:cede ;
            pg:startDate "2025-07-01"^^xsd:date ."""
    violations = _violations(_report(validator, data))
    assert {
        ("pgsh:DocumentVersion-versionOf", "pgid:example/v"),
        ("pgsh:LifecycleStep-stage", "pgid:example/step"),
    } <= violations


# ----------------------------------------------------------------------------- quantities
def test_qualified_ranges_alternatives_and_per_side_figures(validator):
    terms = """pg:hasTerm [ a pg:CeasefireTerm ; pg:action pg:halt ; pg:ceasefireScope pg:holidayTruce ;
            pg:windowStart "2025-04-19T18:00:00+03:00"^^xsd:dateTime ;
            pg:quantity [ a pg:Quantity ; pg:quantityKind pg:timeSpan ; pg:minValue 36 ; pg:maxValue 72 ;
                pg:unit unit:HR ] ],
        [ a pg:PrisonerExchangeTerm ; pg:action pg:exchange ; pg:exchangeOf pg:prisonersOfWar ;
            pg:quantity [ a pg:Quantity ; pg:quantityKind pg:persons ; pg:value 500 ;
                pg:distribution pg:perSide ; pg:qualifier pg:upTo ] ],
        [ a pg:TalksTerm ; pg:action pg:meet ;
            pg:quantity [ a pg:Quantity ; pg:quantityKind pg:timeSpan ; pg:alternativeValue 5, 6 ;
                pg:unit unit:DAY ] ]"""
    report = _report(validator, _position(terms, kind="Offer", issue="pgi:ceasefire"))
    assert report.conforms, report.to_text()


@pytest.mark.parametrize(
    ("quantity", "shape"),
    [
        ("pg:alternativeValue 5", "pgsh:Quantity-alternatives"),
        ("pg:alternativeValue 5, 6 ; pg:value 5", "pgsh:Quantity-alternatives"),
        ("pg:value 5 ; pg:qualifier pg:tanks", "pgsh:Quantity-qualifier"),
        ("pg:value 5 ; pg:distribution pg:exactly", "pgsh:Quantity-distribution"),
        ('pg:value 5 ; pg:unit "hours"', "pgsh:Quantity-unit"),
    ],
)
def test_malformed_qualified_quantities_are_refused(validator, quantity, shape):
    data = f"ex:q a pg:Quantity ; {quantity} ."
    assert (shape, "pgid:example/q") in _violations(_report(validator, data))


def test_a_window_time_needs_its_time_zone(validator):
    terms = """pg:hasTerm ex:t . ex:t a pg:CeasefireTerm ; pg:action pg:halt ;
        pg:windowStart "2025-04-19T18:00:00"^^xsd:dateTime"""
    assert ("pgsh:Term-windowStart", "pgid:example/t") in _violations(
        _report(validator, _position(terms, issue="pgi:ceasefire"))
    )


# ----------------------------------------------------------------------------- polarity, modality, partial answers
def test_negative_terms_in_principle_and_partial_answers(validator):
    data = """ex:proposal a pg:Proposal ; pg:heldBy ex:b ; pg:addressedTo ex:a ; pg:statedOn "2025-07-19"^^xsd:date ;
            pg:concerns pgi:armed-forces-size, pgi:language-identity ; pg:source ex:src ; pg:summary "A package."@en ;
            pg:hasTerm ex:cap, ex:lang .
        ex:cap a pg:ArmedForcesTerm ; pg:obligatedParty ex:a ; pg:action pg:cap ; pg:quantityKind pg:personnel ;
            pg:polarity pg:negative ; pg:wording "no limits on the army"@en .
        ex:lang a pg:LanguageTerm ; pg:language "ru"^^xsd:language ; pg:languageStatus pg:officialLanguage .
        ex:answer a pg:Acceptance ; pg:heldBy ex:a ; pg:addressedTo ex:b ; pg:statedOn "2025-07-20"^^xsd:date ;
            pg:concerns pgi:armed-forces-size ; pg:source ex:src ; pg:summary "Yes to one, no to the other."@en ;
            pg:respondsTo ex:proposal ; pg:modality pg:inPrinciple ; pg:extent pg:partialExtent ;
            pg:acceptsTerm ex:cap ; pg:rejectsTerm ex:lang ;
            pg:hasCondition [ a pg:Condition ; pg:conditionType pg:resolutory ;
                pg:wording "lapses if the other side attacks"@en ] ."""
    report = _report(validator, data)
    assert report.conforms, report.to_text()
    # Accepting a term of a position the answer does not respond to is refused.
    stray = data.replace("pg:acceptsTerm ex:cap", "pg:acceptsTerm ex:other") + (
        "\n ex:other a pg:TalksTerm ; pg:action pg:meet ."
    )
    assert ("pgsh:Answer-termsOfAnswered", "pgid:example/answer") in _violations(_report(validator, stray))


def test_a_condition_says_what_it_depends_on(validator):
    data = "ex:c a pg:Condition ; pg:conditionType pg:resolutory ."
    assert ("pgsh:Condition-requiresOrWording", "pgid:example/c") in _violations(_report(validator, data))


# ----------------------------------------------------------------------------- wider vocabulary, delegations, outcomes
def test_guarantees_delegations_implementation_and_a_lapsed_ultimatum(validator):
    data = """ex:round a pg:NegotiationRound ; skos:prefLabel "Round one"@en ; pg:startDate "2025-05-16"^^xsd:date ;
            pg:place wd:Q406 ; pg:participant ex:a, ex:b ; pg:source ex:src ;
            pg:delegate [ a pg:Delegate ; pg:member ex:head ; pg:roleFor ex:a ;
                pg:delegateRole pg:headOfDelegation ] .
        ex:head a pg:Person ; skos:prefLabel "A Head"@en .
        ex:swap a pg:Implementation ; skos:prefLabel "The exchange"@en ; pg:startDate "2025-05-23"^^xsd:date ;
            pg:source ex:src ; pg:implements ex:deal ;
            pg:quantity [ a pg:Quantity ; pg:quantityKind pg:persons ; pg:value 390 ; pg:forParty ex:a ],
                        [ a pg:Quantity ; pg:quantityKind pg:persons ; pg:value 390 ; pg:forParty ex:b ] .
        ex:deal a pg:Agreement ; pg:heldBy ex:a, ex:b ; pg:statedOn "2025-05-16"^^xsd:date ;
            pg:concerns pgi:prisoner-exchange ;
            pg:source ex:src ; pg:summary "A thousand for a thousand."@en ;
            pg:hasTerm [ a pg:PrisonerExchangeTerm ; pg:action pg:exchange ; pg:exchangeOf pg:prisonersOfWar ;
                pg:quantity [ a pg:Quantity ; pg:value 1000 ; pg:distribution pg:perSide ] ] .
        ex:guarantee a pg:Demand ; pg:heldBy ex:a ; pg:addressedTo ex:b ; pg:statedOn "2025-05-16"^^xsd:date ;
            pg:concerns pgi:security-guarantees, pgi:humanitarian-access ; pg:source ex:src ;
                pg:summary "Guarantees."@en ;
            pg:hasTerm [ a pg:SecurityGuaranteeTerm ; pg:action pg:guarantee ; pg:guarantor ex:b ;
                pg:guaranteeStrength pg:collectiveDefence ] .
        ex:ultimatum a pg:Threat ; pg:heldBy ex:b ; pg:addressedTo ex:a ; pg:statedOn "2025-05-10"^^xsd:date ;
            pg:concerns pgi:sanctions ; pg:source ex:src ; pg:summary "Sanctions unless a truce by Monday."@en ;
            pg:deadline "2025-05-12T00:00:00+03:00"^^xsd:dateTime ; pg:outcomeStatus pg:lapsed ."""
    report = _report(validator, data)
    assert report.conforms, report.to_text()


def test_a_delegate_names_person_party_and_role(validator):
    data = "ex:d a pg:Delegate ; pg:member ex:a ; pg:delegateRole pg:cede ."
    violations = _violations(_report(validator, data))
    assert {
        ("pgsh:Delegate-member", "pgid:example/d"),
        ("pgsh:Delegate-roleFor", "pgid:example/d"),
        ("pgsh:Delegate-delegateRole", "pgid:example/d"),
    } <= violations


# ----------------------------------------------------------------------------- places
def test_a_region_must_be_a_described_place(validator):
    term = "pg:hasTerm ex:t . ex:t a pg:TerritorialTerm ; pg:action pg:cede ; pg:region wd:Q987654321"
    data = _position(term, issue="pgi:territory")
    assert ("pgsh:TerritorialTerm-region", "pgid:example/t") in _violations(_report(validator, data))
    described = data + '\nwd:Q987654321 a pg:Place ; skos:prefLabel "Somewhere"@en ; pg:placeKind pg:subdivision .'
    assert _report(validator, described).conforms


def test_a_place_needs_an_english_name_and_a_well_formed_code(validator):
    data = 'wd:Q987654321 a pg:Place ; skos:prefLabel "Десь"@uk ; pg:iso3166_2 "ua14" .'
    violations = _violations(_report(validator, data))
    assert {("pgsh:Place-prefLabel", "wd:Q987654321"), ("pgsh:Place-iso", "wd:Q987654321")} <= violations


# ----------------------------------------------------------------------------- amendments
def test_amendments_are_well_formed(validator):
    good = """ex:fix a pg:Retraction ; pg:retractsSubject ex:p ; pg:retractsPredicate pg:statedOn ;
            pg:retractsObject "2025-07"^^xsd:gYearMonth ; pg:reason "The readout gives the day."@en .
        ex:same a pg:Merge ; pg:mergedFrom ex:dup ; pg:mergedInto ex:a ; pg:reason "One party, two IRIs."@en .
        ex:dup a pg:Party ; skos:prefLabel "Aland (a second IRI)"@en ."""
    report = _report(validator, good + _position('pg:statedOn "2025-07"^^xsd:gYearMonth'))
    assert not [r for r in report.results if r.shape.startswith(("pgsh:Retraction", "pgsh:Merge", "pgsh:Amendment"))]
    bad = """ex:fix a pg:Retraction ; pg:retractsSubject "p" ; pg:retractsObject ex:a .
        ex:same a pg:Merge ; pg:mergedFrom ex:a ; pg:mergedInto ex:a ."""
    report = _report(validator, bad)
    violations = _violations(report)
    assert {
        ("pgsh:Retraction-subject", "pgid:example/fix"),
        ("pgsh:Retraction-predicate", "pgid:example/fix"),
        ("pgsh:Merge-from", "pgid:example/same"),
    } <= violations
    assert {r.shape for r in report.results if r.severity == "Warning"} >= {"pgsh:Amendment-reason"}
