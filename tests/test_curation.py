"""Loading files as accepted batches with provenance, against a real engine."""

import pyoxigraph as ox
import pytest
import rdflib
from conftest import EXAMPLES, run
from rdflib.namespace import SH

from posgraph import curation, formats
from posgraph.config import PROJECT_FILES
from posgraph.curation.loading import load_files
from posgraph.engine import Engine
from posgraph.errors import BadInput, Conflict, NotConformant, RdfSyntaxError
from posgraph.namespaces import PG, batch_iri
from posgraph.supervisor import ManagedEngine

MINIMAL = EXAMPLES / "valid" / "minimal-demand.ttl"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


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
            pg:shapesVersion "0.2.0" ; prov:generatedAtTime ?t ;
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
    assert first == ["ontology", "seed (333 triples)"] and second == []
    seed_graph = f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{batch_iri('seed')}> {{ ?s ?p ?o }} }}"
    assert _count(empty_engine.url, seed_graph) == 333 + 14 + 11  # with pg:Position for 14 positions, pg:Term 11
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


# ------------------------------------------------------------------------------------------ streamed loads (#16)
_BULK = "/store?no_transaction"  # the bundled engine's atomic bulk loader, as `posgraph load` uses it


def _load_files(url, validator, paths, store_path=None, **kwargs):
    async def go():
        options = {"store_path": store_path} if store_path else {}
        async with Engine(url, timeout=120, **options) as engine:
            return await load_files(engine, validator, paths, **kwargs)

    return run(go())


def _everything(url) -> int:
    return _count(url, "SELECT (COUNT(*) AS ?n) { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")


@pytest.mark.parametrize("store_path", [None, _BULK])
def test_a_streamed_load_stores_what_a_parsed_load_stores_and_its_digest_is_the_content_hash(
    tmp_path, validator, store_path
):
    files = [EXAMPLES / "valid" / "every-feature.ttl", MINIMAL]
    streamed, parsed = ManagedEngine(tmp_path / "streamed"), ManagedEngine(tmp_path / "parsed")
    streamed.start(), parsed.start()
    try:
        seen = {"read": 0, "sent": 0}
        one = _load_files(
            streamed.url,
            validator,
            files,
            store_path,
            curator="a",
            batch_id="b",
            on_read=lambda n: seen.__setitem__("read", seen["read"] + n),
            on_upload=lambda n: seen.__setitem__("sent", seen["sent"] + n),
        )
        two = _load(parsed.url, validator, files, curator="a", batch_id="b")
        assert (one.triples, one.already_loaded) == (two.triples, False) and one.report.conforms
        assert seen["read"] == sum(f.stat().st_size for f in files) and seen["sent"] > 2 * seen["read"]
        quads = [ox.Quad(q.subject, q.predicate, q.object) for f in curation.read_files(files) for q in f.quads]
        digest = formats.content_hash(quads)
        stored = (
            f'SELECT (COUNT(*) AS ?n) {{ <{batch_iri("b")}> <https://w3id.org/posgraph/ns#contentHash> "{digest}" }}'
        )
        assert _count(streamed.url, stored) == 1 == _count(parsed.url, stored)
        # The same statements in both stores but the record's times: the default graph and the batch's graph.
        for query in (
            "SELECT (COUNT(*) AS ?n) { ?s ?p ?o FILTER (!STRSTARTS(STR(?s), 'https://w3id.org/posgraph/id/change/')) }",
            f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{batch_iri('b')}> {{ ?s ?p ?o }} }}",
        ):
            assert _count(streamed.url, query) == _count(parsed.url, query) > 100
        again = _load_files(streamed.url, validator, list(reversed(files)), store_path, curator="b")
        assert again.already_loaded and again.batch_id == "b"
    finally:
        streamed.stop(), parsed.stop()


@pytest.mark.parametrize("store_path", [None, _BULK])
def test_a_syntax_error_in_the_last_line_of_a_large_file_writes_nothing(empty_engine, validator, tmp_path, store_path):
    n = 50_000
    path = _big_file(tmp_path / "big.nt", n)
    with open(path, "a") as out:
        out.write("<http://example.org/s> <http://example.org/p> .\n")
    with pytest.raises(RdfSyntaxError) as caught:
        _load_files(empty_engine.url, validator, [MINIMAL, path], store_path, curator="a", validate=False)
    assert caught.value.line == n + 1 and caught.value.source == str(path)
    assert _everything(empty_engine.url) == 0


def test_a_streamed_load_refuses_amendments_and_writes_nothing(empty_engine, validator):
    corrected = EXAMPLES / "corpus" / "iran-10-correction-swap-issue.ttl"
    with pytest.raises(BadInput, match="carries amendments") as caught:
        _load_files(empty_engine.url, validator, [MINIMAL, corrected], _BULK, curator="a", validate=False)
    assert str(corrected) in str(caught.value) and str(MINIMAL) not in str(caught.value)
    assert _everything(empty_engine.url) == 0


def test_a_non_conformant_streamed_load_writes_nothing(empty_engine, validator):
    with pytest.raises(NotConformant):
        _load_files(empty_engine.url, validator, [MINIMAL, EXAMPLES / "invalid" / "moves.ttl"], _BULK, curator="a")
    assert _everything(empty_engine.url) == 0


@pytest.mark.parametrize("delay", [0.8, 2.0])
def test_killing_the_engine_mid_bulk_load_leaves_before_or_after_never_between(tmp_path, validator, delay):
    """As test_killing_the_engine_mid_publish_…, for the streamed load through the bundled engine's bulk loader
    (what `posgraph load` uses): SIGKILLed while the body streams in or while it commits, all or nothing."""
    n = 150_000
    path = _big_file(tmp_path / "big.nt", n)
    managed = ManagedEngine(tmp_path / "store")
    managed.start()

    async def publish():
        async with Engine(managed.url, timeout=120, store_path=_BULK) as engine:
            await load_files(engine, validator, [path], curator="bulk", validate=False, batch_id="big")

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
        if "done" in outcome:
            assert (default, graph, described) == (n, n, 1)
    finally:
        managed.stop()


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


# ------------------------------------------------------------------------------------------ amendments (#11 point 7)
BATCHES = EXAMPLES / "batches"
_SHARPEN = BATCHES / "amend-sharpen-date.ttl"
_DUPLICATE = BATCHES / "amend-setup-duplicate.ttl"
_MERGE = BATCHES / "amend-merge-duplicate.ttl"
_POSITION = "https://w3id.org/posgraph/id/position/ua-2025-05-leaders-meeting"
_DUP = "https://w3id.org/posgraph/id/party/russian-federation"
_RUSSIA = "https://w3id.org/posgraph/id/party/russia"
_PREFIXES = """@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix position: <https://w3id.org/posgraph/id/position/> . @prefix party: <https://w3id.org/posgraph/id/party/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
"""
_MANAGED = tuple(f"<https://w3id.org/posgraph/id/{p}/" for p in ("batch", "change", "agent"))


async def _published(engine: Engine) -> set[str]:
    """The default graph as a set of N-Triples lines, without posgraph's batch descriptions and change log."""
    data = await engine.construct("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    return {line for line in data.decode().splitlines() if line.strip() and not line.startswith(_MANAGED)}


def _turtle(text: str, tmp_path, name: str = "inline.ttl"):
    path = tmp_path / name
    path.write_text(_PREFIXES + text)
    return curation.read_files([path])


@pytest.fixture
def review_engines(fresh_engine, tmp_path, validator):
    """A seeded public engine and an empty staging engine, each this test's own."""
    staging = ManagedEngine(tmp_path / "staging")
    staging.start()
    yield fresh_engine, staging
    staging.stop()


def _review(review_engines, validator, steps):
    """Run ``steps(public, staging)`` (a coroutine function) against the two engines."""
    public_engine, staging_engine = review_engines

    async def go():
        async with Engine(public_engine.url, timeout=120) as public, Engine(staging_engine.url) as staging:
            return await steps(public, staging)

    return run(go())


async def _submit_accept(public, staging, validator, files, **kwargs):
    batch = await curation.submit_batch(public, staging, validator, files, curator="cora", **kwargs)
    return await curation.accept_batch(public, staging, validator, batch["id"], reviewer="rita", role="reviewer")


def test_amend_a_sharper_date_replaces_the_published_one_and_revert_restores_the_graph(
    review_engines, validator, tmp_path
):
    async def steps(public, staging):
        before = await _published(public)
        # The sharper date alone is a second pg:statedOn: refused, which is why curators made duplicates.
        with pytest.raises(NotConformant) as alone:
            await curation.submit_batch(
                public,
                staging,
                validator,
                _turtle('position:ua-2025-05-leaders-meeting pg:statedOn "2025-05-11"^^xsd:date .', tmp_path),
                curator="cora",
            )
        assert any(r.path == "pg:statedOn" for r in alone.value.report.results)
        submitted = await curation.submit_batch(
            public, staging, validator, curation.read_files([_SHARPEN]), curator="cora"
        )
        assert submitted["amendments"]["retracted"] == 1 and submitted["amendments"]["added"] == 1
        assert await _published(public) == before  # submitting changes nothing published
        accepted = await curation.accept_batch(
            public, staging, validator, submitted["id"], reviewer="rita", role="reviewer"
        )
        dates = await public.select(f"SELECT ?d WHERE {{ <{_POSITION}> <https://w3id.org/posgraph/ns#statedOn> ?d }}")
        graphs = curation.ledger_graphs(submitted["id"])
        amendment_nodes = await public.ask("ASK { ?r a <https://w3id.org/posgraph/ns#Retraction> }")
        kept_nodes = await public.ask(
            f"ASK {{ GRAPH <{graphs['amendments']}> {{ ?r a <https://w3id.org/posgraph/ns#Retraction> }} }}"
        )
        after_accept = await _published(public)
        preview = await curation.revert_preview(public, staging, submitted["id"])
        reverted = await curation.revert_batch(public, staging, submitted["id"], actor="rita", role="reviewer")
        return (
            before,
            after_accept,
            await _published(public),
            dates,
            amendment_nodes,
            kept_nodes,
            accepted,
            preview,
            reverted,
        )

    before, after_accept, after_revert, dates, amendment_nodes, kept_nodes, accepted, preview, reverted = _review(
        review_engines, validator, steps
    )
    assert [str(r["d"]) for r in dates] == ["2025-05-11"]
    statement = f"<{_POSITION}> <https://w3id.org/posgraph/ns#statedOn>"
    old = f'{statement} "2025-05"^^<http://www.w3.org/2001/XMLSchema#gYearMonth> .'
    new = f'{statement} "2025-05-11"^^<http://www.w3.org/2001/XMLSchema#date> .'
    assert after_accept == (before - {old}) | {new}
    assert not amendment_nodes and kept_nodes  # not published as data; kept in the batch's own graph
    counts = {k: accepted["amendments"][k] for k in ("added", "retracted", "merged", "removed", "rewritten")}
    assert counts == {"added": 1, "retracted": 1, "merged": 0, "removed": 1, "rewritten": 0}
    assert accepted["history"][-1]["action"] == "accepted" and accepted["history"][-1]["retracted"] == 1
    assert preview["triples_restored"] == 1 and preview["triples_removed"] == 1
    assert after_revert == before
    assert reverted["state"] == "reverted" and reverted["history"][-1]["restored"] == 1


def test_amend_a_merge_rewrites_every_triple_naming_the_duplicate_and_revert_restores_the_graph(
    review_engines, validator, tmp_path
):
    async def steps(public, staging):
        setup = await _submit_accept(public, staging, validator, curation.read_files([_DUPLICATE]))
        before = await _published(public)
        # Merged as it is, Russia would have two English prefLabels: the merged result is validated too.
        merge_only = "[] a pg:Merge ; pg:mergedFrom party:russian-federation ; pg:mergedInto party:russia ."
        with pytest.raises(NotConformant) as two_names:
            await curation.submit_batch(public, staging, validator, _turtle(merge_only, tmp_path), curator="cora")
        accepted = await _submit_accept(public, staging, validator, curation.read_files([_MERGE]))
        after = await _published(public)
        # The duplicate's own batch cannot be reverted first: the merge rewrote its triples.
        preview = await curation.revert_preview(public, staging, setup["id"])
        with pytest.raises(Conflict) as amended:
            await curation.revert_batch(public, staging, setup["id"], actor="rita", role="reviewer")
        assert await _published(public) == after
        revert = await curation.revert_batch(public, staging, accepted["id"], actor="rita", role="reviewer")
        restored = await _published(public)
        await curation.revert_batch(public, staging, setup["id"], actor="rita", role="reviewer")  # now it may
        assert not [line for line in await _published(public) if f"<{_DUP}>" in line]
        assert preview["amended_by"] == [accepted["id"]] and accepted["id"] in str(amended.value)
        return before, after, restored, two_names.value.report, accepted, revert

    before, after, after_revert, two_names, accepted, reverted = _review(review_engines, validator, steps)
    assert any(r.focus_node == "pgid:party/russia" and r.path == "skos:prefLabel" for r in two_names.results)
    naming = [line for line in after if f"<{_DUP}>" in line]
    assert naming == [f"<{_DUP}> <https://w3id.org/posgraph/ns#mergedInto> <{_RUSSIA}> ."]
    # Every triple that named the duplicate (as subject or object, blank-node terms too) now names Russia.
    rewritten = {line.replace(f"<{_DUP}>", f"<{_RUSSIA}>") for line in before if f"<{_DUP}>" in line}
    dropped = f'<{_RUSSIA}> <http://www.w3.org/2004/02/skos/core#prefLabel> "Russian Federation"@en .'
    assert rewritten - {dropped} <= after and dropped not in after
    assert any(line.startswith("_:") and line.endswith(f"<{_RUSSIA}> .") for line in rewritten)
    assert after_revert == before
    assert accepted["amendments"]["merged"] == 1 and accepted["amendments"]["retracted"] == 1
    assert reverted["state"] == "reverted"


@pytest.mark.parametrize(
    "text, named",
    [
        (  # the published date is a gYearMonth, not a string: nothing to retract
            "[] a pg:Retraction ; pg:retractsSubject position:ua-2025-05-leaders-meeting ; "
            'pg:retractsPredicate pg:statedOn ; pg:retractsObject "2025-05" .',
            "not published",
        ),
        ("[] a pg:Merge ; pg:mergedFrom party:russia ; pg:mergedInto party:russia .", "must differ"),
        ("[] a pg:Merge ; pg:mergedFrom party:nobody ; pg:mergedInto party:russia .", "not described"),
        (  # a correct retraction, but the batch's addition fails validation (a month cannot be "2025-13")
            "[] a pg:Retraction ; pg:retractsSubject position:ua-2025-05-leaders-meeting ; "
            'pg:retractsPredicate pg:statedOn ; pg:retractsObject "2025-05"^^xsd:gYearMonth .\n'
            'position:ua-2025-05-leaders-meeting pg:statedOn "soon" .',
            "pg:statedOn",
        ),
        (  # a merge, and an addition about the IRI it merges away
            '[] a pg:Merge ; pg:reason "test"@en ; pg:mergedFrom party:nato ; pg:mergedInto party:russia .\n'
            'party:nato skos:altLabel "The Alliance"@en .',
            "must use the IRI kept",
        ),
    ],
    ids=["unpublished-triple", "merge-into-itself", "merge-of-nothing", "invalid-addition", "addition-names-merged"],
)
def test_amend_bad_amendments_are_refused_and_nothing_changes(review_engines, validator, tmp_path, text, named):
    async def steps(public, staging):
        before = await _published(public)
        with pytest.raises(NotConformant) as refused:
            await curation.submit_batch(public, staging, validator, _turtle(text, tmp_path), curator="cora")
        # A dry run says the same, in the standard report too.
        prepared = curation.prepare_quads(q for f in _turtle(text, tmp_path) for q in f.quads)
        _, turtle, _ = await curation.validate_batch(public, validator, prepared, render="text/turtle")
        dry_run = rdflib.Graph().parse(data=turtle, format="turtle")
        return before, await _published(public), refused.value, await curation.list_batches(public, staging), dry_run

    before, after, refused, batches, dry_run = _review(review_engines, validator, steps)
    assert (None, SH.conforms, rdflib.Literal(False)) in dry_run
    assert any(named in str(o) for o in dry_run.objects(None, SH.resultMessage)) or any(
        named.endswith(str(o).rsplit("#", 1)[-1]) for o in dry_run.objects(None, SH.resultPath)
    )
    assert not refused.report.conforms
    assert any(named in (r.message + " " + (r.path or "")) for r in refused.report.results), refused.report.results
    assert after == before and [b["id"] for b in batches] == ["seed"]


def test_amend_a_retraction_published_away_since_submission_is_refused_at_accept(review_engines, validator):
    async def steps(public, staging):
        files = curation.read_files([_SHARPEN])
        first = await curation.submit_batch(public, staging, validator, files, curator="cora", label="first")
        # The same correction again, worded differently (another reason): a second batch.
        text = _SHARPEN.read_text().replace("a later source gives the day", "another source agrees")
        second = await curation.submit_batch(
            public, staging, validator, curation.parse_body(text.encode(), "text/turtle"), curator="carl"
        )
        await curation.accept_batch(public, staging, validator, first["id"], reviewer="rita", role="reviewer")
        before = await _published(public)
        with pytest.raises(NotConformant) as refused:
            await curation.accept_batch(public, staging, validator, second["id"], reviewer="rita", role="reviewer")
        state = (await curation.get_batch(public, staging, second["id"]))["state"]
        return before, await _published(public), refused.value, state

    before, after, refused, state = _review(review_engines, validator, steps)
    assert any("not published" in r.message for r in refused.report.results)
    assert after == before and state == "submitted"


def test_amend_posgraph_load_refuses_amendments_and_writes_nothing(fresh_engine, validator):

    async def go():
        async with Engine(fresh_engine.url) as engine:
            before = await _published(engine)
            with pytest.raises(BadInput) as refused:
                await curation.load_batch(engine, validator, curation.read_files([_SHARPEN]), curator="a")
            return before, await _published(engine), refused.value

    before, after, refused = run(go())
    assert "amend-sharpen-date.ttl" in str(refused) and "review" in str(refused)
    assert after == before


# ------------------------------------------------------------------------------------------ the workbench's use cases
@pytest.mark.parametrize(
    "role, self_accept, expected",
    [
        ("reader", False, {"submit": False, "review": False, "accept_own": False, "revert": False, "update": False}),
        ("curator", False, {"submit": True, "review": False, "accept_own": False, "revert": False, "update": False}),
        ("curator", True, {"submit": True, "review": False, "accept_own": True, "revert": False, "update": False}),
        ("reviewer", False, {"submit": True, "review": True, "accept_own": False, "revert": True, "update": False}),
        ("reviewer", True, {"submit": True, "review": True, "accept_own": True, "revert": True, "update": False}),
        ("admin", False, {"submit": True, "review": True, "accept_own": True, "revert": True, "update": True}),
    ],
)
def test_permissions_are_what_the_review_rules_decide(role, self_accept, expected):
    assert curation.permissions("pat", role, allow_self_accept=self_accept) == expected


def test_the_seed_in_words_has_a_sentence_for_every_kind_of_thing(validator):
    from posgraph.curation.summary import read_batch, vocabulary

    quads = [q for f in curation.read_files(PROJECT_FILES.seed_files) for q in f.quads]
    read = read_batch(curation.prepare_quads(quads).ntriples, vocabulary(validator.ontology))
    kinds = read["kinds"]
    for kind in ("Demand", "Offer", "State", "Alliance", "Person", "Source", "Media organisation", "Event"):
        assert kinds.get(kind), (kind, kinds)
    assert read["subject_count"] == len(read["subjects"]) and not read["retractions"]
    # Positions come first, then parties, people …
    groups = [s["kind"] for s in read["subjects"]]
    assert groups.index("https://w3id.org/posgraph/ns#Demand") < groups.index("https://w3id.org/posgraph/ns#State")
    limited = read_batch(curation.prepare_quads(quads).ntriples, vocabulary(validator.ontology), 3)
    assert len(limited["subjects"]) == 3 and limited["subject_count"] == read["subject_count"]


def test_a_note_a_reason_an_entitys_batches_and_the_summary_without_a_server(review_engines, validator, tmp_path):
    demand = _turtle(
        "@prefix pgi: <https://w3id.org/posgraph/issue/> . @prefix source: <https://w3id.org/posgraph/id/source/> .\n"
        'position:test-lib-demand a pg:Demand ; pg:heldBy party:russia ; pg:statedOn "2025-07"^^xsd:gYearMonth ;'
        " pg:concerns pgi:territory ; pg:source source:st-2025-07-istanbul-offer ;"
        ' pg:summary "Illustrative: a demand for a library test."@en .',
        tmp_path,
    )
    iri = "https://w3id.org/posgraph/id/position/test-lib-demand"

    async def steps(public, staging):
        submitted = await curation.submit_batch(public, staging, validator, demand, curator="cora", note="a note")
        about = await curation.batches_about(public, staging, iri)
        summary = await curation.batch_summary(public, staging, validator.ontology, submitted["id"])
        await curation.accept_batch(public, staging, validator, submitted["id"], reviewer="rita", role="reviewer")
        comment = await public.select(
            f"SELECT ?c WHERE {{ <{batch_iri(submitted['id'])}> <http://www.w3.org/2000/01/rdf-schema#comment> ?c }}"
        )
        reverted = await curation.revert_batch(
            public, staging, submitted["id"], actor="rita", role="reviewer", reason="a reason"
        )
        return submitted, about, summary, comment, reverted, await curation.batches_about(public, staging, iri)

    submitted, about, summary, comment, reverted, after = _review(review_engines, validator, steps)
    assert submitted["note"] == "a note" and submitted["history"][0]["note"] == "a note"
    assert [b["id"] for b in about] == [submitted["id"]]
    assert summary["sentences"][0]["text"] == (
        "adds a Demand by Russia on Territory, stated 2025-07, citing “Faint signs of life appear in effort to halt"
        " Ukraine war”"
    )
    assert [str(r["c"]) for r in comment] == ["a note"]
    assert reverted["history"][-1] == {**reverted["history"][-1], "action": "reverted", "note": "a reason"}
    assert [h["action"] for h in after[0]["history"]] == ["submitted", "accepted", "reverted"]


def test_a_file_that_cannot_be_read_is_named_in_the_error_whether_read_whole_or_streamed(tmp_path, validator):
    """read_files (validation, submission) and the streamed load both open files through intake.open_file: a
    directory given as a file is refused before anything is parsed or sent (the engine here is never reached)."""
    folder = tmp_path / "data.ttl"
    folder.mkdir()
    with pytest.raises(BadInput, match=r"data\.ttl: cannot read"):
        curation.read_files([folder])

    async def load():
        async with Engine("http://127.0.0.1:9") as engine:  # discard port: a request would fail differently
            await load_files(engine, validator, [folder], curator="tests", validate=False)

    with pytest.raises(BadInput, match=r"data\.ttl: cannot read"):
        run(load())


def test_a_staged_batch_counts_types_and_sources_as_the_parsed_statements_say(tmp_path):
    """Staging reads N-Quads text, not terms: its counts, sources and superclass types are what the parsed
    statements give (``entailment.supertype_triples``), blank nodes, literals that look like terms and every
    file of the corpus included."""
    from posgraph.curation import loading
    from posgraph.curation.entailment import superclasses, supertype_lines, supertype_triples

    # A kind of position: an amendment class (pg:Merge, pg:Retraction) would send the file to review instead.
    sub, sup = str(PG.Demand), superclasses()[str(PG.Demand)]
    tricky = tmp_path / "tricky.ttl"
    tricky.write_text(
        "@prefix pg: <https://w3id.org/posgraph/ns#> .\n"
        "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"
        f"<http://x/a> a <{sub}> .\n"
        f"<http://x/b> a <{sub}>, <{sup[0]}> .\n"  # its superclass stated: not added again
        f"[] a <{sub}> ; pg:source <http://x/src> .\n"
        f'<http://x/c> pg:note "<http://x/d> <{RDF_TYPE}> <{sub}> ." ; pg:source "a literal source" .\n'
        f'<http://x/c> <http://x/p> "x" .\n'
    )
    corpus = [p for p in sorted((EXAMPLES / "corpus").glob("*.ttl")) if "merge" not in p.name]
    corpus = [p for p in corpus if "correction" not in p.name]
    files = [tricky, *corpus, *sorted((EXAMPLES / "valid").glob("*.ttl"))]
    staged = loading._stage(loading._file_chunks(files, None))
    with staged.spool:
        staged.spool.seek(0)
        spooled = list(ox.parse(staged.spool.read(), format=ox.RdfFormat.N_TRIPLES))
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in spooled]
    assert staged.triples == len(triples) > 1000
    assert staged.digest == formats.content_hash(spooled)
    assert staged.resources == len({t.subject for t in triples if isinstance(t.subject, ox.NamedNode)})
    source = ox.NamedNode("https://w3id.org/posgraph/ns#source")
    assert staged.sources == {t.object for t in triples if t.predicate == source}
    assert ox.Literal("a literal source") in staged.sources
    expected = [str(t).encode() for t in supertype_triples(triples)]
    assert supertype_lines(staged.typing) == expected
    assert f"<http://x/a> <{RDF_TYPE}> <{sup[0]}>".encode() in expected
    assert not any(line.startswith((b"<http://x/b>", b"<http://x/c>", b"<http://x/d>")) for line in expected)
    assert any(line.startswith(b"_:") for line in expected)
