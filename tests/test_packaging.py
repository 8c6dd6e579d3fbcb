"""posgraph works outside the checkout: a wheel, built offline and installed into a fresh venv, checks itself and
serves the seed data from an empty directory (the project files come from package data, not from the checkout)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from posgraph.config import PROJECT_FILES
from posgraph.supervisor import free_port

pytestmark = pytest.mark.e2e

SEED_IRI = "https://w3id.org/posgraph/id/position/ru-2025-07-army-cap"


def _run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output when it exits non-zero."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def _build_wheel(work: Path) -> Path:
    """Build the wheel offline from a clean copy of the sources (an in-tree build/ could carry stale modules)."""
    checkout = PROJECT_FILES.checkout
    assert checkout is not None, "the packaging test runs from a source checkout"
    tree = work / "tree"
    shutil.copytree(checkout / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(checkout / name, tree / name)
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    _run(*pip, "-w", dist, tree)
    (wheel,) = dist.glob("posgraph-*.whl")
    return wheel


def _fresh_venv(work: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed and this venv's packages reused for the dependencies (no network)."""
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    # A path line in a .pth is only appended to sys.path: this venv's own .pth files (the editable install that
    # points at src/) are not processed, so posgraph itself can come only from the wheel.
    Path(purelib, "reuse-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel)
    # The oxigraph package installs its engine binary beside Python, where posgraph looks for it.
    (venv / "bin" / "oxigraph").symlink_to(Path(sys.executable).with_name("oxigraph"))
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """The fresh venv, an environment that points at it and keeps every state file out of the checkout, and an
    empty working directory."""
    work = tmp_path_factory.mktemp("packaging")
    venv = _fresh_venv(work, _build_wheel(work))
    state, empty = work / "state", work / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "POSGRAPH_STORE_DIR": str(state / "store"),
        "POSGRAPH_STAGING_DIR": str(state / "staging"),
        "POSGRAPH_DUMPS_DIR": str(state / "dumps"),
        "POSGRAPH_TOKENS_FILE": str(state / "tokens.json"),
        "POSGRAPH_AUDIT_LOG": str(state / "audit.jsonl"),
    }
    return venv, env, empty


def test_the_wheel_carries_the_project_files(installed):
    venv, env, empty = installed
    probe = (
        "import posgraph.config as c; p = c.PROJECT_FILES; "
        "print(c.__file__, p.checkout, p.examples_dir, len(p.ontology_files), len(p.shapes_files), "
        "len(list(p.queries_dir.glob('*.rq'))), p.seed_files[0].is_file(), p.context_file.is_file())"
    )
    where, checkout, examples, *counts = _run(venv / "bin" / "python", "-c", probe, cwd=empty, env=env).stdout.split()
    assert Path(where).is_relative_to(venv), where
    assert (checkout, examples) == ("None", "None")
    assert counts[:2] == [str(len(PROJECT_FILES.ontology_files)), str(len(PROJECT_FILES.shapes_files))]
    assert int(counts[2]) == len(list(PROJECT_FILES.queries_dir.glob("*.rq"))) and counts[3:] == ["True", "True"]


def test_check_is_consistent_from_an_empty_directory(installed):
    venv, env, empty = installed
    result = _run(venv / "bin" / "posgraph", "check", cwd=empty, env=env)
    assert result.stdout.strip().endswith("check: consistent")
    assert list(empty.iterdir()) == []


def test_serve_loads_the_seed_from_an_empty_directory(installed):
    venv, env, empty = installed
    port = free_port()
    log = empty.parent / "serve.log"
    env = env | {"POSGRAPH_PUBLIC_BASE": f"http://127.0.0.1:{port}"}
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [str(venv / "bin" / "posgraph"), "serve", "--port", str(port)],
            cwd=empty,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0, trust_env=False) as client:
            _wait_healthy(client, process, log)
            ask = client.post(
                "/sparql",
                content=f"ASK {{ <{SEED_IRI}> ?p ?o }}",
                headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
            )
            assert ask.status_code == 200 and ask.json()["boolean"] is True, ask.text
            assert client.get("/ns/context.jsonld").status_code == 200
            assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
    finally:
        _stop(process)


def _wait_healthy(client: httpx.Client, process: subprocess.Popen, log: Path) -> None:
    """Wait until /health answers 200; fail with the server's log when it exits or takes over 45 s."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        assert process.poll() is None, f"posgraph serve exited {process.returncode}:\n{log.read_text()}"
        try:
            if client.get("/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"posgraph serve did not become healthy:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server as an operator would (SIGTERM); kill its session only if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
