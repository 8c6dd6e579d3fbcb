"""Shared fixtures: real Oxigraph engine processes and real ``posgraph serve`` servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

import httpx
import pytest
import virtuoso_support
from prometheus_client.parser import text_string_to_metric_families

from posgraph import curation
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.supervisor import ManagedEngine, free_port
from posgraph.validation import Validator

ROOT = PROJECT_FILES.root

# Nothing a test starts may write into the checkout: default every state path to a scratch directory.
_SCRATCH = Path(tempfile.mkdtemp(prefix="posgraph-tests-"))
for _name, _path in (
    ("POSGRAPH_DATA_DIR", "store"),
    ("POSGRAPH_STAGING_DIR", "staging"),
    ("POSGRAPH_TOKENS_FILE", "tokens.json"),
    ("POSGRAPH_AUDIT_LOG", "audit.jsonl"),
    ("POSGRAPH_DUMPS_DIR", "dumps"),
):
    os.environ.setdefault(_name, str(_SCRATCH / _path))
EXAMPLES = ROOT / "tests" / "examples"
POSGRAPH = str(Path(sys.executable).with_name("posgraph"))


def pytest_collection_modifyitems(config, items):
    """Tests that drive a real browser (they use the ``browser`` fixture of tests/browser_support.py) are marked
    ``browser``: `make test` leaves them to `make test-browser`, which .ci/run runs after it. Under
    POSGRAPH_TEST_ENGINE=virtuoso (`make test-virtuoso`), tests marked ``managed_engine`` are skipped."""
    skip_managed = pytest.mark.skip(
        reason="depends on the managed Oxigraph (memory cap, bulk load, engine restarts, its messages); "
        "the suite runs on Virtuoso"
    )
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if virtuoso_support.ENGINE == "virtuoso" and item.get_closest_marker("managed_engine"):
            item.add_marker(skip_managed)


# The engine environment of each running server on Virtuoso, by its store directory (str), for posgraph_cli.
_ENGINE_ENV: dict[str, dict[str, str]] = {}


def run(coro):
    """Run a coroutine to completion (tests are plain functions; the code under test is async)."""
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator.from_files(PROJECT_FILES.shapes_files, PROJECT_FILES.ontology_files)


def _bootstrap(url: str, validator: Validator) -> None:
    async def go():
        async with Engine(url) as engine:
            await curation.ensure_bootstrapped(
                engine, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files
            )

    run(go())


@pytest.fixture(scope="session")
def seeded_engine(tmp_path_factory, validator) -> Iterator[ManagedEngine]:
    """One engine with the ontology and seed data, shared by tests that only read."""
    managed = ManagedEngine(tmp_path_factory.mktemp("seeded") / "store")
    managed.start()
    _bootstrap(managed.url, validator)
    yield managed
    managed.stop()


@pytest.fixture
def fresh_engine(tmp_path, validator) -> Iterator[ManagedEngine]:
    """An engine of this test's own, bootstrapped with ontology and seed (tests may write to it)."""
    managed = ManagedEngine(tmp_path / "store")
    managed.start()
    _bootstrap(managed.url, validator)
    yield managed
    managed.stop()


@pytest.fixture
def empty_engine(tmp_path) -> Iterator[ManagedEngine]:
    """An engine on an empty store."""
    managed = ManagedEngine(tmp_path / "empty-store")
    managed.start()
    yield managed
    managed.stop()


class Server:
    """A ``posgraph serve`` process on an ephemeral port (and, under POSGRAPH_TEST_ENGINE=virtuoso, the Virtuoso
    instances it runs on, stopped with it)."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path, engines: Sequence = ()) -> None:
        self.process, self.url, self.log = process, url, log
        self.engines = list(engines)
        self.data_dir: Path | None = None  # the store directory, while its engines run (see posgraph_cli)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, trust_env=False)

    def metric(self, name: str, **labels: str) -> float:
        """The value of the sample ``name`` with ``labels`` on the server's /metrics: 0 for labels the metric has
        not counted yet. Raises LookupError for a metric the server does not expose."""
        text = httpx.get(self.url + "/metrics", timeout=10, trust_env=False).text
        families = [f for f in text_string_to_metric_families(text) if name in (f.name, f.name + "_total")]
        if not families:
            raise LookupError(f"{self.url}/metrics has no {name}")
        return next((s.value for f in families for s in f.samples if s.name == name and s.labels == labels), 0.0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.data_dir is not None:
            _ENGINE_ENV.pop(str(self.data_dir), None)
        for engine in self.engines:
            engine.stop()


def start_server(
    data_dir: Path,
    log: Path,
    env: dict[str, str] | None = None,
    *,
    wait_healthy: bool = True,
    port: int | None = None,
    workers: int = 1,
    args: Sequence[str] = (),
    cwd: Path | None = None,
) -> Server:
    """Start ``posgraph serve`` (with ``args``, in ``cwd``) and wait until it listens (and, by default, until
    /health says 200). The store is ``data_dir``; staging, tokens, audit log and dumps go beside it."""
    engines = []
    if virtuoso_support.ENGINE == "virtuoso" and "POSGRAPH_ENGINE_URL" not in (env or {}):
        # A fresh public and staging Virtuoso for this server (stopped with it), unless the test names its engine.
        engines = [virtuoso_support.VirtuosoInstance(data_dir.parent / f"virtuoso-{n}") for n in ("public", "staging")]
        try:
            for engine in engines:
                engine.start()
        except BaseException:
            for engine in engines:
                engine.stop()
            raise
        _ENGINE_ENV[str(data_dir)] = virtuoso_support.engine_env(*engines)
    # The server's port is chosen after its engines are up: their start-up polls use ephemeral ports and could take
    # one chosen before.
    port = port or free_port()
    full_env = {
        **os.environ,
        "POSGRAPH_DATA_DIR": str(data_dir.parent),
        "POSGRAPH_STORE_DIR": str(data_dir),
        "POSGRAPH_PUBLIC_BASE": f"http://127.0.0.1:{port}",
        "POSGRAPH_STAGING_DIR": str(data_dir.parent / "staging"),
        "POSGRAPH_DUMPS_DIR": str(data_dir.parent / "dumps"),
        "POSGRAPH_TOKENS_FILE": str(data_dir.parent / "tokens.json"),
        "POSGRAPH_AUDIT_LOG": str(data_dir.parent / "audit.jsonl"),
        **(env or {}),
        **(virtuoso_support.engine_env(*engines) if engines else {}),
    }
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [POSGRAPH, "serve", "--port", str(port), "--workers", str(workers), *args],
            env=full_env,
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, engines)
    server.data_dir = data_dir if engines else None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(f"posgraph serve exited {process.returncode}: {log.read_text()}")
        try:
            status = httpx.get(server.url + "/health", timeout=1.0, trust_env=False).status_code
            if status == 200 or (not wait_healthy and status == 503):
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"posgraph serve did not come up: {log.read_text()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """One real server with a managed engine and the seed data, shared by read-only HTTP tests."""
    base = tmp_path_factory.mktemp("server")
    # Hundreds of tests share this server from one client address: its per-client query-time budget must not run
    # out mid-suite. The budget itself is tested on a server of its own (`metered` in test_api_research.py).
    srv = start_server(base / "store", base / "serve.log", env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000"})
    yield srv
    srv.stop()


def posgraph_cli(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the installed ``posgraph`` script and return the completed process (text mode). A command on the store
    directory of a server started by ``start_server`` on Virtuoso is pointed at that server's engines, as an operator
    configures the CLI as the server (unless ``env`` names an engine)."""
    full_env = {**os.environ, **(env or {})}
    if "POSGRAPH_ENGINE_URL" not in full_env:
        full_env.update(_ENGINE_ENV.get(full_env.get("POSGRAPH_STORE_DIR", ""), {}))
    return subprocess.run(
        [POSGRAPH, *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env=full_env,
    )


def create_token(state_dir: Path, role: str, name: str) -> str:
    """Create a token with the CLI for a server whose tokens live in ``state_dir`` (as start_server lays out)."""
    result = posgraph_cli(
        "token",
        "create",
        "--role",
        role,
        "--name",
        name,
        env={
            "POSGRAPH_TOKENS_FILE": str(state_dir / "tokens.json"),
            "POSGRAPH_AUDIT_LOG": str(state_dir / "audit.jsonl"),
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def wait_indexed(server: Server, version: str, timeout: float = 60) -> str:
    """Wait until the server's log says its index holds ``version``; return how it got there ("incremental" or
    "built whole")."""
    deadline = time.monotonic() + timeout
    said = f"collection index holds version {version} ("
    while time.monotonic() < deadline:
        for line in server.log.read_text().splitlines():
            if said in line:
                return line.split(said, 1)[1].split(":", 1)[0]
        time.sleep(0.1)
    raise AssertionError(f"the index never held {version}: {server.log.read_text()[-2000:]}")
