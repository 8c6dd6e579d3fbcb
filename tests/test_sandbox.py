"""The engine sandbox: a managed engine started with ``sandbox=True`` cannot open outgoing connections, so a SPARQL
SERVICE or LOAD that reaches it cannot read another engine. Queries go straight to the engines' own HTTP ports
(bypassing posgraph and its guard); an unsandboxed engine doing the same is the control that shows the test can
fail."""

import json
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from posgraph.supervisor import RUNTIME_FILE, ManagedEngine

SELECT = {"Accept": "application/sparql-results+json"}


def _insert(url: str, value: str) -> None:
    update = f'INSERT DATA {{ <urn:secret> <urn:says> "{value}" }}'
    assert httpx.post(url + "/update", data={"update": update}, timeout=10).status_code == 204


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """A sandboxed engine and an open one, each holding its own secret."""
    base = tmp_path_factory.mktemp("sandbox")
    sandboxed, open_ = ManagedEngine(base / "sandboxed", sandbox=True), ManagedEngine(base / "open", sandbox=False)
    sandboxed.start()
    open_.start()
    _insert(sandboxed.url, "sandboxed-secret")
    _insert(open_.url, "open-secret")
    yield sandboxed, open_
    sandboxed.stop()
    open_.stop()


def _values(response: httpx.Response) -> list[str]:
    """The ?o values in a SPARQL JSON answer, or [] when the body is not one (the engine wrote an error into it)."""
    try:
        return [row["o"]["value"] for row in response.json()["results"]["bindings"] if "o" in row]
    except ValueError:
        return []


def _service(url: str, target: str, silent: bool = False) -> httpx.Response:
    query = f"SELECT ?o WHERE {{ SERVICE {'SILENT' if silent else ''} <{target}/query> {{ ?s ?p ?o }} }}"
    return httpx.post(url + "/query", data={"query": query}, headers=SELECT, timeout=30)


def _graph(url: str, graph: str) -> list[str]:
    query = f"SELECT ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    return _values(httpx.post(url + "/query", data={"query": query}, headers=SELECT, timeout=10))


def test_the_sandboxed_engine_is_the_engine_process_under_seccomp(engines):
    sandboxed, open_ = engines
    for _ in range(2):  # as started, and again after a restart
        pid = sandboxed._process.pid
        assert json.loads((sandboxed.data_dir / RUNTIME_FILE).read_text())["pid"] == pid
        assert psutil.Process(pid).name() == "oxigraph"
        with open(f"/proc/{pid}/status") as status:
            assert "Seccomp:\t2" in status.read()  # filter mode
        restarts = sandboxed.restarts
        sandboxed.kill()
        deadline = time.monotonic() + 20
        while sandboxed.restarts == restarts and time.monotonic() < deadline:
            time.sleep(0.05)
    with open(f"/proc/{open_._process.pid}/status") as status:
        assert "Seccomp:\t0" in status.read()


def test_service_from_the_sandboxed_engine_cannot_read_another_engine(engines):
    sandboxed, open_ = engines
    control = _service(open_.url, sandboxed.url)
    assert control.status_code == 200 and _values(control) == ["sandboxed-secret"], control.text[:300]

    leak = _service(sandboxed.url, open_.url)
    assert "open-secret" not in leak.text and _values(leak) == [], leak.text[:300]
    assert "Operation not permitted" in leak.text  # refused by the filter, not for some other reason
    silent = _service(sandboxed.url, open_.url, silent=True)
    assert silent.status_code == 200 and "open-secret" not in silent.text and _values(silent) == [], silent.text


def test_load_into_the_sandboxed_engine_cannot_read_another_engine(engines):
    sandboxed, open_ = engines
    control = httpx.post(
        open_.url + "/update", data={"update": f"LOAD <{sandboxed.url}/store?default> INTO GRAPH <urn:leak>"}
    )
    assert control.status_code == 204 and _graph(open_.url, "urn:leak") == ["sandboxed-secret"], control.text

    leak = httpx.post(
        sandboxed.url + "/update", data={"update": f"LOAD <{open_.url}/store?default> INTO GRAPH <urn:leak>"}
    )
    assert leak.status_code >= 400 and "Operation not permitted" in leak.text, leak.text
    silent = httpx.post(
        sandboxed.url + "/update", data={"update": f"LOAD SILENT <{open_.url}/store?default> INTO GRAPH <urn:leak>"}
    )
    assert silent.status_code == 204
    assert _graph(sandboxed.url, "urn:leak") == []


def test_the_sandboxed_engine_answers_queries_and_updates(engines):
    sandboxed, _ = engines
    url = sandboxed.url
    assert httpx.post(url + "/update", data={"update": "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:p> 'u' } }"})
    response = httpx.post(
        url + "/store",
        params={"graph": "urn:g"},
        content=b'<urn:b> <urn:p> "gsp" .\n',
        headers={"Content-Type": "application/n-triples"},
    )
    assert response.status_code in (201, 204)
    assert sorted(_graph(url, "urn:g")) == ["gsp", "u"]
    assert httpx.post(url + "/update", data={"update": "DROP GRAPH <urn:g>"}).status_code == 204
    assert _graph(url, "urn:g") == []
    dump = httpx.get(url + "/store", params={"default": ""}, headers={"Accept": "application/n-triples"})
    assert dump.status_code == 200 and "sandboxed-secret" in dump.text


def test_a_sandboxed_engine_dies_with_its_parent(tmp_path):
    script = (
        "import sys, time\n"
        "from posgraph.supervisor import ManagedEngine\n"
        f"engine = ManagedEngine({str(tmp_path / 'store')!r}, sandbox=True)\n"
        "engine.start()\n"
        "print(engine._process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert psutil.Process(pid).name() == "oxigraph"
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the engine outlived posgraph"
        time.sleep(0.05)


def test_a_missing_libseccomp_is_a_clear_start_error(tmp_path):
    # The system library cannot be removed for a test: hide it from the lookup pyseccomp makes, in a process of its
    # own, for both the supervisor's check and the sandbox command itself.
    hide = (
        "import ctypes.util\n"
        "_find = ctypes.util.find_library\n"
        "ctypes.util.find_library = lambda name: None if name == 'seccomp' else _find(name)\n"
    )
    start = hide + (
        "from posgraph.supervisor import ManagedEngine\n"
        "from posgraph.errors import EngineStartError\n"
        "try:\n"
        f"    ManagedEngine({str(tmp_path / 'store')!r}, sandbox=True).start()\n"
        "except EngineStartError as exc:\n"
        "    print(exc.message)\n"
    )
    done = subprocess.run([sys.executable, "-c", start], capture_output=True, text=True, timeout=60)
    assert "POSGRAPH_ENGINE_SANDBOX=false" in done.stdout and "libseccomp" in done.stdout, done
    assert not (tmp_path / "store" / RUNTIME_FILE).exists()

    run_module = hide + (
        "import runpy, sys\n"
        "sys.argv = ['sandbox', '--', '/bin/true']\n"
        "runpy.run_module('posgraph.sandbox', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", run_module], capture_output=True, text=True, timeout=60)
    assert done.returncode == 70 and "POSGRAPH_ENGINE_SANDBOX=false" in done.stderr, done


def test_the_sandbox_command_denies_connect_and_keeps_the_pid(tmp_path):
    # The same filter around a small Python program: connect() fails with EPERM, listening still works, and the
    # program runs as the process the caller started.
    program = tmp_path / "probe.py"
    program.write_text(
        "import errno, os, socket, sys\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "client = socket.socket()\n"
        "try:\n"
        "    client.connect(server.getsockname())\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print(os.getpid(), errno.errorcode[exc.errno])\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "posgraph.sandbox", "--", sys.executable, str(program)],
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = child.communicate(timeout=60)
    assert out.split() == [str(child.pid), "EPERM"], out
    open_ = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=60)
    assert open_.stdout.strip() == "connected"


def test_the_sandbox_command_reports_misuse(tmp_path):
    done = subprocess.run([sys.executable, "-m", "posgraph.sandbox"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage" in done.stderr
    missing = str(tmp_path / "no-such-engine")
    done = subprocess.run(
        [sys.executable, "-m", "posgraph.sandbox", "--", missing], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 127 and done.stderr.startswith(f"Error: cannot run {missing}"), done
