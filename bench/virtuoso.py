"""posgraph in front of OpenLink Virtuoso against bare Virtuoso, on the same synthetic graph: the second engine's
columns of bench/results/comparison.md.

For each size it starts a public and a staging Virtuoso (Debian's virtuoso-t, as `make test-virtuoso` does), bulk
loads the graph and the ontology into the graph posgraph keeps its default graph in (Virtuoso's own loader,
`ld_dir` + `rdf_loader_run`), starts `posgraph serve` with POSGRAPH_ENGINE_PROFILE=virtuoso in front of it, and
measures the workloads of bench.compare on both: posgraph's requests as they are, and the same SPARQL asked of bare
Virtuoso with that graph as the request's default graph. Results merge into bench/results/comparison.json (under
``virtuoso`` of the size) and the report.

    python -m bench.virtuoso [--sizes 100000] [--seconds 6]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from bench.compare import (
    DATA,
    RESULTS,
    Request,
    _peak_rss_mib,
    _wait,
    _wait_collections,
    chart,
    collection_workloads,
    measure_in_turn,
    report,
    serve,
    service_env,
    workloads,
)
from bench.generate import write_graph
from posgraph.config import PROJECT_FILES
from posgraph.engine.virtuoso import VIRTUOSO
from posgraph.supervisor import free_port
from tests.virtuoso_support import VirtuosoInstance, engine_env, virtuoso_binary


def bare(request: Request | None) -> Request | None:
    """The bare-engine request of a workload (bench.compare asks Oxigraph's /query) as bare Virtuoso takes it: on
    /sparql, form-encoded, with posgraph's default graph as the request's default graph."""
    if request is None or isinstance(request, list):
        return None
    method, _path, kwargs = request
    data = {**kwargs.get("data", {}), "default-graph-uri": VIRTUOSO.default_graph}
    return (method, "/sparql", {**kwargs, "data": data})


def _load(instance: VirtuosoInstance, files: list[Path]) -> None:
    """Bulk load ``files`` into the default graph's stand-in with Virtuoso's loader (it reads only from the
    directories its ini allows: the files are linked into the instance's own)."""
    inbox = instance.directory / "load"
    inbox.mkdir()
    for file in files:
        (inbox / file.name).symlink_to(file.resolve())
    instance.sql(
        f"ld_dir('{inbox}', '*.nt', '{VIRTUOSO.default_graph}');\n"
        f"ld_dir('{inbox}', '*.ttl', '{VIRTUOSO.default_graph}');\n"
        "rdf_loader_run();\ncheckpoint;"
    )
    failed = instance.sql("SELECT ll_file FROM DB.DBA.LOAD_LIST WHERE ll_error IS NOT NULL;")
    if any(file.name in failed for file in files):
        raise RuntimeError(f"Virtuoso's loader failed: {failed}")


def run_size(size: int, seconds: float, samples: int) -> dict:
    """Measure every workload on posgraph-on-Virtuoso and on bare Virtuoso at ``size`` triples; return the rows
    and peak memory. Raises RuntimeError when Virtuoso does not start or load."""
    DATA.mkdir(exist_ok=True)
    data = DATA / f"graph-{size}.nt"
    if not data.exists():
        with open(data, "w") as out:
            write_graph(out, size)
    scratch = Path(tempfile.mkdtemp(prefix="posgraph-bench-virtuoso-"))
    public, staging = VirtuosoInstance(scratch / "public"), VirtuosoInstance(scratch / "staging")
    result: dict = {"workloads": {}}
    posgraph = None
    try:
        public.start()
        staging.start()
        _load(public, [data, *PROJECT_FILES.ontology_files])
        port = free_port()
        posgraph = serve(port, service_env(scratch, engine_env(public, staging)))
        pg_url = f"http://127.0.0.1:{port}"
        _wait(pg_url, "/health")
        _wait_collections(pg_url)
        for work in workloads() + collection_workloads(pg_url):
            turns = {"posgraph": (pg_url, work.posgraph)}
            if work.oxigraph is not None:
                turns["virtuoso"] = (public.url, bare(work.oxigraph))
            row = measure_in_turn(turns, seconds, samples)
            result["workloads"][work.name] = row
            print(
                f"{size:>9} virtuoso {work.name:<36} "
                + "  ".join(f"{s}: {v['median_ms']:8.2f} ms {v['rps']:8.1f}/s" for s, v in row.items()),
                flush=True,
            )
        result["memory_mib"] = {
            "peak MiB: posgraph service": _peak_rss_mib(posgraph.pid),
            "peak MiB: virtuoso engine": _peak_rss_mib(public.process.pid),
        }
    finally:
        if posgraph is not None:
            posgraph.terminate()
            posgraph.wait()
        public.stop()
        staging.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--seconds", type=float, default=6.0, help="Throughput time per system and workload")
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    if virtuoso_binary() is None:
        print("Virtuoso column SKIPPED: virtuoso-t is not installed (apt-get install virtuoso-opensource)")
        return
    path = RESULTS / "comparison.json"
    results = json.loads(path.read_text()) if path.exists() else []
    for size in map(int, args.sizes.split(",")):
        measured = run_size(size, args.seconds, args.samples)
        target = next((r for r in results if r["size"] == size), None)
        if target is None:
            raise SystemExit(f"no bench.compare results at {size:,} triples: run python -m bench.compare first")
        target["virtuoso"] = measured
    path.write_text(json.dumps(results, indent=1))
    (RESULTS / "comparison.md").write_text(report(results))
    chart(results, RESULTS / "comparison.png")
    print(report(results))


if __name__ == "__main__":
    main()
