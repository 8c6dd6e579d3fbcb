"""The SPARQL client against a real Oxigraph process."""

import pytest
import rdflib
from conftest import run

from posgraph.engine import Engine, term_from_json
from posgraph.errors import EngineTimeout, EngineUnavailable, NotAcceptable, QuerySyntaxError
from posgraph.supervisor import ManagedEngine, free_port


def test_select_ask_construct_and_update(empty_engine):
    async def go():
        async with Engine(empty_engine.url) as engine:
            await engine.update('INSERT DATA { <http://a> <http://b> "x"@en , 3 }')
            rows = await engine.select("SELECT ?o WHERE { <http://a> <http://b> ?o } ORDER BY ?o")
            assert await engine.ask("ASK { <http://a> ?p ?o }")
            assert not await engine.ask("ASK { <http://nothing> ?p ?o }")
            nt = await engine.construct("CONSTRUCT WHERE { <http://a> ?p ?o }")
            return rows, nt

    rows, nt = run(go())
    assert [r["o"] for r in rows] == [rdflib.Literal(3), rdflib.Literal("x", lang="en")]
    assert len(rdflib.Graph().parse(data=nt.decode(), format="nt")) == 2


def test_query_passes_dataset_parameters(empty_engine):
    async def go():
        async with Engine(empty_engine.url) as engine:
            await engine.update(
                "INSERT DATA { GRAPH <http://g1> { <http://a> <http://b> 1 } "
                "GRAPH <http://g2> { <http://a> <http://b> 2 } }"
            )
            answer = await engine.query("SELECT ?o WHERE { ?s ?p ?o }", default_graphs=["http://g2"])
            return answer

    answer = run(go())
    assert b'"2"' in answer.content and b'"1"' not in answer.content
    assert answer.media_type.startswith("application/sparql-results+json")


def test_syntax_error_carries_the_engines_message(empty_engine):
    async def go():
        async with Engine(empty_engine.url) as engine:
            await engine.query("SELECT * WHERE { ?s ?p }")

    with pytest.raises(QuerySyntaxError, match=r"1:\d+"):
        run(go())


def test_unsatisfiable_accept_is_not_acceptable(empty_engine):
    async def go():
        async with Engine(empty_engine.url) as engine:
            await engine.query("SELECT * WHERE { ?s ?p ?o }", accept="image/png")

    with pytest.raises(NotAcceptable):
        run(go())


def test_bad_quads_are_refused_whole(empty_engine):
    async def go():
        async with Engine(empty_engine.url) as engine:
            with pytest.raises(QuerySyntaxError):
                await engine.add_quads(b'<http://x> <http://y> "1" .\n<http://x> <http://y> oops .\n')
            return await engine.ask("ASK { <http://x> ?p ?o }")

    assert run(go()) is False


def test_add_quads_streams_and_dump_returns_everything(empty_engine):
    async def chunks():
        yield b'<http://s> <http://p> "1" <http://g> .\n'
        yield b'<http://s> <http://p> "2" .\n'

    async def go():
        async with Engine(empty_engine.url) as engine:
            await engine.add_quads(chunks())
            full = b"".join([c async for c in engine.dump()])
            default = b"".join(
                [c async for c in engine.dump(media_type="application/n-triples", default_graph_only=True)]
            )
            return full, default

    full, default = run(go())
    assert full.count(b"\n") == 2 and b"<http://g>" in full
    assert default.strip() == b'<http://s> <http://p> "2" .'


def test_unreachable_engine_is_unavailable_and_ping_is_false():
    async def go():
        async with Engine(f"http://127.0.0.1:{free_port()}") as engine:
            assert await engine.ping() is False
            await engine.select("SELECT * {}")

    with pytest.raises(EngineUnavailable):
        run(go())


def test_slow_query_hits_the_deadline(tmp_path):
    # The engine's own timeout bounds the CPU the abandoned query keeps using after the client gave up.
    with ManagedEngine(tmp_path / "store", query_timeout_s=3) as managed:

        async def go():
            async with Engine(managed.url, timeout=0.5) as engine:
                await engine.update(
                    "INSERT DATA { " + " ".join(f"<http://s{i}> <http://p> {i} ." for i in range(300)) + " }"
                )
                await engine.select("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }")

        with pytest.raises(EngineTimeout, match="0.5 s"):
            run(go())


@pytest.mark.parametrize(
    "query",
    [
        # Rows stream out before the deadline: the engine appends its cancellation text to a half-sent body.
        "SELECT ?a WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
        "CONSTRUCT { ?a ?b ?i } WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
        # Only the head went out before the deadline.
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }",
    ],
)
def test_answer_cut_by_the_engines_own_deadline_is_a_timeout(tmp_path, query):
    with ManagedEngine(tmp_path / "store", query_timeout_s=1) as managed:

        async def go():
            async with Engine(managed.url, timeout=30) as engine:
                await engine.update(
                    "INSERT DATA { " + " ".join(f"<http://s{i}> <http://p> {i} ." for i in range(300)) + " }"
                )
                accept = "application/n-triples" if query.startswith("CONSTRUCT") else "application/sparql-results+json"
                await engine.query(query, accept=accept)

        with pytest.raises(EngineTimeout, match="its deadline"):
            run(go())


def test_term_from_json_covers_every_kind():
    assert term_from_json({"type": "uri", "value": "http://a"}) == rdflib.URIRef("http://a")
    assert isinstance(term_from_json({"type": "bnode", "value": "b0"}), rdflib.BNode)
    assert term_from_json({"type": "literal", "value": "x", "xml:lang": "en"}) == rdflib.Literal("x", lang="en")
    assert term_from_json(
        {"type": "literal", "value": "x", "datatype": "http://www.w3.org/2001/XMLSchema#string"}
    ) == rdflib.Literal("x")
