"""Crash safety through a real server: SIGKILL the engine, or separately the web service, in the middle of a
batch accept, a SPARQL update and a bulk load; after the restart the published data is exactly the before or the
after state, never in between, and the engine opens cleanly."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import create_token, start_server

pytestmark = pytest.mark.e2e

N = 40_000
MARK = "http://example.org/crash#"


def _count(client, query: str) -> int:
    return int(client.get("/sparql", params={"query": query}).json()["results"]["bindings"][0]["n"]["value"])


def _big_ntriples(path: Path, predicate: str) -> Path:
    with open(path, "w") as out:
        for i in range(N):
            out.write(f'<{MARK}s{i}> <{MARK}{predicate}> "value {i} with some padding text" .\n')
    return path


def _healthy(srv, within: float = 40) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(srv.url + "/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the service did not come back healthy")


@pytest.mark.parametrize("victim", ["engine", "service"])
@pytest.mark.parametrize("operation", ["accept", "update", "load"])
def test_a_crash_mid_write_leaves_before_or_after(tmp_path, operation, victim):
    srv = start_server(tmp_path / "store", tmp_path / "serve.log")
    port = int(srv.url.rsplit(":", 1)[1])
    env = {"POSGRAPH_TOKENS_FILE": str(tmp_path / "tokens.json"), "POSGRAPH_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    curator = create_token(tmp_path, "curator", "c")
    reviewer = create_token(tmp_path, "reviewer", "r")
    auth = {"Authorization": f"Bearer {curator}"}
    try:
        with srv.client() as client:
            if operation == "accept":
                labels = " , ".join(f'"alias {i}"@en' for i in range(N // 10))
                body = (
                    f"<{MARK}bloc> a <https://w3id.org/posgraph/ns#Party> ; "
                    f'<http://www.w3.org/2004/02/skos/core#prefLabel> "Bloc"@en ; '
                    f"<http://www.w3.org/2004/02/skos/core#altLabel> {labels} ."
                )
                batch = client.post("/batches", content=body.encode(), headers={"Content-Type": "text/turtle", **auth})
                assert batch.status_code == 201, batch.text
                expected = N // 10
                alt = "http://www.w3.org/2004/02/skos/core#altLabel"
                probe = f"SELECT (COUNT(*) AS ?n) WHERE {{ <{MARK}bloc> <{alt}> ?l }}"

                def act():
                    httpx.post(
                        f"{srv.url}/batches/{batch.json()['id']}/accept",
                        headers={"Authorization": f"Bearer {reviewer}"},
                        timeout=120,
                        trust_env=False,
                    )
            elif operation == "update":
                source = _big_ntriples(tmp_path / "source.nt", "p").read_bytes()
                put = client.put(
                    "/store",
                    params={"graph": f"{MARK}source"},
                    content=source,
                    headers={"Content-Type": "application/n-triples", **auth},
                )
                assert put.status_code in (201, 204), put.text
                expected = N
                probe = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{MARK}copy> ?o }}"

                def act():
                    httpx.post(
                        f"{srv.url}/sparql/update",
                        headers=auth,
                        timeout=120,
                        trust_env=False,
                        data={
                            "update": f"INSERT {{ ?s <{MARK}copy> ?o }} "
                            f"WHERE {{ GRAPH <{MARK}source> {{ ?s <{MARK}p> ?o }} }}"
                        },
                    )
            else:
                big = _big_ntriples(tmp_path / "big.nt", "loaded")
                expected = N
                probe = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{MARK}loaded> ?o }}"

                def act():
                    subprocess.run(
                        [str(Path(sys.executable).with_name("posgraph")), "load", str(big), "--no-validate"],
                        env={**os.environ, "POSGRAPH_DATA_DIR": str(tmp_path / "store"), **env},
                        capture_output=True,
                        timeout=120,
                    )

        def quietly():
            try:
                act()
            except Exception:  # the process serving it was killed: that is the point
                pass

        worker = threading.Thread(target=quietly)
        worker.start()
        time.sleep({"accept": 0.5, "update": 0.15, "load": 1.2}[operation])
        if victim == "engine":
            pid = json.loads((tmp_path / "store" / "posgraph-engine.json").read_text())["pid"]
            os.kill(pid, signal.SIGKILL)
        else:
            srv.process.kill()
            srv.process.wait()
        worker.join(120)
        if victim == "service":
            time.sleep(0.5)  # its engines follow it
            srv = start_server(tmp_path / "store", tmp_path / "serve-again.log", port=port)
        _healthy(srv)
        with srv.client() as client:
            found = _count(client, probe)
            assert found in (0, expected), f"{operation}/{victim}: {found} of {expected}"
            if operation == "accept":
                state = client.get(f"/batches/{batch.json()['id']}", headers=auth).json()["state"]
                assert state == ("accepted" if found else "submitted")
            if operation == "load" and found:
                batches = _count(client, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s <" + MARK + "loaded> ?o } }")
                assert batches == expected  # the batch graph and the default graph agree
    finally:
        srv.stop()
