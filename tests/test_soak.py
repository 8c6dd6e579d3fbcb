"""The short form of the soak run (bench/soak.py): 16 concurrent clients for a few seconds against a real server,
mixing reads and curation batches: no unexpected error, and memory does not climb."""

import asyncio

import pytest
from conftest import create_token, start_server

from bench import soak

pytestmark = pytest.mark.e2e


@pytest.mark.serial
def test_a_short_soak_has_no_unexpected_errors_and_flat_memory(tmp_path):
    # Sixteen clients from one address: let them all run at once (the per-client cap has its own test).
    srv = start_server(
        tmp_path / "store",
        tmp_path / "serve.log",
        env={
            "POSGRAPH_MAX_CONCURRENT_PER_CLIENT": "32",
            # All sixteen soak clients share one address: the per-client meter would throttle them as one.
            "POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000",
        },
    )
    curator = create_token(tmp_path, "curator", "c")
    reviewer = create_token(tmp_path, "reviewer", "r")
    try:
        seen = asyncio.run(
            soak.run(
                srv.url, seconds=15, concurrency=16, curator=curator, reviewer=reviewer, server_pid=srv.process.pid
            )
        )
    finally:
        srv.stop()
    summary = seen.summary()
    assert summary["requests"] > 200, summary
    assert summary["unexpected_errors"] == 0, seen.unexpected[:5]
    assert set(summary["statuses"]) <= {200, 201, 503, 504}, summary
    assert summary["statuses"].get(201, 0) >= 1  # batches went through review during the run
    assert summary["memory_growth"] is not None and summary["memory_growth"] < 1.5, summary
