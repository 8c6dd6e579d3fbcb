"""How long validating a 50-position batch in context takes against a large store versus an empty one.

The in-context validation fetches only the batch's neighbourhood (see posgraph.curation.fetch_context), so its
cost should not grow with the store. This builds a synthetic store (bench.generate), bulk-loads it with
`oxigraph load`, and times posgraph.curation.validate_in_context against it and against a store holding only the
ontology and the actors the batch refers to. It reports medians and their ratio.

    python -m bench.validation_in_context [--triples 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import subprocess
import time
from pathlib import Path

from bench.generate import Generator, write_graph
from posgraph import curation, formats
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.supervisor import ManagedEngine, find_engine_binary
from posgraph.validation import Validator

DATA = Path(__file__).resolve().parent / ".data"
RESULTS = Path(__file__).resolve().parent / "results"


def build_store(directory: Path, files: list[Path]) -> None:
    """Bulk-load files into a fresh store with `oxigraph load` (the engine's own offline loader)."""
    if directory.exists():
        return
    subprocess.run(
        [find_engine_binary(), "load", "--location", str(directory), "--file", *map(str, files)],
        check=True,
        capture_output=True,
    )


def batch_files(positions: int = 50) -> list[curation.ParsedFile]:
    """A batch of new positions referring to the synthetic store's parties, people and sources."""
    gen = Generator(seed=2, prefix="batch")
    text = "".join(gen.positions(positions))
    quads = formats.read_quads(text.encode(), formats.format_for_media_type("application/n-triples"), "batch")
    return [curation.ParsedFile("batch", quads)]


async def time_validation(url: str, validator: Validator, files, runs: int) -> tuple[float, bool]:
    times, conforms = [], True
    async with Engine(url, timeout=120) as engine:
        for _ in range(runs):
            started = time.perf_counter()
            report = await curation.validate_in_context(engine, validator, files)
            times.append(time.perf_counter() - started)
            conforms = conforms and report.conforms
    return statistics.median(times), conforms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    big = DATA / f"graph-{args.triples}.nt"
    if not big.exists():
        with open(big, "w") as out:
            write_graph(out, args.triples)
    actors = DATA / "actors.nt"
    with open(actors, "w") as out:
        out.writelines(Generator().actors())
    ontology = PROJECT_FILES.ontology_files
    build_store(DATA / f"store-{args.triples}", [big, *ontology])
    build_store(DATA / "store-small", [actors, *ontology])
    validator = Validator.from_files(PROJECT_FILES.shapes_files, PROJECT_FILES.ontology_files)
    files = batch_files()
    results = {}
    for name, directory in (("large", DATA / f"store-{args.triples}"), ("small", DATA / "store-small")):
        with ManagedEngine(directory) as managed:
            results[name] = asyncio.run(time_validation(managed.url, validator, files, args.runs))
    ratio = results["large"][0] / results["small"][0]
    triples = sum(len(f.quads) for f in files)
    table = io.StringIO()
    table.write("# Validating a 50-position batch in context\n\n")
    table.write(f"Batch: 50 positions, {triples} triples. Median of {args.runs} runs, this machine, one run.\n\n")
    table.write("| store | median (s) | conforms |\n|---|---|---|\n")
    table.write(f"| {args.triples:,} triples | {results['large'][0]:.3f} | {results['large'][1]} |\n")
    table.write(f"| ontology and actors only | {results['small'][0]:.3f} | {results['small'][1]} |\n")
    table.write(f"\nRatio large/small: **{ratio:.2f}** (target ≤ 2).\n")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "validation-in-context.md").write_text(table.getvalue())
    print(table.getvalue())


if __name__ == "__main__":
    main()
