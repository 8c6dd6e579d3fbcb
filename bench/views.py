"""How long posgraph's pages for people take to build on large stores: the timeline and the gap matrix (default and
filtered) and the readable pages of a position, a party and an issue, as HTML (issue #14: "a page at 1M triples
renders in under a second"). posgraph only: no peer has such pages.

For each size it bulk-loads a synthetic graph (bench.generate) once into bench/.data/ (kept between runs), copies
that store, starts an engine and a posgraph in front of it with its rendered-representation cache turned off (every
answer is a first build: the queries run, the page is rendered), and asks each page a few times in turn. Results:
the median and slowest build per page and size, in bench/results/views.md (and .json).

    python -m bench.views [--sizes 100000,1000000] [--samples 5] [--name views] [--note TEXT]
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
from pathlib import Path

import httpx

from bench.compare import BIN, DATA, ID, RESULTS, _wait, _wait_collections, _wait_idle
from bench.generate import write_graph
from posgraph.cli.common import bootstrap
from posgraph.config import PROJECT_FILES, Settings
from posgraph.supervisor import ManagedEngine, find_engine_binary, free_port

TARGET_MS = 1000.0
PARTY_A, PARTY_B = f"{ID}party/bench-0", f"{ID}party/bench-1"
ISSUE = "https://w3id.org/posgraph/issue/territory"
PGI = "https://w3id.org/posgraph/issue/"
AS_OF = "2023-06-30"
# (name, path, query parameters): each asked as HTML, as a browser asks.
PAGES: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("timeline (default)", "/timeline", []),
    ("timeline, one party", "/timeline", [("party", PARTY_A)]),
    ("timeline, one issue", "/timeline", [("issue", ISSUE)]),
    ("timeline, a period (6 months)", "/timeline", [("from", "2023-01"), ("to", "2023-06")]),
    ("timeline, one party, as of a date", "/timeline", [("party", PARTY_A), ("as_of", AS_OF)]),
    ("timeline, all parties, as of a date", "/timeline", [("as_of", AS_OF)]),
    ("gap matrix (default parties)", "/gaps", []),
    ("gap matrix, two parties, as of a date", "/gaps", [("party", PARTY_A), ("party", PARTY_B), ("as_of", AS_OF)]),
    ("position page", "/id/position/bench-5", []),
    ("party page", "/id/party/bench-0", []),
    ("issue page", "/issue/territory", []),
]


def _store(size: int) -> Path:
    """A bulk-loaded store of the synthetic graph of ``size`` triples and the ontology, bootstrapped as posgraph
    would (superclass types materialised), made once and kept."""
    DATA.mkdir(exist_ok=True)
    store = DATA / f"store-{size}"
    if (store / ".complete").exists():
        return store
    data = DATA / f"graph-{size}.nt"
    if not data.exists():
        with open(data, "w") as out:
            write_graph(out, size)
    shutil.rmtree(store, ignore_errors=True)
    command = [find_engine_binary(), "load", "--location", str(store), "--file", str(data)]
    subprocess.run(command + [str(f) for f in PROJECT_FILES.ontology_files], check=True, capture_output=True)
    # As `posgraph serve` would on its first start (ontology graph, superclass types), once, not in every run.
    engine = ManagedEngine(store)
    engine.start()
    try:
        asyncio.run(bootstrap(engine.url, Settings(seed=False)))
    finally:
        engine.stop()
    (store / ".complete").touch()
    return store


def _measure(base: str, samples: int, engine_pid: int) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with httpx.Client(base_url=base, timeout=120, trust_env=False, headers={"Accept": "text/html"}) as client:
        for name, path, params in PAGES:
            # One request first, not counted: it warms what any page shares (the dataset version, the engine's
            # caches of the store's files), so that the first counted build is not a cold-start outlier.
            times, status, size = [], 0, 0
            for i in range(samples + 1):
                # A page that timed out leaves its queries running in the engine for a while: let them end first,
                # or they would slow down what is measured after it.
                _wait_idle(engine_pid, limit=600)
                started = time.perf_counter()
                response = client.get(path, params=params)
                elapsed = time.perf_counter() - started
                status, size = max(status, response.status_code), len(response.content)
                if i:
                    times.append(elapsed * 1000)
            out[name] = {
                "path": path + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else ""),
                "median_ms": statistics.median(times),
                "max_ms": max(times),
                "status": status,
                "bytes": size,
            }
            print(f"{name:<40} {out[name]['median_ms']:8.1f} ms (max {out[name]['max_ms']:8.1f}) {status}", flush=True)
    return out


def run_size(size: int, samples: int) -> dict:
    """Start an engine and a posgraph (no representation cache) on a copy of the store of ``size`` triples and
    return each page's median and slowest build, in ms."""
    scratch = Path(tempfile.mkdtemp(prefix="posgraph-views-"))
    shutil.copytree(_store(size), scratch / "store")
    engine, staging = ManagedEngine(scratch / "store"), ManagedEngine(scratch / "staging")
    engine.start()
    staging.start()
    port = free_port()
    env = {
        **os.environ,
        "POSGRAPH_ENGINE_URL": engine.url,
        "POSGRAPH_STAGING_ENGINE_URL": staging.url,
        "POSGRAPH_SEED": "false",
        "POSGRAPH_TOKENS_FILE": str(scratch / "tokens.json"),
        "POSGRAPH_AUDIT_LOG": str(scratch / "audit.jsonl"),
        "POSGRAPH_DUMPS_DIR": str(scratch / "dumps"),
        "POSGRAPH_QUERY_SECONDS_PER_MINUTE": "1000000",
        # Every answer built afresh: the cache would answer every request after the first from memory.
        "POSGRAPH_RESOURCE_CACHE_ENTRIES": "0",
    }
    server = subprocess.Popen(
        [str(BIN / "posgraph"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base, "/health")
        # The pages read keys and aggregates from the collections' index, built in the background after start-up:
        # measured once it serves, as a service that has been up a while would.
        _wait_collections(base)
        print(f"--- {size:,} triples", flush=True)
        return {"size": size, "samples": samples, "pages": _measure(base, samples, engine._process.pid)}
    finally:
        server.terminate()
        server.wait()
        engine.stop()
        staging.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def report(results: list[dict], note: str = "") -> str:
    """The results as a markdown table: one row per page, a column per size (median and slowest, in ms)."""
    sizes = [r["size"] for r in results]
    lines = [
        "# Pages for people: build time on large stores",
        "",
        f"One run on this machine ({os.cpu_count()} cores); posgraph's representation cache off, so every request "
        f"builds its page (queries and HTML). Median and slowest of {results[0]['samples']} sequential requests "
        f"after one warm-up. Target: under {TARGET_MS:.0f} ms at 1,000,000 triples.",
        "",
        *([note, ""] if note else []),
        "| page | request | " + " | ".join(f"{s:,} triples: median ms (max)" for s in sizes) + " |",
        "|---|---|" + "---|" * len(sizes),
    ]
    for name, _, _ in PAGES:
        cells = []
        for result in results:
            page = result["pages"][name]
            flag = "" if page["status"] < 400 else f" HTTP {page['status']}"
            cells.append(f"{page['median_ms']:.0f} ({page['max_ms']:.0f}){flag}")
        shown = results[0]["pages"][name]["path"].replace(ID, "pgid:").replace(PGI, "pgi:")
        lines.append(f"| {name} | `{shown}` | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--name", default="views", help="Results file name (bench/results/NAME.md and .json).")
    parser.add_argument("--note", default="", help="A paragraph for the report (what differs in this run).")
    args = parser.parse_args()
    results = [run_size(int(s), args.samples) for s in args.sizes.split(",")]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    (RESULTS / f"{args.name}.md").write_text(report(results, args.note))
    print(report(results, args.note))
    slow = [n for n, p in results[-1]["pages"].items() if p["median_ms"] >= TARGET_MS or p["status"] >= 400]
    if slow:
        print(f"over {TARGET_MS:.0f} ms (or failing) at {results[-1]['size']:,}: {', '.join(slow)}", file=sys.stderr)


if __name__ == "__main__":
    main()
