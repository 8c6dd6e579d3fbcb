"""Whether a request's cost grows with the number of changes the store has recorded (issue #16: an integrator syncing
every night, a store that takes curators' writes for years). Nearly every request reads the dataset's version (its
newest change: ETags, the collections index's check that it is current).

It bootstraps a store with the seed, starts an engine and a posgraph in front of it (rendered-resource cache off: every
GET is built afresh), and grows the store's change records to each count in turn (synthetic records as posgraph
writes them, with their version-graph entries, then the prune every write runs). At each count: the median of
uncached resource GETs and of collection pages through posgraph, and on the engine the version read as posgraph reads
it (the version graph) and as it read it before (sorting every change record). Results: bench/results/
change-history.md (and .json).

    python -m bench.change_history [--counts 1,1000,10000,100000] [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pyoxigraph as ox

from bench.compare import RESULTS, _wait, _wait_collections, _wait_idle, serve, service_env
from posgraph.cli.common import bootstrap
from posgraph.config import Settings
from posgraph.curation.provenance import NEWEST_ONLY, change_quads, change_triples
from posgraph.namespaces import PG, PROV, VERSION_GRAPH
from posgraph.supervisor import ManagedEngine, free_port

RESOURCE = "/id/party/russia"
PAGE = ("/positions", {"limit": "50", "sort": "-date"})
READ_NOW = f"""SELECT ?change ?at WHERE {{ GRAPH <{VERSION_GRAPH}> {{ ?change <{PROV.atTime}> ?at }} }}
    ORDER BY DESC(?at) DESC(?change) LIMIT 1"""
READ_BEFORE = f"""SELECT ?change ?at WHERE {{ ?change a <{PG.Change}> ; <{PROV.atTime}> ?at }}
    ORDER BY DESC(?at) DESC(?change) LIMIT 1"""


def _changes(client: httpx.Client, engine: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?c a <{PG.Change}> }}"
    answer = client.post(
        engine + "/query", data={"query": query}, headers={"Accept": "application/sparql-results+json"}
    )
    return int(answer.json()["results"]["bindings"][0]["n"]["value"])


def _grow(client: httpx.Client, engine: str, count: int) -> None:
    """Record change records until the store holds ``count`` (newer than every one there), each with its entry in
    the version graph, then prune that graph as every write does."""
    have = _changes(client, engine)
    start = datetime.now(timezone.utc)
    for first in range(have, count, 20_000):
        quads = []
        for i in range(first, min(first + 20_000, count)):
            moment = start + timedelta(microseconds=i)
            quads += change_quads(change_triples("updated", "bench", moment=moment))
        body = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
        client.post(engine + "/store", content=body, headers={"Content-Type": "application/n-quads"}).raise_for_status()
    client.post(engine + "/update", data={"update": NEWEST_ONLY}).raise_for_status()


def _median_ms(client: httpx.Client, requests: list[tuple[str, dict]]) -> float:
    times = []
    for path, params in requests:
        started = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _engine_ms(client: httpx.Client, engine: str, query: str, samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        client.post(engine + "/query", data={"query": query}, headers={"Accept": "application/sparql-results+json"})
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def run(counts: list[int], samples: int) -> list[dict]:
    scratch = Path(tempfile.mkdtemp(prefix="posgraph-changes-"))
    engine, staging = ManagedEngine(scratch / "store"), ManagedEngine(scratch / "staging")
    engine.start()
    staging.start()
    asyncio.run(bootstrap(engine.url, Settings(seed=True)))
    port = free_port()
    env = service_env(scratch, {"POSGRAPH_ENGINE_URL": engine.url, "POSGRAPH_STAGING_ENGINE_URL": staging.url})
    server = serve(port, env | {"POSGRAPH_RESOURCE_CACHE_ENTRIES": "0"})
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        _wait(base, "/health")
        with (
            httpx.Client(timeout=600, trust_env=False) as raw,
            httpx.Client(base_url=base, timeout=60, trust_env=False, headers={"Accept": "application/ld+json"}) as api,
        ):
            for count in counts:
                _grow(raw, engine.url, count)
                _wait_collections(base)  # the index sees the new version and reads the store again
                _wait_idle(server.pid) and _wait_idle(engine._process.pid)  # that done, nothing else running
                recorded = _changes(raw, engine.url)
                gets = [(RESOURCE, {"n": f"{count}-{i}"}) for i in range(samples)]  # a new URL: nothing cached
                row = {
                    "changes": recorded,
                    "get_ms": _median_ms(api, gets),
                    "page_ms": _median_ms(api, [PAGE] * samples),
                    "read_now_ms": _engine_ms(raw, engine.url, READ_NOW, 50),
                    "read_before_ms": _engine_ms(raw, engine.url, READ_BEFORE, 50 if recorded <= 10_000 else 10),
                }
                print(row, flush=True)
                rows.append(row)
        server.terminate()
        server.wait()
        # What grows above is the engine passing over the version-graph entries deleted since it last compacted
        # its storage (a deleted key stays as a tombstone until then): read again on the same store, reopened.
        engine.stop()
        engine = ManagedEngine(scratch / "store")
        engine.start()
        with httpx.Client(timeout=600, trust_env=False) as raw:
            rows[-1]["read_now_reopened_ms"] = _engine_ms(raw, engine.url, READ_NOW, 50)
        print(rows[-1], flush=True)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait()
        engine.stop()
        staging.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def report(rows: list[dict], samples: int) -> str:
    first = rows[0]
    lines = [
        "# Requests against the number of recorded changes",
        "",
        f"One run on this machine ({os.cpu_count()} cores): the seed, and change records grown to each count (as "
        "posgraph writes them, with their version-graph entries, pruned as every write prunes). Through posgraph "
        f"(rendered-resource cache off): medians of {samples} sequential uncached `GET {RESOURCE}` (JSON-LD, a new "
        f"query string each, so nothing is cached) and of {samples} collection pages `{PAGE[0]}?limit=50&sort=-date`. "
        "On the engine: the dataset version as posgraph reads it (the version graph) and as it read it before "
        "(sorting every change record), medians. The aim: flat (the ratio to the fewest changes near 1).",
        "",
        "| changes | resource GET ms | ratio | collection page ms | ratio | version read ms (version graph) "
        "| version read ms (sorting the records, before) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['changes']:,} | {row['get_ms']:.2f} | {row['get_ms'] / first['get_ms']:.2f}x "
            f"| {row['page_ms']:.2f} | {row['page_ms'] / first['page_ms']:.2f}x | {row['read_now_ms']:.2f} "
            f"| {row['read_before_ms']:.2f} |"
        )
    last = rows[-1]
    if "read_now_reopened_ms" in last:
        lines += [
            "",
            f"What still grows is the engine passing over the version graph's deleted entries (one per write): "
            f"Oxigraph's storage keeps a deleted key as a tombstone until it compacts. The same store reopened "
            f"after the last row reads the version in {last['read_now_reopened_ms']:.2f} ms "
            f"(against {last['read_now_ms']:.2f} ms before, and {last['read_before_ms']:.2f} ms by sorting the "
            f"records).",
        ]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,1000,10000,100000")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    rows = run([int(c) for c in args.counts.split(",")], args.samples)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "change-history.json").write_text(json.dumps(rows, indent=1))
    (RESULTS / "change-history.md").write_text(report(rows, args.samples))
    print(report(rows, args.samples))


if __name__ == "__main__":
    main()
