"""Real SPARQL clients against a real posgraph server: SPARQLWrapper, rdflib's SPARQLStore, and Comunica (Node)."""

import json
import shutil
import subprocess

import pytest
import rdflib
from conftest import ROOT
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, POST, TURTLE, SPARQLWrapper

pytestmark = pytest.mark.e2e

DEMANDS = """PREFIX pg: <https://w3id.org/posgraph/ns#>
SELECT ?issue WHERE { ?d a pg:Demand ; pg:heldBy <https://w3id.org/posgraph/id/party/russia> ; pg:concerns ?issue }
ORDER BY ?issue"""
ISSUES = [
    "https://w3id.org/posgraph/issue/" + i
    for i in ("armed-forces-size", "language-identity", "neutrality-alliances", "territory")
]
NATO = "CONSTRUCT WHERE { <https://w3id.org/posgraph/id/party/nato> ?p ?o }"


def _wrapper(server, method=None):
    wrapper = SPARQLWrapper(server.url + "/sparql")
    if method:
        wrapper.setMethod(method)
    return wrapper


@pytest.mark.parametrize("method", [None, POST], ids=["GET", "POST"])
def test_sparqlwrapper_select_ask_construct(server, method):
    select = _wrapper(server, method)
    select.setQuery(DEMANDS)
    select.setReturnFormat(JSON)
    rows = select.query().convert()["results"]["bindings"]
    assert [r["issue"]["value"] for r in rows] == ISSUES

    ask = _wrapper(server, method)
    ask.setQuery("ASK { <https://w3id.org/posgraph/id/party/ukraine> ?p ?o }")
    ask.setReturnFormat(JSON)
    assert ask.query().convert()["boolean"] is True

    construct = _wrapper(server, method)
    construct.setQuery(NATO)
    construct.setReturnFormat(TURTLE)
    graph = rdflib.Graph().parse(data=construct.query().convert(), format="turtle")
    assert (rdflib.URIRef("https://w3id.org/posgraph/id/party/nato"), None, None) in graph and len(graph) == 6

    as_csv = _wrapper(server, method)
    as_csv.setQuery(DEMANDS)
    as_csv.setReturnFormat(CSV)
    assert as_csv.query().convert().decode().splitlines()[1:] == ISSUES


def test_rdflib_sparqlstore(server):
    store = SPARQLStore(server.url + "/sparql")  # its default Accept: SPARQL XML results or RDF/XML
    graph = rdflib.Graph(store=store)
    assert [str(row.issue) for row in graph.query(DEMANDS)] == ISSUES
    assert graph.query("ASK { ?s ?p ?o }").askAnswer is True
    constructed = graph.query(NATO).graph
    assert len(constructed) == 6
    label = rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")
    assert rdflib.Literal("NATO", lang="en") in set(
        graph.objects(rdflib.URIRef("https://w3id.org/posgraph/id/party/nato"), label)
    )


def _comunica():
    binary = ROOT / "node_modules" / ".bin" / "comunica-sparql"
    if not binary.exists() or shutil.which("node") is None:
        pytest.skip("Comunica is not installed (no npm at set-up)")
    return str(binary)


def _run_comunica(server, query, media_type):
    result = subprocess.run(
        [_comunica(), f"sparql@{server.url}/sparql", query, "-t", media_type],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_comunica_select(server):
    doc = json.loads(_run_comunica(server, DEMANDS, "application/sparql-results+json"))
    assert [r["issue"]["value"] for r in doc["results"]["bindings"]] == ISSUES


def test_comunica_ask(server):
    assert _run_comunica(server, "ASK { ?s ?p ?o }", "simple").strip() == "true"


def test_comunica_construct(server):
    out = _run_comunica(server, NATO, "application/n-triples")
    graph = rdflib.Graph().parse(data=out, format="nt")
    assert len(graph) == 6
