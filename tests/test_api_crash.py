"""Crash safety through a real server: SIGKILL the engine, or separately the web service, while the engine is
committing a batch accept, a SPARQL update or a `posgraph load`; after the restart the published data is exactly the
before or the after state, never in between, and the engine opens cleanly.

Where the kill lands is shown, not assumed from a timer. From the moment the write is sent, the engine's own count of
bytes written (``wchar`` in /proc/<pid>/io) is polled. The kill is sent only once it has grown by ``STARTED`` (this
write's transaction going into the store's write-ahead log: nothing else the engine does writes that much; the
service is killed only once that log has then been still for ``SETTLED``) and only while the client still waits for
its answer; the client must then see a failure (connection error, 5xx, non-zero exit), never a success. An attempt
whose write was answered first proves nothing: it is repeated with a write twice the size, and if none lands inside,
the test fails. (The engine's ``rchar`` cannot show the request body arriving: it reads its socket with recv(2),
which /proc/<pid>/io does not count.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx
import pytest
from conftest import Server, create_token, start_server

pytestmark = pytest.mark.e2e

N = 20_000  # triples copied by the update and loaded by `posgraph load` (first attempt)
ALIASES = 10_000  # labels in the accepted batch (first attempt): each becomes two quads, batch graph and default
MARK = "http://example.org/crash#"
# The write-ahead log is appended 1 MiB per write(2): a quarter of that is this transaction, never a log line.
STARTED = 256 * 1024
# The engine is killed as soon as the transaction starts going into its log (a torn log must read as before); the
# service once the log has been still this long: the engine holds the whole transaction but has not answered, so a
# write split into two engine transactions would be caught half done.
SETTLED = 0.02
ATTEMPTS = 3  # each one twice the size of the one before


def _count(client, query: str) -> int:
    return int(client.get("/sparql", params={"query": query}).json()["results"]["bindings"][0]["n"]["value"])


def _big_ntriples(path: Path, predicate: str, n: int) -> Path:
    with open(path, "w") as out:
        for i in range(n):
            out.write(f'<{MARK}s{i}> <{MARK}{predicate}> "value {i} with some padding text" .\n')
    return path


def _healthy(srv: Server, within: float = 40) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(srv.url + "/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the service did not come back healthy")


def _engine_pid(data_dir: Path) -> int:
    return json.loads((data_dir / "posgraph-engine.json").read_text())["pid"]


def _written(pid: int) -> int:
    """Return the bytes process ``pid`` has passed to write(2) and its kin so far (``wchar`` of /proc/<pid>/io)."""
    with open(f"/proc/{pid}/io") as counters:
        for line in counters:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/io has no wchar")


def _quiet(pid: int, within: float = 10) -> int:
    """Wait until the engine has written nothing for 0.2 s and return its count then: a flush of earlier writes
    going on in the background must not be taken for the write under test."""
    last, since = _written(pid), time.monotonic()
    deadline = since + within
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = _written(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 0.2:
            return last
    raise AssertionError(f"the engine kept writing for {within:g} s before the write was sent")


def _gone(pid: int, within: float = 15) -> None:
    """Wait until process ``pid`` has exited (a zombie counts: it holds no store lock any more)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} outlived the service for {within:g} s")


@dataclass
class _Write:
    send: Callable[[], object]  # returns an httpx.Response or a CompletedProcess; raises when the line is cut
    probe: str  # counts what the write adds
    expected: int  # ... once it is done
    in_batch_graph: str | None = None  # counts the same in the batch's graph
    batch: str | None = None
    auth: dict[str, str] | None = None  # a token that may read the batch


class _InFlight(threading.Thread):
    """Sends one write and keeps what came back: a response, a finished process, or the error that cut it short."""

    def __init__(self, send: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.send, self.outcome, self.answered = send, None, threading.Event()

    def run(self) -> None:
        try:
            self.outcome = self.send()
        except (httpx.HTTPError, subprocess.SubprocessError) as exc:  # the process serving it was killed
            self.outcome = exc
        finally:
            self.answered.set()

    def succeeded(self) -> bool:
        """True when the client was told the write was done; fails the test when the write was refused outright."""
        outcome = self.outcome
        if isinstance(outcome, httpx.Response):
            assert outcome.status_code < 400 or outcome.status_code >= 500, f"refused: {outcome.text}"
            return outcome.status_code < 400
        if isinstance(outcome, subprocess.CompletedProcess):
            return outcome.returncode == 0
        return False

    def describe(self) -> str:
        outcome = self.outcome
        if isinstance(outcome, httpx.Response):
            return f"HTTP {outcome.status_code} {outcome.text[:300]}"
        if isinstance(outcome, subprocess.CompletedProcess):
            return f"exit {outcome.returncode}: {outcome.stderr[-300:]!r}"
        return repr(outcome)


def _prepare(srv: Server, base: Path, operation: str, scale: int) -> _Write:
    """Set up the data one write needs, through the service, and return that write (not yet sent)."""
    if operation == "accept":
        curator, reviewer = create_token(base, "curator", "c"), create_token(base, "reviewer", "r")
        count = ALIASES * scale
        labels = " , ".join(f'"alias {i}"@en' for i in range(count))
        body = (
            f"<{MARK}bloc> a <https://w3id.org/posgraph/ns#Party> ; "
            f'<http://www.w3.org/2004/02/skos/core#prefLabel> "Bloc"@en ; '
            f"<http://www.w3.org/2004/02/skos/core#altLabel> {labels} ."
        )
        with srv.client() as client:
            batch = client.post(
                "/batches",
                content=body.encode(),
                headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {curator}"},
            )
        assert batch.status_code == 201, batch.text
        batch_id = batch.json()["id"]
        alt = "http://www.w3.org/2004/02/skos/core#altLabel"
        return _Write(
            lambda: httpx.post(
                f"{srv.url}/batches/{batch_id}/accept",
                headers={"Authorization": f"Bearer {reviewer}"},
                timeout=120,
                trust_env=False,
            ),
            f"SELECT (COUNT(*) AS ?n) WHERE {{ <{MARK}bloc> <{alt}> ?l }}",
            count,
            f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ <{MARK}bloc> <{alt}> ?l }} }}",
            batch_id,
            {"Authorization": f"Bearer {curator}"},
        )
    if operation == "update":
        admin = {"Authorization": f"Bearer {create_token(base, 'admin', 'a')}"}  # direct writes are admin-only
        count = N * scale
        with srv.client() as client:
            put = client.put(
                "/store",
                params={"graph": f"{MARK}source"},
                content=_big_ntriples(base / "source.nt", "p", count).read_bytes(),
                headers={"Content-Type": "application/n-triples", **admin},
            )
        assert put.status_code in (201, 204), put.text
        update = f"INSERT {{ ?s <{MARK}copy> ?o }} WHERE {{ GRAPH <{MARK}source> {{ ?s <{MARK}p> ?o }} }}"
        return _Write(
            lambda: httpx.post(
                f"{srv.url}/sparql/update", headers=admin, timeout=120, trust_env=False, data={"update": update}
            ),
            f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{MARK}copy> ?o }}",
            count,
        )
    count = N * scale
    big = _big_ntriples(base / "big.nt", "loaded", count)
    env = {
        **os.environ,
        "POSGRAPH_STORE_DIR": str(base / "store"),  # the CLI finds the running server's engine there
        "POSGRAPH_TOKENS_FILE": str(base / "tokens.json"),
        "POSGRAPH_AUDIT_LOG": str(base / "audit.jsonl"),
    }
    return _Write(
        lambda: subprocess.run(
            [str(Path(sys.executable).with_name("posgraph")), "load", str(big), "--no-validate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        ),
        f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{MARK}loaded> ?o }}",
        count,
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s <{MARK}loaded> ?o }} }}",
    )


def _crash(base: Path, operation: str, victim: str, scale: int) -> bool:
    """Run one write, kill ``victim`` while the engine commits it, restart, and assert the data is before or after.

    Returns False, asserting nothing about crash safety, when the write was answered before a kill could land inside.
    """
    base.mkdir()
    srv = start_server(base / "store", base / "serve.log")
    port = int(srv.url.rsplit(":", 1)[1])
    try:
        write = _prepare(srv, base, operation, scale)
        engine = _engine_pid(base / "store")
        staging = _engine_pid(base / "staging")
        before = _quiet(engine)
        flight = _InFlight(write.send)
        flight.start()
        grown, changed = 0, time.monotonic()
        while not flight.answered.is_set():
            now = _written(engine) - before
            if now != grown:
                grown, changed = now, time.monotonic()
            if grown >= STARTED and (victim == "engine" or time.monotonic() - changed >= SETTLED):
                break
            time.sleep(0.001)
        else:  # answered before the engine was seen writing: the write must have been a success, and was too small
            assert flight.succeeded(), f"{operation}: the write failed on its own: {flight.describe()}"
            return False
        if victim == "engine":
            os.kill(engine, signal.SIGKILL)
        else:
            srv.process.kill()
            srv.process.wait()
        flight.join(120)
        assert not flight.is_alive(), f"{operation}/{victim}: the client got no answer within 120 s of the kill"
        if flight.succeeded():  # the answer beat the kill: the commit had ended already
            return False
        # Proven: the engine had written `grown` bytes of this write before the kill, and the client was never told
        # the write was done.
        if victim == "service":
            _gone(engine)  # the engines die with the service (and hold the stores' locks until they have)
            _gone(staging)
            srv = start_server(base / "store", base / "serve-again.log", port=port)
        _healthy(srv)
        with srv.client() as client:
            found = _count(client, write.probe)
            assert found in (0, write.expected), (
                f"{operation}/{victim}: {found} of {write.expected} after a kill {grown} bytes into the commit "
                f"({flight.describe()})"
            )
            if write.in_batch_graph:  # the batch graph and the default graph agree
                assert _count(client, write.in_batch_graph) == found, f"{operation}/{victim}: {found} published"
            if operation == "accept":
                batch = client.get(f"/batches/{write.batch}", headers=write.auth).json()
                assert batch["state"] == ("accepted" if found else "submitted")
                assert batch.get("reviewer") == ("r" if found else None)  # the decision is never lost
        return True
    finally:
        srv.stop()


@pytest.mark.parametrize("victim", ["engine", "service"])
@pytest.mark.parametrize("operation", ["accept", "update", "load"])
def test_a_crash_mid_commit_leaves_before_or_after(tmp_path, operation, victim):
    for attempt in range(ATTEMPTS):
        if _crash(tmp_path / f"attempt-{attempt}", operation, victim, scale=2**attempt):
            return
    pytest.fail(
        f"{operation}/{victim}: in {ATTEMPTS} attempts (up to {2 ** (ATTEMPTS - 1)} times the size) the write was "
        "answered before a kill could land inside its commit"
    )
