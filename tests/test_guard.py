"""The lexical SPARQL guard: SERVICE, LOAD and staging graphs refused; the word elsewhere allowed."""

import pytest

from posgraph import guard
from posgraph.errors import QueryRefused, QuerySyntaxError


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }",
        "select * {service<http://127.0.0.1/>{}}",
        "SELECT * { SERVICE SILENT <file:///etc/passwd> { ?s ?p ?o } }",
        "SELECT * { SeRvIcE ?endpoint { ?s ?p ?o } }",
        "# comment\nSELECT * {\n  SERVICE\n<http://localhost/>{?s ?p ?o}}",
    ],
)
def test_service_to_a_local_url_is_refused(query):
    with pytest.raises(QueryRefused, match="SERVICE"):
        guard.refuse_unsafe(query)


@pytest.mark.parametrize(
    "query",
    [
        'SELECT ?service WHERE { ?service ?p "SERVICE" }',
        "SELECT * WHERE { <http://example.org/service/a> ?p ?o } # SERVICE in a comment",
        "PREFIX service: <http://a#> SELECT * { ?s service:x ?o }",
        "SELECT * WHERE { ?s ?p '''a SERVICE inside a long string''' }",
    ],
)
def test_the_word_service_elsewhere_is_allowed(query):
    guard.refuse_unsafe(query)


def test_load_is_refused_in_updates():
    with pytest.raises(QueryRefused, match="LOAD"):
        guard.refuse_unsafe("LOAD <file:///etc/passwd>", update=True)
    guard.refuse_unsafe('INSERT DATA { <http://a> <http://b> "LOAD" }', update=True)


def test_query_form():
    assert guard.query_form("PREFIX a: <http://select/> ASK {}") == "ask"
    assert guard.query_form("construct { ?s ?p ?o } where { ?s ?p ?o }") == "construct"
    with pytest.raises(QuerySyntaxError):
        guard.query_form("INSERT DATA {}")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM <https://w3id.org/posgraph/id/staging/b1> { ?s ?p ?o }",
        "PREFIX s: <https://w3id.org/posgraph/id/staging/> SELECT * { GRAPH s:b1 { ?s ?p ?o } }",
        "PREFIX : <https://w3id.org/posgraph/id/> SELECT * FROM NAMED :staging/b1 { ?s ?p ?o }",
        "BASE <https://w3id.org/posgraph/id/staging/> SELECT * FROM <b1> { ?s ?p ?o }",
    ],
)
def test_staging_graphs_named_in_any_form_are_refused(query):
    with pytest.raises(QueryRefused, match="staging"):
        guard.refuse_staging(query)


def test_staging_dataset_parameters_are_refused_and_public_ones_pass():
    with pytest.raises(QueryRefused):
        guard.refuse_staging("SELECT * {}", ["https://w3id.org/posgraph/id/staging/x"])
    guard.refuse_staging("SELECT * {}", ["https://w3id.org/posgraph/id/batch/seed"])
    guard.refuse_staging('SELECT * { ?s ?p "https://w3id.org/posgraph/id/staging/x" }')
