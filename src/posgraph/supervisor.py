"""Starts, watches and restarts the managed Oxigraph engine (``oxigraph serve``) on a local data directory.

The engine runs as a child process bound to 127.0.0.1 on a free port. It is asked to die with its parent
(PR_SET_PDEATHSIG), so a killed posgraph never leaves an engine holding the store's lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import httpx

from posgraph.errors import BadInput, EngineStartError

__all__ = ["ManagedEngine", "bulk_load", "find_engine_binary", "free_port", "LOG_FILE", "RUNTIME_FILE"]

log = logging.getLogger("posgraph.supervisor")

# Written into the data directory while a managed engine runs, so other posgraph commands can find it.
RUNTIME_FILE = "posgraph-engine.json"
LOG_FILE = "posgraph-engine.log"


def find_engine_binary(configured: str | None = None) -> str:
    """Return the path of the ``oxigraph`` binary: the configured one, the one beside this Python, or on PATH.

    Raises EngineStartError when none exists.
    """
    candidates = [configured] if configured else [str(Path(sys.executable).with_name("oxigraph")), "oxigraph"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise EngineStartError(
        f"engine binary {candidates[0]!r} not found: install the 'oxigraph' package (pip install oxigraph==0.5.13), "
        "set POSGRAPH_ENGINE_BINARY, or point POSGRAPH_ENGINE_URL at a running SPARQL engine"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def bulk_load(location: Path, files: list[tuple[Path, str]], *, binary: str | None = None) -> None:
    """Write ``files`` (each with its media type) into a new store at ``location`` with the engine's bulk loader
    (``oxigraph load``: parallel, not transactional, so ``location`` must be a scratch directory the caller
    discards on failure). Raises BadInput with the loader's message when a file does not parse."""
    engine = find_engine_binary(binary)
    for path, media_type in files:
        done = subprocess.run(
            [engine, "load", "--location", str(location), "--file", str(path), "--format", media_type]
            + ["--base", path.resolve().as_uri()],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("Error while loading")]
            raise BadInput(errors[0] if errors else f"the bulk loader failed on {path}: {done.stderr.strip()[-500:]}")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ManagedEngine:
    """One ``oxigraph serve`` process on ``data_dir``; ``start`` returns its base URL.

    If the engine dies unexpectedly it is reported (logged at ERROR, its cause kept in ``causes``, counted in
    ``restarts``) and restarted on the same port, up to ``max_restarts`` times in a row without a healthy minute
    in between. With ``memory_limit_mb`` the engine is killed (and so restarted) when its resident memory
    passes the cap.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        binary: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        query_timeout_s: int | None = None,
        start_timeout: float = 30.0,
        max_restarts: int = 5,
        memory_limit_mb: int | None = None,
        on_event: Callable[[str, str], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.binary = binary
        self.host = host
        self.port = port
        self.query_timeout_s = query_timeout_s
        self.start_timeout = start_timeout
        self.max_restarts = max_restarts
        self.memory_limit_mb = memory_limit_mb
        self.restarts = 0
        self.causes: list[str] = []  # why the engine died, oldest first
        self.last_exit: int | None = None
        self._on_event = on_event or (lambda kind, detail: None)
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._log_offset = 0
        self._killed_for: str | None = None

    @property
    def url(self) -> str:
        """The engine's base URL (valid once started)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the engine process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> str:
        """Start the engine, wait until it answers, and return its base URL.

        Raises EngineStartError for a missing binary, an unusable data directory, a store locked by another
        process, or an engine that does not answer within ``start_timeout``.
        """
        binary = find_engine_binary(self.binary)
        self._prepare_data_dir()
        self.port = self.port or free_port(self.host)
        self._spawn(binary)
        self._stopping.clear()
        self._watcher = threading.Thread(target=self._watch, args=(binary,), name="engine-watch", daemon=True)
        self._watcher.start()
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the engine (SIGTERM, then SIGKILL after ``timeout``) and remove the runtime file."""
        self._stopping.set()
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        with contextlib.suppress(OSError):
            (self.data_dir / RUNTIME_FILE).unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the engine without stopping supervision (tests use this to simulate a crash)."""
        if self._process is not None:
            self._process.kill()

    def __enter__(self) -> "ManagedEngine":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _prepare_data_dir(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".posgraph-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise EngineStartError(f"data directory {self.data_dir} cannot be written: {exc.strerror or exc}") from None

    def _spawn(self, binary: str) -> None:
        args = [binary, "serve", "--location", str(self.data_dir), "--bind", f"{self.host}:{self.port}"]
        if self.query_timeout_s:
            args += ["--timeout-s", str(self.query_timeout_s)]
        log_path = self.data_dir / LOG_FILE
        self._log_offset = log_path.stat().st_size if log_path.exists() else 0
        with self._lock, open(log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, preexec_fn=_die_with_parent
            )
        self._wait_ready(log_path)
        (self.data_dir / RUNTIME_FILE).write_text(json.dumps({"url": self.url, "pid": self._process.pid}))
        log.info("engine started: pid %s at %s on %s", self._process.pid, self.url, self.data_dir)
        self._on_event("started", self.url)

    def _wait_ready(self, log_path: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise EngineStartError(self._explain_exit(code, log_path))
            try:
                if (
                    httpx.post(
                        self.url + "/query",
                        data={"query": "ASK {}"},
                        timeout=1.0,
                        headers={"Accept": "application/sparql-results+json"},
                    ).status_code
                    == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self._process.kill()
        raise EngineStartError(f"the engine did not answer on {self.url} within {self.start_timeout:g} s")

    def resident_mb(self) -> float | None:
        """The engine's resident memory in MiB (None when it is not running)."""
        process = self._process
        if process is None or process.poll() is not None:
            return None
        try:
            with open(f"/proc/{process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def _enforce_memory_limit(self, process: subprocess.Popen[bytes]) -> None:
        # Oxigraph cannot cancel every query (a sort over a huge product runs on past its timeout and grows without
        # bound): past the cap the engine is killed and, like any dead engine, restarted.
        if not self.memory_limit_mb:
            return
        resident = self.resident_mb()
        if resident is not None and resident > self.memory_limit_mb:
            self._killed_for = f"memory cap: {resident:.0f} MiB resident > {self.memory_limit_mb} MiB"
            log.error(
                "engine (pid %s) over its %s MiB memory cap (%.0f MiB): killing it",
                process.pid,
                self.memory_limit_mb,
                resident,
            )
            process.kill()

    def _explain_exit(self, code: int, log_path: Path) -> str:
        with open(log_path, "rb") as handle:  # only what this start wrote
            handle.seek(self._log_offset)
            lines = handle.read(20_000).decode("utf-8", "replace").strip().splitlines()
        errors = [line for line in lines if line.startswith("Error")]
        last = errors[0] if errors else (lines[-1] if lines else "")
        lowered = last.lower()
        if "lock" in lowered:
            return f"the store {self.data_dir} is in use by another process (is `posgraph serve` already running?)"
        if "address" in lowered and "in use" in lowered:
            return f"port {self.port} on {self.host} is already in use"
        return f"the engine exited with code {code} at start: {last}"

    def _watch(self, binary: str) -> None:
        healthy_since = time.monotonic()
        failures = 0
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            try:
                code = process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                self._enforce_memory_limit(process)
                continue
            if self._stopping.is_set():
                return
            self.last_exit = code
            cause = self._killed_for or f"exit code {code}"
            self._killed_for = None
            self.causes.append(cause)
            log.error("engine (pid %s) died: %s", process.pid, cause)
            self._on_event("died", cause)
            failures = 0 if time.monotonic() - healthy_since > 60 else failures + 1
            if failures > self.max_restarts:
                log.critical("engine died %d times in a row; giving up", failures)
                self._on_event("gave-up", str(code))
                return
            time.sleep(min(0.2 * 2**failures, 5.0))
            try:
                self._spawn(binary)
            except EngineStartError as exc:
                log.error("engine restart failed: %s", exc.message)
                continue
            self.restarts += 1
            healthy_since = time.monotonic()
            self._on_event("restarted", self.url)
