"""Starting, supervising and restarting a real ``oxigraph serve`` process."""

import asyncio
import json
import socket
import threading
import time

import httpx
import psutil
import pytest
from conftest import run

from posgraph.engine import Engine
from posgraph.errors import EngineError, EngineStartError
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


def test_a_port_held_by_another_engine_is_reported(tmp_path):
    # The other engine answers on the port: that must not pass for this one being ready (a restart would loop).
    with ManagedEngine(tmp_path / "first") as first:
        second = ManagedEngine(tmp_path / "second", port=first.port)
        with pytest.raises(EngineStartError, match="already in use"):
            second.start()


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


def _wait_for(predicate, within: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.mark.serial
def test_the_supervisor_never_gives_up_and_backs_off_within_its_cap(tmp_path):
    # Deaths in a row used to end supervision after five ("giving up"), leaving the service up with no engine.
    events: list[tuple[float, str, str]] = []
    managed = ManagedEngine(
        tmp_path / "store",
        restart_backoff_max=0.8,
        on_event=lambda kind, detail: events.append((time.monotonic(), kind, detail)),
    )
    managed.start()
    try:
        for deaths in range(1, 8):  # the old supervisor gave up at the sixth death in a row
            managed.kill()
            assert _wait_for(lambda n=deaths: managed.restarts == n, within=15), (deaths, events)
        assert _answers(managed.url)
        # A restart that itself fails (the port taken meanwhile) is retried, backing off no more than the cap.
        with socket.socket() as squatter:
            managed.kill()
            assert _wait_for(lambda: not managed.running, within=5)
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind((managed.host, managed.port))
            squatter.listen()
            assert _wait_for(lambda: sum(kind == "restart-failed" for _, kind, _ in events) >= 3, within=15), events
            failed = [at for at, kind, _ in events if kind == "restart-failed"]
            assert all(later - earlier < 0.8 + 1.5 for earlier, later in zip(failed, failed[1:], strict=False)), failed
            assert not _answers(managed.url)
        assert _wait_for(lambda: managed.restarts == 8, within=15), events
        assert _answers(managed.url)
        assert "gave-up" not in {kind for _, kind, _ in events}
    finally:
        managed.stop()


@pytest.mark.serial
def test_the_backoff_is_reset_after_a_healthy_period(tmp_path):
    events: list[tuple[float, str]] = []
    managed = ManagedEngine(
        tmp_path / "store",
        restart_backoff_max=4.0,
        healthy_after=2.0,
        on_event=lambda kind, detail: events.append((time.monotonic(), kind)),
    )

    def outage() -> float:
        """Kill the engine; return the seconds from its death to the restart."""
        count = managed.restarts
        managed.kill()
        assert _wait_for(lambda: managed.restarts == count + 1, within=20), events
        died = [at for at, kind in events if kind == "died"][-1]
        started = [at for at, kind in events if kind == "started"][-1]
        return started - died

    managed.start()
    try:
        quick = [outage() for _ in range(5)]  # waits 0.2, 0.4, 0.8, 1.6, 3.2 s before the restarts
        assert quick[-1] > 2.5, quick
        time.sleep(2.5)  # a healthy period
        assert outage() < 1.5, events
    finally:
        managed.stop()


_BURNER = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"  # ~100 M rows: a minute


def _fill(url: str, triples: int = 120) -> None:
    update = "INSERT DATA { " + " ".join(f"<http://s{i}> <http://p> {i} ." for i in range(triples)) + " }"
    assert httpx.post(url + "/update", data={"update": update}, timeout=30).status_code == 204


def _engine_state(managed: ManagedEngine) -> tuple[float, set[str]]:
    """The cores the engine uses (over half a second) and the states of its TCP connections."""
    process = psutil.Process(managed._process.pid)
    before = process.cpu_times()
    time.sleep(0.5)
    after = process.cpu_times()
    states = {conn.status for conn in process.net_connections("tcp") if conn.status != psutil.CONN_LISTEN}
    return (after.user + after.system - before.user - before.system) / 0.5, states


@pytest.mark.serial
def test_a_busy_engine_is_left_alone_while_its_client_waits_and_ended_once_the_client_gave_up(tmp_path):
    # Oxigraph cannot cancel every query: once posgraph's engine client gives up (it closes the connection, which
    # the engine sees as CLOSE_WAIT) a query may burn a core for minutes. Past the grace the engine is restarted.
    grace = 1.5
    died: list[float] = []
    managed = ManagedEngine(
        tmp_path / "store",
        abandon_grace=grace,
        on_event=lambda kind, detail: died.append(time.monotonic()) if kind == "died" else None,
    )
    managed.start()
    try:
        _fill(managed.url)
        pid = managed._process.pid
        outcome: list[object] = []

        async def client() -> None:
            async with Engine(managed.url, timeout=grace + 4) as engine:  # posgraph's own engine client
                try:
                    await engine.select(_BURNER)
                    outcome.append("answered")
                except EngineError as exc:
                    outcome.append(exc.__class__.__name__)
            outcome.append(time.monotonic())

        waiting = threading.Thread(target=lambda: run(client()))
        waiting.start()
        time.sleep(grace + 2)
        assert managed.restarts == 0 and managed.causes == [] and managed._process.pid == pid, managed.causes
        cores, states = _engine_state(managed)
        assert cores > 0.3 and states == {"ESTABLISHED"}, (cores, states)  # busy, and its client is waiting
        waiting.join()
        assert outcome[0] == "EngineTimeout", outcome  # the client gave up: its connection is closed
        assert _wait_for(lambda: managed.restarts == 1, within=grace + 3), managed.causes
        assert died[0] - outcome[1] >= grace, (died, outcome)  # not before its grace
        assert len(managed.causes) == 1 and managed.causes[0].startswith("abandoned request"), managed.causes
        assert _answers(managed.url)
    finally:
        managed.stop()


@pytest.mark.serial
def test_ordinary_traffic_is_never_taken_for_abandoned_work(tmp_path):
    # Connections the client closes while idle, back-to-back and concurrent queries, and a long write whose client
    # waits for it must not look abandoned, even to a short grace.
    managed = ManagedEngine(tmp_path / "store", abandon_grace=1.0)
    managed.start()
    try:
        _fill(managed.url, 400)

        async def traffic() -> None:
            for _ in range(5):
                async with Engine(managed.url, timeout=60) as engine:
                    for _ in range(50):
                        await engine.select("SELECT * WHERE { ?s ?p ?o } LIMIT 5")
                    await asyncio.gather(*(engine.select("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }") for _ in range(40)))
                # leaving the block closes the idle connections
            async with Engine(managed.url, timeout=120) as engine:
                started = time.monotonic()
                body = "".join(f'<urn:s{i}> <urn:p> "{"x" * 40} {i}" .\n' for i in range(150_000)).encode()
                await engine.graph_write("POST", "urn:bulk", body)
                assert time.monotonic() - started > 1.0  # longer than the grace: the check looked at it
                assert await engine.ask("ASK { GRAPH <urn:bulk> { <urn:s7> ?p ?o } }")

        run(traffic())
        time.sleep(2.5)
        assert managed.restarts == 0 and managed.causes == []
    finally:
        managed.stop()


def test_a_free_port_is_never_one_to_avoid():
    """`posgraph serve` starts its engines before its web server binds: an engine must not take the server's port
    (a test saw uvicorn fail with 'address already in use' on the port the staging engine had just taken)."""
    from posgraph.supervisor import free_port

    taken = {free_port() for _ in range(20)}
    chosen = [free_port(avoid=taken) for _ in range(50)]
    assert not set(chosen) & taken
    with pytest.raises(OSError):
        free_port(avoid=range(0, 65536))
