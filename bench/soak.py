"""A bounded soak run against a running posgraph: concurrent clients mixing SPARQL, saved queries, JSON-LD GETs and
curation batches (submit, accept) for a fixed time. Reports the error rate (any 5xx but a deliberate 503/504 is an
error), latency percentiles and the resident memory of the service and its engines over time.

    python -m bench.soak --url http://127.0.0.1:8000 --curator TOKEN --reviewer TOKEN [--seconds 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

RESULTS = Path(__file__).resolve().parent / "results"
READS = [
    ("GET", "/sparql", {"params": {"query": "SELECT ?s WHERE { ?s a <https://w3id.org/posgraph/ns#Demand> }"}}),
    ("GET", "/sparql", {"params": {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}}),
    ("GET", "/queries/demands-by-issue", {"params": {"party": "pgid:party/russia"}}),
    ("GET", "/queries/state-of-play", {"params": {"date": "2025-07-31"}}),
    ("GET", "/id/position/ru-2025-07-army-cap", {"headers": {"Accept": "application/ld+json"}}),
    ("GET", "/id/party/russia", {"headers": {"Accept": "text/turtle"}}),
    ("GET", "/positions", {"params": {"limit": "5"}}),
]
BATCH = """@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<https://w3id.org/posgraph/id/party/soak-{n}> a pg:Party ; skos:prefLabel "Soak party {n}"@en ."""


@dataclass
class Soak:
    """What a run saw."""

    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    memory: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MiB)

    def record(self, status: int, elapsed: float, what: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(elapsed)
        if status >= 500 and status not in (503, 504):
            self.unexpected.append(f"{what}: {status}")

    def summary(self) -> dict:
        ordered = sorted(self.latencies)
        third = max(1, len(self.memory) // 3)
        first = statistics.mean(m for _, m in self.memory[:third]) if self.memory else 0.0
        last = statistics.mean(m for _, m in self.memory[-third:]) if self.memory else 0.0
        return {
            "requests": len(ordered),
            "statuses": dict(sorted(self.statuses.items())),
            "unexpected_errors": len(self.unexpected),
            "error_rate": len(self.unexpected) / max(1, len(ordered)),
            "median_ms": round(1000 * statistics.median(ordered), 2) if ordered else None,
            "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2) if ordered else None,
            "memory_first_third_mib": round(first, 1),
            "memory_last_third_mib": round(last, 1),
            "memory_growth": round(last / first, 3) if first else None,
        }


def _rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def _tree(pid: int) -> list[int]:
    """The process and its children (the managed engines)."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids += [int(c) for c in children.read().split()]
    except OSError:
        pass
    return pids


async def _client(url: str, soak: Soak, until: float, curator: str | None, reviewer: str | None, seed: int) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as client:
        n = 0
        while time.monotonic() < until:
            n += 1
            if curator and reviewer and rng.random() < 0.03:
                body = BATCH.format(n=f"{seed}-{n}").encode()
                started = time.monotonic()
                submitted = await client.post(
                    "/batches",
                    content=body,
                    headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {curator}"},
                )
                soak.record(submitted.status_code, time.monotonic() - started, "POST /batches")
                if submitted.status_code == 201:
                    started = time.monotonic()
                    accepted = await client.post(
                        f"/batches/{submitted.json()['id']}/accept", headers={"Authorization": f"Bearer {reviewer}"}
                    )
                    soak.record(accepted.status_code, time.monotonic() - started, "POST accept")
                continue
            method, path, kwargs = rng.choice(READS)
            started = time.monotonic()
            response = await client.request(method, path, **kwargs)
            soak.record(response.status_code, time.monotonic() - started, f"{method} {path}")


async def _sample_memory(pid: int | None, soak: Soak, started: float, until: float) -> None:
    while pid and time.monotonic() < until:
        soak.memory.append((time.monotonic() - started, _rss_mib(_tree(pid))))
        await asyncio.sleep(0.5)


async def run(
    url: str,
    *,
    seconds: float,
    concurrency: int = 16,
    curator: str | None = None,
    reviewer: str | None = None,
    server_pid: int | None = None,
) -> Soak:
    """Run the soak for ``seconds`` with ``concurrency`` clients and return what it saw."""
    soak = Soak()
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        _sample_memory(server_pid, soak, started, until),
        *(_client(url, soak, until, curator, reviewer, seed) for seed in range(concurrency)),
    )
    return soak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--curator")
    parser.add_argument("--reviewer")
    parser.add_argument("--pid", type=int, help="PID of `posgraph serve`, to sample its memory and its engines'")
    args = parser.parse_args()
    soak = asyncio.run(
        run(
            args.url,
            seconds=args.seconds,
            concurrency=args.concurrency,
            curator=args.curator,
            reviewer=args.reviewer,
            server_pid=args.pid,
        )
    )
    summary = soak.summary()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
