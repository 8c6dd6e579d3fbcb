"""posgraph side by side, in one run and on the same data, with the engine's limit (bare `oxigraph serve`) and the
FastAPI + rdflib peer (rdflib-endpoint).

For each size it bulk-loads a synthetic graph (bench.generate), starts the bare engine, a posgraph in front of
that same engine, and rdflib-endpoint on the same file, then measures each workload: median and p99 latency of
sequential requests, and throughput with 8 concurrent clients (posgraph and the bare engine in turn, in short
windows, the median window kept: see measure_in_turn). It also times loading (`posgraph load` against
`oxigraph load`) and a 50-position curation batch, and reads resident memory. Results: a markdown table and a PNG
chart in bench/results/.

    python -m bench.compare [--sizes 10000,100000] [--seconds 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.generate import Generator, write_graph
from posgraph.catalog import Catalog
from posgraph.config import PROJECT_FILES
from posgraph.linked_data import _CLOSURE
from posgraph.namespaces import PG
from posgraph.supervisor import ManagedEngine, find_engine_binary, free_port

DATA = Path(__file__).resolve().parent / ".data"
RESULTS = Path(__file__).resolve().parent / "results"
BIN = Path(sys.executable).parent
ID = "https://w3id.org/posgraph/id/"
PARAMS = {
    "party": f"{ID}party/bench-0",
    "a": f"{ID}party/bench-0",
    "b": f"{ID}party/bench-1",
    "issue": "https://w3id.org/posgraph/issue/territory",
    "date": "2023-06-30",
    "since": "2024-01-01",
    "person": f"{ID}person/bench-0",
}
# Where PARAMS give an answer empty at one size (bench.saved_queries' CASES say why): parameters that give rows at
# every size.
SAVED_PARAMS = {"quiet-issues": {"since": "2030-01-01"}, "who-said-what": {"person": PARAMS["person"]}}
SMALL = "ASK { ?s ?p ?o }"
HEAVY = (
    f"SELECT ?issue (COUNT(?p) AS ?n) WHERE {{ ?p <{PG.concerns}> ?issue ; <{PG.heldBy}> ?party }} "
    "GROUP BY ?issue ORDER BY DESC(?n)"
)


# One request (method, path, httpx arguments), or a list of them asked in turn.
Request = tuple[str, str, dict] | list[tuple[str, str, dict]]


@dataclass
class Workload:
    """One kind of request, as each system is asked it (None: the system cannot answer it)."""

    name: str
    posgraph: Request
    oxigraph: Request | None
    rdflib: Request | None


def _sparql(query: str, accept: str = "application/sparql-results+json") -> tuple[str, str, dict]:
    return ("POST", "/query", {"data": {"query": query}, "headers": {"Accept": accept}})


def workloads() -> list[Workload]:
    catalog = Catalog.from_dir(PROJECT_FILES.queries_dir)
    items = [
        Workload(
            "tiny query (ASK)",
            ("POST", "/sparql", {"data": {"query": SMALL}}),
            _sparql(SMALL),
            ("POST", "/", {"data": {"query": SMALL}, "headers": {"Accept": "application/sparql-results+json"}}),
        ),
        Workload(
            "heavy query (group by issue)",
            ("POST", "/sparql", {"data": {"query": HEAVY}}),
            _sparql(HEAVY),
            ("POST", "/", {"data": {"query": HEAVY}, "headers": {"Accept": "application/sparql-results+json"}}),
        ),
    ]
    for saved in catalog:
        params = SAVED_PARAMS.get(saved.name) or {p.name: PARAMS[p.name] for p in saved.params if p.name in PARAMS}
        if any(p.required and p.name not in params for p in saved.params):
            continue
        text = saved.bind(params)
        items.append(
            Workload(
                f"saved: {saved.name}",
                ("GET", f"/queries/{saved.name}", {"params": params}),
                _sparql(text),
                ("POST", "/", {"data": {"query": text}, "headers": {"Accept": "application/sparql-results+json"}}),
            )
        )

    closure = _CLOSURE % {"root": f"<{ID}position/bench-5>", "source": PG.source, "held": PG.heldBy}
    construct = _sparql(closure, "application/n-triples")
    get = ("GET", "/id/position/bench-5", {"headers": {"Accept": "application/ld+json"}})
    # Asked again and again, posgraph answers from its rendered-resource cache (keyed by ETag) after the first
    # time; with a new query string each time (part of the ETag) every answer is a CONSTRUCT plus framing.
    items.append(Workload("JSON-LD resource GET", get, construct, None))
    uncached = [("GET", f"/id/position/bench-5?n={n}", get[2]) for n in range(200_000)]
    items.append(Workload("JSON-LD resource GET, uncached", uncached, construct, None))
    return items


# Collections, first page and the 100th (by cursor), unfiltered and with filters; the filters' values exist at
# every size (bench.generate's parties, issues and dates).
COLLECTION_PAGES = [
    ("positions", {}),
    ("positions", {"sort": "-label"}),
    ("positions", {"party": PARAMS["party"], "issue": PARAMS["issue"], "sort": "-date"}),
    ("positions", {"type": "Demand", "as_of": PARAMS["date"]}),
    # A wide range that only the largest store reaches (empty at 10k and 100k), and one month that every size
    # holds (30 positions a day from 2022-01-01: 930 of the 1,000 dated positions at 10k, 1 in 8 at 100k, 1 in
    # 76 at 1M).
    ("positions", {"stated_from": "2023-01", "stated_to": "2023-06", "sort": "label"}),
    ("positions", {"stated_from": "2022-01", "stated_to": "2022-01", "sort": "label"}),
    ("positions", {"q": "ceasefire"}),
    ("positions", {"q": "no such words", "sort": "-date"}),
    ("parties", {}),
    ("sources", {"sort": "-date"}),
]


def collection_workloads(base: str, depth: int = 100) -> list[Workload]:
    """A workload per collection page of COLLECTION_PAGES: its first page of 50, and its ``depth``-th page (or
    its last, where there are fewer), reached by following the cursors."""
    items = []
    with httpx.Client(base_url=base, timeout=600, trust_env=False) as client:
        for name, params in COLLECTION_PAGES:
            label = f"/{name}" + "".join(f" {k}={v.rsplit('/', 1)[-1]}" for k, v in params.items())
            params = {**params, "limit": "50"}
            items.append(Workload(f"collection page 1: {label}", ("GET", f"/{name}", {"params": params}), None, None))
            body, cursor = client.get(f"/{name}", params=params).json(), None
            for _ in range(depth - 1):
                if "next" not in body:
                    break
                cursor = httpx.URL(body["next"]).params["cursor"]
                body = client.get(f"/{name}", params={**params, "cursor": cursor}).json()
            deep = {**params, "cursor": cursor} if cursor else params
            items.append(
                Workload(f"collection page {depth}: {label}", ("GET", f"/{name}", {"params": deep}), None, None)
            )
    return items


def _wait_collections(base: str, limit: float = 600) -> None:
    """Wait until posgraph answers collection pages from its index (built in the background after start-up):
    until a first page of /positions comes back fast three times running, or ``limit`` seconds pass."""
    deadline, fast = time.monotonic() + limit, 0
    with httpx.Client(base_url=base, timeout=600, trust_env=False) as client:
        while fast < 3 and time.monotonic() < deadline:
            started = time.perf_counter()
            client.get("/positions", params={"limit": "50", "sort": "-label"})
            fast = fast + 1 if time.perf_counter() - started < 0.05 else 0
            time.sleep(0.5)


def _rows(response: httpx.Response) -> int | None:
    """How many results a SPARQL JSON answer holds (None for other answers)."""
    try:
        return len(response.json()["results"]["bindings"])
    except (ValueError, KeyError, TypeError):
        return None


async def _latency(base: str, request: Request, n: int, budget: float = 10.0) -> tuple[float, float, int, int | None]:
    """Median and p99 of up to ``n`` sequential requests, stopping early (after 3) once ``budget`` seconds pass."""
    turns = request if isinstance(request, list) else [request]
    times, failures, rows = [], 0, None
    deadline = time.monotonic() + budget
    async with httpx.AsyncClient(base_url=base, timeout=60, trust_env=False) as client:
        for i in range(n):
            if len(times) >= 3 and time.monotonic() > deadline:
                break
            # From the end of the list: the throughput run starts at its head, so no request is asked twice.
            method, path, kwargs = turns[-1 - i % len(turns)]
            started = time.perf_counter()
            try:
                response = await client.request(method, path, **kwargs)
            except httpx.TimeoutException:
                times.append(60.0)
                failures += 1
                break
            times.append(time.perf_counter() - started)
            failures += response.status_code >= 400
            rows = _rows(response) if rows is None else rows
    times.sort()
    return statistics.median(times), times[int(0.99 * (len(times) - 1))], failures, rows


async def _throughput(
    base: str, request: Request, seconds: float, concurrency: int = 8, start: int = 0
) -> tuple[float, int]:
    """Requests per second with ``concurrency`` clients for ``seconds``, and how many were sent; a list of requests
    is taken in turn from its ``start``-th."""
    turns = request if isinstance(request, list) else [request]
    done = 0
    until = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, timeout=120, trust_env=False) as client:
            while time.monotonic() < until:
                method, path, kwargs = turns[(start + done) % len(turns)]
                done += 1
                await client.request(method, path, **kwargs)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - started), done


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _wait_idle(pid: int, limit: float = 180) -> bool:
    """Wait until a process stops computing, so that it does not slow down the next measurement; return False
    if it is still busy after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = _cpu_ticks(pid)
        time.sleep(0.5)
        if _cpu_ticks(pid) - before < 5:
            return True
    return False


def _wait(url: str, path: str = "/", timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=2, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def service_env(scratch: Path, engines: dict[str, str]) -> dict[str, str]:
    """The environment of a benchmarked ``posgraph serve`` in front of ``engines`` (POSGRAPH_ENGINE_URL, …), its
    files under ``scratch``."""
    return {
        **os.environ,
        **engines,
        "POSGRAPH_SEED": "false",
        "POSGRAPH_TOKENS_FILE": str(scratch / "tokens.json"),
        "POSGRAPH_AUDIT_LOG": str(scratch / "audit.jsonl"),
        "POSGRAPH_DUMPS_DIR": str(scratch / "dumps"),
        "POSGRAPH_MAX_CONCURRENT_PER_CLIENT": "64",
        # The load generator is one address: lift the per-client meter and the anonymous capacity it would hit.
        "POSGRAPH_QUERY_SECONDS_PER_MINUTE": "1000000",
        "POSGRAPH_MAX_CONCURRENT_QUERIES": "256",
    }


def serve(port: int, env: dict[str, str]) -> subprocess.Popen:
    """Start ``posgraph serve`` on ``port`` with ``env`` (not waiting for it)."""
    return subprocess.Popen(
        [str(BIN / "posgraph"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def in_turn(order: list, turn: int) -> list:
    """``order`` rotated by ``turn``: who goes first changes from one turn to the next."""
    return order[turn % len(order) :] + order[: turn % len(order)]


def measure(base: str, request: Request, seconds: float, samples: int) -> dict:
    """One system's row for a workload: median and p99 ms, requests per second, failures and rows."""
    return measure_in_turn({"system": (base, request)}, seconds, samples, rounds=1)["system"]


def measure_in_turn(
    systems: dict[str, tuple[str, Request]], seconds: float, samples: int, rounds: int = 3
) -> dict[str, dict]:
    """Each system's row for one workload (median and p99 ms, requests per second, failures, rows), the systems
    taking turns: latency from up to ``samples`` sequential requests each, then throughput in ``rounds`` windows
    of ``seconds / rounds`` each (``seconds`` when one), the order rotating, keeping each system's median window.
    A burst of the shared machine's noise then falls on a window, not on whichever system ran in it; what is
    compared is measured minutes apart no more. A list of requests is never asked twice by one system (latency
    takes it from its end, the windows from its head on)."""
    rows: dict[str, dict] = {}
    for system, (base, request) in systems.items():
        median, p99, failures, got = asyncio.run(_latency(base, request, samples))
        rows[system] = {"median_ms": median * 1000, "p99_ms": p99 * 1000, "failures": failures, "rows": got}
    window = seconds / rounds if rounds > 1 else seconds
    # A request slower than half a window: its rate is what the latency says.
    timed = [s for s in systems if rows[s]["median_ms"] / 1000 < window / 2]
    rates: dict[str, list[float]] = {s: [] for s in timed}
    sent = dict.fromkeys(timed, 0)
    for turn in range(rounds if timed else 0):
        for system in in_turn(timed, turn):
            base, request = systems[system]
            rate, count = asyncio.run(_throughput(base, request, window, start=sent[system]))
            rates[system].append(rate)
            sent[system] += count
    for system, row in rows.items():
        row["rps"] = statistics.median(rates[system]) if system in rates else 1000 / row["median_ms"]
    return rows


def _peak_run(command: list[str], env: dict[str, str] | None = None) -> tuple[float, dict[str, float]]:
    """Run ``command``; return its seconds and the peak resident MiB (VmHWM) of it ("posgraph") and of each process
    it starts (by name: "oxigraph"), sampled every 50 ms. Raises CalledProcessError when it fails."""
    import psutil

    started, peaks = time.perf_counter(), {}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while process.poll() is None:
        try:
            root = psutil.Process(process.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for proc in tree:
            try:
                name = "posgraph" if proc.pid == process.pid else proc.name()
            except psutil.Error:
                continue
            peaks[name] = max(peaks.get(name, 0.0), _peak_rss_mib(proc.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if process.wait():
        raise subprocess.CalledProcessError(process.returncode, command, stderr=process.stderr.read())
    return seconds, peaks


def _load_times(data: Path, scratch: Path) -> dict[str, float]:
    """`oxigraph load` of the file into an empty store, against `posgraph load --bulk` (the same bulk loader plus
    the batch's record) and the transactional, revertable `posgraph load` (unvalidated) into empty stores; with
    the peak memory of the posgraph process and of the engine it starts."""
    seconds, peaks = _peak_run([find_engine_binary(), "load", "--location", str(scratch / "ox"), "--file", str(data)])
    out = {"oxigraph load (s)": seconds, "oxigraph load: peak MiB": peaks.get("posgraph", 0.0)}
    for name, store, extra in (
        ("posgraph load --bulk", "bulk", ["--bulk"]),
        ("posgraph load, revertable", "revertable", []),
    ):
        env = {**os.environ, "POSGRAPH_STORE_DIR": str(scratch / store), "POSGRAPH_SEED": "false"}
        env |= {"POSGRAPH_AUDIT_LOG": str(scratch / "load-audit.jsonl")}
        command = [str(BIN / "posgraph"), "load", str(data), "--no-validate", "--curator", "bench", *extra]
        seconds, peaks = _peak_run(command, env)
        out[f"{name} (s)"] = seconds
        out[f"{name}: peak MiB, posgraph process"] = peaks.get("posgraph", 0.0)
        out[f"{name}: peak MiB, engine"] = max((v for k, v in peaks.items() if k != "posgraph"), default=0.0)
    return out


def _batch_times(base: str, token_env: dict[str, str]) -> dict[str, float]:
    """Validate, submit and accept a 50-position batch through posgraph."""

    def token(role: str) -> str:
        command = [str(BIN / "posgraph"), "token", "create", "--role", role, "--name", f"bench-{role}"]
        return subprocess.run(command, env=token_env, capture_output=True, text=True, check=True).stdout.strip()

    curator, reviewer = token("curator"), token("reviewer")
    body = "".join(Generator(seed=7, prefix="bench-batch").positions(50)).encode()
    headers = {"Content-Type": "application/n-triples"}
    out = {}
    with httpx.Client(base_url=base, timeout=300, trust_env=False) as client:
        started = time.perf_counter()
        assert client.post("/validate", content=body, headers=headers).json()["conforms"]
        out["batch: validate (s)"] = time.perf_counter() - started
        started = time.perf_counter()
        batch = client.post("/batches", content=body, headers={**headers, "Authorization": f"Bearer {curator}"})
        out["batch: submit (s)"] = time.perf_counter() - started
        started = time.perf_counter()
        client.post(f"/batches/{batch.json()['id']}/accept", headers={"Authorization": f"Bearer {reviewer}"})
        out["batch: accept (s)"] = time.perf_counter() - started
    return out


def run_size(size: int, seconds: float, samples: int, rounds: int = 3) -> dict:
    DATA.mkdir(exist_ok=True)
    data = DATA / f"graph-{size}.nt"
    if not data.exists():
        with open(data, "w") as out:
            write_graph(out, size)
    scratch = Path(tempfile.mkdtemp(prefix="posgraph-bench-"))
    store = scratch / "store"
    subprocess.run(
        [
            find_engine_binary(),
            "load",
            "--location",
            str(store),
            "--file",
            str(data),
            *map(str, PROJECT_FILES.ontology_files),
        ],
        check=True,
        capture_output=True,
    )
    # The bare column gets an engine of its own on a copy of the store: one process serving both columns would
    # mix their caches, and its peak memory would be the bare workloads' as much as posgraph's.
    shutil.copytree(store, scratch / "bare")
    result: dict = {"size": size, "workloads": {}}
    engine, bare, staging = ManagedEngine(store), ManagedEngine(scratch / "bare"), ManagedEngine(scratch / "staging")
    engine.start()
    bare.start()
    staging.start()
    port, rdflib_port = free_port(), free_port()
    env = service_env(scratch, {"POSGRAPH_ENGINE_URL": engine.url, "POSGRAPH_STAGING_ENGINE_URL": staging.url})
    posgraph = serve(port, env)

    def start_peer() -> subprocess.Popen:
        return subprocess.Popen(
            [str(BIN / "rdflib-endpoint"), "serve", str(data), *map(str, PROJECT_FILES.ontology_files)]
            + ["--host", "127.0.0.1", "--port", str(rdflib_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    peer = start_peer() if size <= 200_000 else None  # rdflib needs ~40 s and 1.3 GB per million triples to load
    peak_peer = 0.0
    try:
        pg_url, rdf_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{rdflib_port}"
        _wait(pg_url, "/health")
        if peer:
            _wait(rdf_url)
        systems = {"posgraph": pg_url, "oxigraph": bare.url, "rdflib-endpoint": rdf_url if peer else None}
        _wait_collections(pg_url)
        for work in workloads() + collection_workloads(pg_url):
            # posgraph and the bare engine in turn (their ratio is the target); rdflib-endpoint after them, alone:
            # it may go on with a query its client gave up on, which must not fall in another system's window.
            turns = {
                system: (base, getattr(work, system))
                for system, base in systems.items()
                if system != "rdflib-endpoint" and getattr(work, system) is not None
            }
            row = measure_in_turn(turns, seconds, samples, rounds) if turns else {}
            if systems["rdflib-endpoint"] and work.rdflib is not None:
                row["rdflib-endpoint"] = measure(systems["rdflib-endpoint"], work.rdflib, seconds, samples)
            result["workloads"][work.name] = row
            if peer and not _wait_idle(peer.pid, limit=20):
                # rdflib goes on with a query its client gave up on, and answers nothing else meanwhile: a fresh
                # process, so that one hopeless query does not time out every later workload.
                peak_peer = max(peak_peer, _peak_rss_mib(peer.pid))
                peer.kill()
                peer.wait()
                peer = start_peer()
                _wait(rdf_url)
            print(
                f"{size:>9} {work.name:<36} "
                + "  ".join(f"{s}: {v['median_ms']:8.2f} ms {v['rps']:8.1f}/s" for s, v in row.items()),
                flush=True,
            )
        service, behind = _peak_rss_mib(posgraph.pid), _peak_rss_mib(engine._process.pid)
        result["memory_mib"] = {
            "peak MiB: posgraph service + engine": service + behind,
            "peak MiB: posgraph service": service,
            "peak MiB: engine behind posgraph": behind,
            "peak MiB: oxigraph engine": _peak_rss_mib(bare._process.pid),
        }
        if peer:
            result["memory_mib"]["peak MiB: rdflib-endpoint"] = max(peak_peer, _peak_rss_mib(peer.pid))
        result["batch"] = _batch_times(pg_url, env)
    finally:
        posgraph.terminate()
        if peer:
            peer.terminate()
        engine.stop()
        bare.stop()
        staging.stop()
    result["load"] = _load_times(data, scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    return result


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "–"


def report(results: list[dict]) -> str:
    lines = [
        "# posgraph side by side with bare Oxigraph and rdflib-endpoint",
        "",
        "One run on this machine; medians of sequential requests, throughput with 8 concurrent clients (posgraph "
        "and the bare engine taking turns in three windows each, the median window kept). Ratios are what to "
        "compare: absolute times vary between machines. Collection pages are judged on bench.collection_pages, "
        "which asks every size's page in turn.",
        "",
    ]
    for result in results:
        lines += [
            f"## {result['size']:,} triples",
            "",
            "| workload | posgraph median ms | oxigraph median ms | posgraph/oxigraph latency | "
            "posgraph req/s | oxigraph req/s | posgraph/oxigraph throughput | rdflib-endpoint req/s | "
            "posgraph/rdflib-endpoint throughput | posgraph p99 ms | rows (posgraph/oxigraph/rdflib) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, row in result["workloads"].items():
            pg, ox, rd = row.get("posgraph", {}), row.get("oxigraph", {}), row.get("rdflib-endpoint", {})
            lines.append(
                f"| {name} | {pg.get('median_ms', 0):.2f} | {ox.get('median_ms', 0):.2f} | "
                f"{_ratio(pg.get('median_ms'), ox.get('median_ms'))} | {pg.get('rps', 0):.0f} | "
                f"{ox.get('rps', 0):.0f} | {_ratio(pg.get('rps'), ox.get('rps'))} | {rd.get('rps', 0):.1f} | "
                f"{_ratio(pg.get('rps'), rd.get('rps'))} | {pg.get('p99_ms', 0):.2f} | "
                f"{pg.get('rows', '–')}/{ox.get('rows', '–')}/{rd.get('rows', '–')} |"
            )
        lines += ["", "| measure | value |", "|---|---|"]
        lines += [
            f"| {k} | {v:.2f} |" for k, v in {**result["load"], **result["batch"], **result["memory_mib"]}.items()
        ]
        load = result["load"]
        for name in ("posgraph load --bulk (s)", "posgraph load, revertable (s)"):
            lines.append(
                f"| {name.removesuffix(' (s)')} / oxigraph load | {_ratio(load[name], load['oxigraph load (s)'])} |"
            )
        lines += _virtuoso_lines(result.get("virtuoso"))
        lines.append("")
    return "\n".join(lines[:4] + _targets(results) + lines[4:])


# The collection-page target: at the largest size a page's median at most this, and at every larger size at most
# this many times the same page's at the smallest.
COLLECTION_MS, COLLECTION_RATIO = 50.0, 2.0


def collection_verdict(results: list[dict]) -> tuple[str, str, bool] | None:
    """The collection-page target's row, from bench.collection_pages' results: what it says, the figures measured,
    and whether it is met (None without two sizes): at the largest size no page's median over COLLECTION_MS, and at
    every size above the smallest no page over COLLECTION_RATIO times its median at the smallest."""
    sizes = sorted({int(s) for page in results for s in page["sizes"]})
    if len(sizes) < 2:
        return None
    small, large = str(sizes[0]), str(sizes[-1])
    worst = max(results, key=lambda page: page["sizes"][large]["median_ms"])
    ratios = sorted(
        (
            (page["sizes"][str(size)]["median_ms"] / page["sizes"][small]["median_ms"], size, page["page"])
            for page in results
            for size in sizes[1:]
        ),
        reverse=True,
    )
    over = [f"{name} at {size:,} {ratio:.1f}x" for ratio, size, name in ratios if ratio > COLLECTION_RATIO]
    slowest = worst["sizes"][large]["median_ms"]
    larger = " and ".join(f"{size:,}" for size in sizes[1:])
    return (
        f"collection page (first and 100th): median at {sizes[-1]:,} <= {COLLECTION_MS:g} ms, at {larger} <= "
        f"{COLLECTION_RATIO:g}x {sizes[0]:,} (bench.collection_pages, sizes in turn)",
        f"slowest {slowest:.1f} ms ({worst['page']}); {len(ratios) - len(over)} of {len(ratios)} within "
        f"{COLLECTION_RATIO:g}x, the largest {ratios[0][0]:.2f}x ({ratios[0][2]} at {ratios[0][1]:,})"
        + (f" (over: {'; '.join(over)})" if over else ""),
        slowest <= COLLECTION_MS and not over,
    )


def _targets(results: list[dict]) -> list[str]:
    """Issue #16's targets against the figures of this run (and of the latest runs of bench.collection_pages and
    bench.saved_queries)."""
    sizes = {int(r["size"]): r for r in results}
    large = max(sizes, default=0)
    rows: list[tuple[str, str, str]] = []
    pages = RESULTS / "collection-pages.json"
    if pages.exists():
        judged = collection_verdict(json.loads(pages.read_text()))
        if judged:
            rows.append((judged[0], judged[1], "met" if judged[2] else "not met"))
    saved = RESULTS / "saved-queries.json"
    if saved.exists():
        pages = json.loads(saved.read_text())
        judged = []
        for page in pages:
            cells = page.get("posgraph") or {}
            if len(cells) >= 2:
                a, b = (cells[k]["ms"] for k in sorted(cells, key=int)[:: len(cells) - 1])
                judged.append(b / a if a and b else None)
        within = sum(1 for r in judged if r is not None and r <= 5)
        when = time.strftime("%Y-%m-%d", time.gmtime(saved.stat().st_mtime))
        rows.append(
            (
                "saved query, per page: largest store <= 5x smallest (bench.saved_queries)",
                f"{within} of {len(judged)} pages (run of {when}; per page in saved-queries.md)",
                "met" if within == len(judged) else "not met",
            )
        )
    for size, result in sorted(sizes.items()):
        row = result["workloads"].get("JSON-LD resource GET, uncached", {})
        ratio = _ratio(row.get("posgraph", {}).get("rps"), row.get("oxigraph", {}).get("rps"))
        if ratio != "–":
            rows.append(
                (
                    f"uncached resource GET at {size:,}: >= 0.6x the engine's CONSTRUCT throughput",
                    f"{ratio}x",
                    "met" if float(ratio) >= 0.6 else "not met",
                )
            )
    if large:
        load, memory = sizes[large]["load"], sizes[large]["memory_mib"]
        ratio = _ratio(load.get("posgraph load, revertable (s)"), load.get("oxigraph load (s)"))
        peak = load.get("posgraph load, revertable: peak MiB, posgraph process", 0)
        rows.append(
            (
                f"revertable load at {large:,}: <= 5x `oxigraph load`, posgraph process < 1 GB",
                f"{ratio}x; {peak:.0f} MiB",
                "met" if ratio != "–" and float(ratio) <= 5 and peak < 1024 else "not met",
            )
        )
        both = memory.get("peak MiB: posgraph service + engine", 0)
        rows.append(
            (
                f"service + engine memory at {large:,} < 1 GB",
                f"{both:.0f} MiB",
                "met" if 0 < both < 1024 else "not met",
            )
        )
    for size, result in sorted(sizes.items()):
        if result.get("virtuoso"):
            pairs = [
                (w.get("posgraph", {}).get("rps"), w.get("virtuoso", {}).get("rps"))
                for w in result["virtuoso"]["workloads"].values()
            ]
            rps = [a / b for a, b in pairs if a and b]
            if rps:
                rows.append(
                    (
                        f"posgraph on Virtuoso against bare Virtuoso at {size:,} (throughput)",
                        f"{min(rps):.2f}-{max(rps):.2f}x over {len(rps)} workloads",
                        "measured",
                    )
                )
    if not rows:
        return []
    return (
        ["## Targets (issue #16) in this run", "", "| target | measured | |", "|---|---|---|"]
        + [f"| {t} | {m} | {v} |" for t, m, v in rows]
        + [""]
    )


def _virtuoso_lines(measured: dict | None) -> list[str]:
    """The second engine's table (bench.virtuoso): posgraph in front of Virtuoso against bare Virtuoso."""
    if not measured:
        return []
    lines = [
        "",
        "### The second engine: posgraph on OpenLink Virtuoso 7.2 against bare Virtuoso (bench.virtuoso)",
        "",
        "| workload | posgraph median ms | virtuoso median ms | posgraph/virtuoso latency | posgraph req/s | "
        "virtuoso req/s | posgraph/virtuoso throughput | rows (posgraph/virtuoso) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in measured["workloads"].items():
        pg, vi = row.get("posgraph", {}), row.get("virtuoso", {})
        lines.append(
            f"| {name} | {pg.get('median_ms', 0):.2f} | {vi.get('median_ms', 0):.2f} | "
            f"{_ratio(pg.get('median_ms'), vi.get('median_ms'))} | {pg.get('rps', 0):.0f} | {vi.get('rps', 0):.0f} | "
            f"{_ratio(pg.get('rps'), vi.get('rps'))} | {pg.get('rows', '–')}/{vi.get('rows', '–')} |"
        )
    lines += ["", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in measured.get("memory_mib", {}).items()]
    return lines


def chart(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(11, 4 * len(results)), squeeze=False)
    for ax, result in zip(axes[:, 0], results, strict=True):
        names = list(result["workloads"])
        for offset, system in enumerate(("posgraph", "oxigraph", "rdflib-endpoint")):
            values = [result["workloads"][n].get(system, {}).get("rps", 0) for n in names]
            ax.barh([i + offset * 0.27 for i in range(len(names))], values, height=0.27, label=system)
        ax.set_yticks([i + 0.27 for i in range(len(names))], names, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("requests per second, 8 concurrent clients (log scale)")
        ax.set_title(f"{result['size']:,} triples")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seconds", type=float, default=6.0, help="Throughput time per system and workload")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="Throughput windows per system, taken in turn")
    parser.add_argument(
        "--merge", action="store_true", help="Keep the other sizes of the last run, replacing only these."
    )
    args = parser.parse_args()
    results = [run_size(int(s), args.seconds, args.samples, args.rounds) for s in args.sizes.split(",")]
    RESULTS.mkdir(exist_ok=True)
    if args.merge and (RESULTS / "comparison.json").exists():
        kept = [
            r
            for r in json.loads((RESULTS / "comparison.json").read_text())
            if str(r["size"]) not in args.sizes.split(",")
        ]
        results = sorted(kept + results, key=lambda r: r["size"])
    (RESULTS / "comparison.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "comparison.md").write_text(report(results))
    chart(results, RESULTS / "comparison.png")
    print(report(results))


if __name__ == "__main__":
    main()
