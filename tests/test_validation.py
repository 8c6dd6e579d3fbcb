import json

import rdflib

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
        <https://w3id.org/posgraph/id/position/x> a pg:Demand ; pg:confidence 80 .""",
        format="turtle",
    )
    report = validator.validate(graph)
    assert not report.conforms
    by_shape = {r.shape: r for r in report.results}
    confidence = by_shape["pgsh:Position-confidence"]
    assert confidence.focus_node == "pgid:position/x"
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
    assert validator.shapes_version == "0.1.0"


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
