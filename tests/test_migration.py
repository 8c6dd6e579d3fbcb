"""Migrating a real 0.1 store (the frozen 0.1 ontology and seed, plus a 0.1 batch of this module's own) to the
package's model on a real Oxigraph engine: what is rewritten, that nothing else is lost, one transaction, a change
record, idempotence; and the versioned JSON-LD contexts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import rdflib
from conftest import EXAMPLES, run

from posgraph import curation, linked_data
from posgraph.config import PROJECT_FILES
from posgraph.curation import migration
from posgraph.engine import Engine
from posgraph.errors import ConfigError, EngineError
from posgraph.namespaces import (
    CONTEXT_IRI,
    CONTEXT_IRIS,
    CONTEXT_VERSION,
    ONTOLOGY_GRAPH,
    ONTOLOGY_IRI,
    PG,
    PGID,
    batch_iri,
    served_context_urls,
)
from posgraph.supervisor import ManagedEngine
from posgraph.validation import Validator

V01 = EXAMPLES / "v0.1"
V01_ONTOLOGY = [V01 / name for name in ("issues.ttl", "posgraph.ttl", "vocabularies.ttl")]
V01_SEED = [V01 / "seed.ttl"]
OLD_PREDICATES = {str(PG.confidence), str(PG.reportedVia)}
EXTRA_BATCH = "migration-extra"
TWO_SOURCES = f"{PGID}position/migration-test-two-sources"
DIRECT = f"{PGID}position/ru-2025-07-territory"  # a seed position given a confidence by a direct update

# A 0.1 batch: a position with two sources, carrying both 0.1 forms.
EXTRA_TURTLE = """
@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix pgi: <https://w3id.org/posgraph/issue/> .
@prefix id: <https://w3id.org/posgraph/id/> . @prefix schema: <https://schema.org/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
id:source\\/migration-test-second a pg:Source, schema:NewsArticle ;
    schema:headline "A second account of the offer"@en ; schema:datePublished "2025-07-22"^^xsd:date ;
    schema:publisher id:org\\/new-york-times .
id:position\\/migration-test-two-sources a pg:Statement ;
    pg:heldBy id:party\\/ukraine ; pg:addressedTo id:party\\/russia ; pg:statedOn "2025-07"^^xsd:gYearMonth ;
    pg:concerns pgi:talks ; pg:summary "Ukraine repeats its offer of talks."@en ;
    pg:confidence 0.9 ; pg:reportedVia id:org\\/tass ;
    pg:source id:source\\/st-2025-07-istanbul-offer, id:source\\/migration-test-second .
"""

Quad = tuple[str, str, str, str]  # graph ("" for the default graph), subject, predicate, object, as N-Triples terms


def _term(node: rdflib.term.Node) -> str:
    return node.n3()


async def build_v01_store(url: str, tmp: Path) -> None:
    """Make the store at ``url`` what posgraph 0.1 made: its ontology through ensure_bootstrapped, its seed batch
    as ensure_bootstrapped loads it, one more 0.1 batch, and a direct update (default graph only)."""
    checker = Validator.from_files(PROJECT_FILES.shapes_files, V01_ONTOLOGY)
    extra = tmp / "extra-0.1.ttl"
    extra.write_text(EXTRA_TURTLE)
    async with Engine(url) as engine:
        assert await curation.ensure_bootstrapped(engine, checker, V01_ONTOLOGY, V01_SEED, seed=False) == ["ontology"]
        # Loaded as ensure_bootstrapped loads the seed, but not validated: the package's shapes are 0.2's, and the
        # frozen seed was checked by 0.1's when it was made.
        for files, batch, curator in ((V01_SEED, "seed", "posgraph seed"), ([extra], EXTRA_BATCH, "curator")):
            await curation.load_batch(
                engine, checker, curation.read_files(files), curator=curator, batch_id=batch, validate=False
            )
        decimal = "http://www.w3.org/2001/XMLSchema#decimal"
        await engine.update(f'INSERT DATA {{ <{DIRECT}> <{PG.confidence}> "0.5"^^<{decimal}> }}')


async def quads(engine: Engine) -> set[Quad]:
    """Every quad in the store (blank nodes keep their store identity across queries)."""
    rows = await engine.select("SELECT ?g ?s ?p ?o WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
    return {(_term(r["g"]) if "g" in r else "", _term(r["s"]), _term(r["p"]), _term(r["o"])) for r in rows}


def _file_triples(files: list[Path]) -> set[tuple[str, str, str]]:
    graph = rdflib.Graph()
    for path in files:
        graph.parse(path, format="turtle")
    return {(_term(s), _term(p), _term(o)) for s, p, o in graph}


def _iri(value: str) -> str:
    return f"<{value}>"


@pytest.fixture
def v01(tmp_path) -> Iterator[ManagedEngine]:
    managed = ManagedEngine(tmp_path / "store")
    managed.start()
    try:
        run(build_v01_store(managed.url, tmp_path))
        yield managed
    finally:
        managed.stop()


def _migrate(url: str) -> tuple[set[Quad], migration.MigrationResult, set[Quad], migration.MigrationResult, set[Quad]]:
    async def go():
        async with Engine(url) as engine:
            before = await quads(engine)
            first = await migration.migrate(engine, PROJECT_FILES.ontology_files)
            after = await quads(engine)
            second = await migration.migrate(engine, PROJECT_FILES.ontology_files)
            return before, first, after, second, await quads(engine)

    return run(go())


# ------------------------------------------------------------------------------------------ the store
def test_a_01_store_is_recognised_and_the_package_is_newer(v01):
    async def go():
        async with Engine(v01.url) as engine:
            return await migration.store_version(engine)

    assert run(go()) == "0.1.0"
    assert migration.files_version(V01_ONTOLOGY) == "0.1.0"
    assert migration.files_version(PROJECT_FILES.ontology_files) == CONTEXT_VERSION == "0.2.0"
    assert migration.needs_migration("0.1.0", "0.2.0") and not migration.needs_migration("0.2.0", "0.2.0")
    assert not migration.needs_migration(None, "0.2.0")  # an empty store is bootstrapped, not migrated
    with pytest.raises(ConfigError, match="newer than this posgraph"):
        migration.needs_migration("0.10.0", "0.2.0")  # compared as numbers, not as text


def test_migration_rewrites_the_01_forms_and_keeps_every_other_triple(v01):
    before, first, after, second, again = _migrate(v01.url)
    assert first.migrated and (first.from_version, first.to_version) == ("0.1.0", "0.2.0")

    # The 0.1 forms were there, in the default graph and the batch graphs, and none is left on a position.
    old = {q for q in before if q[2] in {_iri(p) for p in OLD_PREDICATES} and "/position/" in q[1]}
    assert {q[0] for q in old} == {"", _iri(batch_iri("seed")), _iri(batch_iri(EXTRA_BATCH))}
    assert not [q for q in after if q[2] in {_iri(p) for p in OLD_PREDICATES} and "/position/" in q[1]]

    # Each (position, 0.1 predicate, value) became, for each of the position's sources, a report with that value
    # and that source, in the default graph and in every batch graph that held the 0.1 triple.
    def sources(graph: str, position: str) -> set[str]:
        return {q[3] for q in before if q[:3] == (graph, position, _iri(str(PG.source)))}

    reports: dict[tuple[str, str], set[str]] = {}
    for graph, subject, predicate, obj in after:
        if predicate == _iri(str(PG.report)):
            reports.setdefault((graph, subject), set()).add(obj)

    def report_facts(graph: str, report: str) -> dict[str, set[str]]:
        facts: dict[str, set[str]] = {}
        for g, s, p, o in after:
            if g == graph and s == report:
                facts.setdefault(p, set()).add(o)
        return facts

    made = 0
    for graph, position, predicate, value in old:
        expected_sources = sources("", position)  # the report gets each source the position has
        found = {}
        for report in reports.get((graph, position), ()):
            facts = report_facts(graph, report)
            if value in facts.get(predicate, set()):
                assert facts[_iri(str(PG.sourcing))] == {_iri(str(PG.unspecifiedSourcing))}
                assert _iri(str(PG.Report)) in facts[_iri("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")]
                (source,) = facts[_iri(str(PG.source))]
                found[source] = report
        assert set(found) == expected_sources, (graph, position, predicate)
        made += graph == ""
    # The batch graphs hold the very report nodes of the default graph (so a revert removes them there).
    default_reports = {r for (g, _), rs in reports.items() if g == "" for r in rs}
    assert {r for (g, _), rs in reports.items() if g for r in rs} <= default_reports
    assert len(reports[("", _iri(TWO_SOURCES))]) == 2 and first.reports == len(default_reports) == 5
    assert made == 5  # seed: a confidence, a reported-via; the extra batch: both; the direct update: a confidence

    # Every other triple is still there: all of before, less the 0.1 forms and the old ontology's triples.
    old_ontology = _file_triples(V01_ONTOLOGY)
    new_ontology = _file_triples(PROJECT_FILES.ontology_files)
    ontology_graph = _iri(str(ONTOLOGY_GRAPH))
    kept = {q for q in before if q not in old and not (q[0] in ("", ontology_graph) and q[1:] in old_ontology)}
    assert kept <= after, sorted(kept - after)[:5]
    # The ontology graph is exactly the package's ontology, which is in the default graph too.
    assert {q[1:] for q in after if q[0] == ontology_graph} == new_ontology
    assert {("", *t) for t in new_ontology} <= after
    # What only the old ontology said (its version, for one) is gone, unless a batch states it too.
    batch_stated = {q[1:] for q in before if q[0] not in ("", ontology_graph)}
    dropped = old_ontology - new_ontology - batch_stated
    assert dropped and not {q for q in after if q[0] == "" and q[1:] in dropped}
    # And nothing came that is not the new ontology, a report, the change record (and its agent) or a superclass type.
    change, who = _iri(f"{PGID}change/{first.change}"), _iri(f"{PGID}agent/posgraph-migrate")
    extra = {
        q
        for q in after - before
        if q[1:] not in new_ontology
        and q[1] not in default_reports
        and q[1] not in (change, who)
        and q[2] != _iri(str(PG.report))
    }
    assert all(q[2] == _iri("http://www.w3.org/1999/02/22-rdf-syntax-ns#type") for q in extra), sorted(extra)[:5]

    # The second run changes nothing.
    assert not second.migrated and second.from_version == "0.2.0" and again == after


def test_the_migrated_batches_conform_to_the_packages_shapes(v01, validator, tmp_path):
    """The reports migration makes are what 0.2's shapes expect (a source, a sourcing from the scheme, …): the
    migrated 0.1 batches, together, validate against the package's shapes."""
    _migrate(v01.url)

    async def go():
        async with Engine(v01.url) as engine:
            return [(await engine.graph_get(batch_iri(b))).content for b in ("seed", EXTRA_BATCH)]

    files = []
    for number, content in enumerate(run(go())):
        files.append(tmp_path / f"batch-{number}.nt")
        files[-1].write_bytes(content)
    report = curation.validate_files(validator, curation.read_files(files), offline=True)
    assert report.conforms, report.to_text("migrated batches")
    assert b"unspecifiedSourcing" in files[1].read_bytes()


def test_the_store_states_the_new_version_and_a_change_record(v01):
    _, first, _, _, _ = _migrate(v01.url)

    async def go():
        async with Engine(v01.url) as engine:
            version = await migration.store_version(engine)
            feed = await linked_data.changes(engine, None, 1000)
            dataset = await linked_data.dataset_version(engine)
            iri_versions = await engine.select(
                f"SELECT ?v WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ <{ONTOLOGY_IRI}> "
                f"<http://www.w3.org/2002/07/owl#versionIRI> ?v }} }}"
            )
            return version, feed, dataset, iri_versions

    version, feed, dataset, iri_versions = run(go())
    assert version == "0.2.0"
    assert [str(r["v"]) for r in iri_versions] == [f"{ONTOLOGY_IRI}/0.2.0"]
    migrated = [c for c in feed if c["kind"] == migration.MIGRATION_KIND]
    assert len(migrated) == 1 and migrated[0]["version"] == first.change and migrated[0]["by"] == "posgraph migrate"
    assert dataset.id == first.change  # the dataset's version moved to the migration


def test_a_revert_after_migration_takes_the_batchs_reports_too(v01, empty_engine):
    _migrate(v01.url)

    async def go():
        async with Engine(v01.url) as public, Engine(empty_engine.url) as staging:
            await curation.revert_batch(public, staging, EXTRA_BATCH, actor="reviewer", role="reviewer")
            return await public.select(
                f"""SELECT ?p ?r WHERE {{ {{ ?p <{PG.report}> ?r }} UNION {{ ?r a <{PG.Report}> }}
                    UNION {{ ?r <{PG.source}> <{PGID}source/migration-test-second> }} }}"""
            )

    rows = run(go())
    positions = {str(r["p"]) for r in rows if "p" in r}
    assert TWO_SOURCES not in positions  # its reports went with the batch that stated them
    assert {f"{PGID}position/us-2025-07-secondary-sanctions", DIRECT} <= positions  # the others stay
    orphans = {r["r"] for r in rows if "p" not in r} - {r["r"] for r in rows if "p" in r}
    assert not orphans


def test_a_second_migration_racing_the_first_records_and_changes_nothing(v01):
    """Two migrations that both saw a 0.1 store: the one applied second finds nothing left to do."""

    async def go():
        async with Engine(v01.url) as engine:
            first, _ = migration.migration_update(PROJECT_FILES.ontology_files, "0.1.0", "0.2.0", "first")
            late, _ = migration.migration_update(PROJECT_FILES.ontology_files, "0.1.0", "0.2.0", "late")
            await engine.update(first)
            after_first = await quads(engine)
            await engine.update(late)
            return after_first, await quads(engine)

    after_first, after_late = run(go())
    assert after_late == after_first


def test_a_failure_mid_update_leaves_the_01_store_as_it_was(v01):
    async def go():
        async with Engine(v01.url) as engine:
            before = await quads(engine)
            update, _ = migration.migration_update(PROJECT_FILES.ontology_files, "0.1.0", "0.2.0", "test")
            # The whole migration runs first; a LOAD the sandboxed engine cannot fetch then fails the request.
            with pytest.raises(EngineError):
                await engine.update(update + " ;\nLOAD <http://127.0.0.1:9/nothing.ttl>")
            return before, await quads(engine), await migration.store_version(engine)

    before, after, version = run(go())
    assert after == before and version == "0.1.0"


def test_bootstrap_migrates_an_01_store_on_start(v01, validator):
    async def go():
        async with Engine(v01.url) as engine:
            loaded = await curation.ensure_bootstrapped(
                engine, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files
            )
            again = await curation.ensure_bootstrapped(
                engine, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files
            )
            return loaded, again, await migration.store_version(engine)

    loaded, again, version = run(go())
    assert loaded and loaded[0].startswith("model migration 0.1.0 -> 0.2.0 (5 report(s) made)")
    assert not any("migration" in step for step in again) and version == "0.2.0"


def test_an_empty_store_and_a_current_store_are_not_migrated(empty_engine, validator):
    async def go():
        async with Engine(empty_engine.url) as engine:
            empty = await migration.migrate(engine, PROJECT_FILES.ontology_files)
            # A store the package bootstraps itself (the ontology alone: the seed is not what is tested here).
            await curation.ensure_bootstrapped(
                engine, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files, seed=False
            )
            before = await quads(engine)
            current = await migration.migrate(engine, PROJECT_FILES.ontology_files)
            return empty, current, before, await quads(engine)

    empty, current, before, after = run(go())
    assert (empty.from_version, empty.migrated) == (None, False)
    assert (current.from_version, current.migrated) == ("0.2.0", False) and after == before


# ------------------------------------------------------------------------------------------ JSON-LD contexts
def test_every_01_term_means_the_same_in_the_current_context():
    """JSON-LD pinned to the 0.1.0 context is read with the current one (curation.json_ld_context): that is
    exact only while the current context keeps every 0.1.0 term as it was."""
    old = json.loads((PROJECT_FILES.ontology_dir / "context-0.1.0.jsonld").read_text())["@context"]
    current = json.loads(PROJECT_FILES.context_file.read_text())["@context"]
    changed = {term for term, definition in old.items() if current.get(term) != definition}
    assert not changed


def test_the_context_iris_name_every_published_version():
    assert CONTEXT_IRIS == {
        "0.1.0": "https://w3id.org/posgraph/ns/0.1.0/context.jsonld",
        "0.2.0": "https://w3id.org/posgraph/ns/0.2.0/context.jsonld",
    }
    _, urls = curation.json_ld_context()
    assert {CONTEXT_IRI, *CONTEXT_IRIS.values()} == set(urls)
    assert set(served_context_urls("http://h:1/")) == {
        "http://h:1/ns/context.jsonld",
        "http://h:1/ns/0.1.0/context.jsonld",
        "http://h:1/ns/0.2.0/context.jsonld",
        "http://h:1/ns/context-0.1.0.jsonld",
        "http://h:1/ns/context-0.2.0.jsonld",
    }
    for version in CONTEXT_IRIS:  # an earlier version's file is shipped; the current one is context.jsonld
        assert version == CONTEXT_VERSION or (PROJECT_FILES.ontology_dir / f"context-{version}.jsonld").is_file()


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0"])
def test_a_jsonld_file_pinned_to_a_versioned_context_reads_as_the_current_one(tmp_path, version):
    doc = {
        "@context": CONTEXT_IRIS[version],
        "id": f"{PGID}party/russia",
        "altLabel": {"en": "RF"},
    }
    path = tmp_path / "doc.jsonld"
    path.write_text(json.dumps(doc))
    pinned = curation.read_files([path])[0].quads
    path.write_text(json.dumps({**doc, "@context": CONTEXT_IRI}))
    assert pinned and pinned == curation.read_files([path])[0].quads
