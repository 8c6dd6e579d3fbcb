"""Schemathesis against the OpenAPI document of a real server: generated requests for every operation never get
a 5xx, and responses come with the status codes, media types and schemas the document declares."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_no_generated_request_gets_a_server_error(server):
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
