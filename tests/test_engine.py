"""The SPARQL client against a real Oxigraph process."""

import pytest
import rdflib
from conftest import run

from posgraph.answer_limits import limiter_for
from posgraph.engine import Engine, term_from_json
from posgraph.errors import (
    AnswerTooLarge,
    EngineError,
    EngineTimeout,
    EngineUnavailable,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    QuerySyntaxError,
    UnsupportedMediaType,
)
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


@pytest.mark.parametrize("profile", ["oxigraph", "generic"])
def test_a_query_arrives_whole_whichever_way_the_profile_sends_it(empty_engine, profile):
    # Characters that form-encoding must escape, and a text that is not ASCII: a query sent as an
    # application/sparql-query body (oxigraph) must mean what the form-encoded one (generic) means.
    literal = "a&b=c+d %25 #1 ½ «ж»"
    sent: list[dict] = []

    async def go():
        async with Engine(empty_engine.url, profile=profile) as engine:
            real_send = engine._send

            async def recording(method, url, **kwargs):
                sent.append(kwargs)
                return await real_send(method, url, **kwargs)

            engine._send = recording
            await engine.update(f"INSERT DATA {{ <http://a> <http://b> {_literal(literal)} }}")
            rows = await engine.select(f"SELECT ?s WHERE {{ ?s <http://b> {_literal(literal)} }}")
            named = await engine.query("SELECT * WHERE { ?s ?p ?o }", default_graphs=["http://nothing"])
            return rows, named

    rows, named = run(go())
    assert [str(r["s"]) for r in rows] == ["http://a"]
    assert b'"bindings":[]' in named.content.replace(b" ", b"")
    select, with_dataset = sent[1], sent[2]
    if profile == "oxigraph":
        assert select["headers"]["Content-Type"] == "application/sparql-query"
        assert isinstance(select["data"], bytes) and literal.encode() in select["data"]
    else:
        assert "Content-Type" not in select["headers"] and select["data"][0][0] == "query"
    # A dataset named in the request is always a form: the protocol carries it as parameters beside the text.
    assert ("default-graph-uri", "http://nothing") in with_dataset["data"]


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


# ------------------------------------------------------------------------------------- capped reads (issue #10)
def _literal(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


@pytest.fixture(scope="module")
def hostile_engine(tmp_path_factory):
    """An engine holding 60 literals full of the result formats' own syntax."""
    from test_answer_limits import HOSTILE

    with ManagedEngine(tmp_path_factory.mktemp("hostile") / "store") as managed:
        triples = " ".join(
            f"<http://s{i}> <http://p> {_literal(HOSTILE[i % len(HOSTILE)] + str(i))} ." for i in range(60)
        )

        async def load():
            async with Engine(managed.url) as engine:
                await engine.update(f"INSERT DATA {{ {triples} }}")

        run(load())
        yield managed


PRODUCT = "SELECT ?s ?o ?o2 WHERE { ?s <http://p> ?o . ?s2 <http://p> ?o2 } ORDER BY ?s ?o ?o2"  # 3,600 rows


def _result_rows(media_type: str, body: bytes) -> list:
    """The rows of a SELECT result document, as comparable values (fails on a malformed document)."""
    import csv
    import io
    import json
    import xml.etree.ElementTree as ET

    if media_type == "application/sparql-results+json":
        return json.loads(body)["results"]["bindings"]
    if media_type == "application/sparql-results+xml":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        return [ET.tostring(result) for result in ET.fromstring(body).find(ns + "results")]
    if media_type == "text/csv":
        return list(csv.reader(io.StringIO(body.decode(), newline="")))[1:]
    assert body.endswith(b"\n")
    return body.decode().split("\n")[1:-1]


SELECT_TYPES = [
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
]


@pytest.mark.parametrize("media_type", SELECT_TYPES)
def test_an_answer_far_over_the_row_cap_is_cut_exactly_at_the_cap(hostile_engine, media_type):
    async def go():
        async with Engine(hostile_engine.url) as engine:
            whole = await engine.query(PRODUCT, accept=media_type)
            capped = await engine.query(
                PRODUCT, accept=media_type, limiter=limiter_for("select", media_type, max_rows=100)
            )
            exact = await engine.query(
                PRODUCT + " LIMIT 100", accept=media_type, limiter=limiter_for("select", media_type, max_rows=100)
            )
            return whole, capped, exact

    whole, capped, exact = run(go())
    everything = _result_rows(media_type, whole.content)
    assert len(everything) == 3600 and not whole.truncated
    assert capped.truncated and _result_rows(media_type, capped.content) == everything[:100]
    # Exactly as many rows as the cap is not a cut answer: it passes as the engine wrote it.
    assert not exact.truncated and _result_rows(media_type, exact.content) == everything[:100]


@pytest.mark.parametrize("media_type", SELECT_TYPES)
def test_a_byte_cap_smaller_than_the_answer_keeps_the_rows_that_fit(hostile_engine, media_type):
    async def go():
        async with Engine(hostile_engine.url) as engine:
            whole = await engine.query(PRODUCT, accept=media_type)
            capped = await engine.query(
                PRODUCT,
                accept=media_type,
                limiter=limiter_for("select", media_type, max_rows=10_000, max_bytes=20_000),
            )
            return whole, capped

    whole, capped = run(go())
    everything, kept = _result_rows(media_type, whole.content), _result_rows(media_type, capped.content)
    assert capped.truncated and 10 < len(kept) < len(everything) and kept == everything[: len(kept)]
    assert len(capped.content) <= 20_000 + 32  # the kept bytes and the closing tags


def test_graph_answers_over_the_byte_cap_are_cut_in_n_triples_and_refused_otherwise(hostile_engine):
    construct = "CONSTRUCT { ?s ?p ?o2 } WHERE { ?s ?p ?o . ?s2 ?p ?o2 }"  # 3,600 triples

    async def go():
        async with Engine(hostile_engine.url) as engine:
            whole = await engine.query(construct, accept="application/n-triples")
            cut = await engine.query(
                construct,
                accept="application/n-triples",
                limiter=limiter_for("construct", "application/n-triples", max_bytes=10_000),
            )
            graph = await engine.graph_get(None, limiter=limiter_for("graph", "application/n-triples", max_bytes=1_000))
            refused = []
            for form, media_type in (("construct", "text/turtle"), ("construct", "application/rdf+xml")):
                try:
                    await engine.query(
                        construct, accept=media_type, limiter=limiter_for(form, media_type, max_bytes=10_000)
                    )
                except PayloadTooLarge as exc:
                    refused.append(exc.message)
            try:
                await engine.graph_get(
                    None, accept="text/turtle", limiter=limiter_for("graph", "text/turtle", max_bytes=1_000)
                )
            except PayloadTooLarge as exc:
                refused.append(exc.message)
            return whole, cut, graph, refused

    whole, cut, graph, refused = run(go())
    lines = whole.content.splitlines(keepends=True)
    assert cut.truncated and len(cut.content) <= 10_000 and cut.content.endswith(b"\n")
    assert (
        set(cut.content.splitlines(keepends=True)) <= set(lines)
        and len(rdflib.Graph().parse(data=cut.content, format="nt")) > 10
    )
    assert graph.truncated and 0 < len(graph.content) <= 1_000 and rdflib.Graph().parse(data=graph.content, format="nt")
    assert len(refused) == 3 and all("N-Triples" in message for message in refused)


def test_a_cut_answer_drops_the_connection_and_the_engine_stops(tmp_path):
    """Without a deadline of its own the engine would stream this product for minutes; the cut must stop it."""
    import time

    with ManagedEngine(tmp_path / "store") as managed:

        async def go():
            async with Engine(managed.url, timeout=60) as engine:
                await engine.update(
                    "INSERT DATA { " + " ".join(f"<http://s{i}> <http://p> {i} ." for i in range(300)) + " }"
                )
                started = time.monotonic()
                answer = await engine.query(
                    "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
                    accept="text/csv",
                    limiter=limiter_for("select", "text/csv", max_rows=1000),
                )
                return answer, time.monotonic() - started

        answer, elapsed = run(go())
        assert answer.truncated and answer.content.count(b"\n") == 1001 and elapsed < 5
        time.sleep(0.5)
        before = _cpu_ticks(managed)
        time.sleep(1.0)
        assert _cpu_ticks(managed) - before < 20  # under 0.2 s of CPU in 1 s: the query is gone


def _cpu_ticks(managed) -> int:
    with open(f"/proc/{managed._process.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.fixture(scope="module")
def deadline_engine(tmp_path_factory):
    """An engine with a one-second deadline of its own and 300 triples (a product of three streams for minutes)."""
    with ManagedEngine(tmp_path_factory.mktemp("deadline") / "store", query_timeout_s=1) as managed:

        async def load():
            async with Engine(managed.url) as engine:
                await engine.update(
                    "INSERT DATA { " + " ".join(f"<http://s{i}> <http://p> {i} ." for i in range(300)) + " }"
                )

        run(load())
        yield managed


@pytest.mark.parametrize("media_type", SELECT_TYPES)
def test_a_capped_read_of_an_answer_cut_at_the_engines_deadline_is_a_timeout(deadline_engine, media_type):
    async def go():
        async with Engine(deadline_engine.url, timeout=30) as engine:
            limiter = limiter_for("select", media_type, max_rows=10**9, max_bytes=10**9)  # caps out of reach
            await engine.query("SELECT ?a WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", accept=media_type, limiter=limiter)

    with pytest.raises(EngineTimeout, match="its deadline"):
        run(go())


# ------------------------------------------------------------------------------- engine error text (issue #10)
def _engine_with_a_tiny_file_size_limit(data_dir):
    """A real engine whose files cannot grow past 200 kB: its writes then fail as on a full disk, with an error
    that names the store's files."""
    import resource
    import signal
    import subprocess
    import time

    from posgraph.supervisor import find_engine_binary

    def limit_files():  # runs in the child: EFBIG instead of SIGXFSZ, as for a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    port = free_port()
    process = subprocess.Popen(
        [find_engine_binary(), "serve", "--location", str(data_dir), "--bind", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=limit_files,
    )
    url = f"http://127.0.0.1:{port}"

    async def up():
        async with Engine(url) as engine:
            return await engine.ping()

    deadline = time.monotonic() + 30
    while not run(up()):
        assert time.monotonic() < deadline and process.poll() is None, "the engine did not start"
        time.sleep(0.1)
    return process, url


def test_an_engine_error_naming_the_stores_files_reaches_the_log_not_the_caller(tmp_path, caplog):
    store = tmp_path / "store"
    process, url = _engine_with_a_tiny_file_size_limit(store)
    try:

        async def go():
            async with Engine(url) as engine:
                triples = " ".join(f'<http://s{i}> <http://p> "{"x" * 100}{i}" .' for i in range(5000))
                await engine.update(f"INSERT DATA {{ {triples} }}")

        with caplog.at_level("WARNING", logger="posgraph.engine"), pytest.raises(EngineError) as caught:
            run(go())
    finally:
        process.terminate()
        process.wait(10)
    message = caught.value.message
    assert str(tmp_path) not in message and "/" not in message and "500" in message
    assert str(store) in caplog.text  # the engine's own words, for the operator


def test_other_engine_errors_are_generic_and_a_400_keeps_its_position(empty_engine, caplog):
    from posgraph.engine import EngineResponse

    async def go():
        async with Engine(empty_engine.url) as engine:
            with pytest.raises(NotFound) as missing:
                await engine.graph_get("urn:posgraph:nothing-here")
            with pytest.raises(UnsupportedMediaType) as unsupported:
                await engine.graph_write("PUT", "urn:g", b"x", media_type="image/png")
            return missing.value.message, unsupported.value.message

    with caplog.at_level("WARNING", logger="posgraph.engine"):
        missing, unsupported = run(go())
    assert missing == "no such graph" and "nothing-here" in caplog.text
    assert unsupported == "the engine does not accept this media type" and "image/png" in caplog.text
    with pytest.raises(QuerySyntaxError) as caught:
        Engine._raise_for(EngineResponse(400, "text/plain", b"error at 1:7: cannot read /var/lib/store/0001.sst"))
    assert caught.value.message == "error at 1:7: cannot read [path]"


@pytest.mark.parametrize("media_type", SELECT_TYPES)
def test_an_error_the_engine_wrote_into_a_200_answer_is_an_error_not_a_result(empty_engine, media_type, caplog):
    # Oxigraph meets the SERVICE's failure after its 200 header and appends its message to the body.
    query = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{free_port()}/nothing> {{ ?s ?p ?o }} }}"

    async def go():
        async with Engine(empty_engine.url) as engine:
            return await engine.query(query, accept=media_type, limiter=limiter_for("select", media_type, max_rows=10))

    with caplog.at_level("WARNING", logger="posgraph.engine"), pytest.raises(EngineError) as caught:
        run(go())
    assert caught.value.message == "the engine broke off its answer" and "broke off" in caplog.text


# ------------------------------------------------------------- the text and answers posgraph writes for Virtuoso
# These run the SPARQL text the Virtuoso profile writes on a real Oxigraph (a second, independent reading of it),
# and the translators on answers a real Oxigraph wrote, fed in awkward chunks.
def _quads_of(url: str) -> list[tuple]:
    """Every quad of the engine's dataset (default graph as None), blank nodes as they are."""

    async def go():
        async with Engine(url) as engine:
            return await engine.select("SELECT ?s ?p ?o ?g WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")

    return [(r["s"], r["p"], r["o"], r.get("g")) for r in run(go())]


TRICKY_UPDATE = """PREFIX ex: <http://example.org/;x/>
# a comment; with a semicolon and a "quote
INSERT DATA { ex:a ex:p "one; two" ; ex:q 'it\\'s; fine' , \"\"\"three;
"quoted"; lines\"\"\" . <http://example.org/a;b> ex:p '''x;'y''' } ;
INSERT DATA { GRAPH <http://example.org/g;1> { ex:b ex:p "\\"; }" } } ;
DELETE { ex:a ex:q ?o } INSERT { ex:a ex:r ?o } WHERE { ex:a ex:q ?o FILTER (STRLEN(?o) < 20) } ;
"""


def test_the_update_splitter_cuts_only_between_operations_and_carries_the_prologue(tmp_path):
    from posgraph.engine.virtuoso import _operations

    operations = _operations(TRICKY_UPDATE)
    assert len(operations) == 3
    assert all(op.startswith("PREFIX ex: <http://example.org/;x/>") for op in operations)
    assert '"one; two"' in operations[0] and "<http://example.org/a;b>" in operations[0]
    assert "<http://example.org/g;1>" in operations[1] and operations[2].strip().endswith("}")
    assert _operations("CLEAR ALL") == ["CLEAR ALL"]
    # Each operation sent on its own leaves the store as the whole update does.
    with ManagedEngine(tmp_path / "whole") as whole, ManagedEngine(tmp_path / "split") as split:

        async def go():
            async with Engine(whole.url) as engine:
                await engine.update(TRICKY_UPDATE)
            async with Engine(split.url) as engine:
                for operation in operations:
                    await engine.update(operation)

        run(go())
        expected = _quads_of(whole.url)
        assert len(expected) == 5 and sorted(_quads_of(split.url)) == sorted(expected)
        assert any(str(o) == 'three;\n"quoted"; lines' for _, _, o, _ in expected)


def test_a_using_dataset_goes_before_the_operations_own_where_only(tmp_path):
    from posgraph.engine.virtuoso import _with_using

    update = 'INSERT { ?where <http://e/says> "WHERE;" } # WHERE\n where { ?where a <http://e/WHERE> }'
    written = _with_using(update, ["http://e/g"], ["http://e/n"])
    assert written == update.replace(" where {", " USING <http://e/g> USING NAMED <http://e/n>\nwhere {")
    for untouched in (
        "DELETE WHERE { ?s ?p ?o }",
        "INSERT DATA { <http://e/a> <http://e/b> 1 }",
        "WITH <http://e/w> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    ):
        assert _with_using(untouched, ["http://e/g"], []) == untouched
    # As the Protocol's using-graph-uri means it: the WHERE reads that graph, the template writes the default graph.
    with ManagedEngine(tmp_path / "store") as managed:

        async def go():
            async with Engine(managed.url) as engine:
                await engine.update("INSERT DATA { GRAPH <http://e/g> { <http://e/t> a <http://e/WHERE> } }")
                await engine.update(written.replace("USING NAMED <http://e/n>", ""))
                return await engine.select("SELECT ?s WHERE { ?s <http://e/says> ?o }")

        assert [str(r["s"]) for r in run(go())] == ["http://e/t"]


def test_the_blank_node_insert_keeps_shared_nodes_shared_and_leaves_no_marks(tmp_path):
    import pyoxigraph as ox

    from posgraph.engine.virtuoso import _MARK, insert_update

    nquads = b"""<http://example.org/s> <http://example.org/term> _:t .
_:t <http://example.org/cond> _:c .
_:c <http://example.org/text> "if; then" .
<http://example.org/s> <http://example.org/label> "plain" .
<http://example.org/s> <http://example.org/in> _:t <http://example.org/g1> .
_:t <http://example.org/seen> "2025"^^<http://www.w3.org/2001/XMLSchema#gYear> <http://example.org/g1> .
_:c <http://example.org/kept> "yes" <http://example.org/g2> .
_:lone <http://example.org/text> "alone" <http://example.org/g2> .
<http://example.org/x> <http://example.org/y> <http://example.org/z> <http://example.org/g2> .
"""
    quads = list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
    default = "urn:x-test:default"
    with ManagedEngine(tmp_path / "store") as managed:

        async def insert_twice():
            async with Engine(managed.url) as engine:
                for _ in range(2):  # the same labels twice: two requests, two sets of fresh nodes
                    await engine.update(insert_update(quads, default, lambda text: text))

        run(insert_twice())
        stored = _quads_of(managed.url)
        assert not any(str(p) == _MARK for _, p, _, _ in stored)  # the marks are gone
        plain = [q for q in stored if not isinstance(q[0], rdflib.BNode) and not isinstance(q[2], rdflib.BNode)]
        assert len(plain) == 2 and len(stored) == 2 + 2 * 7  # plain quads are set-like; blank ones twice

        async def joins():
            async with Engine(managed.url) as engine:
                return await engine.select(
                    f"""SELECT ?t ?c WHERE {{
                      GRAPH <{default}> {{ <http://example.org/s> <http://example.org/term> ?t . ?t
                        <http://example.org/cond> ?c }}
                      GRAPH <http://example.org/g1> {{ <http://example.org/s> <http://example.org/in> ?t .
                        ?t <http://example.org/seen> ?year }}
                      GRAPH <http://example.org/g2> {{ ?c <http://example.org/kept> "yes" }} }}"""
                )

        rows = run(joins())
        # Each request's term and condition are one node across the three graphs, and the two requests' are not.
        assert len(rows) == 2 and len({r["t"] for r in rows}) == 2 and len({r["c"] for r in rows}) == 2


def test_insert_data_with_blank_nodes_is_rewritten_to_an_insert_that_means_the_same(tmp_path):
    from posgraph.engine.virtuoso import _without_blank_data

    update = """PREFIX ex_: <http://e/>
INSERT DATA { ex_:f ex_:m ex_:t ; ex_:note "[not a node] _:nor this" .
  GRAPH <http://e/added> { [] ex_:s ex_:f ; ex_:p ex_:m } GRAPH <http://e/g2> { _:x ex_:b "2" } _:x ex_:a "1" }"""
    written = _without_blank_data(update)
    assert written == update.replace("INSERT DATA {", "INSERT {") + " WHERE {}"
    for untouched in (
        "PREFIX ex_: <http://e/> INSERT DATA { ex_:a ex_:b '_:c [d]' }",  # no blank node: a name, a string
        "INSERT { [] <http://e/p> ?o } WHERE { ?s <http://e/p> ?o }",
        "DELETE DATA { <http://e/a> <http://e/b> <http://e/c> }",
    ):
        assert _without_blank_data(untouched) == untouched
    # The rewritten update leaves the store as the INSERT DATA does: same triples, _:x one node across graphs.
    with ManagedEngine(tmp_path / "data") as data, ManagedEngine(tmp_path / "where") as where:

        async def go():
            async with Engine(data.url) as engine:
                await engine.update(update)
            async with Engine(where.url) as engine:
                await engine.update(written)
                return await engine.select(
                    'SELECT ?x WHERE { ?x <http://e/a> "1" GRAPH <http://e/g2> { ?x <http://e/b> "2" } }'
                )

        joined = run(go())
        assert len(joined) == 1 and isinstance(joined[0]["x"], rdflib.BNode)

        def shape(url):  # blank nodes all alike: the two stores' labels differ
            return sorted(
                tuple("_" if isinstance(t, rdflib.BNode) else str(t) for t in quad) for quad in _quads_of(url)
            )

        assert shape(where.url) == shape(data.url) and len(shape(data.url)) == 6


def test_the_insert_writes_each_literal_through_the_stand_in_mapping():
    import pyoxigraph as ox

    from posgraph.engine import Engine as E

    quads = list(
        ox.parse(
            b'<http://e/s> <http://e/p> "P50D"^^<http://www.w3.org/2001/XMLSchema#duration> .\n'
            b'_:b <http://e/p> "P1D"^^<http://www.w3.org/2001/XMLSchema#duration> <http://e/g> .\n',
            format=ox.RdfFormat.N_QUADS,
        )
    )
    text = E("http://127.0.0.1:1", profile="virtuoso")._insert(quads)
    assert "XMLSchema#duration" not in text and text.count("urn:x-posgraph:datatype:xsd-duration") == 2
    assert "GRAPH <urn:x-posgraph:default-graph>" in text and "GRAPH <http://e/g>" in text


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("media_type", SELECT_TYPES)
def test_the_results_translator_streams_any_chunking_to_the_same_answer(hostile_engine, media_type):
    from posgraph.engine.answers import _normalise, _ResultsTranslator, _write_results

    async def go():
        async with Engine(hostile_engine.url) as engine:
            source = await engine.query(PRODUCT + " LIMIT 300", accept="application/sparql-results+json")
            own = await engine.query(PRODUCT + " LIMIT 300", accept=media_type)
            return source.content, own.content

    import json
    import xml.etree.ElementTree as ET

    def rows_of(body: bytes) -> list:
        if media_type != "application/sparql-results+xml":
            return _result_rows(media_type, body)
        ns = "{http://www.w3.org/2005/sparql-results#}"  # by meaning: whitespace between elements is no matter
        return [
            sorted((b.get("name"), b[0].tag, b[0].text, sorted(b[0].attrib.items())) for b in result)
            for result in ET.fromstring(body).find(ns + "results")
        ]

    source, own = run(go())
    whole = _write_results(_normalise(json.loads(source)), media_type)
    for size in (1, 7, 4096, len(source)):  # 1 and 7 split multi-byte characters and escapes
        translator = _ResultsTranslator(media_type, None, ())
        for chunk in _chunks(source, size):
            assert translator.feed(chunk) is False
        streamed, truncated = translator.result()
        assert not truncated and rows_of(streamed) == rows_of(whole)
    rows = rows_of(whole)
    assert len(rows) == 300 and rows == rows_of(own)  # as the engine itself writes this format
    # Through a limiter: cut exactly at the cap, and the translator says when it has enough.
    translator = _ResultsTranslator(media_type, limiter_for("select", media_type, max_rows=40), ())
    stopped = any(translator.feed(chunk) for chunk in _chunks(source, 100))
    capped, truncated = translator.result()
    assert stopped and truncated and rows_of(capped) == rows[:40]


def test_the_results_translator_reads_virtuosos_dialect():
    import json

    from posgraph.engine.answers import _ResultsTranslator

    virtuoso = json.dumps(
        {
            "head": {"link": [], "vars": ["b", "n", "d", "f"]},
            "results": {
                "distinct": False,
                "ordered": True,
                "bindings": [
                    {
                        "b": {"type": "bnode", "value": "nodeID://b10007"},
                        "n": {
                            "type": "typed-literal",
                            "datatype": "http://www.w3.org/2001/XMLSchema#integer",
                            "value": "5",
                        },
                        "d": {
                            "type": "typed-literal",
                            "datatype": "urn:x-posgraph:datatype:xsd-duration",
                            "value": "P50D",
                        },
                        "f": {
                            "type": "typed-literal",
                            "datatype": "http://www.w3.org/2001/XMLSchema#boolean",
                            "value": "1",
                        },
                    }
                ],
            },
        }
    ).encode()
    opaque = (("http://www.w3.org/2001/XMLSchema#duration", "urn:x-posgraph:datatype:xsd-duration"),)
    translator = _ResultsTranslator("application/sparql-results+json", None, opaque)
    for chunk in _chunks(virtuoso, 5):
        translator.feed(chunk)
    doc = json.loads(translator.result()[0])
    assert doc["head"] == {"vars": ["b", "n", "d", "f"]}
    [row] = doc["results"]["bindings"]
    assert row["b"] == {"type": "bnode", "value": "b10007"}
    assert row["n"] == {"type": "literal", "datatype": "http://www.w3.org/2001/XMLSchema#integer", "value": "5"}
    assert row["d"]["datatype"] == "http://www.w3.org/2001/XMLSchema#duration" and row["d"]["value"] == "P50D"
    assert row["f"]["value"] == "true"
    # An answer broken off before its bindings end is an error, never a shorter result.
    broken = _ResultsTranslator("text/csv", None, opaque)
    broken.feed(virtuoso[: virtuoso.index(b"}]") + 1])
    with pytest.raises(EngineError):
        broken.result()


def test_the_graph_translator_reads_back_stand_ins_and_refuses_far_over_the_cap():
    from posgraph.engine import VIRTUOSO
    from posgraph.engine.answers import _GraphTranslator

    engine = Engine("http://127.0.0.1:1", profile=VIRTUOSO)
    lines = b"".join(
        b'<http://e/s%d> <http://e/p> "P%dD"^^<urn:x-posgraph:datatype:xsd-duration> .\n' % (i, i) for i in range(200)
    )
    translator = _GraphTranslator("application/n-triples", None, engine._read)
    for chunk in _chunks(lines, 13):  # lines split anywhere, the stand-in IRI too
        translator.feed(chunk)
    out, truncated = translator.result()
    assert not truncated and out == lines.replace(
        b"urn:x-posgraph:datatype:xsd-duration", b"http://www.w3.org/2001/XMLSchema#duration"
    )
    turtle = _GraphTranslator("text/turtle", None, engine._read)
    for chunk in _chunks(lines, 1000):
        turtle.feed(chunk)
    graph = rdflib.Graph().parse(data=turtle.result()[0].decode(), format="turtle")
    assert len(graph) == 200 and all(o.datatype == rdflib.XSD.duration for o in graph.objects())
    # Four times the byte cap read and the rest not: refused as the limiter refuses an answer over its cap.
    capped = _GraphTranslator("text/turtle", limiter_for("construct", "text/turtle", max_bytes=1000), engine._read)
    assert any(capped.feed(chunk) for chunk in _chunks(lines, 500))
    with pytest.raises(AnswerTooLarge):
        capped.result()
