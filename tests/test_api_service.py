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
