"""The benchmarks' measuring: systems take turns in throughput windows (bench.compare.measure_in_turn), and the
collection-page target is judged at every larger size (bench.compare.collection_verdict)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.collection_pages import report
from bench.compare import collection_verdict as verdict
from bench.compare import measure_in_turn


class _Recorder(ThreadingHTTPServer):
    """A real HTTP server on 127.0.0.1 that answers every GET 200 and records (its name, the path) in ``seen``,
    which servers may share."""

    daemon_threads = True

    def __init__(self, name: str, seen: list[tuple[str, str]]) -> None:
        self.seen, lock = seen, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(handler) -> None:  # noqa: N805 (self is the server)
                with lock:
                    seen.append((name, handler.path))
                handler.send_response(200)
                handler.send_header("Content-Length", "2")
                handler.end_headers()
                handler.wfile.write(b"{}")

            def log_message(handler, *args) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def recorders():
    seen: list[tuple[str, str]] = []
    servers = [_Recorder("a", seen), _Recorder("b", seen)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_systems_take_turns_in_windows_and_a_list_is_never_asked_twice(recorders):
    a, b = recorders
    paths = [("GET", f"/x?n={n}", {}) for n in range(100_000)]
    rows = measure_in_turn({"a": (a.url, paths), "b": (b.url, ("GET", "/same", {}))}, 1.5, 5, rounds=3)
    assert set(rows) == {"a", "b"} and all(rows[s]["rps"] > 0 and rows[s]["failures"] == 0 for s in rows)
    # Who was asked, runs of the same server made one: each one's latency, then their windows in turn (a b, b a,
    # a b: the two b's and the two a's in the middle meet). Measured one after the other it would read "ab".
    turns = "".join(name for n, (name, _) in enumerate(a.seen) if n == 0 or a.seen[n - 1][0] != name)
    assert turns == "ababab", turns
    # The list's requests: none asked twice (latency from its end, the windows from its head on).
    asked = [path for name, path in a.seen if name == "a"]
    assert len(asked) == len(set(asked)) > 50, len(asked)


def test_a_system_slower_than_half_a_window_is_rated_by_its_latency(recorders):
    a, _ = recorders
    rows = measure_in_turn({"a": (a.url, ("GET", "/", {}))}, 0.001, 3, rounds=3)
    assert rows["a"]["rps"] == pytest.approx(1000 / rows["a"]["median_ms"])
    assert len(a.seen) == 3  # the latency samples only: no window was run


def _page(name: str, **ms: float) -> dict:
    return {"page": name, "sizes": {size: {"median_ms": v, "p90_ms": v, "items": 50} for size, v in ms.items()}}


def test_the_collection_target_is_judged_at_every_larger_size():
    met = [
        _page("1: /a", **{"10000": 4.0, "100000": 7.9, "1000000": 6.0}),
        _page("100: /a", **{"10000": 5.0, "100000": 5.0, "1000000": 9.0}),
    ]
    what, measured, ok = verdict(met)
    assert ok and "at 100,000 and 1,000,000 <= 2x 10,000" in what
    assert (
        "slowest 9.0 ms (100: /a)" in measured and "4 of 4 within 2x, the largest 1.98x (1: /a at 100,000)" in measured
    )
    # Over 2x at the middle size only: not met, and said where.
    over = [_page("1: /a", **{"10000": 4.0, "100000": 8.4, "1000000": 6.0})]
    what, measured, ok = verdict(over)
    assert not ok and "(over: 1: /a at 100,000 2.1x)" in measured
    # Over 50 ms at the largest size: not met, though within 2x.
    slow = [_page("1: /a", **{"10000": 40.0, "1000000": 51.0})]
    assert verdict(slow)[2] is False
    assert verdict([_page("1: /a", **{"10000": 4.0})]) is None
    text = report(met, 41)
    assert "| 1: /a | 4.00 (4.00) | 7.90 (7.90) | 6.00 (6.00) | 50 / 50 / 50 | 1.98x | 1.50x |" in text
    assert "**met**" in text
