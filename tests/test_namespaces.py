import doctest

from posgraph import namespaces
from posgraph.namespaces import PG, PGID, compact_iri, sparql_prologue


def test_doctests_pass():
    assert doctest.testmod(namespaces).failed == 0


def test_compact_iri_prefers_the_longest_namespace():
    assert compact_iri(str(PGID) + "position/x") == "pgid:position/x"
    assert compact_iri(str(PG.Demand)) == "pg:Demand"
    assert compact_iri("http://example.org/nothing") == "<http://example.org/nothing>"


def test_sparql_prologue_declares_the_asked_prefixes():
    text = sparql_prologue(("pg", "skos"))
    assert text == ("PREFIX pg: <https://w3id.org/posgraph/ns#>\nPREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n")
