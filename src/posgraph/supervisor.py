"""Starts, watches and restarts the managed Oxigraph engine (``oxigraph serve``) on a local data directory.

The engine runs as a child process bound to 127.0.0.1 on a free port. It is asked to die with its parent
(PR_SET_PDEATHSIG), so a killed posgraph never leaves an engine holding the store's lock. Optionally it runs inside
``posgraph.sandbox`` (no outgoing connections). A watcher thread restarts it whenever it dies, backing off but never
giving up, and kills it when it passes its memory cap or keeps working on a request its client gave up on.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Container

import httpx
import psutil

from posgraph import sandbox as engine_sandbox
from posgraph.errors import BadInput, EngineStartError

__all__ = ["ManagedEngine", "bulk_load", "find_engine_binary", "free_port", "LOG_FILE", "RUNTIME_FILE"]

log = logging.getLogger("posgraph.supervisor")

# Written into the data directory while a managed engine runs, so other posgraph commands can find it.
RUNTIME_FILE = "posgraph-engine.json"
LOG_FILE = "posgraph-engine.log"

_FIRST_RESTART_DELAY = 0.2  # seconds; doubles with each death in a row, up to restart_backoff_max
_BUSY_CORES = 0.3  # CPU use that counts as still working (an idle engine uses ~0; a busy one on a shared machine
# was measured at 0.45 of a core while other processes took the rest)
_CAUSES_KEPT = 100
_ABANDON_SAMPLE = 1.0  # seconds between looks at the engine's connections and CPU
# After a failed write (a full disk), RocksDB refuses every write until the store is reopened: once the data
# directory has this much room again, the engine is restarted, which clears it.
_RECOVERY_FREE_BYTES = 16 * 1024 * 1024
_STORE_ERROR = re.compile(rb"IO error: ([^:\n/]+)")


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


def free_port(host: str = "127.0.0.1", avoid: Container[int] = ()) -> int:
    """Return a TCP port on ``host`` that was free a moment ago and is not in ``avoid`` (ports promised to something
    not listening yet, such as the web server that starts after its engines). Raises OSError when none is found."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port
    raise OSError(f"no free port on {host} outside {avoid!r}")


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


def _tcp_connections(process: psutil.Process) -> list:
    """The TCP sockets ``process`` holds; raises psutil.Error when it is gone."""
    listing = getattr(process, "net_connections", None) or process.connections  # psutil < 6: connections
    return listing("tcp")


class _Activity:
    """What one engine process is doing, sampled about once a second: the cores it used since the last sample, and
    how long each of its connections has been in CLOSE_WAIT (its client closed it; the engine has not noticed,
    because the thread serving it is still computing the answer)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self._cpu = self._cpu_seconds()
        self._at = time.monotonic()
        self._closed_since: dict[tuple, float] = {}

    def _cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def sample(self) -> tuple[float, float]:
        """Return (cores used since the previous sample, seconds the oldest CLOSE_WAIT connection has lasted).

        Raises psutil.Error when the process is gone.
        """
        now, cpu = time.monotonic(), self._cpu_seconds()
        cores = (cpu - self._cpu) / max(now - self._at, 1e-3)
        self._cpu, self._at = cpu, now
        closing = {(c.laddr, c.raddr) for c in _tcp_connections(self.process) if c.status == psutil.CONN_CLOSE_WAIT}
        self._closed_since = {key: self._closed_since.get(key, now) for key in closing}
        oldest = now - min(self._closed_since.values()) if self._closed_since else 0.0
        return cores, oldest


class ManagedEngine:
    """One ``oxigraph serve`` process on ``data_dir``; ``start`` returns its base URL.

    If the engine dies unexpectedly it is reported (logged at ERROR, its cause kept in ``causes``, counted in
    ``restarts``) and restarted on the same port, for as long as the engine is not stopped: the wait before a
    restart doubles with each death (or failed restart) in a row, from 0.2 s up to ``restart_backoff_max``, and
    starts again from 0.2 s once the engine has run for ``healthy_after`` seconds. The engine is killed (and so
    restarted) when its resident memory passes ``memory_limit_mb``, and, with ``abandon_grace``, when a request
    whose client closed the connection has kept it busy for that many seconds. With ``sandbox`` it runs inside
    ``posgraph.sandbox``: no outgoing connections (SPARQL SERVICE and LOAD fail).
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
        memory_limit_mb: int | None = None,
        abandon_grace: float | None = None,
        restart_backoff_max: float = 30.0,
        healthy_after: float = 60.0,
        sandbox: bool = False,
        on_event: Callable[[str, str], None] | None = None,
        avoid_ports: tuple[int, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.binary = binary
        self.host = host
        self.port = port
        self.avoid_ports = avoid_ports  # never taken for the engine: the web server's own port, bound after it
        self.query_timeout_s = query_timeout_s
        self.start_timeout = start_timeout
        self.memory_limit_mb = memory_limit_mb
        self.abandon_grace = abandon_grace
        self.restart_backoff_max = restart_backoff_max
        self.healthy_after = healthy_after
        self.sandbox = sandbox
        self.restarts = 0
        self.causes: list[str] = []  # why the engine died, oldest first
        self.last_exit: int | None = None
        self._on_event_callback = on_event or (lambda kind, detail: None)
        self._process: subprocess.Popen[bytes] | None = None
        self._ps: psutil.Process | None = None  # the same process, for memory, CPU and connections
        self._started_at = 0.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._log_offset = 0
        self._scanned = 0  # how far the engine's log has been read for store errors
        self._killed_for: str | None = None
        # Why the store cannot be written now (None: it can), e.g. "No space left on device"; /health reports it.
        self.write_error: str | None = None

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

        Raises EngineStartError for a missing binary, a sandbox that cannot be applied (no libseccomp), an
        unusable data directory, a store locked by another process, or an engine that does not answer within
        ``start_timeout``.
        """
        binary = find_engine_binary(self.binary)
        if self.sandbox:
            try:
                engine_sandbox.check_available()
            except engine_sandbox.SandboxUnavailable as exc:
                raise EngineStartError(
                    f"the engine sandbox cannot be applied: {exc}; install libseccomp (e.g. the libseccomp2 "
                    f"package) or {engine_sandbox.DISABLE_HINT}"
                ) from None
        self._prepare_data_dir()
        self.port = self.port or free_port(self.host, self.avoid_ports)
        self._stopping.clear()
        self._spawn(binary)
        self._watcher = threading.Thread(target=self._watch, args=(binary,), name="engine-watch", daemon=True)
        self._watcher.start()
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop supervising and the engine (SIGTERM, then SIGKILL after ``timeout``); remove the runtime file."""
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
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout)
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
        if self.sandbox:  # the sandbox execs the engine: same pid, and the death signal set below survives exec
            args = engine_sandbox.command(args)
        log_path = self.data_dir / LOG_FILE
        self._log_offset = log_path.stat().st_size if log_path.exists() else 0
        with self._lock, open(log_path, "ab") as log_file:
            if self._stopping.is_set():  # stop() ran meanwhile: start nothing it would not see
                raise EngineStartError("the engine is being stopped")
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, preexec_fn=_die_with_parent
            )
            try:
                self._ps = psutil.Process(self._process.pid)
            except psutil.Error:  # already gone: _wait_ready reports why
                self._ps = None
            self._started_at = time.monotonic()
        self._wait_ready(log_path)
        self._scanned, self.write_error = self._log_offset, None  # a new process opened the store afresh
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
                    and self._listening()  # the answer came from this process, not another one on the port
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self._process.kill()
        raise EngineStartError(f"the engine did not answer on {self.url} within {self.start_timeout:g} s")

    def _listening(self) -> bool:
        try:
            return any(
                conn.status == psutil.CONN_LISTEN and conn.laddr.port == self.port
                for conn in _tcp_connections(self._ps)
            )
        except (psutil.Error, AttributeError):
            return False

    def resident_mb(self) -> float | None:
        """The engine's resident memory in MiB (None when it is not running)."""
        process, probe = self._process, self._ps
        if process is None or probe is None or process.poll() is not None:
            return None
        try:
            return probe.memory_info().rss / (1024 * 1024)
        except psutil.Error:
            return None

    def _on_event(self, kind: str, detail: str) -> None:
        try:  # the watcher must outlive a failing callback: its engines die with it (PR_SET_PDEATHSIG)
            self._on_event_callback(kind, detail)
        except Exception:
            log.exception("engine event callback failed on %r", kind)

    def _kill_for(self, process: subprocess.Popen[bytes], cause: str) -> None:
        self._killed_for = cause
        log.error("engine (pid %s): %s; killing it", process.pid, cause)
        process.kill()

    def _enforce_memory_limit(self, process: subprocess.Popen[bytes]) -> None:
        # Oxigraph cannot cancel every query (a sort over a huge product runs on past its timeout and grows without
        # bound): past the cap the engine is killed and, like any dead engine, restarted.
        if not self.memory_limit_mb:
            return
        resident = self.resident_mb()
        if resident is not None and resident > self.memory_limit_mb:
            self._kill_for(process, f"memory cap: {resident:.0f} MiB resident > {self.memory_limit_mb} MiB")

    def _enforce_abandon_grace(self, process: subprocess.Popen[bytes], activity: _Activity) -> None:
        # What the engine's own timeout does not cancel (a sort, an update) goes on after posgraph answered 504 and
        # closed the connection. The engine keeps a connection in CLOSE_WAIT only while the thread serving it is
        # still computing (an idle keep-alive connection is closed at once): so a lasting CLOSE_WAIT while the engine
        # burns CPU is abandoned work, which only a restart ends.
        cores, abandoned_for = activity.sample()
        if self.abandon_grace and abandoned_for >= self.abandon_grace and cores >= _BUSY_CORES:
            self._kill_for(process, f"abandoned request: engine busy {abandoned_for:.0f} s after its client gave up")

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

    def _supervise(self, process: subprocess.Popen[bytes]) -> int | None:
        """Watch ``process`` until it exits (return its exit code) or the engine is stopped (return None)."""
        activity = None
        next_sample = time.monotonic() + _ABANDON_SAMPLE
        while not self._stopping.is_set():
            try:
                return process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
            try:  # a failed check must never end supervision (nor, by PR_SET_PDEATHSIG, this thread's engine)
                self._enforce_memory_limit(process)
                if time.monotonic() >= next_sample:
                    next_sample = time.monotonic() + _ABANDON_SAMPLE
                    self._recover_store(process)
                    if self.abandon_grace and activity is not None:
                        self._enforce_abandon_grace(process, activity)
                    elif self.abandon_grace and self._ps is not None:
                        activity = _Activity(self._ps)  # the baseline of the first sample
            except psutil.Error:
                pass  # the process is exiting: wait() reports it
            except Exception:
                log.exception("engine (pid %s): check failed", process.pid)
        return None

    def _recover_store(self, process: subprocess.Popen[bytes]) -> None:
        """Notice failed writes in the engine's log; once the data directory has room again, restart the engine
        (RocksDB keeps refusing writes after one failed until the store is reopened)."""
        try:
            with open(self.data_dir / LOG_FILE, "rb") as handle:
                handle.seek(self._scanned)
                new = handle.read(1_000_000)
        except OSError:
            return
        self._scanned += len(new)
        found = _STORE_ERROR.findall(new)
        if found and self.write_error is None:
            self.write_error = found[-1].decode("utf-8", "replace").strip()
            log.error("engine (pid %s) cannot write its store: %s", process.pid, self.write_error)
            self._on_event("write-failed", self.write_error)
        if self.write_error is not None and shutil.disk_usage(self.data_dir).free >= _RECOVERY_FREE_BYTES:
            self._killed_for = f"store write error ({self.write_error}): restarted to reopen the store"
            log.error("engine (pid %s): %s", process.pid, self._killed_for)
            process.kill()

    def _restart_delay(self, failures: int) -> float:
        return min(_FIRST_RESTART_DELAY * 2 ** min(failures - 1, 30), self.restart_backoff_max)

    def _watch(self, binary: str) -> None:
        failures = 0  # deaths and failed restarts since the engine last ran for healthy_after seconds
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            code = self._supervise(process)
            if code is None or self._stopping.is_set():
                return
            self.last_exit = code
            cause = self._killed_for or f"exit code {code}"
            killed_here, self._killed_for = self._killed_for is not None, None
            self.causes.append(cause)
            del self.causes[:-_CAUSES_KEPT]  # an engine that never stops dying must not grow this without bound
            log.error("engine (pid %s) died: %s", process.pid, cause)
            self._on_event("died", cause)
            # Backing off is for an engine that keeps failing by itself; one this supervisor ended (memory cap,
            # abandoned work) is healthy and comes straight back, or each hostile query would cost everyone the
            # whole backoff.
            if killed_here or time.monotonic() - self._started_at >= self.healthy_after:
                failures = 1
            else:
                failures += 1
            # Never give up: an engine left dead would keep the service up and answering 503 for ever.
            while True:
                delay = self._restart_delay(failures)
                if self._stopping.wait(delay):
                    return
                try:
                    self._spawn(binary)
                    break
                except EngineStartError as exc:
                    if self._stopping.is_set():
                        return
                    failures += 1
                    log.error(
                        "engine restart failed (next try in %.1f s): %s", self._restart_delay(failures), exc.message
                    )
                    self._on_event("restart-failed", exc.message)
                except Exception:  # e.g. the log file cannot be opened: keep trying, as for a failed start
                    failures += 1
                    log.exception("engine restart failed (next try in %.1f s)", self._restart_delay(failures))
                    self._on_event("restart-failed", "unexpected error")
            self.restarts += 1
            self._on_event("restarted", self.url)
