"""/health and the index, on real servers."""

import time

import httpx
import pytest
from conftest import start_server

from posgraph.supervisor import ManagedEngine, free_port

pytestmark = pytest.mark.e2e


def test_health_is_200_when_the_engine_answers(server):
    with server.client() as client:
        response = client.get("/health")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok" and body["engine"] == "up"
    assert body["managed"]["public"] == {"restarts": 0, "causes": []} and "staging" in body["managed"]


def test_health_is_503_until_an_external_engine_answers(tmp_path):
    engine_port = free_port()
    srv = start_server(
        tmp_path / "unused",
        tmp_path / "serve.log",
        env={"POSGRAPH_ENGINE_URL": f"http://127.0.0.1:{engine_port}"},
        wait_healthy=False,
    )
    try:
        with srv.client() as client:
            down = client.get("/health")
            assert down.status_code == 503
            assert down.headers["content-type"] == "application/problem+json"
            assert down.headers["retry-after"] == "5"
            assert down.json()["engine"] == "down"
            query = client.get("/sparql", params={"query": "ASK {}"})
            assert query.status_code == 503 and query.json()["type"].endswith("/engine-unavailable")
            with ManagedEngine(tmp_path / "store", port=engine_port):
                deadline = time.monotonic() + 10
                while client.get("/health").status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert client.get("/health").status_code == 200
        assert "not ready" in (tmp_path / "serve.log").read_text()
    finally:
        srv.stop()


def test_a_killed_server_takes_its_engine_with_it(tmp_path):
    srv = start_server(tmp_path / "store", tmp_path / "serve.log")
    url = __import__("json").loads((tmp_path / "store" / "posgraph-engine.json").read_text())["url"]
    srv.process.kill()
    srv.process.wait()
    deadline = time.monotonic() + 10
    alive = True
    while alive and time.monotonic() < deadline:
        try:
            httpx.post(url + "/query", data={"query": "ASK {}"}, timeout=0.5)
            time.sleep(0.1)
        except httpx.HTTPError:
            alive = False
    assert not alive, "the engine outlived a SIGKILLed posgraph serve"


# ---------------------------------------------------------------------------------------------- a responsive loop
def _positions(count: int) -> bytes:
    """Many positions with their usual properties but no holder or source: every one trips several shapes."""
    lines = []
    for i in range(count):
        s = f"<https://w3id.org/posgraph/id/position/load-{i}>"
        lines.append(f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/posgraph/ns#Demand> .")
        lines.append(f'{s} <https://w3id.org/posgraph/ns#summary> "A demand, number {i}, for the load test"@en .')
        day = f'"2025-07-{1 + i % 28:02d}"^^<http://www.w3.org/2001/XMLSchema#date>'
        lines.append(f"{s} <https://w3id.org/posgraph/ns#statedOn> {day} .")
    return ("\n".join(lines) + "\n").encode()


_HEAVY = {
    "validate a large body": ("POST", "/validate", {"Content-Type": "application/n-triples"}, _positions(2500)),
    "submit a large batch": ("POST", "/batches", {"Content-Type": "application/n-triples"}, _positions(4000)),
    "check a costly query": (
        "POST",
        "/sparql",
        {"Content-Type": "application/sparql-query"},
        ("SELECT * WHERE { VALUES ?v { " + " ".join(f'"{i}"' for i in range(12_000)) + " } }").encode(),
    ),
    "a CSV SELECT at the byte cap": (
        "GET",
        "/sparql?query=SELECT%20*%20WHERE%20%7B%3Fa%20%3Fb%20%3Fc%20.%20%3Fd%20%3Fe%20%3Ff%7D",
        {"Accept": "text/csv"},
        None,
    ),
    "a CONSTRUCT as JSON-LD": (
        "GET",
        "/sparql?query=CONSTRUCT%20%7B%3Fc%20%3Curn%3Ap%3E%20%3Ff%7D%20WHERE%20%7B%3Fa%20%3Fb%20%3Fc%20.%20%3Fd%20"
        "%3Fe%20%3Ff%7D%20LIMIT%20120000",
        {"Accept": "application/ld+json"},
        None,
    ),
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from conftest import create_token

    base = tmp_path_factory.mktemp("loaded")
    # Row cap out of the way: the CSV answer runs to the default byte cap (16 MB), the JSON-LD one to 120,000 triples.
    env = {"POSGRAPH_MAX_ROWS": "1000000"}
    srv = start_server(base / "store", base / "serve.log", env=env)
    srv.curator = create_token(base, "curator", "loader")
    yield srv
    srv.stop()


@pytest.mark.serial
@pytest.mark.parametrize("work", list(_HEAVY))
def test_health_answers_within_200_ms_while_heavy_work_runs(loaded, work):
    import threading

    method, path, headers, body = _HEAVY[work]
    if path == "/batches":
        headers = {**headers, "Authorization": f"Bearer {loaded.curator}"}
    done, outcome = threading.Event(), {}

    def heavy():
        with httpx.Client(base_url=loaded.url, timeout=120, trust_env=False) as client:
            started = time.monotonic()
            outcome["response"] = client.request(method, path, headers=headers, content=body)
            outcome["seconds"] = time.monotonic() - started
        done.set()

    latencies = []
    with httpx.Client(
        base_url=loaded.url, timeout=10, trust_env=False, transport=httpx.HTTPTransport(local_address="127.0.0.9")
    ) as probe:
        probe.get("/health")  # connection made before the clock starts
        worker = threading.Thread(target=heavy)
        worker.start()
        while not done.wait(0.05):
            started = time.monotonic()
            assert probe.get("/health").status_code == 200
            latencies.append(time.monotonic() - started)
        worker.join()
    response = outcome["response"]
    assert response.status_code in (200, 201, 422), response.text[:300]
    # The work really ran alongside the probes (else the test proves nothing).
    assert outcome["seconds"] > 0.2 and len(latencies) >= 3, (outcome["seconds"], len(latencies), response.text[:300])
    assert max(latencies) < 0.2, f"{work}: /health took {max(latencies) * 1000:.0f} ms (median of {len(latencies)}: "
    f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms)"


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MB tmpfs of this test's own (mounting needs root, which the CI machine has)."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk) -> None:
    with open(disk / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * (1 << 20))
                filler.flush()
        except OSError:
            pass  # full


def test_a_full_disk_degrades_writes_and_they_work_again_when_space_returns(tmp_path, small_disk):
    # Seen before: after the disk filled and space was freed, every write kept failing while /health said ok.
    from conftest import create_token

    srv = start_server(small_disk / "store", tmp_path / "serve.log", env={"POSGRAPH_STAGING_DIR": str(tmp_path / "st")})
    admin = {"Authorization": f"Bearer {create_token(small_disk, 'admin', 'disk')}", "Content-Type": "text/turtle"}
    body = "".join(f'<urn:s{i}> <urn:p> "{"x" * 60} {i}" .\n' for i in range(20_000)).encode()
    try:
        with srv.client() as client:
            _fill(small_disk)
            failed = client.put("/store", params={"graph": "urn:g1"}, content=body, headers=admin)
            assert failed.status_code == 502 and "/disk" not in failed.text, failed.text
            deadline = time.monotonic() + 10
            while client.get("/health").json().get("status") != "degraded" and time.monotonic() < deadline:
                time.sleep(0.2)
            health = client.get("/health").json()
            assert health["status"] == "degraded", health
            assert "No space left" in health["managed"]["public"]["write_error"]
            assert client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"]  # reads work
            (small_disk / "filler").unlink()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if client.get("/health").json().get("status") == "ok":
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            health = client.get("/health").json()
            assert health["status"] == "ok" and health["managed"]["public"]["restarts"] == 1, health
            assert health["managed"]["public"]["causes"][-1].startswith("store write error")
            written = client.put("/store", params={"graph": "urn:g2"}, content=body, headers=admin)
            assert written.status_code == 201, written.text
            count = client.get(
                "/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { GRAPH <urn:g2> { ?s ?p ?o } }"}
            ).json()["results"]["bindings"][0]["n"]["value"]
            assert count == "20000"
    finally:
        srv.stop()
