"""Schemathesis against the OpenAPI document of a real server: generated requests for every operation never get
a 5xx, responses come with the status codes, media types and schemas the document declares, and every query slot
they took is given back."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_no_generated_request_gets_a_server_error(server):
    before = server.metric("posgraph_queries_in_flight")  # another test's query the engine is still answering, if any
    schemathesis = str(Path(sys.executable).with_name("schemathesis"))
    result = subprocess.run(
        [
            schemathesis,
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "not_a_server_error,content_type_conformance",
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--seed",
            "20251128",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, summary
    assert " passed" in summary and "failure" not in summary.lower().split("summary")[-1]
    # Every query slot the generated requests took is given back (a refused request once kept one for good).
    deadline = time.monotonic() + 10
    while (flying := server.metric("posgraph_queries_in_flight")) > before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert flying <= before
