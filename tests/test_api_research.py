"""The SPARQL endpoint and saved queries over real HTTP."""

import csv
import io

import pytest

pytestmark = pytest.mark.e2e

RUSSIA_DEMANDS = """PREFIX pg: <https://w3id.org/posgraph/ns#>
SELECT ?issue (COUNT(?d) AS ?n) WHERE {
  ?d a pg:Demand ; pg:heldBy <https://w3id.org/posgraph/id/party/russia> ; pg:concerns ?issue }
GROUP BY ?issue ORDER BY ?issue"""
ISSUES = ["armed-forces-size", "language-identity", "neutrality-alliances", "territory"]


def _issues(doc):
    return [row["issue"]["value"].rsplit("/", 1)[1] for row in doc["results"]["bindings"]]


def test_get_query(server):
    with server.client() as client:
        response = client.get("/sparql", params={"query": RUSSIA_DEMANDS, "format": "ignored-extra"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/sparql-results+json")
    assert _issues(response.json()) == ISSUES


def test_post_form_query(server):
    with server.client() as client:
        response = client.post("/sparql", data={"query": RUSSIA_DEMANDS})
    assert response.status_code == 200 and _issues(response.json()) == ISSUES


def test_post_form_decodes_percent_escapes_once(server):
    # A literal "%41" must reach the engine as "%41", not be decoded a second time into "A".
    with server.client() as client:
        response = client.post("/sparql", data={"query": 'SELECT ("%41" AS ?x) {}'})
    assert response.json()["results"]["bindings"][0]["x"]["value"] == "%41"


def test_post_sparql_query_body_with_charset(server):
    with server.client() as client:
        response = client.post("/sparql", content=RUSSIA_DEMANDS.encode(),
                               headers={"Content-Type": "application/sparql-query; charset=UTF-8",
                                        "Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["issue"].rsplit("/", 1)[1] for r in rows] == ISSUES


def test_construct_defaults_to_turtle(server):
    with server.client() as client:
        response = client.get("/sparql", params={
            "query": "CONSTRUCT WHERE { <https://w3id.org/posgraph/id/party/russia> ?p ?o }"})
    assert response.headers["content-type"].startswith("text/turtle")
    assert "Russia" in response.text


def test_malformed_query_is_400_with_the_parsers_position(server):
    with server.client() as client:
        response = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://w3id.org/posgraph/problems/query-syntax"
    assert "1:" in body["detail"]


def test_missing_query_is_400(server):
    with server.client() as client:
        assert client.get("/sparql").status_code == 400
        assert client.post("/sparql", data={"other": "x"}).status_code == 400


def test_unsupported_body_type_is_415(server):
    with server.client() as client:
        response = client.post("/sparql", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 415 and response.json()["type"].endswith("/unsupported-media-type")


def test_non_utf8_body_is_400_not_500(server):
    with server.client() as client:
        response = client.post("/sparql", content=b"SELECT * { ?s ?p \"\xff\" }",
                               headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 400 and "UTF-8" in response.json()["detail"]


def test_oversized_body_is_413(server):
    with server.client() as client:
        response = client.post("/sparql", content=b"#" * 10_000_001,
                               headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 413


def test_wrong_method_is_405_problem(server):
    with server.client() as client:
        response = client.delete("/sparql")
    assert response.status_code == 405 and response.headers["content-type"] == "application/problem+json"


def test_unknown_route_is_404_problem(server):
    with server.client() as client:
        response = client.get("/no/such/thing")
    assert response.status_code == 404 and response.json()["type"].endswith("/not-found")


def test_service_to_a_local_url_is_refused_over_http(server):
    with server.client() as client:
        response = client.get("/sparql", params={
            "query": f"SELECT * {{ SERVICE <{server.url}/sparql> {{ ?s ?p ?o }} }}"})
    assert response.status_code == 400 and response.json()["type"].endswith("/query-refused")


def test_update_through_the_query_endpoint_is_refused(server):
    with server.client() as client:
        response = client.post("/sparql", data={"query": "DROP ALL"})
        assert response.status_code == 400
        still = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()
    assert still["boolean"] is True


def test_saved_queries_are_listed_and_run(server):
    with server.client() as client:
        listing = client.get("/queries").json()["queries"]
        names = {q["name"] for q in listing}
        response = client.get("/queries/demands-by-issue", params={"party": "pgid:party/russia"})
    assert {"demands-by-issue", "positions", "issues"} <= names
    assert response.status_code == 200 and _issues(response.json()) == ISSUES


def test_saved_query_bad_parameter_is_400_naming_it(server):
    with server.client() as client:
        bad = client.get("/queries/positions", params={"party": "pgid:party/russia", "to": "July"})
        missing = client.get("/queries/positions")
        unknown = client.get("/queries/nope")
    assert bad.status_code == 400 and bad.json()["parameter"] == "to"
    assert missing.status_code == 400 and missing.json()["parameter"] == "party"
    assert unknown.status_code == 404


def test_openapi_documents_the_routes(server):
    with server.client() as client:
        spec = client.get("/openapi.json").json()
    assert {"/sparql", "/queries", "/queries/{name}", "/health"} <= set(spec["paths"])
