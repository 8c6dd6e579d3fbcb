"""Scale-out: engines started separately, two stateless web workers pointed at them with POSGRAPH_ENGINE_URL;
reads and a curation batch work through both workers."""

import pytest
from conftest import EXAMPLES, create_token, start_server

from posgraph.supervisor import ManagedEngine

pytestmark = pytest.mark.e2e


def test_two_workers_against_separately_started_engines(tmp_path):
    public, staging = ManagedEngine(tmp_path / "public"), ManagedEngine(tmp_path / "staging")
    public.start()
    staging.start()
    srv = None
    try:
        srv = start_server(
            tmp_path / "unused",
            tmp_path / "serve.log",
            workers=2,
            env={"POSGRAPH_ENGINE_URL": public.url, "POSGRAPH_STAGING_ENGINE_URL": staging.url},
        )
        curator = create_token(tmp_path, "curator", "c")
        reviewer = create_token(tmp_path, "reviewer", "r")
        workers = set()
        position = "https://w3id.org/posgraph/id/position/test-ru-army-cap-figure"
        batch_id = None
        for attempt in range(60):
            with srv.client() as client:  # a new connection each time, so the kernel spreads them over workers
                answer = client.get("/queries/demands-by-issue", params={"party": "pgid:party/russia"})
                assert answer.status_code == 200
                assert len(answer.json()["results"]["bindings"]) == (5 if attempt > 20 else 4)  # + the accepted one
                workers.add(answer.headers["x-posgraph-worker"])
                if attempt == 10:  # submitted through one worker …
                    submitted = client.post(
                        "/batches",
                        content=(EXAMPLES / "batches" / "army-cap-figure.ttl").read_bytes(),
                        headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {curator}"},
                    )
                    assert submitted.status_code == 201, submitted.text
                    batch_id = submitted.json()["id"]
                if attempt == 20:  # … accepted through whichever answers now
                    accepted = client.post(
                        f"/batches/{batch_id}/accept", headers={"Authorization": f"Bearer {reviewer}"}
                    )
                    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
                if attempt > 20:
                    seen = client.get("/sparql", params={"query": f"ASK {{ <{position}> ?p ?o }}"}).json()
                    assert seen["boolean"] is True
        assert len(workers) == 2, workers
    finally:
        if srv is not None:
            srv.stop()
        public.stop()
        staging.stop()
