"""OpenLink Virtuoso instances for the end-to-end suites run against a second engine (`make test-virtuoso`).

Each instance is Debian's ``virtuoso-t`` (package virtuoso-opensource) on a scratch directory of its own: its own
``virtuoso.ini`` with free local ports for SQL and HTTP, the database files there, small buffers. It is stopped by
its PID. When ``POSGRAPH_TEST_ENGINE=virtuoso``, tests/conftest.py starts a public and a staging instance for each
``posgraph serve`` it starts and points the server at them with ``POSGRAPH_ENGINE_URL``,
``POSGRAPH_STAGING_ENGINE_URL`` and ``POSGRAPH_ENGINE_PROFILE=virtuoso``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from posgraph.supervisor import RUNTIME_FILE, free_port

__all__ = ["VirtuosoInstance", "virtuoso_binary", "engine_env", "public_engine", "ENGINE"]

# Which engine the end-to-end suites run against: "oxigraph" (posgraph's managed engine, the default) or "virtuoso".
ENGINE = os.environ.get("POSGRAPH_TEST_ENGINE", "oxigraph").strip().lower() or "oxigraph"
_PACKAGE_DIRS = ("/usr/share/virtuoso-opensource-7/vad",)
# The dba password of a fresh database (the instance listens on 127.0.0.1 only and lives as long as a test module).
_DBA_PASSWORD = "dba"

_INI = """\
[Database]
DatabaseFile       = {dir}/virtuoso.db
ErrorLogFile       = {dir}/virtuoso.log
LockFile           = {dir}/virtuoso.lck
TransactionFile    = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {dir}/virtuoso-temp.db
TransactionFile    = {dir}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort               = 127.0.0.1:{sql_port}
LiteMode                 = 0
DisableUnixSocket        = 1
DisableTcpSocket         = 0
MaxClientConnections     = 20
CheckpointInterval       = 60
O_DIRECT                 = 0
CaseMode                 = 2
MaxStaticCursorRows      = 5000
AllowOSCalls             = 0
SchedulerInterval        = 10
DirsAllowed              = ., {dir}
ThreadCleanupInterval    = 0
ThreadThreshold          = 10
ResourcesCleanupInterval = 0
SingleCPU                = 0
MaxMemPoolSize           = 200000000
MaxQueryMem              = 256M
ThreadsPerQuery          = 2
AsyncQueueMaxThreads     = 4
NumberOfBuffers          = 8000
MaxDirtyBuffers          = 6000

[HTTPServer]
ServerPort                  = 127.0.0.1:{http_port}
ServerRoot                  = {dir}/vsp
MaxClientConnections        = 20
EnabledDavVSP               = 0
HTTPProxyEnabled            = 0
ServerThreads               = 20
MaxKeepAlives               = 20
KeepAliveTimeout            = 10
HTTPThreadSize              = 280000
Charset                     = UTF-8
EnabledGzipContent          = 0

[Client]
SQL_PREFETCH_ROWS  = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT  = 0
SQL_TXN_TIMEOUT    = 0

[SPARQL]
ResultSetMaxRows           = 1000000
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime      = 60
DeferInferenceRulesInit    = 0
"""

# What the anonymous SPARQL user (the /sparql endpoint's identity) needs for posgraph's updates: SPARQL Update
# itself, and write access to every graph (Virtuoso's graph-level security defaults to read-only for it).
_GRANTS = """\
GRANT SPARQL_UPDATE TO "SPARQL";
GRANT EXECUTE ON DB.DBA.SPARQL_INSERT_DICT_CONTENT TO "SPARQL";
GRANT EXECUTE ON DB.DBA.SPARQL_DELETE_DICT_CONTENT TO "SPARQL";
GRANT EXECUTE ON DB.DBA.SPARUL_RUN TO "SPARQL";
GRANT EXECUTE ON DB.DBA.SPARUL_CLEAR TO "SPARQL";
GRANT EXECUTE ON DB.DBA.SPARUL_DROP TO "SPARQL";
GRANT EXECUTE ON DB.DBA.SPARUL_CREATE TO "SPARQL";
GRANT EXECUTE ON DB.DBA.L_O_LOOK TO "SPARQL";
DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 7);
"""


# What the server prints when a port in its ini is taken, and how many times start() tries fresh ports.
_PORT_TAKEN = "Failed to start listening"
_START_ATTEMPTS = 4


def _two_free_ports() -> tuple[int, int]:
    """Two distinct free local ports (SQL, HTTP)."""
    first = free_port()
    return first, free_port(avoid={first})


def virtuoso_binary() -> str | None:
    """The ``virtuoso-t`` server binary on PATH (Debian's package installs it in /usr/bin), or None."""
    return shutil.which("virtuoso-t")


def isql_binary() -> str | None:
    """Debian's ``isql-vt`` (the Virtuoso SQL client; plain ``isql`` is unixODBC's), or None."""
    return shutil.which("isql-vt") or shutil.which("isql-v")


class VirtuosoInstance:
    """One ``virtuoso-t +foreground`` on ``directory`` with free local ports (chosen when it starts); ``start`` waits
    until its /sparql answers and the grants are in, ``stop`` ends it by PID."""

    def __init__(self, directory: Path, *, start_timeout: float = 120.0) -> None:
        self.directory = directory
        self.start_timeout = start_timeout
        # Chosen by start(), just before the server binds them: chosen earlier, another instance's start (its HTTP
        # polls use ephemeral ports) could take them in between.
        self.sql_port = self.http_port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The instance's HTTP base URL once started (its endpoints are /sparql and /sparql-graph-crud)."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> str:
        """Start the server, wait for /sparql, grant SPARQL updates; return the base URL. Raises RuntimeError
        (with the server's log) when it does not come up."""
        binary = virtuoso_binary()
        if binary is None:
            raise RuntimeError("virtuoso-t not found: apt-get install virtuoso-opensource")
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "vsp").mkdir(exist_ok=True)
        self.sql_port, self.http_port = _two_free_ports()
        self._launch(binary)
        deadline = time.monotonic() + self.start_timeout
        attempts = 1
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                # A port found free a moment ago can be taken before the server binds it (an outgoing connection's
                # ephemeral port, another instance): try again on fresh ports, a few times, before failing.
                if _PORT_TAKEN in self._stdout() and attempts < _START_ATTEMPTS:
                    attempts += 1
                    self.sql_port, self.http_port = _two_free_ports()
                    self._launch(binary)
                    continue
                raise RuntimeError(f"virtuoso-t exited {self.process.returncode}: {self.log_tail()}")
            try:
                answer = httpx.get(
                    self.url + "/sparql",
                    params={"query": "ASK {}"},
                    headers={"Accept": "application/sparql-results+json"},
                    timeout=2.0,
                    trust_env=False,
                )
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"virtuoso-t did not answer on /sparql: {self.log_tail()}")
        self.sql(_GRANTS)
        return self.url

    def _launch(self, binary: str) -> None:
        """Write ``virtuoso.ini`` for the current ports and start ``virtuoso-t`` on it (its output to a fresh
        stdout.log)."""
        ini = self.directory / "virtuoso.ini"
        ini.write_text(_INI.format(dir=self.directory, sql_port=self.sql_port, http_port=self.http_port))
        with open(self.directory / "stdout.log", "wb") as sink:
            self.process = subprocess.Popen(
                [binary, "+foreground", "+configfile", str(ini)],
                cwd=self.directory,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the test run reaches it only through stop()
            )

    def sql(self, statements: str) -> str:
        """Run SQL statements through isql-vt on the SQL port as dba; return its output. Raises RuntimeError when
        a statement fails."""
        isql = isql_binary()
        if isql is None:
            raise RuntimeError("isql-vt not found: apt-get install virtuoso-opensource")
        result = subprocess.run(
            [isql, f"127.0.0.1:{self.sql_port}", "dba", _DBA_PASSWORD, "VERBOSE=OFF", "PROMPT=OFF", "ERRORS=STDOUT"],
            input=statements + "\nEXIT;\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0 or "*** Error" in result.stdout:
            raise RuntimeError(f"isql-vt failed: {result.stdout}{result.stderr}")
        return result.stdout

    def _stdout(self) -> str:
        """What the current launch printed (stdout.log is new for each launch; virtuoso.log keeps them all)."""
        path = self.directory / "stdout.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, size: int = 4000) -> str:
        """The end of the server's own log (for failures)."""
        text = ""
        for name in ("stdout.log", "virtuoso.log"):
            path = self.directory / name
            if path.exists():
                text += f"\n--- {name}\n" + path.read_text(errors="replace")[-size:]
        return text

    def stop(self) -> None:
        """Stop the server by its PID: SIGTERM (it checkpoints and exits), then SIGKILL after 30 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def engine_env(public: VirtuosoInstance, staging: VirtuosoInstance) -> dict[str, str]:
    """The environment that points ``posgraph serve`` at two running instances."""
    return {
        "POSGRAPH_ENGINE_URL": public.url,
        "POSGRAPH_STAGING_ENGINE_URL": staging.url,
        "POSGRAPH_ENGINE_PROFILE": "virtuoso",
    }


def public_engine(server, store_dir: Path) -> dict[str, str]:
    """The public engine a server started by ``start_server`` on ``store_dir`` runs on, as keyword arguments for
    ``posgraph.engine.Engine`` (``base_url`` and ``profile``): its Virtuoso under POSGRAPH_TEST_ENGINE=virtuoso,
    else the managed Oxigraph named in the store's runtime file. Raises FileNotFoundError when that file is missing
    (the server is not running)."""
    if getattr(server, "engines", None):
        return {"base_url": server.engines[0].url, "profile": "virtuoso"}
    return {"base_url": json.loads((store_dir / RUNTIME_FILE).read_text())["url"], "profile": "oxigraph"}
