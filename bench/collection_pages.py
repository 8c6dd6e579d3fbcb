"""Collection pages at every store size side by side: issue #16's target that a page costs the same whatever the
store's size and however deep the page (median at the largest size <= 50 ms, and at every larger size <= 2x the
same page at the smallest).

A posgraph in front of each size's store (bench.saved_queries.served: copies of the bootstrapped synthetic
stores, each service's collections index current) runs at once; every page of bench.compare's COLLECTION_PAGES,
first and 100th (reached by following the cursors, untimed), is asked of each size in turn, the order rotating,
so a burst of the shared machine's noise falls on every size alike instead of on whichever size ran in it (in
bench.compare the sizes run minutes apart). Results: bench/results/collection-pages.md and .json; bench.compare's
targets table judges the target on them (compare.collection_verdict).

    python -m bench.collection_pages [--sizes 10000,100000,1000000] [--samples 41]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import httpx

from bench.compare import DATA, RESULTS, collection_verdict, collection_workloads, in_turn
from bench.saved_queries import served


def measure(bases: dict[int, str], samples: int) -> list[dict]:
    """Each page's median and 90th-percentile milliseconds and item count at every size: ``samples`` GETs per
    page and size after two untimed ones, the sizes taking turns request by request. Raises RuntimeError when a
    page is not answered 200, or a page's name is missing at some size."""
    pages = {size: {w.name: w.posgraph for w in collection_workloads(base)} for size, base in bases.items()}
    sizes = sorted(bases)
    clients = {size: httpx.Client(base_url=bases[size], timeout=120, trust_env=False) for size in sizes}
    results = []
    try:
        for name in pages[sizes[0]]:
            times: dict[int, list[float]] = {size: [] for size in sizes}
            items: dict[int, int] = {}
            for turn in range(samples + 2):
                for size in in_turn(sizes, turn):
                    if name not in pages[size]:
                        raise RuntimeError(f"{name} has no page at {size:,}")
                    method, path, kwargs = pages[size][name]
                    started = time.perf_counter()
                    response = clients[size].request(method, path, **kwargs)
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        raise RuntimeError(f"{name} at {size:,}: {response.status_code} {response.text[:200]}")
                    if turn >= 2:  # the first two warm the service's and the engine's caches
                        times[size].append(elapsed * 1000)
                    items[size] = len(response.json()["items"])
            results.append(
                {
                    "page": name.removeprefix("collection page "),
                    "sizes": {
                        str(size): {
                            "median_ms": statistics.median(times[size]),
                            "p90_ms": sorted(times[size])[int(0.9 * (len(times[size]) - 1))],
                            "items": items[size],
                        }
                        for size in sizes
                    },
                }
            )
            print(
                f"{name:<70} "
                + "  ".join(f"{size:>9,}: {results[-1]['sizes'][str(size)]['median_ms']:6.2f} ms" for size in sizes),
                flush=True,
            )
    finally:
        for client in clients.values():
            client.close()
    return results


def report(results: list[dict], samples: int) -> str:
    """The markdown report of ``results``."""
    sizes = sorted({int(s) for page in results for s in page["sizes"]})
    small = str(sizes[0])
    lines = [
        "# Collection pages at every store size, side by side (issue #16)",
        "",
        f"A `posgraph serve` in front of each store ({', '.join(f'{s:,}' for s in sizes)} triples of the synthetic "
        "graph, bench.generate), all running at once, each collections index current; every page asked of each "
        f"size in turn, {samples} times after two untimed requests; medians and 90th percentiles in milliseconds "
        "over HTTP (one client, sequential). `page 100` is reached by following the cursors (untimed). "
        "`python -m bench.collection_pages`; absolute times vary between machines (this one: 2 cores shared by "
        "the client, the services and the engines), the ratios are what to read.",
        "",
    ]
    row = collection_verdict(results)
    if row:
        lines += [f"**Target:** {row[0]}. **Measured:** {row[1]}: **{'met' if row[2] else 'not met'}**.", ""]
    lines += [
        "| page | "
        + " | ".join(f"ms at {s:,} (p90)" for s in sizes)
        + f" | items ({' / '.join(f'{s:,}' for s in sizes)}) | "
        + " | ".join(f"{s:,} / {sizes[0]:,}" for s in sizes[1:])
        + " |",
        "|---|" + "---|" * (2 * len(sizes)),
    ]
    for page in results:
        cells = page["sizes"]
        lines.append(
            f"| {page['page']} | "
            + " | ".join(f"{cells[str(s)]['median_ms']:.2f} ({cells[str(s)]['p90_ms']:.2f})" for s in sizes)
            + f" | {' / '.join(str(cells[str(s)]['items']) for s in sizes)} | "
            + " | ".join(f"{cells[str(s)]['median_ms'] / cells[small]['median_ms']:.2f}x" for s in sizes[1:])
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--samples", type=int, default=41)
    parser.add_argument("--cache", type=Path, default=DATA, help="Where to build a store bench/.data lacks")
    parser.add_argument("--scratch", type=Path, default=None, help="Where to copy the stores (default: a temp dir)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "collection-pages", help="Results path without suffix (.md, .json)"
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with served(sizes, args.cache, args.scratch) as urls:
        results = measure(urls["posgraph"], args.samples)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(results, indent=1))
    text = report(results, args.samples)
    Path(f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
