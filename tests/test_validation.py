import datetime
import json

import pytest
import rdflib
from rdflib.namespace import RDF

from posgraph import curation
from posgraph.config import PROJECT_FILES
from posgraph.namespaces import SH


def seed_report(validator):
    return curation.validate_files(validator, curation.read_files(PROJECT_FILES.seed_files))


def test_seed_conforms_with_exactly_the_missing_figure_warning(validator):
    report = seed_report(validator)
    assert report.conforms
    assert [(r.severity, r.shape, r.focus_node) for r in report.results] == [
        ("Warning", "pgsh:ArmedForcesTerm-quantity", "[pg:hasTerm of pgid:position/ru-2025-07-army-cap]")
    ]


def test_results_name_node_property_value_message_and_hint(validator):
    graph = rdflib.Graph().parse(
        data="""
        @prefix pg: <https://w3id.org/posgraph/ns#> .
        <https://w3id.org/posgraph/id/position/x> a pg:Demand ; pg:report <https://w3id.org/posgraph/id/report/x> .
        <https://w3id.org/posgraph/id/report/x> a pg:Report ; pg:confidence 80 .""",
        format="turtle",
    )
    report = validator.validate(graph)
    assert not report.conforms
    by_shape = {r.shape: r for r in report.results}
    confidence = by_shape["pgsh:Report-confidence"]
    assert confidence.focus_node == "pgid:report/x"
    assert confidence.path == "pg:confidence"
    assert confidence.value == '"80"^^xsd:integer'
    assert "between 0 and 1" in confidence.message
    assert confidence.hint and "0.8" in confidence.hint
    assert {"pgsh:Position-heldBy", "pgsh:Position-statedOn", "pgsh:Position-concerns", "pgsh:Position-source"} <= set(
        by_shape
    )


def test_report_formats(validator):
    graph = rdflib.Graph().parse(
        data="""
        @prefix pg: <https://w3id.org/posgraph/ns#> .
        <https://w3id.org/posgraph/id/x> a pg:Quantity .""",
        format="turtle",
    )
    report = validator.validate(graph)
    doc = json.loads(report.to_json())
    assert doc["conforms"] is False and doc["violations"] == 1
    assert doc["results"][0]["shape"] == "pgsh:Quantity-valueOrRange"
    text = report.to_text("q.ttl")
    assert text.splitlines()[0].startswith("q.ttl: Violation: pgid:x property pg:value | pg:minValue | pg:maxValue")
    assert text.splitlines()[-1] == "q.ttl: does NOT conform (1 violation(s), 0 warning(s), 0 info)"
    standard = rdflib.Graph().parse(data=report.to_turtle(), format="turtle")
    assert (None, rdflib.RDF.type, SH.ValidationReport) in standard
    assert (None, SH.conforms, rdflib.Literal(False)) in standard


def test_validation_does_not_change_the_input(validator):
    data = rdflib.Graph().parse(PROJECT_FILES.seed_files[0])
    before = len(data)
    validator.validate(data)
    assert len(data) == before


def test_shapes_version_comes_from_the_shapes_graph(validator):
    # The rules file carries no version of its own: the structure shapes' version names the set.
    assert validator.shapes_version == "0.2.0"


def test_offline_references_to_published_nodes_say_they_are_not_in_the_file_and_point_at_against(validator):
    from conftest import EXAMPLES, posgraph_cli

    batch = EXAMPLES / "batches" / "army-cap-figure.ttl"
    # The figure refers to the seed's Russia, Ukraine and army-cap demand, which are published, not in the file.
    report = curation.validate_files(validator, curation.read_files([batch]), offline=True)
    assert not report.conforms
    assert sorted((r.path, r.value) for r in report.results) == [  # one result per reference, not per shape
        ("pg:addressedTo", "pgid:party/ukraine"),
        ("pg:heldBy", "pgid:party/russia"),
        ("pg:obligatedParty", "pgid:party/ukraine"),
        ("pg:supersedes", "pgid:position/ru-2025-07-army-cap"),
    ]
    for result in report.results:
        assert f"{result.value} is not in the file" in result.message
        assert "--against URL" in result.hint and "own description" not in result.hint
    # The command says so too.
    shown = posgraph_cli("validate", str(batch))
    assert shown.returncode == 1 and "pgid:party/russia is not in the file" in shown.stdout
    assert "--against URL" in shown.stdout and "a new party needs its own description" not in shown.stdout


def test_offline_results_about_what_the_file_says_keep_their_own_fix(validator):
    graph = rdflib.Graph().parse(
        data="""
        @prefix pg: <https://w3id.org/posgraph/ns#> .
        <https://w3id.org/posgraph/id/position/x> a pg:Demand ; pg:confidence 80 ;
            pg:heldBy <https://w3id.org/posgraph/id/party/elsewhere> .""",
        format="turtle",
    )
    report = validator.validate(graph, absent_hint="look elsewhere")
    by_shape = {r.shape: r for r in report.results}
    assert "0.8" in by_shape["pgsh:Position-confidence"].hint
    assert by_shape["pgsh:Position-heldBy"].hint == "look elsewhere"
    # Without the hint (a load, or a server's context), results are as the shapes word them.
    plain = {r.shape: r for r in validator.validate(graph).results}
    assert "own description" in plain["pgsh:Position-heldBy"].hint


# ---------------------------------------------------------------- the consistency rules (#12)
RULES_PREFIXES = """
@prefix pg:     <https://w3id.org/posgraph/ns#> .
@prefix pgi:    <https://w3id.org/posgraph/issue/> .
@prefix ex:     <https://w3id.org/posgraph/id/example/> .
@prefix wd:     <http://www.wikidata.org/entity/> .
@prefix skos:   <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <https://schema.org/> .
@prefix xsd:    <http://www.w3.org/2001/XMLSchema#> .
ex:a a pg:Party, pg:State ; skos:prefLabel "Aland"@en ; pg:wikidata wd:Q1 .
ex:b a pg:Party, pg:State ; skos:prefLabel "Borduria"@en ; pg:wikidata wd:Q2 .
ex:paper a pg:MediaOrganization ; skos:prefLabel "The Daily Paper"@en .
ex:src a pg:Source, schema:NewsArticle ; schema:headline "Talks resume"@en ; schema:publisher ex:paper ;
    schema:datePublished "2025-07-21"^^xsd:date .
"""


def _statement(stated_on: str, extra: str = "") -> str:
    return (
        RULES_PREFIXES
        + f"""ex:p a pg:Statement ; pg:heldBy ex:a ; pg:statedOn {stated_on} ; pg:concerns pgi:talks ;
        pg:source ex:src ; pg:summary "A statement."@en {extra} ."""
    )


def _findings(validator, turtle: str, context: str | None = None) -> set[tuple[str, str]]:
    data = rdflib.Graph().parse(data=turtle, format="turtle")
    graph = rdflib.Graph().parse(data=context, format="turtle") if context is not None else None
    return {(r.shape, r.focus_node) for r in validator.validate(data, graph).results if r.severity == "Violation"}


@pytest.mark.parametrize(
    "value, real",
    [
        ('"2024-02-29"^^xsd:date', True),  # a leap year
        ('"2000-02-29"^^xsd:date', True),  # divisible by 400
        ('"1900-02-29"^^xsd:date', False),  # divisible by 100 only
        ('"2025-02-29"^^xsd:date', False),
        ('"2025-04-31"^^xsd:date', False),
        ('"2025-12"^^xsd:gYearMonth', True),
        ('"2025-13"^^xsd:gYearMonth', False),
        ('"2025-00"^^xsd:gYearMonth', False),
        ('"2025"^^xsd:gYear', True),
        ('"25"^^xsd:gYear', False),
        ('"2025-07-19T10:00:00+03:00"^^xsd:dateTime', True),
        ('"2025-07-19T24:30:00Z"^^xsd:dateTime', False),
    ],
)
def test_date_lexical_forms_are_checked_for_every_date_datatype(validator, value, real):
    found = _findings(validator, _statement('"2025-07-19"^^xsd:date', f"; pg:dateNote {value}"))
    assert (("pgsh:Date-lexical", "pgid:example/p") not in found) is real


def test_a_future_date_is_refused_except_deadlines_windows_and_scheduled_events(validator):
    today = datetime.date.today()
    in_a_week = (today + datetime.timedelta(days=7)).isoformat()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    assert ("pgsh:Date-notFuture", "pgid:example/p") in _findings(validator, _statement(f'"{in_a_week}"^^xsd:date'))
    # One day of slack for curators east of UTC.
    assert ("pgsh:Date-notFuture", "pgid:example/p") not in _findings(validator, _statement(f'"{tomorrow}"^^xsd:date'))
    allowed = (
        RULES_PREFIXES
        + f"""
        ex:t a pg:CeasefireTerm ; pg:deadline "{in_a_week}"^^xsd:date ; pg:windowStart "{in_a_week}"^^xsd:date ;
            pg:windowEnd "{today.year + 50}"^^xsd:gYear .
        ex:typo a pg:CeasefireTerm ; pg:deadline "2999-01-01"^^xsd:date .
        ex:next a pg:Event ; skos:prefLabel "Next round"@en ; pg:scheduled true ; pg:startDate "{in_a_week}"^^xsd:date ;
            pg:source ex:src .
        ex:unplanned a pg:Event ; skos:prefLabel "A round that is said to have happened"@en ;
            pg:startDate "{in_a_week}"^^xsd:date ; pg:source ex:src ."""
    )
    found = {f for f in _findings(validator, allowed) if f[0] == "pgsh:Date-notFuture"}
    # Even where the future is allowed, not by centuries: 2999 is a mistyped year.
    assert found == {("pgsh:Date-notFuture", "pgid:example/unplanned"), ("pgsh:Date-notFuture", "pgid:example/typo")}


@pytest.mark.parametrize(
    "stated_on, after",
    [
        ('"2025-07-21"^^xsd:date', False),  # the day of publication
        ('"2025-07"^^xsd:gYearMonth', False),  # a month that contains the publication day
        ('"2025"^^xsd:gYear', False),
        ('"2025-07-22"^^xsd:date', True),
        ('"2025-08"^^xsd:gYearMonth', True),
        ('"2026"^^xsd:gYear', True),
    ],
)
def test_a_position_is_not_dated_after_its_source_precision_aware(validator, stated_on, after):
    found = _findings(validator, _statement(stated_on))
    assert (("pgsh:Position-notBeforeSource", "pgid:example/p") in found) is after


def test_the_misspelt_property_names_the_nearest_term_and_the_report_graph_says_so(validator):
    data = rdflib.Graph().parse(data=_statement('"2025-07-19"^^xsd:date', "; pg:heldby ex:a"), format="turtle")
    report = validator.validate(data)
    typo = [r for r in report.results if r.shape == "pgsh:Vocabulary-knownProperty"]
    assert len(typo) == 1 and typo[0].path == "pg:heldby" and "Did you mean pg:heldBy?" in typo[0].message
    assert typo[0].hint and not report.conforms
    # The standard sh:ValidationReport carries it too, as a result attached to the report.
    standard = rdflib.Graph().parse(data=report.to_turtle(), format="turtle")
    results = list(
        standard.subjects(SH.sourceShape, rdflib.URIRef("https://w3id.org/posgraph/shapes#Vocabulary-knownProperty"))
    )
    assert len(results) == 1 and (None, SH.result, results[0]) in standard
    assert "Did you mean pg:heldBy?" in str(standard.value(results[0], SH.resultMessage))
    # Foreign vocabularies stay open.
    open_world = _statement('"2025-07-19"^^xsd:date', '; <https://schema.org/keywords> "talks"@en')
    assert not {f for f in _findings(validator, open_world) if f[0].startswith("pgsh:Vocabulary")}


def test_a_cycle_closed_by_the_batch_is_found_against_the_published_half(validator):
    published = (
        _statement('"2025-07-01"^^xsd:date').replace("ex:p ", "ex:old ")
        + """
        ex:new a pg:Statement ; pg:heldBy ex:a ; pg:statedOn "2025-07-10"^^xsd:date ; pg:concerns pgi:talks ;
            pg:source ex:src ; pg:supersedes ex:old ."""
    )
    batch = RULES_PREFIXES + "ex:old pg:supersedes ex:new ."
    assert ("pgsh:Revision-noCycle", "pgid:example/old") in _findings(validator, batch, published)
    # Without the published half there is no cycle to see.
    assert not {f for f in _findings(validator, batch) if f[0] == "pgsh:Revision-noCycle"}


def test_a_second_iri_for_a_published_party_names_the_one_to_reuse(validator):
    published = RULES_PREFIXES
    batch = (
        RULES_PREFIXES.split("ex:a a")[0]
        + 'ex:aland a pg:Party, pg:State ; skos:prefLabel "Åland"@en ; pg:wikidata wd:Q1 .'
    )
    data = rdflib.Graph().parse(data=batch, format="turtle")
    report = validator.validate(data, rdflib.Graph().parse(data=published, format="turtle"))
    duplicate = [r for r in report.results if r.shape == "pgsh:Identity-oneIriPerWikidataItem"]
    assert [r.focus_node for r in duplicate] == ["pgid:example/aland"]  # the published party is not re-reported
    assert "reuse pgid:example/a." in duplicate[0].message


def test_language_tags_that_do_not_fit_the_script_are_warnings(validator):
    data = rdflib.Graph().parse(
        data=_statement(
            '"2025-07-19"^^xsd:date',
            '; pg:quote "Мы готовы"@en, "We are ready"@ru, "Ми готові"@uk, "Мы готовы"@ru, "Kyiv"@en, "USA"@uk-Latn',
        ),
        format="turtle",
    )
    report = validator.validate(data)
    flagged = sorted(r.value for r in report.results if r.shape == "pgsh:Text-scriptFitsLanguage")
    assert flagged == sorted(['"We are ready"@ru', '"Мы готовы"@en'])  # a script subtag (uk-Latn) is trusted
    assert all(r.severity == "Warning" for r in report.results if r.shape == "pgsh:Text-scriptFitsLanguage")
    assert report.conforms


def test_dangling_references_on_unshaped_properties_are_found(validator):
    found = _findings(validator, _statement('"2025-07-19"^^xsd:date', "; pg:conflictsWith ex:nowhere"))
    assert ("pgsh:Reference-described", "pgid:example/p") in found
    # A described node, a Wikidata item and a posgraph concept are not dangling.
    fine = _statement('"2025-07-19"^^xsd:date', "; pg:conflictsWith ex:src ; pg:datePrecision pg:dayPrecision")
    assert ("pgsh:Reference-described", "pgid:example/p") not in _findings(validator, fine)


def test_the_seed_and_valid_examples_trip_no_rule(validator):
    from conftest import EXAMPLES

    rules = {
        str(s)
        for s in rdflib.Graph().parse(PROJECT_FILES.shapes_dir / "posgraph-rules.ttl").subjects(RDF.type, SH.NodeShape)
    }
    shown = {s.replace("https://w3id.org/posgraph/shapes#", "pgsh:") for s in rules}
    for path in [*PROJECT_FILES.seed_files, *sorted((EXAMPLES / "valid").glob("*.ttl"))]:
        report = curation.validate_files(validator, curation.read_files([path]))
        assert not [r.line() for r in report.results if r.shape in shown], path


def test_a_rendered_refusal_travels_back_from_a_worker_as_its_count_alone():
    import pickle

    from posgraph.validation import ValidationReport, ValidationResult

    def result(i: int, severity: str) -> ValidationResult:
        return ValidationResult(
            severity=severity, focus_node=f"pgid:position/p{i}", path="pg:heldBy", value=None, message="m", shape="s"
        )

    refused = ValidationReport(False, [result(i, "Violation") for i in range(3000)] + [result(0, "Warning")])
    summary = refused.rendered_summary()
    assert summary.conforms is False and summary.results == [] and summary.violation_count == 3000
    # What the server unpickles on its side: a few bytes instead of every result.
    assert len(pickle.dumps(summary)) * 100 < len(pickle.dumps(refused))
    passed = ValidationReport(True, [result(1, "Warning")], graph=rdflib.Graph())
    kept = passed.rendered_summary()
    assert kept.results == passed.results and kept.graph is None  # a conforming report keeps its warnings


def test_focus_id_is_the_node_as_the_data_names_it(validator):
    # A form labels the blank nodes it sends; the result must name the node by that label for the form to find it.
    from posgraph import formats
    from posgraph.validation import ValidationReport

    data = formats.to_rdflib_graph(
        formats.read_quads(
            (
                b"<https://w3id.org/posgraph/id/position/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                b"<https://w3id.org/posgraph/ns#Demand> .\n"
                b"<https://w3id.org/posgraph/id/position/x> <https://w3id.org/posgraph/ns#hasTerm> _:wb-term7 .\n"
                b"_:wb-term7 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                b"<https://w3id.org/posgraph/ns#ArmedForcesTerm> .\n"
            ),
            formats.format_for_media_type("application/n-triples"),
            "test",
        )
    )
    report = validator.validate(data)
    ids = {(r.focus_node, r.focus_id) for r in report.results}
    assert ("[pg:hasTerm of pgid:position/x]", "_:wb-term7") in ids
    assert ("pgid:position/x", "https://w3id.org/posgraph/id/position/x") in ids
    assert all(r["focus_id"] for r in report.to_dict()["results"])
    # It travels in the flat JSON and back.
    again = ValidationReport.from_dict(json.loads(report.to_json()))
    assert {r.focus_id for r in again.results} == {r.focus_id for r in report.results}


def _unknown_term_messages(validator, extra: str) -> list[str]:
    data = rdflib.Graph().parse(data=_statement('"2025-07-19"^^xsd:date', extra), format="turtle")
    report = validator.validate(data)
    return [r.message for r in report.results if r.shape.startswith("pgsh:Vocabulary-known")]


@pytest.mark.parametrize(
    "extra, unknown",
    [
        ("; a pg:troops", "pg:troops"),  # was "Did you mean pg:Proposal?"
        ('; pg:xyzzy "x"@en', "pg:xyzzy"),  # was pg:stepBy
        ('; pg:banana "x"@en', "pg:banana"),  # was pg:agenda
        ("; pg:concerns pgi:zzz", "pgi:zzz"),  # was pgi:pax
        ("; pg:concerns pgi:football", "pgi:football"),  # was pgi:talks
    ],
)
def test_a_nonsense_term_gets_no_did_you_mean(validator, extra, unknown):
    messages = _unknown_term_messages(validator, extra)
    assert len(messages) == 1 and unknown in messages[0]
    assert "Did you mean" not in messages[0]


@pytest.mark.parametrize(
    "extra, meant",
    [
        ("; pg:adressedTo ex:b", "pg:addressedTo"),
        ('; pg:regon "x"@en', "pg:region"),
        ("; pg:heldby ex:a", "pg:heldBy"),
        ("; a pg:Demmand", "pg:Demand"),
        ("; pg:concerns pgi:teritory", "pgi:territory"),
    ],
)
def test_a_misspelt_term_gets_the_term_it_misspells(validator, extra, meant):
    messages = _unknown_term_messages(validator, extra)
    assert len(messages) == 1 and messages[0].endswith(f"Did you mean {meant}?")


def test_an_iri_with_no_known_prefix_is_shown_in_single_brackets(validator):
    messages = [
        r.message
        for r in validator.validate(
            rdflib.Graph().parse(
                data=_statement('"2025-07-19"^^xsd:date', "; pg:conflictsWith <http://qudt.org/vocab/unit/NOPE>"),
                format="turtle",
            )
        ).results
        if r.shape == "pgsh:Reference-described"
    ]
    assert len(messages) == 1
    assert "pg:conflictsWith <http://qudt.org/vocab/unit/NOPE>, but <http://qudt.org/vocab/unit/NOPE>" in messages[0]
    assert "<<" not in messages[0] and ">>" not in messages[0]
