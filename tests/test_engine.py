"""The SPARQL client against a real Oxigraph process."""

import pytest
import rdflib
from conftest import run

from posgraph.answer_limits import limiter_for
from posgraph.engine import Engine, term_from_json
from posgraph.errors import (
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
