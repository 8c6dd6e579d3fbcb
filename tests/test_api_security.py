"""Attacks named after what they try, against a real server: token brute force, staging data through every read
path, foreign JSON-LD contexts, entity expansion, request ids echoed for support."""

import time

import httpx
import pytest
from conftest import EXAMPLES, create_token, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A server with one batch submitted (so in staging) and not accepted."""
    base = tmp_path_factory.mktemp("security")
    srv = start_server(base / "store", base / "serve.log")
    srv.curator = create_token(base, "curator", "c")
    with srv.client() as client:
        batch = client.post(
            "/batches",
            content=(EXAMPLES / "batches" / "army-cap-figure.ttl").read_bytes(),
            headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {srv.curator}"},
        )
        assert batch.status_code == 201
        srv.batch = batch.json()["id"]
    yield srv
    srv.stop()


STAGED = "https://w3id.org/posgraph/id/position/test-ru-army-cap-figure"


def test_token_brute_force_is_throttled(staged):
    guesses = []
    with httpx.Client(
        base_url=staged.url, timeout=10, trust_env=False, transport=httpx.HTTPTransport(local_address="127.0.0.3")
    ) as attacker:
        for i in range(14):
            guesses.append(attacker.get("/batches", headers={"Authorization": f"Bearer pgt_{i:08x}_guess"}).status_code)
        # Once throttled, even a right token from this address waits: guessing gains nothing.
        right = attacker.get("/batches", headers={"Authorization": f"Bearer {staged.curator}"})
    assert guesses[:10] == [401] * 10 and set(guesses[10:]) == {429}
    assert right.status_code == 429 and right.headers["retry-after"]
    with staged.client() as client:  # another address is not affected
        assert client.get("/batches", headers={"Authorization": f"Bearer {staged.curator}"}).status_code == 200


@pytest.mark.parametrize(
    "read",
    [
        lambda c: c.get("/sparql", params={"query": f"ASK {{ <{STAGED}> ?p ?o }}"}).json()["boolean"],
        lambda c: c.get("/sparql", params={"query": f"ASK {{ GRAPH ?g {{ <{STAGED}> ?p ?o }} }}"}).json()["boolean"],
        lambda c: (
            c.get(
                "/sparql",
                params={
                    "query": "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
                    "FILTER (CONTAINS(STR(?g), 'staging')) }"
                },
            ).json()["results"]["bindings"][0]["n"]["value"]
            != "0"
        ),
        lambda c: c.get("/id/position/test-ru-army-cap-figure").status_code != 404,
        lambda c: STAGED in c.get("/positions", params={"limit": 500}).text,
        lambda c: STAGED in c.get("/dumps/posgraph.nq").text,
        lambda c: STAGED in c.get("/store", params={"default": ""}, headers={"Accept": "application/n-triples"}).text,
        lambda c: (
            c.get(
                "/sparql",
                params={"query": "ASK { ?s ?p ?o }", "named-graph-uri": "https://w3id.org/posgraph/id/staging/x"},
            ).status_code
            != 400
        ),
    ],
    ids=[
        "sparql",
        "graph-variable",
        "named-graph-count",
        "resource",
        "collection",
        "dump",
        "graph-store",
        "dataset-parameter",
    ],
)
def test_staging_graphs_are_unreachable_through_every_read_path(staged, read):
    with staged.client() as client:
        assert read(client) is False


def _engine_url(store) -> str:
    import json

    return json.loads((store / "posgraph-engine.json").read_text())["url"]


def test_service_to_the_staging_engines_real_port_never_reads_staging(staged):
    # The guard was lexical: anything after '#' inside an IRI was a "comment", so this read every staged batch.
    store = staged.log.parent / "store"
    staging_url = _engine_url(store.parent / "staging")
    pattern = f"GRAPH ?g {{ <{STAGED}> ?p ?o }}"
    direct = httpx.post(
        staging_url + "/query", data={"query": f"ASK {{ {pattern} }}"}, headers={"Accept": "application/json"}
    )
    assert direct.json()["boolean"] is True  # the staging engine at that port really holds the batch
    queries = [
        f"SELECT ?g ?o WHERE {{ SERVICE <{staging_url}/query> {{ {pattern} }} }}",
        f"SELECT ?g ?o WHERE {{ <urn:x#> ?q ?r . SERVICE <{staging_url}/query> {{ {pattern} }} }}",
        f"SELECT ?g ?o WHERE {{ SERVICE <{staging_url}/query#'> {{ {pattern} }} }}",
        f"PREFIX pg: <https://w3id.org/posgraph/ns#> SELECT ?g ?o WHERE {{ SERVICE <{staging_url}/query#x> "
        "{ GRAPH ?g { ?s pg:summary ?o } } }",
        f"SELECT * WHERE {{ SERVICE SILENT <{staging_url}/query> {{ {pattern} }} }}",
    ]
    admin = create_token(staged.log.parent, "admin", f"ssrf-{time.monotonic_ns()}")
    with staged.client() as client:
        for query in queries:
            answer = client.post("/sparql", data={"query": query})
            assert answer.status_code == 400 and answer.json()["type"].endswith("/query-refused"), answer.text
            assert STAGED not in answer.text
        load = client.post(
            "/sparql/update",
            data={"update": f"LOAD <{staging_url}/store?default> INTO GRAPH <urn:leak>"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert load.status_code == 400 and "LOAD" in load.json()["detail"]
        assert (
            client.get("/sparql", params={"query": "ASK { GRAPH <urn:leak> { ?s ?p ?o } }"}).json()["boolean"] is False
        )


def test_the_public_engine_itself_cannot_reach_the_staging_engine(staged):
    # Defence in depth: a query that got past the guard and reached the public engine still cannot read staging.
    store = staged.log.parent / "store"
    public_url, staging_url = _engine_url(store), _engine_url(store.parent / "staging")
    query = f"SELECT ?o WHERE {{ SERVICE <{staging_url}/query> {{ GRAPH ?g {{ <{STAGED}> ?p ?o }} }} }}"
    direct = httpx.post(
        staging_url + "/query",
        data={"query": f"SELECT ?o WHERE {{ GRAPH ?g {{ <{STAGED}> ?p ?o }} }}"},
        headers={"Accept": "application/json"},
    )
    assert direct.json()["results"]["bindings"]  # the staging engine holds the batch: the query is not vacuous
    answer = httpx.post(public_url + "/query", data={"query": query}, headers={"Accept": "application/json"})
    assert "army cap" not in answer.text and "Operation not permitted" in answer.text, answer.text[:300]


def test_json_ld_with_a_local_file_context_is_refused_never_read(staged):
    with staged.client() as client:
        response = client.post(
            "/validate",
            json={"@context": "file:///etc/passwd", "@id": "http://x/a", "http://x/p": 1},
            headers={"Content-Type": "application/ld+json"},
        )
    assert response.status_code == 400 and "root:" not in response.text


@pytest.mark.serial
def test_rdf_xml_entity_expansion_is_refused_unparsed(staged):
    bomb = b"""<?xml version="1.0"?><!DOCTYPE rdf [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="http://x/a">
<rdf:value>&d;&d;&d;&d;&d;&d;&d;&d;</rdf:value></rdf:Description></rdf:RDF>"""
    with staged.client() as client:
        started = time.monotonic()
        for path in ("/validate", "/batches"):
            response = client.post(
                path,
                content=bomb,
                headers={"Content-Type": "application/rdf+xml", "Authorization": f"Bearer {staged.curator}"},
            )
            assert response.status_code == 415
    assert time.monotonic() - started < 2


def test_request_ids_are_echoed_in_headers_and_problems(staged):
    with staged.client() as client:
        mine = client.get("/sparql", params={"query": "SELEC"}, headers={"X-Request-ID": "case-4711"})
        minted = client.get("/sparql", params={"query": "SELEC"}, headers={"X-Request-ID": "<script>"})
        metrics = client.get("/metrics").text
    assert mine.headers["x-request-id"] == "case-4711" and mine.json()["request_id"] == "case-4711"
    assert (
        minted.headers["x-request-id"] != "<script>" and minted.json()["request_id"] == minted.headers["x-request-id"]
    )
    assert 'posgraph_requests_total{method="GET",route="/sparql",status="400"}' in metrics
    assert "posgraph_request_seconds_bucket" in metrics and "posgraph_validation_seconds" in metrics
    log = (staged.log.parent / "serve.log").read_text()
    assert '"request_id": "case-4711"' in log and '"route": "/sparql"' in log


def _guess_with_fresh_forwarded_for(client, tries, prefix="198.51.100"):
    return [
        client.get(
            "/batches", headers={"Authorization": f"Bearer pgt_{i:08x}_guess", "X-Forwarded-For": f"{prefix}.{i}"}
        ).status_code
        for i in range(tries)
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_fresh_x_forwarded_for_per_guess_does_not_escape_the_brake(tmp_path, workers):
    """Without POSGRAPH_TRUSTED_PROXIES no proxy header is believed, not even from 127.0.0.1 (uvicorn's default
    would): the guesses are counted against the address they really come from."""
    srv = start_server(tmp_path / "store", tmp_path / "serve.log", workers=workers)
    try:
        with srv.client() as attacker:  # one kept-alive connection: one worker counts every guess
            guesses = _guess_with_fresh_forwarded_for(attacker, 14)
    finally:
        srv.stop()
    assert guesses[:10] == [401] * 10 and set(guesses[10:]) == {429}, guesses


def test_a_trusted_proxy_has_its_forwarded_address_throttled_and_no_other(tmp_path):
    srv = start_server(tmp_path / "store", tmp_path / "serve.log", env={"POSGRAPH_TRUSTED_PROXIES": "127.0.0.1"})
    try:
        with srv.client() as proxy:
            attacker = [
                proxy.get(
                    "/batches", headers={"Authorization": "Bearer pgt_0_guess", "X-Forwarded-For": "203.0.113.7"}
                ).status_code
                for _ in range(11)
            ]
            neighbour = proxy.get(
                "/batches", headers={"Authorization": "Bearer pgt_1_guess", "X-Forwarded-For": "203.0.113.8"}
            ).status_code
            the_proxy_itself = proxy.get("/batches", headers={"Authorization": "Bearer pgt_2_guess"}).status_code
        with httpx.Client(
            base_url=srv.url, timeout=10, trust_env=False, transport=httpx.HTTPTransport(local_address="127.0.0.5")
        ) as untrusted:  # not a listed proxy: what it forwards is not believed
            spoofed = _guess_with_fresh_forwarded_for(untrusted, 12, prefix="192.0.2")
    finally:
        srv.stop()
    assert attacker == [401] * 10 + [429]
    assert neighbour == 401 and the_proxy_itself == 401
    assert spoofed[:10] == [401] * 10 and set(spoofed[10:]) == {429}


def test_json_nested_200000_deep_is_a_400_everywhere_a_body_is_json(staged):
    deep = b"[" * 200_000 + b"]" * 200_000
    jsonld = b'{"@id": "http://example.org/s", "http://example.org/p": ' + deep + b"}"
    note = b'{"note": ' + deep + b"}"
    auth = {"Authorization": f"Bearer {staged.curator}"}
    with staged.client() as client:
        answers = {
            "validate": client.post("/validate", content=jsonld, headers={"Content-Type": "application/ld+json"}),
            "submit": client.post("/batches", content=jsonld, headers={"Content-Type": "application/ld+json", **auth}),
            "reject-note": client.post(
                f"/batches/{staged.batch}/reject", content=note, headers={"Content-Type": "application/json", **auth}
            ),
        }
        state = client.get(f"/batches/{staged.batch}", headers=auth).json()["state"]
    for name, answer in answers.items():
        assert answer.status_code == 400, (name, answer.status_code, answer.text[:300])
        assert answer.headers["content-type"] == "application/problem+json" and "nest" in answer.json()["detail"]
    assert state == "submitted"  # the refused note decided nothing


@pytest.mark.serial
def test_a_token_holder_takes_no_place_in_the_one_validation_per_anonymous_address(staged):
    import threading

    from test_api_service import _positions

    slow = _positions(2500)  # about 1 MB: seconds of SHACL validation
    nt = {"Content-Type": "application/n-triples"}
    token = {**nt, "Authorization": f"Bearer {staged.curator}"}
    done: dict[str, tuple[int, float]] = {}
    with httpx.Client(
        base_url=staged.url, timeout=60, trust_env=False, transport=httpx.HTTPTransport(local_address="127.0.0.7")
    ) as client:

        def validate(name, headers):
            status = client.post("/validate", content=slow, headers=headers).status_code
            done[name] = (status, time.monotonic())

        holders = [threading.Thread(target=validate, args=(f"token-{i}", token)) for i in range(2)]
        for holder in holders:
            holder.start()
        time.sleep(0.5)  # both token holders are validating (each takes seconds)
        anonymous_sent = time.monotonic()
        anonymous = client.post("/validate", content=slow, headers=nt)
        for holder in holders:
            holder.join()
        wrong = client.post("/validate", content=slow, headers={**nt, "Authorization": "Bearer pgt_0_guess"})
    assert done["token-0"][0] == done["token-1"][0] == 200 and anonymous.status_code == 200
    # The anonymous one was admitted while a token holder's validation from its address was still running.
    assert max(done["token-0"][1], done["token-1"][1]) > anonymous_sent
    assert wrong.status_code == 401  # a wrong token is not taken for anonymity
