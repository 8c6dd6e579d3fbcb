"""SPARQL Update and Graph Store writes over real HTTP: tokens, roles, atomicity, refusals, audit."""

import json
import time

import pytest
import rdflib
from conftest import EXAMPLES, create_token, posgraph_cli, start_server
from rdflib.namespace import SH

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def writable(tmp_path_factory):
    base = tmp_path_factory.mktemp("writable")
    srv = start_server(base / "store", base / "serve.log")
    env = {"POSGRAPH_TOKENS_FILE": str(base / "tokens.json"), "POSGRAPH_AUDIT_LOG": str(base / "audit.jsonl")}
    tokens = {}
    for role in ("reader", "curator", "admin"):
        result = posgraph_cli("token", "create", "--role", role, "--name", f"{role}-1", env=env)
        assert result.returncode == 0, result.stderr
        tokens[role] = result.stdout.strip()
    srv.tokens, srv.base = tokens, base
    yield srv
    srv.stop()


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _ask(client, query):
    return client.get("/sparql", params={"query": query}).json()["boolean"]


def test_an_update_without_a_token_is_401(writable):
    with writable.client() as client:
        response = client.post("/sparql/update", data={"update": "INSERT DATA { <http://x/a> <http://x/b> 1 }"})
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"
        wrong = client.post(
            "/sparql/update",
            data={"update": "INSERT DATA { <http://x/a> <http://x/b> 1 }"},
            headers=_auth("pgt_00000000_nope"),
        )
        assert wrong.status_code == 401
        assert not _ask(client, "ASK { <http://x/a> ?p ?o }")


def test_a_reader_token_cannot_update(writable):
    with writable.client() as client:
        response = client.post(
            "/sparql/update",
            data={"update": "INSERT DATA { <http://x/r> <http://x/b> 1 }"},
            headers=_auth(writable.tokens["reader"]),
        )
        assert response.status_code == 403
        assert not _ask(client, "ASK { <http://x/r> ?p ?o }")


def test_an_admin_updates_atomically_and_is_audited(writable):
    with writable.client() as client:
        ok = client.post(
            "/sparql/update",
            content=b"INSERT DATA { <http://x/c> <http://x/b> 1 }",
            headers={**_auth(writable.tokens["admin"]), "Content-Type": "application/sparql-update"},
        )
        assert ok.status_code == 204 and _ask(client, "ASK { <http://x/c> ?p ?o }")
        # Two operations, the second malformed: the whole request is refused and nothing is written.
        bad = client.post(
            "/sparql/update",
            data={"update": "INSERT DATA { <http://x/d> <http://x/b> 1 } ; INSERT DATA { <http://x/e> }"},
            headers=_auth(writable.tokens["admin"]),
        )
        assert bad.status_code == 400 and bad.json()["type"].endswith("/query-syntax")
        assert not _ask(client, "ASK { <http://x/d> ?p ?o }")
    records = [json.loads(line) for line in (writable.base / "audit.jsonl").read_text().splitlines()]
    updates = [r for r in records if r["action"] == "sparql-update"]
    assert updates and updates[-1]["actor"] == "admin-1" and "http://x/c" in updates[-1]["update"]


SEED_GRAPH = "https://w3id.org/posgraph/id/batch/seed"
_FORGERIES = {
    "a triple in a published batch's graph": f'INSERT DATA {{ GRAPH <{SEED_GRAPH}> {{ <urn:forged> <urn:p> "x" }} }}',
    "the batch's provenance": f"INSERT DATA {{ <{SEED_GRAPH}> <http://www.w3.org/ns/prov#wasAttributedTo> "
    "<https://w3id.org/posgraph/id/agent/mallory> }",
    "the batch's state": f"DELETE WHERE {{ <{SEED_GRAPH}> <https://w3id.org/posgraph/ns#batchState> ?s }}",
    "every statement": "DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "the default graph": "CLEAR DEFAULT",
}


@pytest.mark.parametrize("what", list(_FORGERIES))
def test_direct_updates_cannot_go_around_review(writable, what):
    # A curator's update reached batch graphs and PROV (204); now direct updates are for admins, and even they
    # cannot touch what only the review workflow writes.
    update = _FORGERIES[what]
    with writable.client() as client:
        before = client.get("/store", params={"graph": SEED_GRAPH}, headers={"Accept": "application/n-triples"})
        as_curator = client.post("/sparql/update", data={"update": update}, headers=_auth(writable.tokens["curator"]))
        as_admin = client.post("/sparql/update", data={"update": update}, headers=_auth(writable.tokens["admin"]))
        after = client.get("/store", params={"graph": SEED_GRAPH}, headers={"Accept": "application/n-triples"})
        assert as_curator.status_code == 403
        assert as_admin.status_code == 400 and as_admin.json()["type"].endswith("/query-refused"), as_admin.text
        assert before.text == after.text
        assert not _ask(client, "ASK { <urn:forged> ?p ?o }")
        assert not _ask(
            client,
            "ASK { ?b <http://www.w3.org/ns/prov#wasAttributedTo> <https://w3id.org/posgraph/id/agent/mallory> }",
        )
        assert _ask(client, f"ASK {{ <{SEED_GRAPH}> <https://w3id.org/posgraph/ns#batchState> ?s }}")


def test_graph_store_cannot_rewrite_the_default_graphs_provenance(writable):
    admin = {**_auth(writable.tokens["admin"]), "Content-Type": "application/n-triples"}
    forged = f"<{SEED_GRAPH}> <https://w3id.org/posgraph/ns#batchState> <https://w3id.org/posgraph/ns#reverted> .\n"
    with writable.client() as client:
        replaced = client.put("/store", params={"default": ""}, content=b"<urn:a> <urn:b> <urn:c> .\n", headers=admin)
        emptied = client.delete("/store", params={"default": ""}, headers=_auth(writable.tokens["admin"]))
        posted = client.post("/store", params={"default": ""}, content=forged.encode(), headers=admin)
        assert (replaced.status_code, emptied.status_code, posted.status_code) == (400, 400, 400)
        assert _ask(
            client,
            f"ASK {{ <{SEED_GRAPH}> <https://w3id.org/posgraph/ns#batchState> "
            "<https://w3id.org/posgraph/ns#accepted> }",
        )
        assert not _ask(client, f"ASK {{ <{SEED_GRAPH}> ?p <https://w3id.org/posgraph/ns#reverted> }}")


def test_load_is_refused(writable):
    with writable.client() as client:
        response = client.post(
            "/sparql/update", data={"update": "LOAD <file:///etc/passwd>"}, headers=_auth(writable.tokens["admin"])
        )
    assert response.status_code == 400 and "LOAD" in response.json()["detail"]


def test_update_touching_a_staging_graph_is_refused(writable):
    with writable.client() as client:
        response = client.post(
            "/sparql/update",
            data={
                "update": "INSERT DATA { GRAPH <https://w3id.org/posgraph/id/staging/x> { <http://a> <http://b> 1 } }"
            },
            headers=_auth(writable.tokens["admin"]),
        )
    assert response.status_code == 400 and "staging" in response.json()["detail"]


def test_update_body_type_must_be_known(writable):
    with writable.client() as client:
        response = client.post(
            "/sparql/update",
            content=b"{}",
            headers={**_auth(writable.tokens["admin"]), "Content-Type": "application/json"},
        )
    assert response.status_code == 415


def test_graph_store_read_is_public(writable):
    with writable.client() as client:
        seed = client.get(
            "/store",
            params={"graph": "https://w3id.org/posgraph/id/batch/seed"},
            headers={"Accept": "application/n-triples"},
        )
        missing = client.get("/store", params={"graph": "http://nowhere.example/g"})
        staging = client.get("/store", params={"graph": "https://w3id.org/posgraph/id/staging/x"})
        no_target = client.get("/store")
    # The seed's 333 triples and the 25 superclass types they imply (see curation/entailment.py).
    assert seed.status_code == 200 and len(seed.text.strip().splitlines()) == 333 + 25
    assert missing.status_code == 404
    assert staging.status_code == 400
    assert no_target.status_code == 400 and no_target.json()["parameter"] == "graph"


def test_graph_store_writes_need_an_admin_and_are_atomic(writable):
    graph = "http://example.org/graphs/notes"
    turtle = b'@prefix ex: <http://example.org/> .\nex:n1 ex:says "hello" .\n'
    with writable.client() as client:
        assert (
            client.put(
                "/store", params={"graph": graph}, content=turtle, headers={"Content-Type": "text/turtle"}
            ).status_code
            == 401
        )
        as_curator = client.put(
            "/store",
            params={"graph": graph},
            content=turtle,
            headers={**_auth(writable.tokens["curator"]), "Content-Type": "text/turtle"},
        )
        assert as_curator.status_code == 403
        created = client.put(
            "/store",
            params={"graph": graph},
            content=turtle,
            headers={**_auth(writable.tokens["admin"]), "Content-Type": "text/turtle"},
        )
        assert created.status_code == 201
        added = client.post(
            "/store",
            params={"graph": graph},
            content=b'<http://example.org/n2> <http://example.org/says> "hi" .\n',
            headers={**_auth(writable.tokens["admin"]), "Content-Type": "application/n-triples"},
        )
        assert added.status_code == 204
        read = client.get("/store", params={"graph": graph}, headers={"Accept": "application/n-triples"})
        assert len(read.text.strip().splitlines()) == 2
        broken = client.post(
            "/store",
            params={"graph": graph},
            content=b'<http://example.org/n3> <http://example.org/says> "ok" .\n<http://a> <http://b> .\n',
            headers={**_auth(writable.tokens["admin"]), "Content-Type": "application/n-triples"},
        )
        assert broken.status_code == 400 and broken.json()["line"] == 2
        assert (
            len(
                client.get("/store", params={"graph": graph}, headers={"Accept": "application/n-triples"})
                .text.strip()
                .splitlines()
            )
            == 2
        )
        xml = client.post(
            "/store",
            params={"graph": graph},
            content=b"<rdf:RDF/>",
            headers={**_auth(writable.tokens["admin"]), "Content-Type": "application/rdf+xml"},
        )
        assert xml.status_code == 415
        managed = client.put(
            "/store",
            params={"graph": "https://w3id.org/posgraph/id/batch/seed"},
            content=turtle,
            headers={**_auth(writable.tokens["admin"]), "Content-Type": "text/turtle"},
        )
        assert managed.status_code == 400 and "managed" in managed.json()["detail"]
        deleted = client.delete("/store", params={"graph": graph}, headers=_auth(writable.tokens["admin"]))
        assert deleted.status_code == 204
        assert client.get("/store", params={"graph": graph}).status_code == 404
        assert (
            client.delete("/store", params={"graph": graph}, headers=_auth(writable.tokens["admin"])).status_code == 404
        )


def test_revoked_token_stops_working(writable):
    env = {
        "POSGRAPH_TOKENS_FILE": str(writable.base / "tokens.json"),
        "POSGRAPH_AUDIT_LOG": str(writable.base / "audit.jsonl"),
    }
    created = posgraph_cli("token", "create", "--role", "admin", "--name", "short-lived", env=env)
    token = created.stdout.strip()
    with writable.client() as client:
        update = {"update": "INSERT DATA { <http://x/s> <http://x/b> 1 }"}
        assert client.post("/sparql/update", data=update, headers=_auth(token)).status_code == 204
        revoked = posgraph_cli("token", "revoke", "short-lived", env=env)
        assert revoked.returncode == 0
        assert client.post("/sparql/update", data=update, headers=_auth(token)).status_code == 401
    listing = posgraph_cli("token", "list", env=env)
    assert "short-lived" in listing.stdout and "revoked" in listing.stdout and token not in listing.stdout


# ------------------------------------------------------------------------------------------- batches
BATCHES = EXAMPLES / "batches"
FIGURE = (BATCHES / "army-cap-figure.ttl").read_bytes()
WRONG_IN_CONTEXT = (BATCHES / "dangling-and-foreign.ttl").read_bytes()
TURTLE = {"Content-Type": "text/turtle"}
FIGURE_POSITION = "https://w3id.org/posgraph/id/position/test-ru-army-cap-figure"


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    base = tmp_path_factory.mktemp("review")
    srv = start_server(base / "store", base / "serve.log")
    srv.tokens = {
        name: create_token(base, role, name)
        for name, role in (
            ("cora", "curator"),
            ("carl", "curator"),
            ("rita", "reviewer"),
            ("reader", "reader"),
            ("ada", "admin"),
        )
    }
    srv.base = base
    yield srv
    srv.stop()


def _exists(client, iri, graph=None):
    pattern = f"<{iri}> ?p ?o" if graph is None else f"GRAPH <{graph}> {{ <{iri}> ?p ?o }}"
    return client.get("/sparql", params={"query": f"ASK {{ {pattern} }}"}).json()["boolean"]


def test_dry_run_validation_is_clean_for_references_to_existing_data(review):
    with review.client() as client:
        response = client.post("/validate", content=FIGURE, headers=TURTLE)
    assert response.status_code == 200 and response.json() == {"conforms": True, "violations": 0, "results": []}


def test_dry_run_validation_reports_what_is_wrong_in_context(review):
    with review.client() as client:
        report = client.post("/validate", content=WRONG_IN_CONTEXT, headers=TURTLE).json()
        as_html = client.post("/validate", content=WRONG_IN_CONTEXT, headers={**TURTLE, "Accept": "text/html"})
        as_turtle = client.post("/validate", content=WRONG_IN_CONTEXT, headers={**TURTLE, "Accept": "text/turtle"})
    assert report["conforms"] is False
    found = {(r["shape"], r["focus_node"], r["value"]) for r in report["results"]}
    assert found == {
        ("pgsh:Position-heldBy", "pgid:position/test-bad", "pgid:party/atlantis"),  # dangling: exists nowhere
        ("pgsh:Supersession-sameParty", "pgid:position/test-bad", "pgid:position/ua-2025-07-19-talks-offer"),
    }
    assert all(r["hint"] for r in report["results"])
    assert as_html.headers["content-type"].startswith("text/html") and "pgsh:Supersession-sameParty" in as_html.text
    graph = rdflib.Graph().parse(data=as_turtle.text, format="turtle")
    assert (None, SH.conforms, rdflib.Literal(False)) in graph


def test_validation_bad_input(review):
    with review.client() as client:
        syntax = client.post("/validate", content=b"@prefix ex: <http://e/> .\nex:a ex:b .\n", headers=TURTLE)
        xml = client.post("/validate", content=b"<rdf:RDF/>", headers={"Content-Type": "application/rdf+xml"})
        big = client.post("/validate", content=b"#" * 10_000_001, headers=TURTLE)
    assert syntax.status_code == 400 and syntax.json()["line"] == 2 and syntax.json()["column"]
    assert xml.status_code == 415
    assert big.status_code == 413


def test_submitting_needs_a_curator_token(review):
    with review.client() as client:
        assert client.post("/batches", content=FIGURE, headers=TURTLE).status_code == 401
        assert (
            client.post("/batches", content=FIGURE, headers={**TURTLE, **_auth(review.tokens["reader"])}).status_code
            == 403
        )
        assert client.get("/batches").status_code == 401


def test_a_non_conformant_batch_is_422_and_nothing_is_stored(review):
    with review.client() as client:
        before = len(client.get("/batches", headers=_auth(review.tokens["cora"])).json()["batches"])
        response = client.post("/batches", content=WRONG_IN_CONTEXT, headers={**TURTLE, **_auth(review.tokens["cora"])})
        after = len(client.get("/batches", headers=_auth(review.tokens["cora"])).json()["batches"])
    assert response.status_code == 422 and response.json()["report"]["violations"] == 2
    assert before == after
    assert not _exists(review.client(), "https://w3id.org/posgraph/id/position/test-bad")


def test_the_review_workflow_end_to_end(review):
    cora, rita = _auth(review.tokens["cora"]), _auth(review.tokens["rita"])
    with review.client() as client:
        submitted = client.post("/batches", content=FIGURE, headers={**TURTLE, **cora})
        assert submitted.status_code == 201, submitted.text
        batch = submitted.json()
        assert batch["state"] == "submitted" and submitted.headers["location"] == f"/batches/{batch['id']}"
        # Unreviewed data is invisible to every public read path.
        assert not _exists(client, FIGURE_POSITION)
        everywhere = client.get(
            "/sparql", params={"query": f"ASK {{ GRAPH ?g {{ <{FIGURE_POSITION}> ?p ?o }} }}"}
        ).json()["boolean"]
        assert everywhere is False
        assert (
            client.get("/store", params={"graph": f"https://w3id.org/posgraph/id/staging/{batch['id']}"}).status_code
            == 400
        )
        # The same content again is recognised.
        again = client.post("/batches", content=FIGURE, headers={**TURTLE, **_auth(review.tokens["carl"])})
        assert again.status_code == 409 and batch["id"] in again.json()["detail"]
        # Its curator may not accept it; a reviewer may.
        assert client.post(f"/batches/{batch['id']}/accept", headers=cora).status_code == 403
        accepted = client.post(f"/batches/{batch['id']}/accept", headers=rita)
        assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
        assert accepted.json()["reviewer"] == "rita"
        assert _exists(client, FIGURE_POSITION)
        assert _exists(client, FIGURE_POSITION, graph=f"https://w3id.org/posgraph/id/batch/{batch['id']}")
        prov = client.get(
            "/sparql",
            headers={"Accept": "text/csv"},
            params={
                "query": f"""
            PREFIX pg: <https://w3id.org/posgraph/ns#> PREFIX prov: <http://www.w3.org/ns/prov#>
            PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
            SELECT ?curator ?reviewer ?triples ?resources ?source WHERE {{
              <https://w3id.org/posgraph/id/batch/{batch["id"]}> a pg:Batch ; pg:batchState pg:accepted ;
                prov:wasAttributedTo/rdfs:label ?curator ; pg:reviewedBy/rdfs:label ?reviewer ;
                pg:tripleCount ?triples ; pg:resourceCount ?resources ; pg:acceptedAt ?at ;
                prov:generatedAtTime ?submitted ; pg:shapesVersion "0.2.0" ; prov:hadPrimarySource ?source }}"""
            },
        )
        assert prov.text.splitlines()[1] == "cora,rita,24,3,https://w3id.org/posgraph/id/source/example-wire-2025-07-24"
        assert client.post(f"/batches/{batch['id']}/accept", headers=rita).status_code == 409
        as_jsonld = client.get(
            "/sparql",
            headers={"Accept": "application/ld+json"},
            params={"query": f"CONSTRUCT WHERE {{ <{FIGURE_POSITION}> ?p ?o }}"},
        ).json()
        # The stated class and the superclass type posgraph adds (see curation/entailment.py).
        assert as_jsonld["id"] == FIGURE_POSITION and as_jsonld["type"] == ["Demand", "Position"]
        assert as_jsonld["supersedes"] == "https://w3id.org/posgraph/id/position/ru-2025-07-army-cap"
        shown = client.get(f"/batches/{batch['id']}", headers=cora).json()
        assert [h["action"] for h in shown["history"]] == ["submitted", "accepted"]
        triples = client.get(f"/batches/{batch['id']}/triples", headers={**cora, "Accept": "application/n-triples"})
        assert len(triples.text.strip().splitlines()) == 24
        # The seed's army-cap demand now has a dependent in another batch: the preview names it.
        preview = client.post("/batches/seed/revert", params={"dry_run": "true"}, headers=rita).json()
        assert {
            "resource": FIGURE_POSITION,
            "property": "https://w3id.org/posgraph/ns#supersedes",
            "depends_on": "https://w3id.org/posgraph/id/position/ru-2025-07-army-cap",
            "batch": batch["id"],
        } in preview["dependents"]
        # Reverting needs a reviewer, takes the batch's triples out, keeps what other graphs assert.
        assert client.post(f"/batches/{batch['id']}/revert", headers=cora).status_code == 403
        reverted = client.post(f"/batches/{batch['id']}/revert", headers=rita)
        assert reverted.status_code == 200 and reverted.json()["state"] == "reverted"
        assert not _exists(client, FIGURE_POSITION)
        assert _exists(client, "https://w3id.org/posgraph/id/party/russia")  # asserted by the seed too
        assert client.post(f"/batches/{batch['id']}/revert", headers=rita).status_code == 409
    audit = [json.loads(line) for line in (review.base / "audit.jsonl").read_text().splitlines()]
    assert [a["action"] for a in audit if a.get("batch") == batch["id"]] == [
        "batch-submit",
        "batch-accept",
        "batch-revert",
    ]


def test_self_acceptance_when_the_configuration_allows_it(tmp_path):
    srv = start_server(tmp_path / "store", tmp_path / "serve.log", env={"POSGRAPH_ALLOW_SELF_ACCEPT": "true"})
    solo = _auth(create_token(tmp_path, "curator", "solo"))
    other = _auth(create_token(tmp_path, "curator", "other"))
    try:
        with srv.client() as client:
            batch = client.post("/batches", content=FIGURE, headers={**TURTLE, **solo}).json()
            assert client.post(f"/batches/{batch['id']}/accept", headers=other).status_code == 403
            accepted = client.post(f"/batches/{batch['id']}/accept", headers=solo)
            assert accepted.status_code == 200 and accepted.json()["reviewer"] == "solo"
    finally:
        srv.stop()


def test_reject_with_a_note(review):
    carl, rita = _auth(review.tokens["carl"]), _auth(review.tokens["rita"])
    body = FIGURE.replace(b"85000", b"90000")
    with review.client() as client:
        batch = client.post("/batches", content=body, headers={**TURTLE, **carl}).json()
        rejected = client.post(
            f"/batches/{batch['id']}/reject", json={"note": "the figure is not sourced"}, headers=rita
        )
        assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
        assert rejected.json()["history"][-1]["note"] == "the figure is not sourced"
        assert client.post(f"/batches/{batch['id']}/accept", headers=rita).status_code == 409
        listed = client.get("/batches", params={"state": "rejected"}, headers=carl).json()["batches"]
        assert [b["id"] for b in listed] == [batch["id"]]
        assert client.get("/batches", params={"state": "odd"}, headers=carl).status_code == 400
        assert client.get("/batches/nope", headers=carl).status_code == 404
        assert client.post("/batches/nope/accept", headers=rita).status_code == 404


def test_json_ld_batches_use_posgraphs_context_and_never_fetch_another(review):
    import http.server
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/ld+json")
            self.end_headers()
            self.wfile.write(b'{"@context": {"p": "http://example.org/p"}}')

        def log_message(self, *args):
            pass

    trap = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    remote = f"http://127.0.0.1:{trap.server_address[1]}/context.jsonld"
    ours = review.url.replace(review.url, "http://127.0.0.1:8000") + "/ns/context.jsonld"
    doc = {
        "@context": "https://w3id.org/posgraph/ns/context.jsonld",
        "id": "https://w3id.org/posgraph/id/party/russia",
        "altLabel": {"@value": "RF", "@language": "en"},
    }
    try:
        with review.client() as client:
            fine = client.post("/validate", json=doc, headers={"Content-Type": "application/ld+json"})
            foreign = client.post(
                "/validate", json={**doc, "@context": remote}, headers={"Content-Type": "application/ld+json"}
            )
            imported = client.post(
                "/validate",
                json={**doc, "@context": {"@import": remote}},
                headers={"Content-Type": "application/ld+json"},
            )
            nested = client.post(
                "/validate",
                json={**doc, "member": {"@context": remote, "x": 1}},
                headers={"Content-Type": "application/ld+json"},
            )
    finally:
        trap.shutdown()
    assert fine.status_code == 200 and fine.json()["conforms"] is True, fine.text
    assert foreign.status_code == 400 and "never fetched" in foreign.json()["detail"]
    assert imported.status_code == 400 and nested.status_code == 400
    assert hits == [] and ours


# managed_engine: the kill takes the managed engines down with the service and the restart brings up new ones on
# the same store files; an external Virtuoso neither dies with posgraph nor restarts on its store, and its atomicity
# under a crash is its own.
@pytest.mark.managed_engine
@pytest.mark.parametrize("delay", [0.2, 0.8])
def test_killing_the_service_mid_accept_leaves_before_or_after(tmp_path, delay):
    """SIGKILL posgraph serve (its engines die with it) while it accepts a batch; after a restart on the same
    stores the public graph holds all of the batch or none of it, and the batch's state says which."""
    import threading
    import time

    import httpx

    n = 4000
    labels = " , ".join(f'"alias {i}"@en' for i in range(n))
    body = (
        f"<https://w3id.org/posgraph/id/party/test-bloc> a <https://w3id.org/posgraph/ns#Party> ; "
        f'<http://www.w3.org/2004/02/skos/core#prefLabel> "Test bloc"@en ; '
        f"<http://www.w3.org/2004/02/skos/core#altLabel> {labels} ."
    ).encode()
    srv = start_server(tmp_path / "store", tmp_path / "serve.log")
    curator = create_token(tmp_path, "curator", "c")
    reviewer = create_token(tmp_path, "reviewer", "r")
    count = (
        "SELECT (COUNT(*) AS ?n) WHERE { <https://w3id.org/posgraph/id/party/test-bloc> "
        "<http://www.w3.org/2004/02/skos/core#altLabel> ?l }"
    )
    try:
        with srv.client() as client:
            batch = client.post("/batches", content=body, headers={**TURTLE, **_auth(curator)}).json()
        threading.Thread(
            target=lambda: _quietly(
                lambda: httpx.post(f"{srv.url}/batches/{batch['id']}/accept", headers=_auth(reviewer), timeout=60)
            )
        ).start()
        time.sleep(delay)
        srv.process.kill()
        srv.process.wait()
        time.sleep(0.5)  # the engines follow their parent
        srv = start_server(tmp_path / "store", tmp_path / "serve-again.log", port=int(srv.url.rsplit(":", 1)[1]))
        with srv.client() as client:
            published = int(
                client.get("/sparql", params={"query": count}).json()["results"]["bindings"][0]["n"]["value"]
            )
            state = client.get(f"/batches/{batch['id']}", headers=_auth(curator)).json()["state"]
            assert (published, state) in {(0, "submitted"), (n, "accepted")}
            if state == "submitted":  # never half: the review can simply be done again
                assert client.post(f"/batches/{batch['id']}/accept", headers=_auth(reviewer)).status_code == 200
                published = int(
                    client.get("/sparql", params={"query": count}).json()["results"]["bindings"][0]["n"]["value"]
                )
                assert published == n
    finally:
        srv.stop()


def _quietly(call):
    try:
        call()
    except Exception:  # the server was killed under the request: that is the point
        pass


NUL_SUBJECT = "https://w3id.org/posgraph/id/party/test-nul"


@pytest.mark.parametrize("spelling", [b"\x00", b"\\u0000"], ids=["raw", "escaped"])
def test_a_nul_in_a_literal_is_refused_on_every_rdf_body_path_and_nothing_is_written(review, tmp_path, spelling):
    """XML 1.0 cannot carry U+0000: one stored would make every SPARQL XML and RDF/XML answer holding it malformed.
    Every way RDF comes in refuses it with a 400 naming where, before anything is written."""
    turtle = (
        f"<{NUL_SUBJECT}> a <https://w3id.org/posgraph/ns#Party> ; "
        '<http://www.w3.org/2004/02/skos/core#prefLabel> "Nul' + spelling.decode() + 'land"@en .'
    ).encode()
    as_jsonld = json.dumps(
        {
            "@context": "https://w3id.org/posgraph/ns/context.jsonld",
            "id": NUL_SUBJECT,
            "type": "Party",
            "prefLabel": {"en": "Nul\u0000land"},
        }
    ).encode()
    cora, ada = _auth(review.tokens["cora"]), _auth(review.tokens["ada"])
    graph = "http://example.org/nul-test"
    with review.client() as client:
        before = len(client.get("/batches", headers=cora).json()["batches"])
        answers = {
            "validate": client.post("/validate", content=turtle, headers=TURTLE),
            "validate-jsonld": client.post(
                "/validate", content=as_jsonld, headers={"Content-Type": "application/ld+json"}
            ),
            "submit": client.post("/batches", content=turtle, headers={**TURTLE, **cora}),
            "submit-jsonld": client.post(
                "/batches", content=as_jsonld, headers={"Content-Type": "application/ld+json", **cora}
            ),
            "store-put": client.put("/store", params={"graph": graph}, content=turtle, headers={**TURTLE, **ada}),
            "store-post": client.post("/store", params={"graph": graph}, content=turtle, headers={**TURTLE, **ada}),
        }
        for name, answer in answers.items():
            assert answer.status_code == 400, (name, answer.status_code, answer.text[:300])
            problem = answer.json()
            assert problem["type"].endswith("/rdf-syntax") and "U+0000" in problem["detail"], (name, problem)
            assert NUL_SUBJECT in problem["detail"], (name, problem)
        bad_file = tmp_path / "nul.ttl"
        bad_file.write_bytes(turtle)
        loaded = posgraph_cli(
            "load", str(bad_file), "--curator", "cli", env={"POSGRAPH_STORE_DIR": str(review.base / "store")}
        )
        assert loaded.returncode == 2 and "U+0000" in loaded.stderr, loaded.stderr
        assert not _exists(client, NUL_SUBJECT)
        assert not client.get("/sparql", params={"query": f"ASK {{ GRAPH ?g {{ <{NUL_SUBJECT}> ?p ?o }} }}"}).json()[
            "boolean"
        ]
        assert len(client.get("/batches", headers=cora).json()["batches"]) == before


def test_a_batch_published_without_its_record_still_shows_its_reviewer(review):
    """A service killed between the publishing write and the record's update: the batch is public (the engine
    committed) but the staging record still says submitted. The batch's view takes the reviewer and the time from
    the public store's PROV. No timing luck: the test publishes the batch's quads as accept does, and stops there."""
    from datetime import datetime, timezone

    import pyoxigraph as ox
    from conftest import run
    from virtuoso_support import public_engine

    from posgraph import curation
    from posgraph.engine import Engine

    cora, rita = _auth(review.tokens["cora"]), _auth(review.tokens["rita"])
    body = FIGURE.replace(b"85000", b"70000")
    with review.client() as client:
        submitted = client.post("/batches", content=body, headers={**TURTLE, **cora})
        assert submitted.status_code == 201, submitted.text
        batch = submitted.json()
        content = client.get(f"/batches/{batch['id']}/triples", headers={**cora, "Accept": "application/n-triples"})
        triples = [
            ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(content.content, ox.RdfFormat.N_TRIPLES)
        ]
        accepted = datetime.now(timezone.utc)
        quads = curation.batch_quads(
            triples,
            batch_id=batch["id"],
            curator="cora",
            label=batch["label"],
            digest=batch["content_hash"],
            shapes_version=batch["shapes_version"],
            now=datetime.fromisoformat(batch["submitted"]),
            reviewer="rita",
            accepted=accepted,
        )
        target = public_engine(review, review.base / "store")  # the managed Oxigraph, or the test's Virtuoso

        async def publish():
            async with Engine(**target) as engine:
                await engine.add_quads(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))

        run(publish())
        shown = client.get(f"/batches/{batch['id']}", headers=cora).json()
        listed = {b["id"]: b for b in client.get("/batches", headers=cora).json()["batches"]}[batch["id"]]
        again = client.post(f"/batches/{batch['id']}/accept", headers=rita)
    assert shown["state"] == "accepted" and shown["reviewer"] == "rita", shown
    assert shown["accepted"] == accepted.isoformat(timespec="seconds")
    assert shown["history"][-1] == {"time": shown["accepted"], "actor": "rita", "action": "accepted"}
    assert listed["reviewer"] == "rita" and listed["state"] == "accepted"
    assert again.status_code == 409  # published once, never twice


def test_validate_has_its_own_size_cap_and_one_run_per_anonymous_address(tmp_path):
    import threading

    from test_api_service import _positions

    srv = start_server(tmp_path / "store", tmp_path / "serve.log", env={"POSGRAPH_MAX_VALIDATE_BYTES": "1500000"})
    reader = create_token(tmp_path, "reader", "validator")
    nt = {"Content-Type": "application/n-triples"}
    slow = _positions(2500)  # about 1 MB: seconds of SHACL validation
    try:
        with srv.client() as client:
            too_big = client.post("/validate", content=_positions(4000), headers=nt)  # under the body cap
            assert too_big.status_code == 413 and "1500000" in too_big.json()["detail"]
            # text/plain (what a cross-origin form can send without a preflight) is refused unparsed.
            assert client.post("/validate", content=slow, headers={"Content-Type": "text/plain"}).status_code == 415
            answers = []

            def validate(headers):
                answers.append(client.post("/validate", content=slow, headers={**nt, **headers}).status_code)

            first = threading.Thread(target=validate, args=({},))
            first.start()
            time.sleep(0.5)  # the first one is validating (it takes seconds)
            second = client.post("/validate", content=slow, headers=nt)
            with_token = client.post("/validate", content=slow, headers={**nt, "Authorization": f"Bearer {reader}"})
            first.join()
        assert second.status_code == 429 and "already has a validation running" in second.json()["detail"]
        assert answers == [200] and with_token.status_code == 200
    finally:
        srv.stop()


def test_graph_store_head_answers_like_get_without_a_body(writable):
    seed = {"graph": "https://w3id.org/posgraph/id/batch/seed"}
    with writable.client() as client:
        head = client.head("/store", params=seed, headers={"Accept": "application/n-triples"})
        get = client.get("/store", params=seed, headers={"Accept": "application/n-triples"})
        missing = client.head("/store", params={"graph": "http://nowhere.example/g"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    assert missing.status_code == 404 and missing.content == b""


def test_graph_store_post_without_a_graph_creates_one_named_under_the_public_base(writable):
    turtle = b'@prefix ex: <http://example.org/> .\nex:new ex:says "created" .\n'
    admin = {**_auth(writable.tokens["admin"]), "Content-Type": "text/turtle"}
    with writable.client() as client:
        anonymous = client.post("/store", content=turtle, headers={"Content-Type": "text/turtle"})
        as_curator = client.post(
            "/store", content=turtle, headers={**_auth(writable.tokens["curator"]), "Content-Type": "text/turtle"}
        )
        broken = client.post("/store", content=b"<http://a> <http://b> .\n", headers=admin)
        xml = client.post("/store", content=b"<rdf:RDF/>", headers={**admin, "Content-Type": "application/rdf+xml"})
        created = client.post("/store", content=turtle, headers=admin)
        again = client.post("/store", content=turtle, headers=admin)
        location = created.headers.get("location", "")
        by_parameter = client.get("/store", params={"graph": location}, headers={"Accept": "application/n-triples"})
        by_location = client.get(location, headers={"Accept": "application/n-triples"})
    assert anonymous.status_code == 401 and as_curator.status_code == 403
    assert broken.status_code == 400 and broken.json()["line"] == 1
    assert xml.status_code == 415
    assert created.status_code == 201 and location.startswith(writable.url + "/")
    assert again.status_code == 201 and again.headers["location"] != location
    assert by_parameter.status_code == 200 and '"created"' in by_parameter.text
    assert by_location.status_code == 200 and by_location.text == by_parameter.text


def test_graph_store_415_lists_exactly_what_it_accepts(writable):
    with writable.client() as client:
        response = client.put(
            "/store",
            params={"graph": "http://example.org/graphs/typed"},
            content=b"{}",
            headers={**_auth(writable.tokens["admin"]), "Content-Type": "application/ld+json"},
        )
    assert response.status_code == 415
    detail = response.json()["detail"]
    assert "text/turtle" in detail and "application/n-triples" in detail
    assert "application/ld+json or" not in detail and "application/trig" not in detail


@pytest.mark.parametrize("content_type", ["text/turtle", None])
def test_an_empty_body_to_validate_is_400_not_a_conforming_report(review, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    with review.client() as client:
        response = client.post("/validate", content=b"", headers=headers)
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]


_PG_PREFIX = "PREFIX pg: <https://w3id.org/posgraph/ns#> "


def test_direct_writes_store_the_superclass_types_they_imply(writable):
    admin = _auth(writable.tokens["admin"])
    turtle = b"<http://example.org/gsp-offer> a <https://w3id.org/posgraph/ns#Offer> .\n"
    graph = "http://example.org/graphs/typed"
    with writable.client() as client:
        updated = client.post(
            "/sparql/update",
            content=_PG_PREFIX.encode() + b"INSERT DATA { <http://example.org/upd-demand> a pg:Demand . "
            b"<http://example.org/upd-round> a pg:NegotiationRound . "
            b"GRAPH <http://example.org/graphs/upd> { <http://example.org/upd-threat> a pg:Threat } }",
            headers={**admin, "Content-Type": "application/sparql-update"},
        )
        assert updated.status_code == 204, updated.text
        assert _ask(client, _PG_PREFIX + "ASK { <http://example.org/upd-demand> a pg:Position }")
        assert _ask(client, _PG_PREFIX + "ASK { <http://example.org/upd-round> a pg:Event }")
        in_graph = "ASK { GRAPH <http://example.org/graphs/upd> { <http://example.org/upd-threat> a pg:Position } }"
        assert _ask(client, _PG_PREFIX + in_graph)
        # With a USING dataset (using-graph-uri) too: the superclass types still land where the types are.
        scoped = client.post(
            "/sparql/update",
            params={"using-graph-uri": "http://example.org/graphs/upd"},
            content=_PG_PREFIX.encode() + b"INSERT { ?t a pg:Concession } WHERE { ?t a pg:Threat }",
            headers={**admin, "Content-Type": "application/sparql-update"},
        )
        assert scoped.status_code == 204, scoped.text
        assert _ask(client, _PG_PREFIX + "ASK { <http://example.org/upd-threat> a pg:Concession, pg:Position }")
        for method, target in (("POST", None), ("PUT", graph)):
            params = {"default": ""} if target is None else {"graph": target}
            written = client.request(
                method, "/store", params=params, content=turtle, headers={**admin, "Content-Type": "text/turtle"}
            )
            assert written.status_code in (200, 201, 204), written.text
            pattern = "<http://example.org/gsp-offer> a pg:Position"
            assert _ask(
                client,
                _PG_PREFIX
                + (f"ASK {{ {pattern} }}" if target is None else f"ASK {{ GRAPH <{target}> {{ {pattern} }} }}"),
            )


def test_an_accepted_batch_brings_superclass_types_and_its_revert_takes_them_away(review):
    cora, rita = _auth(review.tokens["cora"]), _auth(review.tokens["rita"])
    position = "https://w3id.org/posgraph/id/position/test-ru-army-cap-supertypes"
    body = FIGURE.replace(b"test-ru-army-cap-figure", b"test-ru-army-cap-supertypes")
    typed = _PG_PREFIX + f"ASK {{ <{position}> a pg:Position }}"
    with review.client() as client:
        submitted = client.post("/batches", content=body, headers={**TURTLE, **cora})
        assert submitted.status_code == 201, submitted.text
        batch = submitted.json()["id"]
        assert client.post(f"/batches/{batch}/accept", headers=rita).status_code == 200
        assert _ask(client, typed)
        in_graph = f"ASK {{ GRAPH <https://w3id.org/posgraph/id/batch/{batch}> {{ <{position}> a pg:Position }} }}"
        assert _ask(client, _PG_PREFIX + in_graph)
        # Saved queries keep one row per position: superclass types add no rows.
        rows = client.get(
            "/queries/positions",
            params={"party": "https://w3id.org/posgraph/id/party/russia"},
            headers={"Accept": "application/sparql-results+json"},
        ).json()
        named = [b["position"]["value"] for b in rows["results"]["bindings"] if "position" in b]
        assert named.count(position) == 1
        assert client.post(f"/batches/{batch}/revert", headers=rita).status_code == 200
        assert not _ask(client, typed)
        assert not _exists(client, position)


# ------------------------------------------------------------------------------------------ amendments (#11 point 7)
_AMEND = EXAMPLES / "batches"
_DUP_PATH = "/id/party/russian-federation"


@pytest.fixture(scope="module")
def amending(tmp_path_factory):
    """A server of its own (these tests change published data), started on the ontology and the seed."""
    base = tmp_path_factory.mktemp("amending")
    srv = start_server(base / "store", base / "serve.log")
    srv.tokens = {name: create_token(base, role, name) for name, role in (("cora", "curator"), ("rita", "reviewer"))}
    yield srv
    srv.stop()


def _published(client) -> set[str]:
    """The default graph's triples, without batch descriptions, agents and the change log."""
    text = client.get(
        "/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"}, headers={"Accept": "application/n-triples"}
    ).text
    managed = tuple(f"<https://w3id.org/posgraph/id/{p}/" for p in ("batch", "change", "agent"))
    return {line for line in text.splitlines() if line.strip() and not line.startswith(managed)}


def test_amend_merge_through_review_redirects_shows_in_history_and_changes_and_reverts(amending):
    cora, rita = _auth(amending.tokens["cora"]), _auth(amending.tokens["rita"])
    with amending.client() as client:
        setup = client.post(
            "/batches", content=(_AMEND / "amend-setup-duplicate.ttl").read_bytes(), headers={**TURTLE, **cora}
        )
        assert setup.status_code == 201, setup.text
        assert client.post(f"/batches/{setup.json()['id']}/accept", headers=rita).status_code == 200
        assert client.get(_DUP_PATH, headers={"Accept": "text/turtle"}).status_code == 200
        before = _published(client)
        listed = len(client.get("/batches", headers=cora).json()["batches"])

        # A retraction of a triple that is not published: 422, the amendment and the triple named, nothing stored.
        bad = b"""@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix party: <https://w3id.org/posgraph/id/party/> .
            @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
            <https://w3id.org/posgraph/id/amendment/x> a pg:Retraction ; pg:reason "test"@en ;
                pg:retractsSubject party:russian-federation ; pg:retractsPredicate skos:prefLabel ;
                pg:retractsObject "Russian Federation"@ru ."""
        refused = client.post("/batches", content=bad, headers={**TURTLE, **cora})
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/not-conformant")
        named = [r for r in problem["report"]["results"] if r["focus_node"] == "pgid:amendment/x"]
        assert named and "not published" in named[0]["message"] and '"Russian Federation"@ru' in named[0]["message"]
        assert len(client.get("/batches", headers=cora).json()["batches"]) == listed
        assert _published(client) == before

        submitted = client.post(
            "/batches", content=(_AMEND / "amend-merge-duplicate.ttl").read_bytes(), headers={**TURTLE, **cora}
        )
        assert submitted.status_code == 201, submitted.text
        batch = submitted.json()
        assert batch["amendments"]["merged"] == 1 and batch["amendments"]["retracted"] == 1
        assert batch["amendments"]["merges"][0]["mergedInto"] == "https://w3id.org/posgraph/id/party/russia"
        assert _published(client) == before  # submitted, not published
        accepted = client.post(f"/batches/{batch['id']}/accept", headers=rita)
        assert accepted.status_code == 200, accepted.text
        record = accepted.json()
        assert record["amendments"]["removed"] >= 5 and record["amendments"]["rewritten"] >= 3
        assert record["history"][-1]["action"] == "accepted" and record["history"][-1]["merged"] == 1

        # The duplicate's IRI redirects, whatever is asked for; the IRI kept has everything.
        for accept in ("text/html", "text/turtle", "application/ld+json"):
            moved = client.get(_DUP_PATH, headers={"Accept": accept})
            assert moved.status_code == 301, (accept, moved.status_code)
            assert moved.headers["location"] == f"{amending.url}/id/party/russia"
        russia = client.get("/id/party/russia", headers={"Accept": "text/turtle"})
        assert russia.status_code == 200 and "test-rf-2025-07-talks-demand" in russia.text
        assert not _ask(client, "ASK { ?x a <https://w3id.org/posgraph/ns#Merge> }")  # amendment nodes unpublished

        preview = client.post(f"/batches/{batch['id']}/revert", params={"dry_run": "true"}, headers=rita).json()
        assert preview["triples_restored"] == record["amendments"]["removed"]
        reverted = client.post(f"/batches/{batch['id']}/revert", headers=rita)
        assert reverted.status_code == 200 and reverted.json()["state"] == "reverted"
        assert _published(client) == before
        assert client.get(_DUP_PATH, headers={"Accept": "text/turtle"}).status_code == 200

        shown = client.get(f"/batches/{batch['id']}", headers=cora).json()
        history = shown["history"]
        assert [h["action"] for h in history] == ["submitted", "accepted", "reverted"]
        assert history[1]["retracted"] == 1 and history[1]["merged"] == 1 and history[1]["added"] == 0
        assert history[2]["restored"] == record["amendments"]["removed"]
        iri = f"https://w3id.org/posgraph/id/batch/{batch['id']}"
        changes = [c for c in client.get("/changes").json()["changes"] if c.get("batch") == iri]
        assert [c["kind"] for c in changes] == ["accepted", "reverted"]
        assert all(c["amendments"]["removed"] == f"{iri}/removed" for c in changes)


# ------------------------------------------------------------------------------------------- the workbench's API
@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """A server of its own for the workbench's endpoints (its tests publish and revert)."""
    base = tmp_path_factory.mktemp("workbench")
    srv = start_server(base / "store", base / "serve.log")
    srv.tokens = {
        name: create_token(base, role, name)
        for name, role in (("cora", "curator"), ("rita", "reviewer"), ("rex", "reader"), ("ada", "admin"))
    }
    srv.base = base
    yield srv
    srv.stop()


_WB_PREFIXES = b"""@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix pgi: <https://w3id.org/posgraph/issue/> .
@prefix party: <https://w3id.org/posgraph/id/party/> . @prefix position: <https://w3id.org/posgraph/id/position/> .
@prefix source: <https://w3id.org/posgraph/id/source/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
WB_DEMAND = "https://w3id.org/posgraph/id/position/test-wb-army-cap-restated"
ARMY_CAP = "https://w3id.org/posgraph/id/position/ru-2025-07-army-cap"
SEED_SOURCE_HEADLINE = "Faint signs of life appear in effort to halt Ukraine war"


def _demand(summary: str) -> bytes:
    return (
        _WB_PREFIXES
        + f"""
position:test-wb-army-cap-restated a pg:Demand ; pg:heldBy party:russia ; pg:addressedTo party:ukraine ;
    pg:statedOn "2025-07"^^xsd:gYearMonth ; pg:concerns pgi:armed-forces-size ;
    pg:supersedes position:ru-2025-07-army-cap ; pg:changeType pg:reiterated ;
    pg:summary "{summary}"@en ; pg:source source:st-2025-07-istanbul-offer .
""".encode()
    )


def _audit(srv) -> list[dict]:
    return [json.loads(line) for line in (srv.base / "audit.jsonl").read_text().splitlines()]


def _select(client, query: str) -> list[dict]:
    rows = client.get("/sparql", params={"query": query}).json()["results"]["bindings"]
    return [{k: v["value"] for k, v in row.items()} for row in rows]


@pytest.mark.parametrize(
    "name, role, may",
    [
        ("rex", "reader", {"submit": False, "review": False, "accept_own": False, "revert": False, "update": False}),
        ("cora", "curator", {"submit": True, "review": False, "accept_own": False, "revert": False, "update": False}),
        ("rita", "reviewer", {"submit": True, "review": True, "accept_own": False, "revert": True, "update": False}),
        ("ada", "admin", {"submit": True, "review": True, "accept_own": True, "revert": True, "update": True}),
    ],
)
def test_whoami_names_the_token_its_role_and_what_it_may_do(workbench, name, role, may):
    with workbench.client() as client:
        me = client.get("/whoami", headers=_auth(workbench.tokens[name]))
    assert me.status_code == 200 and me.json() == {"name": name, "role": role, "may": may}


def test_whoami_without_or_with_a_bad_token_is_401(workbench):
    with workbench.client() as client:
        missing = client.get("/whoami")
        wrong = client.get("/whoami", headers=_auth("pgt_00000000_nope"))
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
    assert wrong.status_code == 401


def test_a_curator_may_accept_their_own_batch_when_the_configuration_says_so(tmp_path):
    srv = start_server(tmp_path / "store", tmp_path / "serve.log", env={"POSGRAPH_ALLOW_SELF_ACCEPT": "true"})
    try:
        with srv.client() as client:
            may = client.get("/whoami", headers=_auth(create_token(tmp_path, "curator", "solo"))).json()["may"]
        assert may["accept_own"] is True and may["review"] is False
    finally:
        srv.stop()


def test_a_submission_note_and_a_revert_reason_reach_the_record_the_audit_log_and_prov(workbench):
    cora, rita = _auth(workbench.tokens["cora"]), _auth(workbench.tokens["rita"])
    note = 'From the Straits Times of 20 July; "quoted" } text'
    reason = "The article was retracted by its publisher."
    with workbench.client() as client:
        too_long = client.post(
            "/batches", params={"note": "x" * 2001}, content=_demand("x"), headers={**TURTLE, **cora}
        )
        assert too_long.status_code == 400 and too_long.json()["parameter"] == "note"
        submitted = client.post(
            "/batches",
            params={"label": "army cap restated", "note": note},
            content=_demand("Illustrative: the army cap restated, with a note."),
            headers={**TURTLE, **cora},
        )
        assert submitted.status_code == 201, submitted.text
        batch_id = submitted.json()["id"]
        shown = client.get(f"/batches/{batch_id}", headers=cora).json()
        assert shown["note"] == note
        assert shown["history"][0] == {**shown["history"][0], "action": "submitted", "actor": "cora", "note": note}
        assert client.post(f"/batches/{batch_id}/accept", headers=rita).status_code == 200
        iri = f"https://w3id.org/posgraph/id/batch/{batch_id}"
        prov = _select(
            client,
            f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX prov: <http://www.w3.org/ns/prov#>
            SELECT ?label ?note WHERE {{ <{iri}> rdfs:label ?label ; rdfs:comment ?note ;
                prov:wasAttributedTo/rdfs:label "cora" }}""",
        )
        assert prov == [{"label": "army cap restated", "note": note}]

        reverted = client.post(f"/batches/{batch_id}/revert", json={"note": reason}, headers=rita)
        assert reverted.status_code == 200 and reverted.json()["state"] == "reverted"
        last = reverted.json()["history"][-1]
        assert (last["action"], last["actor"], last["note"]) == ("reverted", "rita", reason)
        change = _select(
            client,
            f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX pg: <https://w3id.org/posgraph/ns#>
            PREFIX prov: <http://www.w3.org/ns/prov#>
            SELECT ?reason ?who WHERE {{ ?change pg:changedBatch <{iri}> ; pg:changeKind "reverted" ;
                rdfs:comment ?reason ; prov:wasAssociatedWith/rdfs:label ?who }}""",
        )
        assert change == [{"reason": reason, "who": "rita"}]
    lines = {a["action"]: a for a in _audit(workbench) if a.get("batch") == batch_id}
    assert lines["batch-submit"]["note"] == note and lines["batch-submit"]["label"] == "army cap restated"
    assert lines["batch-revert"]["reason"] == reason and lines["batch-revert"]["actor"] == "rita"


def test_a_rejection_note_is_in_the_audit_log(workbench):
    cora, rita = _auth(workbench.tokens["cora"]), _auth(workbench.tokens["rita"])
    with workbench.client() as client:
        batch = client.post("/batches", content=_demand("Illustrative: to be rejected."), headers={**TURTLE, **cora})
        assert batch.status_code == 201, batch.text
        batch_id = batch.json()["id"]
        rejected = client.post(f"/batches/{batch_id}/reject", data={"note": "no such article"}, headers=rita)
        assert rejected.status_code == 200 and rejected.json()["history"][-1]["note"] == "no such article"
    assert [
        a.get("note") for a in _audit(workbench) if a.get("batch") == batch_id and a["action"] == "batch-reject"
    ] == ["no such article"]


def test_the_summary_of_a_batch_adding_a_demand_says_it_in_words_with_labelled_links(workbench):
    cora = _auth(workbench.tokens["cora"])
    with workbench.client() as client:
        submitted = client.post(
            "/batches", content=_demand("Illustrative: the army cap restated in words."), headers={**TURTLE, **cora}
        )
        assert submitted.status_code == 201, submitted.text
        batch_id = submitted.json()["id"]
        answer = client.get(f"/batches/{batch_id}/summary", headers=cora)
        assert answer.status_code == 200, answer.text
        summary = answer.json()
        published_summary = _select(
            client, f"SELECT ?s WHERE {{ <{ARMY_CAP}> <https://w3id.org/posgraph/ns#summary> ?s }}"
        )[0]["s"]
        assert client.get(f"/batches/{batch_id}/summary").status_code == 401
        assert client.get(f"/batches/{batch_id}/summary", headers=_auth(workbench.tokens["rex"])).status_code == 403
    assert summary["batch"] == batch_id and summary["state"] == "submitted"
    assert summary["counts"]["adds"] == 1 and summary["counts"]["kinds"] == {"Demand": 1}
    [sentence] = summary["sentences"]
    assert sentence["action"] == "adds" and sentence["subject"] == WB_DEMAND and sentence["kind"] == "Demand"
    assert sentence["text"].startswith("adds a Demand by Russia on Army size and weapons, stated 2025-07, ")
    assert f"citing “{SEED_SOURCE_HEADLINE}”" in sentence["text"]
    links = {(link["relation"], link["iri"]): link for link in sentence["links"]}
    superseded = links[("supersedes", ARMY_CAP)]
    assert superseded["published"] is True and superseded["in_batch"] is False and superseded["kind"] == "Demand"
    assert published_summary.startswith(superseded["label"].rstrip("…"))
    holder = links[("heldBy", "https://w3id.org/posgraph/id/party/russia")]
    assert holder["label"] == "Russia" and holder["published"] is True
    issue = links[("concerns", "https://w3id.org/posgraph/issue/armed-forces-size")]
    assert issue["label"] == "Army size and weapons" and issue["kind"] == "Issue"
    source = links[("source", "https://w3id.org/posgraph/id/source/st-2025-07-istanbul-offer")]
    assert source["label"] == SEED_SOURCE_HEADLINE and source["published"] is True


def test_the_summary_of_a_batch_says_what_it_adds_itself_is_in_the_batch(workbench):
    with workbench.client() as client:
        batch = client.post("/batches", content=FIGURE, headers={**TURTLE, **_auth(workbench.tokens["cora"])}).json()
        summary = client.get(f"/batches/{batch['id']}/summary", headers=_auth(workbench.tokens["cora"])).json()
    texts = [s["text"] for s in summary["sentences"]]
    assert [s["kind"] for s in summary["sentences"]] == ["Demand", "Media organisation", "Source"]
    assert texts[2] == (
        "adds a Source “Illustrative report used by posgraph's tests”, published 2025-07-24, "
        "by Example Wire (fictional)"
    )
    source = next(link for link in summary["sentences"][0]["links"] if link["relation"] == "source")
    assert (source["published"], source["in_batch"]) == (False, True)
    assert source["label"] == "Illustrative report used by posgraph's tests"


def test_the_summary_of_an_amending_batch_says_what_it_retracts_and_merges(workbench):
    cora, rita = _auth(workbench.tokens["cora"]), _auth(workbench.tokens["rita"])
    with workbench.client() as client:
        setup = client.post(
            "/batches", content=(_AMEND / "amend-setup-duplicate.ttl").read_bytes(), headers={**TURTLE, **cora}
        )
        assert setup.status_code == 201, setup.text
        assert client.post(f"/batches/{setup.json()['id']}/accept", headers=rita).status_code == 200
        merging = client.post(
            "/batches", content=(_AMEND / "amend-merge-duplicate.ttl").read_bytes(), headers={**TURTLE, **cora}
        )
        assert merging.status_code == 201, merging.text
        summary = client.get(f"/batches/{merging.json()['id']}/summary", headers=cora).json()
        sharpen = client.post(
            "/batches", content=(_AMEND / "amend-sharpen-date.ttl").read_bytes(), headers={**TURTLE, **cora}
        )
        assert sharpen.status_code == 201, sharpen.text
        sharpened = client.get(f"/batches/{sharpen.json()['id']}/summary", headers=cora).json()
        about = client.get("/batches", params={"about": "pgid:party/russian-federation"}, headers=cora).json()
    assert summary["counts"] | {"kinds": None} == {"triples": 0, "adds": 0, "retracts": 1, "merges": 1, "kinds": None}
    by_action = {s["action"]: s for s in summary["sentences"]}
    merge = by_action["merges"]
    assert merge["text"].startswith(
        "merges Russian Federation (pgid:party/russian-federation) into Russia (pgid:party/russia)"
    )
    assert "Illustrative: the same state, described twice." in merge["text"]
    assert [(link["relation"], link["label"], link["published"]) for link in merge["links"]] == [
        ("mergedFrom", "Russian Federation", True),
        ("mergedInto", "Russia", True),
    ]
    retraction = by_action["retracts"]
    assert retraction["text"].startswith(
        "retracts from the State Russian Federation: preferred label Russian Federation"
    )
    assert retraction["subject"] == "https://w3id.org/posgraph/id/party/russian-federation"
    # A retraction and the statement that replaces it: the date sharpened, in words.
    texts = [s["text"] for s in sharpened["sentences"]]
    assert texts[0].startswith(
        "adds to the Offer “Zelensky first offers to meet Putin in person.”: stated on 2025-05-11"
    )
    assert texts[1].startswith(
        "retracts from the Offer “Zelensky first offers to meet Putin in person.”: stated on 2025-05"
    )
    # The duplicate's history: the batch that described it and the one that merges it away.
    assert [b["id"] for b in about["batches"]] == [merging.json()["id"], setup.json()["id"]]


def test_an_entitys_history_follows_its_batch_through_submit_accept_and_revert(workbench):
    cora, rita = _auth(workbench.tokens["cora"]), _auth(workbench.tokens["rita"])
    entity = "https://w3id.org/posgraph/id/position/test-wb-history"
    body = _demand("Illustrative: a position with a history.").replace(
        b"position:test-wb-army-cap-restated", b"position:test-wb-history"
    )

    def history(client, iri):
        answer = client.get("/batches", params={"about": iri}, headers=cora)
        assert answer.status_code == 200, answer.text
        return {b["id"]: [h["action"] for h in b["history"]] for b in answer.json()["batches"]}

    with workbench.client() as client:
        batch_id = client.post("/batches", content=body, headers={**TURTLE, **cora}).json()["id"]
        assert history(client, entity) == {batch_id: ["submitted"]}
        assert batch_id not in history(client, ARMY_CAP)  # named as an object, not described
        assert client.post(f"/batches/{batch_id}/accept", headers=rita).status_code == 200
        assert history(client, entity) == {batch_id: ["submitted", "accepted"]}
        assert client.post(f"/batches/{batch_id}/revert", json={"note": "gone"}, headers=rita).status_code == 200
        assert history(client, entity) == {batch_id: ["submitted", "accepted", "reverted"]}
        # What the seed describes has the seed's loading in its history; prefixed names are understood.
        assert history(client, "pgid:party/russia")["seed"] == ["loaded"]
        assert history(client, "https://example.org/nothing") == {}
        bad = client.get("/batches", params={"about": "not an iri"}, headers=cora)
        assert bad.status_code == 400 and bad.json()["parameter"] == "about"
        assert client.get("/batches", params={"about": entity}).status_code == 401


def test_the_summary_of_an_unknown_batch_is_404(workbench):
    with workbench.client() as client:
        assert client.get("/batches/nope/summary", headers=_auth(workbench.tokens["cora"])).status_code == 404
        assert client.get("/batches/..%2F..%2Fx/summary", headers=_auth(workbench.tokens["cora"])).status_code == 404


_PGNS, _ID = "https://w3id.org/posgraph/ns#", "https://w3id.org/posgraph/id/"
_FOCUS = f"<{_ID}position/test-wb-focus>"
_RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_TERM_NT = "".join(
    f"{s} {p} {o} .\n"
    for s, p, o in (
        (_FOCUS, _RDF_TYPE, f"<{_PGNS}Demand>"),
        (_FOCUS, f"<{_PGNS}heldBy>", f"<{_ID}party/russia>"),
        (_FOCUS, f"<{_PGNS}concerns>", "<https://w3id.org/posgraph/issue/armed-forces-size>"),
        (_FOCUS, f"<{_PGNS}statedOn>", '"2025-07"^^<http://www.w3.org/2001/XMLSchema#gYearMonth>'),
        (_FOCUS, f"<{_PGNS}source>", f"<{_ID}source/st-2025-07-istanbul-offer>"),
        (_FOCUS, f"<{_PGNS}hasTerm>", "_:wb-term1"),
        ("_:wb-term1", _RDF_TYPE, f"<{_PGNS}ArmedForcesTerm>"),
        ("_:wb-term1", f"<{_PGNS}obligatedParty>", f"<{_ID}party/ukraine>"),
        ("_:wb-term1", f"<{_PGNS}action>", f"<{_PGNS}cap>"),
        ("_:wb-term1", f"<{_PGNS}quantityKind>", f"<{_PGNS}personnel>"),
    )
).encode()
_TERM_JSONLD = {
    "@context": "https://w3id.org/posgraph/ns/context.jsonld",
    "@id": "https://w3id.org/posgraph/id/position/test-wb-focus",
    "@type": "Demand",
    "heldBy": "https://w3id.org/posgraph/id/party/russia",
    "concerns": "https://w3id.org/posgraph/issue/armed-forces-size",
    "statedOn": {"@value": "2025-07", "@type": "http://www.w3.org/2001/XMLSchema#gYearMonth"},
    "source": "https://w3id.org/posgraph/id/source/st-2025-07-istanbul-offer",
    "hasTerm": {
        "@id": "_:wb-term1",
        "@type": "ArmedForcesTerm",
        "obligatedParty": "https://w3id.org/posgraph/id/party/ukraine",
        "action": "https://w3id.org/posgraph/ns#cap",
    },
}


@pytest.mark.parametrize("syntax", ["n-triples", "json-ld"])
def test_focus_id_maps_a_blank_node_terms_result_back_to_the_label_sent(workbench, syntax):
    if syntax == "n-triples":
        body, media_type = _TERM_NT, "application/n-triples"
    else:
        body, media_type = json.dumps(_TERM_JSONLD).encode(), "application/ld+json"
    with workbench.client() as client:
        answer = client.post("/validate", content=body, headers={"Content-Type": media_type})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    on_term = [r for r in results if r["focus_id"] == "_:wb-term1"]
    assert on_term, results
    assert all(r["focus_node"] == "[pg:hasTerm of pgid:position/test-wb-focus]" for r in on_term)
    assert "pgsh:ArmedForcesTerm-quantity" in {r["shape"] for r in on_term}
    # Every result carries it; an IRI's is the full IRI.
    assert all(r["focus_id"] in ("_:wb-term1", "https://w3id.org/posgraph/id/position/test-wb-focus") for r in results)


def test_a_refused_batch_names_its_blank_nodes_by_the_labels_sent(workbench):
    body = _TERM_NT.replace(
        b'"2025-07"^^<http://www.w3.org/2001/XMLSchema#gYearMonth>',
        b'"2025-13"^^<http://www.w3.org/2001/XMLSchema#gYearMonth>',
    ).replace(b"<https://w3id.org/posgraph/id/party/ukraine>", b'"Ukraine"')
    with workbench.client() as client:
        refused = client.post(
            "/batches",
            content=body,
            headers={"Content-Type": "application/n-triples", **_auth(workbench.tokens["cora"])},
        )
    assert refused.status_code == 422, refused.text
    focus = {(r["focus_id"], r["severity"]) for r in refused.json()["report"]["results"]}
    assert ("_:wb-term1", "Violation") in focus
    assert ("https://w3id.org/posgraph/id/position/test-wb-focus", "Violation") in focus


def test_a_batch_list_gives_each_report_as_its_counts(workbench):
    """A review queue shows counts, not reports: the list carries report_counts equal to the record's report."""
    body = _demand("A demand with a warning left in (report counts).").replace(
        b"pg:addressedTo party:ukraine ;", b""
    )  # no addressee: a Warning, not a Violation
    with workbench.client() as client:
        made = client.post(
            "/batches",
            params={"label": "counts"},
            content=body,
            headers={"Content-Type": "text/turtle"} | _auth(workbench.tokens["cora"]),
        )
        assert made.status_code == 201, made.text
        listed = client.get("/batches", params={"state": "submitted"}, headers=_auth(workbench.tokens["cora"]))
        record = client.get(f"/batches/{made.json()['id']}", headers=_auth(workbench.tokens["cora"])).json()
        client.post(
            f"/batches/{made.json()['id']}/reject", json={"note": "test done"}, headers=_auth(workbench.tokens["rita"])
        )
    (item,) = [b for b in listed.json()["batches"] if b["id"] == made.json()["id"]]
    warnings = [r for r in record["report"]["results"] if r["severity"] == "Warning"]
    assert "report" not in item and warnings
    assert item["report_counts"] == {"violations": 0, "warnings": len(warnings)}
