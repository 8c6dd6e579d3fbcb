"""SPARQL Update and Graph Store writes over real HTTP: tokens, roles, atomicity, refusals, audit."""

import json

import pytest

from conftest import posgraph_cli, start_server

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
        wrong = client.post("/sparql/update", data={"update": "INSERT DATA { <http://x/a> <http://x/b> 1 }"},
                            headers=_auth("pgt_00000000_nope"))
        assert wrong.status_code == 401
        assert not _ask(client, "ASK { <http://x/a> ?p ?o }")


def test_a_reader_token_cannot_update(writable):
    with writable.client() as client:
        response = client.post("/sparql/update", data={"update": "INSERT DATA { <http://x/r> <http://x/b> 1 }"},
                               headers=_auth(writable.tokens["reader"]))
        assert response.status_code == 403
        assert not _ask(client, "ASK { <http://x/r> ?p ?o }")


def test_a_curator_updates_atomically_and_is_audited(writable):
    with writable.client() as client:
        ok = client.post("/sparql/update", content=b"INSERT DATA { <http://x/c> <http://x/b> 1 }",
                         headers={**_auth(writable.tokens["curator"]), "Content-Type": "application/sparql-update"})
        assert ok.status_code == 204 and _ask(client, "ASK { <http://x/c> ?p ?o }")
        # Two operations, the second malformed: the whole request is refused and nothing is written.
        bad = client.post("/sparql/update", data={"update": "INSERT DATA { <http://x/d> <http://x/b> 1 } ; "
                                                            "INSERT DATA { <http://x/e> }"},
                          headers=_auth(writable.tokens["curator"]))
        assert bad.status_code == 400 and bad.json()["type"].endswith("/query-syntax")
        assert not _ask(client, "ASK { <http://x/d> ?p ?o }")
    records = [json.loads(line) for line in (writable.base / "audit.jsonl").read_text().splitlines()]
    updates = [r for r in records if r["action"] == "sparql-update"]
    assert updates and updates[-1]["actor"] == "curator-1" and "http://x/c" in updates[-1]["update"]


def test_load_is_refused(writable):
    with writable.client() as client:
        response = client.post("/sparql/update", data={"update": "LOAD <file:///etc/passwd>"},
                               headers=_auth(writable.tokens["admin"]))
    assert response.status_code == 400 and "LOAD" in response.json()["detail"]


def test_update_touching_a_staging_graph_is_refused(writable):
    with writable.client() as client:
        response = client.post("/sparql/update", data={
            "update": "INSERT DATA { GRAPH <https://w3id.org/posgraph/id/staging/x> { <http://a> <http://b> 1 } }"},
            headers=_auth(writable.tokens["admin"]))
    assert response.status_code == 400 and "staging" in response.json()["detail"]


def test_update_body_type_must_be_known(writable):
    with writable.client() as client:
        response = client.post("/sparql/update", content=b"{}", headers={**_auth(writable.tokens["admin"]),
                                                                       "Content-Type": "application/json"})
    assert response.status_code == 415


def test_graph_store_read_is_public(writable):
    with writable.client() as client:
        seed = client.get("/store", params={"graph": "https://w3id.org/posgraph/id/batch/seed"},
                          headers={"Accept": "application/n-triples"})
        missing = client.get("/store", params={"graph": "http://nowhere.example/g"})
        staging = client.get("/store", params={"graph": "https://w3id.org/posgraph/id/staging/x"})
        no_target = client.get("/store")
    assert seed.status_code == 200 and len(seed.text.strip().splitlines()) == 317
    assert missing.status_code == 404
    assert staging.status_code == 400
    assert no_target.status_code == 400 and no_target.json()["parameter"] == "graph"


def test_graph_store_writes_need_a_curator_and_are_atomic(writable):
    graph = "http://example.org/graphs/notes"
    turtle = b"@prefix ex: <http://example.org/> .\nex:n1 ex:says \"hello\" .\n"
    with writable.client() as client:
        assert client.put("/store", params={"graph": graph}, content=turtle,
                          headers={"Content-Type": "text/turtle"}).status_code == 401
        created = client.put("/store", params={"graph": graph}, content=turtle,
                             headers={**_auth(writable.tokens["curator"]), "Content-Type": "text/turtle"})
        assert created.status_code == 201
        added = client.post("/store", params={"graph": graph}, content=b'<http://example.org/n2> <http://example.org/says> "hi" .\n',
                            headers={**_auth(writable.tokens["curator"]), "Content-Type": "application/n-triples"})
        assert added.status_code == 204
        read = client.get("/store", params={"graph": graph}, headers={"Accept": "application/n-triples"})
        assert len(read.text.strip().splitlines()) == 2
        broken = client.post("/store", params={"graph": graph}, content=b'<http://example.org/n3> <http://example.org/says> "ok" .\n<http://a> <http://b> .\n',
                             headers={**_auth(writable.tokens["curator"]), "Content-Type": "application/n-triples"})
        assert broken.status_code == 400 and broken.json()["line"] == 2
        assert len(client.get("/store", params={"graph": graph},
                              headers={"Accept": "application/n-triples"}).text.strip().splitlines()) == 2
        xml = client.post("/store", params={"graph": graph}, content=b"<rdf:RDF/>",
                          headers={**_auth(writable.tokens["curator"]), "Content-Type": "application/rdf+xml"})
        assert xml.status_code == 415
        managed = client.put("/store", params={"graph": "https://w3id.org/posgraph/id/batch/seed"}, content=turtle,
                             headers={**_auth(writable.tokens["admin"]), "Content-Type": "text/turtle"})
        assert managed.status_code == 400 and "managed" in managed.json()["detail"]
        deleted = client.delete("/store", params={"graph": graph}, headers=_auth(writable.tokens["curator"]))
        assert deleted.status_code == 204
        assert client.get("/store", params={"graph": graph}).status_code == 404
        assert client.delete("/store", params={"graph": graph},
                             headers=_auth(writable.tokens["curator"])).status_code == 404


def test_revoked_token_stops_working(writable):
    env = {"POSGRAPH_TOKENS_FILE": str(writable.base / "tokens.json"),
           "POSGRAPH_AUDIT_LOG": str(writable.base / "audit.jsonl")}
    created = posgraph_cli("token", "create", "--role", "curator", "--name", "short-lived", env=env)
    token = created.stdout.strip()
    with writable.client() as client:
        update = {"update": "INSERT DATA { <http://x/s> <http://x/b> 1 }"}
        assert client.post("/sparql/update", data=update, headers=_auth(token)).status_code == 204
        revoked = posgraph_cli("token", "revoke", "short-lived", env=env)
        assert revoked.returncode == 0
        assert client.post("/sparql/update", data=update, headers=_auth(token)).status_code == 401
    listing = posgraph_cli("token", "list", env=env)
    assert "short-lived" in listing.stdout and "revoked" in listing.stdout and token not in listing.stdout
