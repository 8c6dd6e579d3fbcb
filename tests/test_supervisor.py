"""Starting, supervising and restarting a real ``oxigraph serve`` process."""

import json
import time

import httpx
import pytest

from posgraph.errors import EngineStartError
from posgraph.supervisor import RUNTIME_FILE, ManagedEngine, find_engine_binary


def _answers(url: str) -> bool:
    try:
        return (
            httpx.post(
                url + "/query",
                data={"query": "ASK {}"},
                timeout=2,
                headers={"Accept": "application/sparql-results+json"},
            ).status_code
            == 200
        )
    except httpx.HTTPError:
        return False


def test_start_writes_runtime_file_and_stop_removes_it(tmp_path):
    managed = ManagedEngine(tmp_path / "store")
    url = managed.start()
    try:
        assert _answers(url)
        assert json.loads((tmp_path / "store" / RUNTIME_FILE).read_text())["url"] == url
    finally:
        managed.stop()
    assert not managed.running
    assert not (tmp_path / "store" / RUNTIME_FILE).exists()
    assert not _answers(url)


def test_missing_binary_is_a_clear_error(tmp_path):
    with pytest.raises(EngineStartError, match="not found"):
        find_engine_binary(str(tmp_path / "no-such-oxigraph"))
    with pytest.raises(EngineStartError, match="POSGRAPH_ENGINE_BINARY"):
        ManagedEngine(tmp_path / "store", binary=str(tmp_path / "nope")).start()


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(EngineStartError, match="cannot be written"):
        ManagedEngine(blocker / "store").start()


def test_a_store_in_use_is_reported(tmp_path):
    with ManagedEngine(tmp_path / "store"):
        with pytest.raises(EngineStartError, match="in use by another process"):
            ManagedEngine(tmp_path / "store").start()


def test_a_dead_engine_is_reported_and_restarted(tmp_path):
    events = []
    managed = ManagedEngine(tmp_path / "store", on_event=lambda kind, detail: events.append(kind))
    managed.start()
    try:
        old_pid = managed._process.pid
        managed.kill()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and managed.restarts == 0:
            time.sleep(0.1)
        assert managed.restarts == 1
        assert managed.last_exit is not None and managed.last_exit < 0  # killed by a signal
        assert managed._process.pid != old_pid and _answers(managed.url)
        assert events[:3] == ["started", "died", "started"] and "restarted" in events
    finally:
        managed.stop()
