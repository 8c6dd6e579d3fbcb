"""Loading files as accepted batches with provenance, against a real engine."""

import pytest
from conftest import EXAMPLES, run

from posgraph import curation
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.errors import NotConformant, RdfSyntaxError
from posgraph.namespaces import batch_iri
from posgraph.supervisor import ManagedEngine

MINIMAL = EXAMPLES / "valid" / "minimal-demand.ttl"


def _count(engine_url: str, query: str) -> int:
    async def go():
        async with Engine(engine_url) as engine:
            rows = await engine.select(query)
            return int(rows[0]["n"])

    return run(go())


def _load(url, validator, paths, **kwargs):
    async def go():
        async with Engine(url) as engine:
            return await curation.load_batch(engine, validator, curation.read_files(paths), **kwargs)

    return run(go())


def test_a_batch_lands_in_its_graph_and_the_default_graph_with_provenance(empty_engine, validator):
    result = _load(empty_engine.url, validator, [MINIMAL], curator="Alice Curator")
    assert not result.already_loaded and result.triples == 32
    graph = result.batch_iri
    # 32 of the file's, and the superclass types they imply: pg:Position (the demand), pg:Term (its term).
    assert _count(empty_engine.url, f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}") == 34
    assert (
        _count(
            empty_engine.url,
            """PREFIX pg: <https://w3id.org/posgraph/ns#>
        SELECT (COUNT(*) AS ?n) { ?d a pg:Demand ; pg:heldBy ?p }""",
        )
        == 1
    )
    assert (
        _count(
            empty_engine.url,
            f"""PREFIX pg: <https://w3id.org/posgraph/ns#>
        PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT (COUNT(*) AS ?n) {{ <{graph}> a pg:Batch ; pg:batchState pg:accepted ; pg:tripleCount 32 ;
            pg:shapesVersion "0.1.0" ; prov:generatedAtTime ?t ;
            prov:hadPrimarySource <https://w3id.org/posgraph/id/example/src> ;
            prov:wasAttributedTo [ rdfs:label "Alice Curator" ] }}""",
        )
        == 1
    )


def test_the_same_content_is_recognised_and_not_loaded_twice(empty_engine, validator):
    first = _load(empty_engine.url, validator, [MINIMAL], curator="a")
    second = _load(empty_engine.url, validator, [MINIMAL], curator="b")
    assert second.already_loaded and second.batch_id == first.batch_id
    assert (
        _count(empty_engine.url, "PREFIX pg: <https://w3id.org/posgraph/ns#> SELECT (COUNT(*) AS ?n) { ?b a pg:Batch }")
        == 1
    )


def test_a_non_conformant_batch_writes_nothing(empty_engine, validator):
    with pytest.raises(NotConformant) as caught:
        _load(empty_engine.url, validator, [MINIMAL, EXAMPLES / "invalid" / "moves.ttl"], curator="a")
    assert caught.value.report.violation_count == 4
    assert _count(empty_engine.url, "SELECT (COUNT(*) AS ?n) { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }") == 0


def test_a_syntax_error_in_any_file_reads_nothing(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix ex: <http://example.org/> .\nex:a ex:b .\n")
    with pytest.raises(RdfSyntaxError) as caught:
        curation.read_files([MINIMAL, bad])
    assert caught.value.source == str(bad) and caught.value.line == 2


def test_skipping_validation_loads_data_the_shapes_would_refuse(empty_engine, validator):
    result = _load(empty_engine.url, validator, [EXAMPLES / "invalid" / "moves.ttl"], curator="bulk", validate=False)
    assert result.report is None and result.triples > 0


def test_bootstrap_loads_ontology_and_seed_once(empty_engine, validator):
    async def go():
        async with Engine(empty_engine.url) as engine:
            first = await curation.ensure_bootstrapped(
                engine, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files
            )
            second = await curation.ensure_bootstrapped(
                engine, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files
            )
            return first, second

    first, second = run(go())
    assert first == ["ontology", "seed (317 triples)"] and second == []
    seed_graph = f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{batch_iri('seed')}> {{ ?s ?p ?o }} }}"
    assert _count(empty_engine.url, seed_graph) == 317 + 14 + 11  # with pg:Position for 14 positions, pg:Term 11
    assert (
        _count(
            empty_engine.url,
            """PREFIX owl: <http://www.w3.org/2002/07/owl#>
        SELECT (COUNT(*) AS ?n) { <https://w3id.org/posgraph/ns> owl:versionInfo ?v }""",
        )
        == 1
    )


def test_upload_progress_is_reported(empty_engine, validator):
    seen = []
    _load(empty_engine.url, validator, [MINIMAL], curator="a", on_upload=seen.append)
    assert seen and sum(seen) > 1000


def _big_file(path, n):
    with open(path, "w") as out:
        for i in range(n):
            out.write(f'<http://example.org/s{i}> <http://example.org/p> "value number {i} with some padding" .\n')
    return path


def _kill_during(managed, action, delay: float) -> dict:
    """Run ``action`` in a thread, SIGKILL the engine after ``delay`` seconds, wait for the supervisor to restart
    it; return {"done": True} if the action finished, {"error": exc} if the engine died under it."""
    import threading
    import time

    outcome = {}

    def target():
        try:
            run(action())
            outcome["done"] = True
        except Exception as exc:  # the engine died under it: that is the point
            outcome["error"] = exc

    worker = threading.Thread(target=target)
    worker.start()
    time.sleep(delay)
    managed.kill()
    worker.join(120)
    deadline = time.monotonic() + 30
    while managed.restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert managed.restarts == 1, "the engine did not come back"
    return outcome


@pytest.mark.parametrize("delay", [1.5, 3.0])
def test_killing_the_engine_mid_publish_leaves_before_or_after_never_between(tmp_path, validator, delay):
    """SIGKILL the engine while a large batch is being published: after the supervisor restarts it, the store
    holds all of the batch (graph, default-graph copy, description) or none of it."""
    n = 60_000
    files = curation.read_files([_big_file(tmp_path / "big.nt", n)])
    managed = ManagedEngine(tmp_path / "store")
    managed.start()

    async def publish():
        async with Engine(managed.url, timeout=120) as engine:
            await curation.load_batch(engine, validator, files, curator="bulk", validate=False, batch_id="big")

    try:
        outcome = _kill_during(managed, publish, delay)
        default = _count(managed.url, "SELECT (COUNT(*) AS ?n) WHERE { ?s <http://example.org/p> ?o }")
        graph = _count(
            managed.url, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/posgraph/id/batch/big> { ?s ?p ?o } }"
        )
        described = _count(
            managed.url,
            "SELECT (COUNT(*) AS ?n) WHERE { <https://w3id.org/posgraph/id/batch/big> "
            "<https://w3id.org/posgraph/ns#batchState> ?s }",
        )
        assert (default, graph, described) in {(0, 0, 0), (n, n, 1)}
        if "done" in outcome:  # the engine answered before it died: then it must all be there
            assert (default, graph, described) == (n, n, 1)
    finally:
        managed.stop()


@pytest.mark.parametrize("delay", [0.1, 0.25])
def test_killing_the_engine_mid_update_leaves_before_or_after(tmp_path, validator, delay):
    """A SPARQL update copying 60,000 triples, SIGKILLed midway: after the restart all copies or none exist."""
    n = 60_000
    managed = ManagedEngine(tmp_path / "store")
    managed.start()
    try:
        run(_load_plain(managed.url, validator, _big_file(tmp_path / "big.nt", n)))

        async def update():
            async with Engine(managed.url, timeout=120) as engine:
                await curation.run_update(
                    engine,
                    "INSERT { ?s <http://example.org/copy> ?o } WHERE { ?s <http://example.org/p> ?o }",
                    actor="admin",
                )

        outcome = _kill_during(managed, update, delay)
        copies = _count(managed.url, "SELECT (COUNT(*) AS ?n) WHERE { ?s <http://example.org/copy> ?o }")
        changes = _count(
            managed.url, 'SELECT (COUNT(*) AS ?n) WHERE { ?c <https://w3id.org/posgraph/ns#changeKind> "updated" }'
        )
        assert (copies, changes) in {(0, 0), (n, 1)}
        if outcome.get("done"):
            assert (copies, changes) == (n, 1)
    finally:
        managed.stop()


async def _load_plain(url, validator, path):
    async with Engine(url, timeout=120) as engine:
        await curation.load_batch(engine, validator, curation.read_files([path]), curator="bulk", validate=False)


def test_accepting_audits_the_publishing_write_before_it_is_made_even_when_it_fails(fresh_engine, tmp_path, validator):
    """The audit line naming the batch and its reviewer is on disk before the publishing write (so a crash after
    the engine's commit cannot leave a published batch unaccounted for); the write's outcome follows it."""
    from posgraph.audit import AuditLog
    from posgraph.errors import PosgraphError

    staging = ManagedEngine(tmp_path / "staging")
    staging.start()
    audit = AuditLog(tmp_path / "audit.jsonl")

    async def go():
        async with (
            Engine(fresh_engine.url) as public,
            Engine(staging.url) as staged,
            # The same engine, but a store path it does not serve: reads work, the publishing write fails.
            Engine(fresh_engine.url, store_path="/no-store-here") as unwritable,
        ):
            files = curation.read_files([EXAMPLES / "batches" / "army-cap-figure.ttl"])
            batch = await curation.submit_batch(public, staged, validator, files, curator="cora")
            with pytest.raises(PosgraphError) as failed:
                await curation.accept_batch(
                    unwritable, staged, validator, batch["id"], reviewer="rita", role="reviewer", audit=audit
                )
            after_failure = await curation.get_batch(public, staged, batch["id"])
            await curation.accept_batch(
                public, staged, validator, batch["id"], reviewer="rita", role="reviewer", audit=audit
            )
            return batch["id"], failed.value, after_failure

    try:
        batch_id, error, after_failure = run(go())
    finally:
        staging.stop()
    assert after_failure["state"] == "submitted"
    lines = audit.read()
    assert [(r["action"], r.get("batch"), r["actor"], r["outcome"]) for r in lines] == [
        ("batch-accept", batch_id, "rita", "pending"),
        ("batch-accept", None, "rita", "failed"),
        ("batch-accept", batch_id, "rita", "pending"),
        ("batch-accept", None, "rita", "done"),
    ]
    assert lines[1]["entry"] == lines[0]["entry"] and lines[1]["error"] == type(error).__name__
    assert lines[3]["entry"] == lines[2]["entry"] != lines[0]["entry"]


_PG = "PREFIX pg: <https://w3id.org/posgraph/ns#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"


def _instances(url: str, cls: str, graph: str | None = None) -> tuple[int, int]:
    """How many resources are typed with a subclass of ``cls``, and how many of those are not typed ``cls`` itself,
    in the default graph or ``graph``."""
    typed = "?x a ?sub" if graph is None else f"GRAPH <{graph}> {{ ?x a ?sub }}"
    missing = f"{{ ?x a {cls} }}" if graph is None else f"{{ GRAPH <{graph}> {{ ?x a {cls} }} }}"
    query = f"""{_PG} SELECT (COUNT(DISTINCT ?x) AS ?n) (COUNT(DISTINCT ?lacking) AS ?missing) {{
        {typed} . ?sub rdfs:subClassOf+ {cls} OPTIONAL {{ FILTER NOT EXISTS {missing} BIND (?x AS ?lacking) }} }}"""

    async def go():
        async with Engine(url) as engine:
            return await engine.select(query)

    row = run(go())[0]
    return int(row["n"]), int(row["missing"])


def test_the_seed_is_typed_with_its_superclasses(seeded_engine):
    # A newcomer's first query, ?p a pg:Position, finds every position: the superclass types are stored.
    for cls in ("pg:Position", "pg:Event", "pg:Term", "pg:Party"):
        subclassed, missing = _instances(seeded_engine.url, cls)
        assert subclassed > 0 and missing == 0, cls
        assert _instances(seeded_engine.url, cls, batch_iri("seed")) == (subclassed, 0), cls
    assert _count(seeded_engine.url, _PG + "SELECT (COUNT(*) AS ?n) { ?p a pg:Position }") == 14
    # Only posgraph's own superclasses: prov:Agent types posgraph's provenance records, never data.
    parties = _PG + "SELECT (COUNT(*) AS ?n) { ?p a pg:Party, <http://www.w3.org/ns/prov#Agent> }"
    assert _count(seeded_engine.url, parties) == 0


def test_a_loaded_batch_brings_its_superclass_types_and_counts_only_its_own(empty_engine, validator):
    result = _load(empty_engine.url, validator, [MINIMAL], curator="Alice Curator")
    # A store without the ontology: the superclasses come from the package's ontology files.
    assert _count(empty_engine.url, _PG + "SELECT (COUNT(*) AS ?n) { ?x a pg:Demand, pg:Position }") == 1
    in_graph = f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{result.batch_iri}> {{ ?x a pg:TerritorialTerm, pg:Term }} }}"
    assert _count(empty_engine.url, _PG + in_graph) == 1
    assert _count(empty_engine.url, _PG + f"SELECT (COUNT(*) AS ?n) {{ <{result.batch_iri}> pg:tripleCount 32 }}") == 1
    # Loaded again, the same file is still recognised: the superclass types are not part of its content hash.
    assert _load(empty_engine.url, validator, [MINIMAL], curator="Alice Curator").already_loaded


def test_bootstrap_adds_superclass_types_to_a_store_made_before_them_once(fresh_engine, validator):
    async def go():
        async with Engine(fresh_engine.url) as engine:
            # A store from before: no superclass types, in the default graph or the seed's graph.
            await engine.update(
                _PG + "DELETE { ?x a pg:Position } WHERE { ?x a pg:Position } ;"
                "DELETE { GRAPH ?g { ?x a pg:Position } } WHERE { GRAPH ?g { ?x a pg:Position } }"
            )
            before = await engine.select(_PG + "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?x a pg:Position } }")
            boot = [
                await curation.ensure_bootstrapped(
                    engine, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files
                )
                for _ in range(2)
            ]
            return int(before[0]["n"]), boot

    before, (first, second) = run(go())
    assert before == 0 and first == ["superclass types"] and second == []
    assert _instances(fresh_engine.url, "pg:Position") == (14, 0)
    assert _instances(fresh_engine.url, "pg:Position", batch_iri("seed")) == (14, 0)
