"""The collections' derived index (linked_data/index.py) against the engine's own answer (the SPARQL path): the same
pages for every collection, sort and a spread of filters, on the seed with the 0.2 fixture and awkward data, and on
a generated store; after each kind of write (load, batch accept, amendments, revert), moved incrementally (only
the items the change feed says were touched are read again) and still the engine's answer for every filter
combination; built whole when the feed cannot say; and over real HTTP, the page served right after each kind of
write (batch accept and revert, Graph Store write, SPARQL update) and after a restart is the engine's answer."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import os
import sqlite3
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import EXAMPLES, Server, create_token, run, start_server, wait_indexed
from rdflib import Literal, URIRef

from bench.generate import write_graph
from posgraph import curation, research
from posgraph.catalog import Catalog
from posgraph.config import PROJECT_FILES
from posgraph.curation.provenance import change_triples
from posgraph.engine import Engine
from posgraph.errors import QuerySyntaxError, UnsupportedMediaType
from posgraph.linked_data import COLLECTIONS, CollectionIndex, Page, collection, dataset_version, sparql_collection_page
from posgraph.linked_data import index as index_module
from posgraph.linked_data.collection import _checked, index_keys, request_terms
from posgraph.supervisor import ManagedEngine

pytestmark = pytest.mark.e2e

PGID = "https://w3id.org/posgraph/id/"
PGI = "https://w3id.org/posgraph/issue/"
RUSSIA = f"{PGID}party/russia"
# Data the seed lacks: labels in two languages or none, coarse and missing dates, two dates (two rows), labels equal
# but for case, supersession, escapes in a label, a source titled by a fallback property.
AWKWARD = """
@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix pos: <https://w3id.org/posgraph/id/position/> .
@prefix party: <https://w3id.org/posgraph/id/party/> . @prefix src: <https://w3id.org/posgraph/id/source/> .
@prefix pgi: <https://w3id.org/posgraph/issue/> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <https://schema.org/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
pos:zz-two-labels a pg:Demand ; pg:summary "Zebra crossing"@en, "Passage piéton"@fr ;
  pg:statedOn "2024"^^xsd:gYear ; pg:heldBy party:russia ; pg:concerns pgi:territory .
pos:zz-french a pg:Offer ; pg:summary "Échange de prisonniers"@fr ; pg:statedOn "2024-03"^^xsd:gYearMonth ;
  pg:heldBy party:russia .
pos:zz-no-label a pg:Statement ; pg:statedOn "2023-12-31"^^xsd:date ; pg:concerns pgi:territory .
pos:zz-no-date a pg:Proposal ; pg:summary "ALPHA Upper Case"@en ; pg:heldBy party:russia .
pos:zz-two-dates a pg:Demand ; pg:summary "Two dates"@en ; pg:heldBy party:russia ;
  pg:statedOn "2022-01-01"^^xsd:date, "2025-01-01"^^xsd:date .
pos:zz-same-a a pg:Demand ; pg:summary "same label"@en ; pg:statedOn "2024-01-01"^^xsd:date .
pos:zz-same-b a pg:Demand ; pg:summary "Same Label"@en ; pg:statedOn "2024-01-01"^^xsd:date .
pos:zz-super a pg:Demand ; pg:summary "Supersedes the same label"@en ;
  pg:statedOn "2024-06"^^xsd:gYearMonth ; pg:supersedes pos:zz-same-a ; pg:heldBy party:russia .
party:zz-bilingual a pg:Party ; skos:prefLabel "Zland"@en, "Zland-de"@de .
party:zz-plain a pg:Party ; skos:prefLabel "plain \\"quoted\\"\\ttab \\\\ back" .
src:zz-document a pg:Source ; skos:prefLabel "A document version"@en ;
  schema:datePublished "2024-05-05"^^xsd:date .
"""


def _load(url: str, validator, *, fixture: bool, generated: int = 0) -> None:
    async def go():
        async with Engine(url, timeout=120) as engine:
            await curation.ensure_bootstrapped(
                engine, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files
            )
            if fixture:
                files = curation.read_files([EXAMPLES / "valid" / "queries-0.2.ttl"])
                await curation.load_batch(engine, validator, files, curator="tests")
                await engine.graph_write("POST", None, AWKWARD.encode(), media_type="text/turtle")
            if generated:
                out = io.StringIO()
                write_graph(out, generated, seed=3)
                await engine.graph_write("POST", None, out.getvalue().encode(), media_type="application/n-triples")

    run(go())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, validator) -> Iterator[ManagedEngine]:
    managed = ManagedEngine(tmp_path_factory.mktemp("index-seeded") / "store")
    managed.start()
    _load(managed.url, validator, fixture=True)
    yield managed
    managed.stop()


@pytest.fixture(scope="module")
def generated(tmp_path_factory, validator) -> Iterator[ManagedEngine]:
    managed = ManagedEngine(tmp_path_factory.mktemp("index-generated") / "store")
    managed.start()
    _load(managed.url, validator, fixture=False, generated=12_000)
    yield managed
    managed.stop()


async def _indexed(index: CollectionIndex, name: str, params: dict, sort: str | None, cursor, limit: int) -> Page:
    """The page as the index answers it (never the engine: None would mean the index was not current)."""
    spec = COLLECTIONS[name]
    field, descending = _checked(spec, params, sort, limit)
    page = await index.page(spec, request_terms(spec, params, cursor), field, descending, limit)
    assert page is not None, "the index did not answer"
    return page


async def _walk(engine: Engine, index: CollectionIndex, name, params, sort, limit, pages) -> int:
    """Follow both paths' cursors page by page (up to ``pages``), asserting every page equal; return how many."""
    cursor, n = None, 0
    while n < pages:
        expected = await sparql_collection_page(engine, name, params, sort=sort, cursor=cursor, limit=limit)
        got = await _indexed(index, name, params, sort, cursor, limit)
        assert got == expected, (name, params, sort, cursor, n)
        n += 1
        if expected.next_cursor is None:
            break
        cursor = expected.next_cursor
    return n


def _sorts(name: str) -> list[str | None]:
    dated = ["date", "-date"] if COLLECTIONS[name].date else []
    return [None, *dated, "label", "-label", "id", "-id"]


POSITION_FILTERS = [
    {"party": RUSSIA},
    {"issue": f"{PGI}territory"},
    {"party": RUSSIA, "issue": f"{PGI}territory"},
    {"type": "Demand"},
    {"type": "Offer", "party": RUSSIA},
    {"stated_from": "2024"},
    {"stated_to": "2024-03"},
    {"stated_from": "2023-12-31", "stated_to": "2024-06-30"},
    {"stated_from": "2024-03-15"},  # zz-french, of March 2024: a month overlaps from a day inside it
    {"stated_from": "2025-05-20", "party": RUSSIA},
    {"as_of": "2024-07-01"},
    {"as_of": "2025-07", "party": RUSSIA},
    {"q": "same"},
    {"q": "ÉCHANGE"},
    {"q": " "},
    {"q": "no such words anywhere"},
    {"q": "a", "type": "Demand", "stated_from": "2020", "issue": f"{PGI}territory"},
    {"person": f"{PGID}person/zelensky"},
    {"person": f"{PGID}person/zelensky", "party": f"{PGID}party/ukraine", "stated_to": "2025-07-21"},
    {"person": f"{PGID}person/zelensky", "party": RUSSIA},
]


def test_every_collection_sort_and_page_agrees_with_the_engine(seeded):
    async def go():
        async with Engine(seeded.url) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            walked = 0
            for name in COLLECTIONS:
                for sort in _sorts(name):
                    walked += await _walk(engine, index, name, {}, sort, 3, 200)
            positions = await sparql_collection_page(engine, "positions", {}, limit=500)
            assert len(positions.items) > 20  # the fixture is there: pages of 3 went deep
            return walked

    assert run(go()) > 100


def test_filters_agree_with_the_engine(seeded):
    async def go():
        async with Engine(seeded.url) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            nonempty = 0
            for params in POSITION_FILTERS:
                for sort in ("date", "-date", "label", "-id"):
                    await _walk(engine, index, "positions", params, sort, 2, 50)
                first = await sparql_collection_page(engine, "positions", params, limit=500)
                nonempty += bool(first.items)
            for name, params in (
                ("events", {"party": RUSSIA}),
                ("events", {"stated_from": "2025-07", "q": "talk"}),
                ("people", {"party": RUSSIA}),
                ("sources", {"stated_to": "2025-07-21"}),
                ("sources", {"q": "document"}),
                ("parties", {"q": "land"}),
                ("issues", {"q": "terr"}),
            ):
                for sort in ("label", "-id"):
                    await _walk(engine, index, name, params, sort, 2, 50)
            return nonempty

    assert run(go()) >= len(POSITION_FILTERS) - 2  # only the nonsense q and Zelensky for Russia find nothing


def test_the_awkward_items_are_listed_as_the_engine_lists_them(seeded):
    async def go():
        async with Engine(seeded.url) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            page = await _indexed(index, "positions", {"party": RUSSIA}, "label", None, 500)
            by_id = {item["id"]: item for item in page.items}
            assert by_id[f"{PGID}position/zz-two-labels"]["summary"] == {"en": "Zebra crossing"}
            assert by_id[f"{PGID}position/zz-two-labels"]["statedOnYear"] == "2024"
            assert by_id[f"{PGID}position/zz-french"]["summary"] == {"fr": "Échange de prisonniers"}
            assert "statedOn" not in by_id[f"{PGID}position/zz-no-date"]
            # Superseded in 2024-06: in force on 2024-05-31, not on 2024-06-01 (the month's first day).
            before = await _indexed(index, "positions", {"as_of": "2024-05-31", "q": "same"}, None, None, 50)
            after = await _indexed(index, "positions", {"as_of": "2024-06-01", "q": "same"}, None, None, 50)
            assert f"{PGID}position/zz-same-a" in [i["id"] for i in before.items]
            assert f"{PGID}position/zz-same-a" not in [i["id"] for i in after.items]
            parties = await _indexed(index, "parties", {"q": "quoted"}, None, None, 50)
            assert parties.items[0]["prefLabel"] == {"@none": 'plain "quoted"\ttab \\ back'}
            sources = await _indexed(index, "sources", {"q": "document version"}, None, None, 50)
            assert sources.items[0]["prefLabel"] == {"en": "A document version"}

    run(go())


def test_a_generated_store_pages_deep_as_the_engine_does(generated):
    async def go():
        async with Engine(generated.url) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            party = f"{PGID}party/bench-1"
            assert await _walk(engine, index, "positions", {}, None, 20, 100) > 30  # to the last page
            for params, sort in (
                ({}, "-label"),
                ({"party": party}, "-date"),
                ({"issue": f"{PGI}territory", "type": "Demand"}, "label"),
                ({"as_of": "2023-06-30"}, "date"),
                ({"as_of": "2023-06-30", "party": party, "issue": f"{PGI}ceasefire"}, "-date"),
                ({"stated_from": "2023-01", "stated_to": "2023-06"}, "id"),
            ):
                await _walk(engine, index, "positions", params, sort, 7, 12)
            for name in ("parties", "people", "sources"):
                await _walk(engine, index, name, {}, "-label", 25, 100)

    run(go())


def test_a_page_filtered_by_date_and_sorted_otherwise_walks_its_sort_or_sorts_the_range(generated, monkeypatch):
    # A wide date range is walked along the label's (or IRI's) B-tree, a narrow one sorted; a walk past its budget
    # sorts after all. Every way, each page is the engine's. (The store is small: "wide" is made 100 rows.)
    monkeypatch.setattr(index_module, "_WIDE", 100)
    party = f"{PGID}party/bench-1"
    wide = {"stated_from": "2022-01-05", "stated_to": "2022-01-25"}  # 21 days, 30 positions a day
    narrow = {"stated_from": "2022-01-10", "stated_to": "2022-01-10"}

    async def pages(index: CollectionIndex, engine: Engine, cases, limit: int = 9) -> tuple[Counter, int]:
        """How the pages of ``cases`` were read, and how many pages there were."""
        before, n = index.walks, 0
        for params, sort in cases:
            n += await _walk(engine, index, "positions", params, sort, limit, 4)
        return index.walks - before, n

    async def go():
        async with Engine(generated.url) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            try:
                walked = [(wide, "label"), (wide, "-label"), (wide, "id"), (wide | {"type": "Demand"}, "-id")]
                assert await pages(index, engine, walked) == (Counter(walked=16), 16)
                few = [(narrow, "label"), ({"as_of": "2022-01-20"} | narrow, "-id"), (wide | {"party": party}, "label")]
                got, n = await pages(index, engine, few)
                assert got == Counter(sorted=n) and n >= 5, (got, n)
                # Above the floor, a range is wide from sqrt(limit * the rows read from) on: one day (30 rows of
                # ~850) for pages of 9 is sorted, the 21 days walked.
                monkeypatch.setattr(index_module, "_WIDE", 5)
                got, n = await pages(index, engine, [(narrow, "label"), (narrow, "-id")])
                assert got == Counter(sorted=n) and n >= 5, (got, n)
                assert await pages(index, engine, walked[:1]) == (Counter(walked=4), 4)
                # A party's memberships are walked too, when its range counts as wide (~16 rows of the party's ~40,
                # for pages of 2).
                got, n = await pages(index, engine, [(wide | {"party": party}, "-label")], limit=2)
                assert got == Counter(walked=n) and n >= 2, (got, n)
                monkeypatch.setattr(index_module, "_WALK_STEPS", 100)
                assert await pages(index, engine, walked) == (Counter(abandoned=16), 16)
                # Sorted by date, or with a rare q, a page takes other ways.
                got, n = await pages(index, engine, [(wide, "date"), (wide | {"q": "position 11"}, "label")])
                assert got == Counter() and n >= 5, (got, n)
                # Whether a q is rare is counted once for the version held: the next pages do not count again.
                counts: list[str] = []
                index._snapshot.db.set_trace_callback(lambda sql: counts.append(sql) if "GLOB" in sql else None)
                _, n = await pages(index, engine, [({"q": "position 2"}, "label")], limit=3)
                assert n == 4 and len([sql for sql in counts if "count(*)" in sql]) == 1, (n, counts)
            finally:
                await index.stop()

    run(go())


def test_a_walks_budget_is_the_same_every_time_the_page_is_asked(generated, monkeypatch):
    # SQLite counts a cached statement's steps over all its runs: a handler set for the whole budget came anywhere
    # within it, and a walk needing two thirds of the budget was abandoned every other time (10 of these 20). Now a
    # walk within the budget is walked every time, and one past it never.
    monkeypatch.setattr(index_module, "_WIDE", 100)
    spec, params = COLLECTIONS["positions"], {"stated_from": "2022-01-05", "stated_to": "2022-01-25"}

    async def go():
        async with Engine(generated.url) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            try:
                values = request_terms(spec, params, None)
                db = index._snapshot.db
                steps = itertools.count()
                db.set_progress_handler(lambda: next(steps) and 0, 1)  # every step, none stopped
                db.execute(*index_module._page_query(spec, values, "label", False, 9, False, walk=True)).fetchall()
                db.set_progress_handler(None, 0)
                need = next(steps)
                assert need > 200, need  # a walk of some length, not a seek
                for budget, way in ((3 * need // 2, "walked"), (need // 2, "abandoned")):
                    monkeypatch.setattr(index_module, "_WALK_STEPS", budget)
                    before = index.walks
                    for _ in range(20):
                        await _indexed(index, "positions", params, "label", None, 9)
                    assert index.walks - before == Counter({way: 20}), (budget, need, index.walks - before)
            finally:
                await index.stop()

    run(go())


def test_a_tsv_answer_reads_as_terms_and_a_repeated_value_is_one_term():
    party, month = "http://x/party", "http://www.w3.org/2001/XMLSchema#gYearMonth"
    tsv = (
        "?item\t?v\t?k\n"
        f'<http://x/a>\t<{party}>\t"k"\n'
        f"<http://x/b>\t<{party}>\t\n"
        f'<http://x/c>\t"caf\\u00E9 \\"q\\""@fr\t"2025-07"^^<{month}>\r\n'
        f'_:b0\t<{party}>\t""\n'
    ).encode()
    rows = index_module._rows(tsv)
    Term = index_module._Term
    assert len(rows) == 4 and rows[0][0] == Term(True, "http://x/a")
    # The party is one term in every row that holds it (a build at 1M triples holds millions of rows).
    assert rows[0][1] is rows[1][1] is rows[3][1] and rows[0][1] == Term(True, party)
    assert rows[1][2] is None and rows[3][0] is None  # unbound; a blank node counts as unbound
    lang_string = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
    assert rows[2][1:] == (Term(False, 'café "q"', "fr", lang_string), Term(False, "2025-07", None, month))
    assert rows[0][2] == Term(False, "k") and rows[3][2] == Term(False, "")


def test_a_walk_reads_along_the_sorts_b_tree_without_sorting(tmp_path):
    db, _ = index_module._new_database(tmp_path)
    index_module._finish(db)
    spec = COLLECTIONS["positions"]
    for extra, index in (({}, "row_label"), ({"party": URIRef(RUSSIA)}, "member_label")):
        values = {"stated_from": Literal("2023-01"), "afterKey": Literal("m"), "afterId": Literal("x")} | extra
        sql, args = index_module._page_query(spec, values, "label", True, 10, False, walk=True)
        plan = " ".join(str(row[-1]) for row in db.execute("EXPLAIN QUERY PLAN " + sql, args))
        # (Only an item's own rows, which tie on the sort, are put in the engine's order: the "right part".)
        assert f"USING INDEX {index}" in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan
    db.close()


# ------------------------------------------------------------------------------------------ incremental
# Written by the tests below, on top of the seed, the 0.2 fixture and AWKWARD: a person holding a role named by an
# IRI (so that a later batch can change the role's party alone), a position superseding zz-same-b, an event, a
# source, and a second label of an existing party.
LOADED = """
@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix pos: <https://w3id.org/posgraph/id/position/> .
@prefix party: <https://w3id.org/posgraph/id/party/> . @prefix src: <https://w3id.org/posgraph/id/source/> .
@prefix pgi: <https://w3id.org/posgraph/issue/> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <https://schema.org/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix person: <https://w3id.org/posgraph/id/person/> . @prefix role: <https://w3id.org/posgraph/id/role/> .
@prefix event: <https://w3id.org/posgraph/id/event/> .
person:zz-envoy a pg:Person ; skos:prefLabel "Zz Envoy"@en ; pg:holdsRole role:zz-envoy .
role:zz-envoy a pg:Role ; pg:roleTitle "Envoy"@en ; pg:roleFor party:zz-plain .
pos:zz-loaded a pg:Offer ; pg:summary "Loaded later, supersedes Same Label"@en ;
  pg:statedOn "2024-02"^^xsd:gYearMonth ; pg:supersedes pos:zz-same-b ; pg:heldBy party:zz-bilingual ;
  pg:concerns pgi:territory .
event:zz-loaded-talks a pg:Event ; skos:prefLabel "Loaded talks"@en ; pg:startDate "2024-04-04"^^xsd:date ;
  pg:participant party:zz-plain .
party:zz-bilingual skos:prefLabel "Zland-fr"@fr .
src:zz-loaded a pg:Source ; schema:headline "Loaded headline"@en ; schema:datePublished "2024"^^xsd:gYear .
"""
# Batches that change only what other items' rows depend on: the date of the position superseding zz-same-b
# (whose as_of answers move), and the party of the envoy's role (whose people?party answers move).
EARLIER = """<https://w3id.org/posgraph/id/position/zz-loaded> <https://w3id.org/posgraph/ns#statedOn>
  "2023-06"^^<http://www.w3.org/2001/XMLSchema#gYearMonth> ."""
REASSIGNED = f"""<{PGID}role/zz-envoy> <https://w3id.org/posgraph/ns#roleFor> <{RUSSIA}> ."""
BATCHES = EXAMPLES / "batches"

# The filter values every combination is made of, by collection.
FILTER_VALUES = {
    "positions": {
        "party": RUSSIA,
        "issue": f"{PGI}territory",
        "type": "Demand",
        "stated_from": "2024",
        "stated_to": "2025-07",
        "as_of": "2024-01-31",
        "q": "a",
    },
    "events": {"party": f"{PGID}party/zz-plain", "stated_from": "2024-04", "stated_to": "2025", "q": "talk"},
    "people": {"party": RUSSIA, "q": "e"},
    "sources": {"stated_from": "2024", "stated_to": "2025-07-21", "q": "e"},
}
EXTRA_FILTERS = [  # values that the writes below move in and out of
    ("positions", {"party": f"{PGID}party/zz-bilingual"}),
    ("positions", {"as_of": "2024-01-15", "q": "same"}),
    ("positions", {"as_of": "2024-05-31"}),
    ("positions", {"party": f"{PGID}party/russian-federation"}),
    ("positions", {"q": "loaded", "type": "Offer"}),
    ("people", {"party": f"{PGID}party/zz-plain"}),
    ("parties", {"q": "land"}),
    ("parties", {"q": "russia"}),
]


def _combinations() -> list[tuple[str, dict]]:
    """Every filter of every collection alone, every pair, and all of a collection's filters at once."""
    out = []
    for name, pool in FILTER_VALUES.items():
        keys = sorted(pool)
        for size in (1, 2, len(keys)):
            out += [(name, {k: pool[k] for k in combo}) for combo in itertools.combinations(keys, size)]
    return out + EXTRA_FILTERS + [(name, {"q": "e"}) for name in COLLECTIONS if name not in FILTER_VALUES]


async def _everything_agrees(engine: Engine, index: CollectionIndex) -> int:
    """Assert every collection in every sort (all its pages), and every filter combination (its first pages, in
    turn sorted each way the collection sorts), is the same page from the index as from the engine; return how
    many pages were compared."""
    compared = 0
    for name in COLLECTIONS:
        for sort in _sorts(name):
            compared += await _walk(engine, index, name, {}, sort, 7, 500)
    for n, (name, params) in enumerate(_combinations()):
        sorts = _sorts(name)
        compared += await _walk(engine, index, name, params, sorts[n % len(sorts)], 2, 3)
    return compared


@pytest.fixture(scope="module")
def writable(tmp_path_factory, validator) -> Iterator[tuple[ManagedEngine, ManagedEngine]]:
    """A public store (seed, fixture, awkward data) and a staging store, for tests that write."""
    base = tmp_path_factory.mktemp("index-writable")
    public, staging = ManagedEngine(base / "public"), ManagedEngine(base / "staging")
    public.start()
    staging.start()
    _load(public.url, validator, fixture=True)
    yield public, staging
    public.stop()
    staging.stop()


async def _loaded(engine: Engine, validator, tmp: Path, name: str, turtle: str) -> curation.LoadResult:
    """Load ``turtle`` as a batch (``posgraph load``, unvalidated: the index must follow any data)."""
    path = tmp / f"{name}.ttl"
    path.write_text(turtle)
    return await curation.load_batch(engine, validator, curation.read_files([path]), curator="t", validate=False)


async def _accepted(public: Engine, staging: Engine, validator, path: Path) -> str:
    """Submit ``path`` as a batch and accept it (another reviewer); return its id."""
    record = await curation.submit_batch(public, staging, validator, curation.read_files([path]), curator="cur")
    await curation.accept_batch(public, staging, validator, record["id"], reviewer="rev", role="reviewer")
    return record["id"]


async def _moved(index: CollectionIndex, kind: str, engine: Engine) -> None:
    """Refresh, assert it was done ``kind`` ("incremental" or "full") and that it holds the engine's version."""
    before = (index.full_rebuilds, index.incremental_refreshes)
    version = await index.refresh()
    assert index.last is not None and index.last.kind == kind, index.last
    assert index.last.version == version == index.version
    full, incremental = (1, 0) if kind == "full" else (0, 1)
    assert (index.full_rebuilds, index.incremental_refreshes) == (before[0] + full, before[1] + incremental)
    assert (await dataset_version(engine)).id == version


def test_each_kind_of_write_moves_the_index_incrementally_to_the_engines_pages(writable, validator, tmp_path):
    public_engine, staging_engine = writable

    async def go():
        async with Engine(public_engine.url, timeout=120) as public, Engine(staging_engine.url) as staging:
            index = CollectionIndex(public)
            await _moved(index, "full", public)
            assert index.last.reason == "first build"
            baseline = await _everything_agrees(public, index)
            assert baseline > 150

            # A load: new items in five collections, and a label added to an existing party.
            held = index.version
            await _loaded(public, validator, tmp_path, "loaded", LOADED)
            await _moved(index, "incremental", public)
            # The move was one step: a reader that read the old version is not answered from the new rows.
            spec = COLLECTIONS["positions"]
            assert await index.page(spec, {}, "date", False, 5, version=held) is None
            assert await index.page(spec, {}, "date", False, 5, version=index.version) is not None
            touched = index.last.items
            assert 6 <= touched < 40  # the batch's subjects and the item it supersedes: not the whole store
            envoy = await _indexed(index, "people", {"party": f"{PGID}party/zz-plain"}, None, None, 50)
            assert f"{PGID}person/zz-envoy" in [i["id"] for i in envoy.items]
            await _everything_agrees(public, index)

            # Loads that touch only what other items depend on: an earlier date for the position superseding
            # zz-same-b (so zz-same-b is no longer in force on 2024-01-15), and the envoy's role's party.
            in_force = await _indexed(index, "positions", {"as_of": "2024-01-15", "q": "same"}, None, None, 50)
            assert f"{PGID}position/zz-same-b" in [i["id"] for i in in_force.items]
            earlier = await _loaded(public, validator, tmp_path, "earlier", EARLIER)
            await _moved(index, "incremental", public)
            in_force = await _indexed(index, "positions", {"as_of": "2024-01-15", "q": "same"}, None, None, 50)
            assert f"{PGID}position/zz-same-b" not in [i["id"] for i in in_force.items]
            await _loaded(public, validator, tmp_path, "reassigned", REASSIGNED)
            await _moved(index, "incremental", public)
            envoy = await _indexed(index, "people", {"party": RUSSIA}, None, None, 50)
            assert f"{PGID}person/zz-envoy" in [i["id"] for i in envoy.items]
            await _everything_agrees(public, index)

            # Batches accepted through review: one plain, one setting up a duplicate, then amendments (a merge
            # and a retraction of the duplicate; a retraction and a sharper date of a seed position).
            plain = await _accepted(public, staging, validator, EXAMPLES / "valid" / "minimal-demand.ttl")
            await _moved(index, "incremental", public)
            await _everything_agrees(public, index)
            await _accepted(public, staging, validator, BATCHES / "amend-setup-duplicate.ttl")
            await _moved(index, "incremental", public)
            duplicate = f"{PGID}position/test-rf-2025-07-talks-demand"
            held = await _indexed(index, "positions", {"party": f"{PGID}party/russian-federation"}, None, None, 50)
            assert [i["id"] for i in held.items] == [duplicate]
            merge = await _accepted(public, staging, validator, BATCHES / "amend-merge-duplicate.ttl")
            await _moved(index, "incremental", public)
            held = await _indexed(index, "positions", {"party": f"{PGID}party/russian-federation"}, None, None, 50)
            assert held.items == []
            held = await _indexed(index, "positions", {"party": RUSSIA, "q": "duplicate"}, None, None, 50)
            assert [i["id"] for i in held.items] == [duplicate]
            sharpen = await _accepted(public, staging, validator, BATCHES / "amend-sharpen-date.ttl")
            await _moved(index, "incremental", public)
            await _everything_agrees(public, index)

            # Reverts: what the index read when they were published says what they take away (their graph is
            # gone), and their amendments' ledgers what they give back.
            for batch in (sharpen, merge, plain, earlier.batch_id):
                await curation.revert_batch(public, staging, batch, actor="rev", role="reviewer")
                await _moved(index, "incremental", public)
            in_force = await _indexed(index, "positions", {"as_of": "2024-01-15", "q": "same"}, None, None, 50)
            assert f"{PGID}position/zz-same-b" in [i["id"] for i in in_force.items]
            held = await _indexed(index, "positions", {"party": f"{PGID}party/russian-federation"}, None, None, 50)
            assert [i["id"] for i in held.items] == [duplicate]
            await _everything_agrees(public, index)
            assert index.full_rebuilds == 1  # nothing above needed the whole store read again

    run(go())


def test_what_the_feed_cannot_say_is_built_whole(writable, validator, tmp_path):
    public_engine, staging_engine = writable

    async def go():
        async with Engine(public_engine.url, timeout=120) as public, Engine(staging_engine.url) as staging:
            index = CollectionIndex(public, max_items=3)
            await _moved(index, "full", public)

            # A SPARQL update records only that something was updated.
            await curation.run_update(
                public,
                f"INSERT DATA {{ <{PGID}party/zz-updated> a <https://w3id.org/posgraph/ns#Party> ; "
                '<http://www.w3.org/2004/02/skos/core#prefLabel> "Zz updated"@en }',
                actor="admin",
            )
            await _moved(index, "full", public)
            assert "'updated'" in index.last.reason
            assert await _indexed(index, "parties", {"q": "zz updated"}, None, None, 5) != Page([], None)

            # A batch touching more items than the index reads one by one.
            await _loaded(public, validator, tmp_path, "many", _many(5))
            await _moved(index, "full", public)
            assert "more than 3 items" in index.last.reason
            index.max_items = 20_000

            # A revert of a batch this index never saw published: its graph is gone, so nothing says what it held.
            batch = await _accepted(public, staging, validator, BATCHES / "army-cap-figure.ttl")
            fresh = CollectionIndex(public)
            await _moved(fresh, "full", public)
            await _moved(index, "incremental", public)  # the old index saw it published
            await curation.revert_batch(public, staging, batch, actor="rev", role="reviewer")
            await _moved(fresh, "full", public)
            assert "never read it published" in fresh.last.reason
            await _moved(index, "incremental", public)
            await _everything_agrees(public, fresh)
            await _everything_agrees(public, index)

            # A change recorded with a time before the version the index holds (taken before another write's,
            # committed after it): the feed after that version does not list it; the count shows it.
            late = change_triples("accepted", "t", moment=datetime.now(timezone.utc) - timedelta(hours=1))
            hidden = f"<{PGID}party/zz-late> a <https://w3id.org/posgraph/ns#Party> ."
            body = " ".join(f"{s} {p} {o} ." for s, p, o in late)
            await public.update(f"INSERT DATA {{ {body} {hidden} }}")
            await _loaded(public, validator, tmp_path, "after", _many(1))
            await _moved(index, "full", public)
            assert "out of time order" in index.last.reason
            await _everything_agrees(public, index)

    run(go())


def _many(n: int) -> str:
    """Turtle for ``n`` new parties."""
    stamp = time.time_ns()
    return "".join(
        f"<{PGID}party/zz-many-{stamp}-{i}> a <https://w3id.org/posgraph/ns#Party> ; "
        f'<http://www.w3.org/2004/02/skos/core#prefLabel> "Many {i}"@en .\n'
        for i in range(n)
    )


# ------------------------------------------------------------------------------------------ over HTTP
@pytest.fixture(scope="module")
def served(tmp_path_factory, validator) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("index-served")
    public, staging = ManagedEngine(base / "public"), ManagedEngine(base / "staging")
    public.start()
    staging.start()
    _load(public.url, validator, fixture=True)
    env = {
        "POSGRAPH_ENGINE_URL": public.url,
        "POSGRAPH_STAGING_ENGINE_URL": staging.url,
        "POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000",
    }
    srv = start_server(base / "unused", base / "serve.log", env=env)
    srv.engine_url, srv.env, srv.base = public.url, env, base
    srv.tokens = {role: create_token(base, role, f"{role}-1") for role in ("curator", "reviewer", "admin")}
    yield srv
    srv.stop()
    public.stop()
    staging.stop()


CHECKED = [
    ("positions", {}),
    ("positions", {"sort": "-date"}),
    ("positions", {"party": f"{PGID}example/a", "sort": "-date"}),
    ("positions", {"q": "peninsula"}),
    ("positions", {"q": "written through", "sort": "label"}),
    ("positions", {"as_of": "2025-12-31", "issue": f"{PGI}territory", "sort": "-label"}),
    ("parties", {"sort": "label"}),
    ("sources", {"sort": "-date", "limit": "3"}),
]


def _served_page(client, name: str, params: dict) -> tuple[str, Page]:
    response = client.get(f"/{name}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    cursor = parse_qs(urlparse(body["next"]).query)["cursor"][0] if "next" in body else None
    return response.headers["x-posgraph-version"], Page(body["items"], cursor)


def _reference(url: str, name: str, params: dict) -> Page:
    params = dict(params)
    sort, limit = params.pop("sort", None), int(params.pop("limit", "50"))

    async def go():
        async with Engine(url) as engine:
            return await sparql_collection_page(engine, name, params, sort=sort, limit=limit)

    return run(go())


def _agree(server: Server, *, deep: bool = False) -> str:
    """Assert every checked page (and, when ``deep``, its second page) is the engine's; return the version."""
    versions = set()
    with server.client() as client:
        for name, params in CHECKED:
            version, page = _served_page(client, name, params)
            versions.add(version)
            assert page == _reference(server.engine_url, name, params), (name, params)
            if deep and page.next_cursor:
                _, second = _served_page(client, name, {**params, "cursor": page.next_cursor})
                expected = _reference_after(server.engine_url, name, params, page.next_cursor)
                assert second == expected, (name, params, "page 2")
    assert len(versions) == 1
    return versions.pop()


def _reference_after(url: str, name: str, params: dict, cursor: str) -> Page:
    params = dict(params)
    sort, limit = params.pop("sort", None), int(params.pop("limit", "50"))

    async def go():
        async with Engine(url) as engine:
            return await sparql_collection_page(engine, name, params, sort=sort, cursor=cursor, limit=limit)

    return run(go())


def _ids(server: Server, name: str, params: dict) -> list[str]:
    with server.client() as client:
        return [item["id"] for item in _served_page(client, name, params)[1].items]


NEW_DEMAND = f"{PGID}example/d1"  # minimal-demand.ttl's position, held by ex:a
PUT_POSITION = f"{PGID}position/zz-written-through-the-store"


def test_pages_after_every_kind_of_write_are_the_engines(served):
    version = _agree(served)
    wait_indexed(served, version)
    assert _agree(served, deep=True) == version  # now answered by the index

    curator = {"Authorization": f"Bearer {served.tokens['curator']}"}
    reviewer = {"Authorization": f"Bearer {served.tokens['reviewer']}"}
    admin = {"Authorization": f"Bearer {served.tokens['admin']}"}
    body = (EXAMPLES / "valid" / "minimal-demand.ttl").read_bytes()
    with served.client() as client:
        batch = client.post("/batches", content=body, headers={**curator, "Content-Type": "text/turtle"})
        assert batch.status_code == 201, batch.text
        accepted = client.post(f"/batches/{batch.json()['id']}/accept", headers=reviewer)
        assert accepted.status_code == 200, accepted.text
    # Right after the write: the new position is listed (an index left at the old version would not list it).
    assert NEW_DEMAND in _ids(served, "positions", {"q": "peninsula"})
    version = _agree(served)
    assert wait_indexed(served, version) == "incremental"  # only what the batch touched was read again
    assert _agree(served, deep=True) == version

    with served.client() as client:
        reverted = client.post(f"/batches/{batch.json()['id']}/revert", headers=reviewer)
        assert reverted.status_code == 200, reverted.text
    assert NEW_DEMAND not in _ids(served, "positions", {"q": "peninsula"})
    version = _agree(served)
    assert wait_indexed(served, version) == "incremental"
    assert _agree(served, deep=True) == version

    turtle = (
        f"<{PUT_POSITION}> a <https://w3id.org/posgraph/ns#Offer> ; "
        '<https://w3id.org/posgraph/ns#summary> "Written through the store"@en ; '
        '<https://w3id.org/posgraph/ns#statedOn> "2031-01-01"^^<http://www.w3.org/2001/XMLSchema#date> .'
    )
    with served.client() as client:
        written = client.post(
            "/store", params={"default": ""}, content=turtle.encode(), headers={**admin, "Content-Type": "text/turtle"}
        )
        assert written.status_code in (200, 201, 204), written.text
    assert _ids(served, "positions", {"sort": "-date"})[0] == PUT_POSITION
    version = _agree(served)
    assert wait_indexed(served, version) == "built whole"  # a direct write does not say what it touched
    assert _agree(served, deep=True) == version

    update = (
        "PREFIX pg: <https://w3id.org/posgraph/ns#> "
        f"DELETE {{ <{PUT_POSITION}> pg:summary ?s }} INSERT {{ <{PUT_POSITION}> pg:summary "
        '"ÿÿ last by label, written through the store"@en } '
        f"WHERE {{ <{PUT_POSITION}> pg:summary ?s }}"
    )
    with served.client() as client:
        updated = client.post("/sparql/update", data={"update": update}, headers=admin)
        assert updated.status_code in (200, 204), updated.text
    assert _ids(served, "positions", {"sort": "label", "q": "written through"}) == [PUT_POSITION]
    assert _ids(served, "positions", {"sort": "-label"})[0] == PUT_POSITION
    version = _agree(served)
    assert wait_indexed(served, version) == "built whole"
    assert _agree(served, deep=True) == version


def test_a_restarted_server_rebuilds_and_serves_the_same_pages(served):
    with served.client() as client:
        before = {(n, tuple(p.items())): _served_page(client, n, p) for n, p in CHECKED}
    version = next(iter(before.values()))[0]
    wait_indexed(served, version)
    again = start_server(served.base / "unused", served.base / "restart.log", env=served.env)
    try:
        wait_indexed(again, version)
        with again.client() as client:
            for (name, params), (_, page) in before.items():
                assert _served_page(client, name, dict(params)) == (version, page)
    finally:
        again.stop()


@pytest.mark.serial  # it bounds a latency: alone, so that a neighbour's load cannot fail it
def test_health_stays_fast_while_the_index_is_built(served, validator, tmp_path):
    """Building parses and inserts in threads: the event loop keeps answering."""
    engine = ManagedEngine(tmp_path / "big")
    engine.start()
    try:
        _load(engine.url, validator, fixture=False, generated=60_000)
        srv = start_server(
            tmp_path / "unused", tmp_path / "serve.log", env={**served.env, "POSGRAPH_ENGINE_URL": engine.url}
        )
        try:
            slowest = 0.0
            with srv.client() as client:
                version = client.get("/positions", params={"limit": "1"}).headers["x-posgraph-version"]
                deadline = time.monotonic() + 60
                while f"collection index holds version {version} " not in srv.log.read_text():
                    assert time.monotonic() < deadline
                    started = time.perf_counter()
                    assert client.get("/health").status_code == 200
                    slowest = max(slowest, time.perf_counter() - started)
                    time.sleep(0.02)
            assert slowest < 0.2, slowest
        finally:
            srv.stop()
    finally:
        engine.stop()


@pytest.mark.parametrize(
    "path, refusal",
    [
        # 400: a request the engine cannot take (Virtuoso 7.2 refused one query of an incremental refresh so).
        ("/query?default-graph-uri=not%20an%20iri", QuerySyntaxError),
        # 415: a wrong path configured (Oxigraph's update endpoint takes no query).
        ("/update", UnsupportedMediaType),
    ],
)
def test_the_index_keeps_trying_while_the_engine_refuses_its_queries(seeded, caplog, path, refusal):
    # A real engine refusing every query of the index's: the task that keeps the index current says so once and
    # goes on polling, rather than ending (stop would then raise its error, and no page would come from it again).
    async def go():
        async with Engine(seeded.url, query_path=path) as refusing:
            with pytest.raises(refusal):
                await dataset_version(refusing)
            index = CollectionIndex(refusing, poll=0.05)
            with caplog.at_level(logging.WARNING, logger="posgraph.linked_data"):
                index.start()
                await asyncio.sleep(0.6)  # several polls
                await index.stop()
            assert index.version is None and index.full_rebuilds == 0
        said = [r for r in caplog.records if "could not be built" in r.getMessage()]
        assert len(said) == 1, said

    run(go())


# ------------------------------------------------------------------------------------------ saved queries' keys
CATALOG = Catalog.from_dir(PROJECT_FILES.queries_dir)
JSON = "application/sparql-results+json"
# Each query whose page of keys the index may cut, with parameters over the awkward data: two dates (two keys),
# no date (key ""), French only, a month and a year, a date range at each precision, a party with no positions.
KEYED_CASES = [
    ("positions", {"party": RUSSIA}),
    ("positions", {"party": RUSSIA, "issue": f"{PGI}territory"}),
    ("positions", {"party": RUSSIA, "from": "2024"}),
    ("positions", {"party": RUSSIA, "to": "2024-03"}),
    ("positions", {"party": RUSSIA, "from": "2023-12-31", "to": "2024-06-30"}),
    ("positions", {"party": f"{PGID}party/ukraine", "issue": f"{PGI}leaders-meeting", "to": "2025-07"}),
    ("positions", {"party": f"{PGID}party/zz-plain"}),
    ("position-history", {"party": RUSSIA, "issue": f"{PGI}territory"}),
    ("position-history", {"party": f"{PGID}party/ukraine", "issue": f"{PGI}leaders-meeting"}),
    ("who-said-what", {}),
    ("who-said-what", {"party": RUSSIA}),
    ("who-said-what", {"person": f"{PGID}person/zelensky"}),
    ("who-said-what", {"person": f"{PGID}person/zelensky", "party": f"{PGID}party/ukraine"}),
    ("timeline", {}),
    ("timeline", {"order": "newest"}),
    ("timeline", {"party": RUSSIA, "from": "2024-01", "to": "2025"}),
    ("timeline", {"issue": f"{PGI}territory", "order": "newest"}),
    ("timeline", {"party": RUSSIA, "issue": f"{PGI}territory"}),
    # Several parties: no collection filter says that, so the engine cuts every page.
    ("timeline", {"party": [RUSSIA, f"{PGID}party/ukraine"], "order": "newest"}),
]


def test_the_queries_that_take_keys_from_the_index_are_the_ones_checked_here():
    assert {q.name for q in CATALOG if q.keys is not None} == {name for name, _ in KEYED_CASES}


class _Counted:
    """An index read (collection.index_keys or index_facts, bound to an engine), counting the reads it answered and
    those it could not (None: the index did not hold the current data)."""

    def __init__(self, read) -> None:
        self.read, self.answered, self.declined = read, 0, 0

    async def __call__(self, *args):
        got = await self.read(*args)
        if got is None:
            self.declined += 1
        else:
            self.answered += 1
        return got


async def _saved_pages(engine: Engine, name: str, params: dict, limit: int, key_pages) -> list[research.QueryAnswer]:
    """Every page of saved query ``name`` from the first, following its cursors."""
    pages, cursor = [], None
    while len(pages) < 400:
        ask = params | {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        answer = await research.run_saved(engine, CATALOG, name, ask, accept=JSON, key_pages=key_pages)
        pages.append(answer)
        cursor = answer.next_cursor
        if cursor is None:
            break
    return pages


def _bindings(answer: research.QueryAnswer) -> list[dict]:
    return json.loads(answer.content)["results"]["bindings"]


def _comparable(page: list[dict]) -> list[dict]:
    """A page's rows with each space-joined set (GROUP_CONCAT of sources) in one order: the engine joins them in
    the order its plan met them, which is no part of the answer."""
    return [
        {k: (" ".join(sorted(v["value"].split())) if k == "sources" else v["value"]) for k, v in row.items()}
        for row in page
    ]


async def _keyed_pages_agree(engine: Engine, index: CollectionIndex, name: str, params: dict, limit: int) -> int:
    """Page through ``name`` twice, its keys cut by the engine (the query's subquery alone) and by the index; assert
    the same pages, each the page the query's one text gives (its subquery cutting the keys); return how many."""
    use = _Counted(partial(index_keys, engine))
    collection.use_index(engine, index)
    try:
        by_engine = await _saved_pages(engine, name, params, limit, None)
        by_index = await _saved_pages(engine, name, params, limit, use)
        one_value_each = all(isinstance(v, str) for v in params.values())
        assert use.declined == 0 and use.answered == (len(by_index) if one_value_each else 0), "who cut the pages"
        got = [_comparable(_bindings(a)) for a in by_index]
        assert got == [_comparable(_bindings(a)) for a in by_engine], (name, params, limit)
        for n, page in enumerate(got):
            ask = params | {"limit": str(limit), "offset": str(n * limit)}
            reference = await engine.select(CATALOG.get(name).bind(ask))
            as_json = [{k: {"value": str(v)} for k, v in row.items()} for row in reference]
            assert _comparable(as_json) == page, (name, params, limit, n)
            # The rows posgraph's own pages read (research.select_saved): the same page, its keys cut the same way.
            answered = use.answered
            rows = await research.select_saved(engine, CATALOG, name, ask, key_pages=use)
            assert use.answered == answered + one_value_each, "select_saved took its keys from the index"
            as_json = [{k: {"value": str(v)} for k, v in row.items()} for row in rows]
            assert _comparable(as_json) == page, ("select_saved", name, params, limit, n)
    finally:
        collection.use_index(engine, None)
    assert all(len({r["position"] for r in page}) <= limit for page in got)
    return len(got)


def test_a_saved_querys_pages_of_keys_from_the_index_are_the_engines(seeded, generated):
    async def go():
        compared, rows = 0, 0
        async with Engine(seeded.url, timeout=120) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            for n, (name, params) in enumerate(KEYED_CASES):
                for limit in (1, 4) if n % 2 else (3, 10):
                    compared += await _keyed_pages_agree(engine, index, name, params, limit)
            whole = await _saved_pages(engine, "positions", {"party": RUSSIA}, 2000, None)
            positions = {r["position"]["value"] for r in _bindings(whole[0])}
            # The awkward positions are there: one on two dates under each, one without a date too (first).
            assert {f"{PGID}position/zz-two-dates", f"{PGID}position/zz-no-date"} <= positions
            dates = [
                r["statedOn"]["value"] for r in _bindings(whole[0]) if r["position"]["value"].endswith("two-dates")
            ]
            assert sorted(set(dates)) == ["2022-01-01", "2025-01-01"]
            rows += len(positions)
        async with Engine(generated.url, timeout=120) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            for name, params in [
                ("positions", {"party": f"{PGID}party/bench-0"}),
                ("positions", {"party": f"{PGID}party/bench-1", "issue": f"{PGI}territory", "from": "2022-02"}),
                ("position-history", {"party": f"{PGID}party/bench-2", "issue": f"{PGI}ceasefire"}),
                ("who-said-what", {"person": f"{PGID}person/bench-1"}),
            ]:
                compared += await _keyed_pages_agree(engine, index, name, params, 4)
        assert compared > 80 and rows > 5

    run(go())


def test_after_a_write_a_saved_query_is_the_engines_until_the_index_holds_it(writable, validator, tmp_path):
    public_engine, _ = writable
    new = f"{PGID}position/zz-keys-after-a-write"
    turtle = f"""@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{new}> a pg:Demand ; pg:summary "Keys after a write"@en ; pg:heldBy <{RUSSIA}> ;
  pg:concerns <{PGI}territory> ; pg:statedOn "1999-01-01"^^xsd:date ."""

    async def go():
        async with Engine(public_engine.url, timeout=120) as public:
            index = CollectionIndex(public)
            await index.refresh()
            collection.use_index(public, index)
            use = _Counted(partial(index_keys, public))
            ask = {"party": RUSSIA, "issue": f"{PGI}territory", "limit": "1"}
            try:
                first = await research.run_saved(public, CATALOG, "positions", ask, accept=JSON, key_pages=use)
                assert use.answered == 1 and new not in first.content.decode()
                await _loaded(public, validator, tmp_path, "keys-after", turtle)
                # The index still holds the version before the write: the engine cuts the page, and it is the new one.
                after = await research.run_saved(public, CATALOG, "positions", ask, accept=JSON, key_pages=use)
                assert use.declined == 1 and [r["position"]["value"] for r in _bindings(after)] == [new]
                await index.refresh()
                again = await research.run_saved(public, CATALOG, "positions", ask, accept=JSON, key_pages=use)
                assert use.answered == 2 and again.content == after.content
            finally:
                collection.use_index(public, None)

    run(go())


def _key_pages_metric(client, source: str) -> float:
    line = f'posgraph_saved_query_key_pages_total{{query="positions",source="{source}"}} '
    for text in client.get("/metrics").text.splitlines():
        if text.startswith(line):
            return float(text.split()[-1])
    return 0.0


def test_over_http_a_saved_querys_pages_are_cut_by_the_index_and_are_the_engines(served):
    with served.client() as client:
        version, _ = _served_page(client, "positions", {})
    wait_indexed(served, version)
    params = {"party": RUSSIA}

    async def engine_pages():
        async with Engine(served.engine_url) as engine:
            return [_bindings(a) for a in await _saved_pages(engine, "positions", params, 2, None)]

    expected = run(engine_pages())
    with served.client() as client:
        before = (_key_pages_metric(client, "index"), _key_pages_metric(client, "engine"))
        got, url, query = [], "/queries/positions", params | {"limit": "2"}
        while url is not None:
            response = client.get(url, params=query, headers={"Accept": JSON})
            assert response.status_code == 200, response.text
            got.append(response.json()["results"]["bindings"])
            link = response.headers.get("Link")
            url = link.split(";")[0].strip("<>") if link else None
            query = None
        after = (_key_pages_metric(client, "index"), _key_pages_metric(client, "engine"))
    assert len(got) >= 3 and got == expected
    # Every page's keys were cut by the index, none by the engine.
    assert after == (before[0] + len(got), before[1])


def test_the_index_lives_in_a_file_of_its_own_which_goes_with_it(seeded, tmp_path):
    directory = tmp_path / "index"
    directory.mkdir()
    # A file a killed worker left (no such process), and one of a live process that is not this one.
    orphan = directory / "posgraph-index-999999999-abc.sqlite"
    alive = directory / "posgraph-index-1-abc.sqlite"
    orphan.write_bytes(b"left behind")
    alive.write_bytes(b"someone else's")

    async def go():
        async with Engine(seeded.url) as engine:
            index = CollectionIndex(engine, directory=directory)
            await index.refresh()
            first = sorted(directory.iterdir())
            assert not orphan.exists() and alive.exists()
            (mine,) = [p for p in first if p != alive]
            assert mine.name.startswith(f"posgraph-index-{os.getpid()}-") and mine.stat().st_size > 100_000
            page = await _indexed(index, "positions", {"party": RUSSIA}, None, None, 5)
            assert page.items
            # Built whole again: the new file replaces the old one, which is deleted.
            await index.refresh(full=True)
            (second,) = [p for p in directory.iterdir() if p != alive]
            assert second != mine and not mine.exists()
            assert await _indexed(index, "positions", {"party": RUSSIA}, None, None, 5) == page
            held = index._snapshot
            await index.stop()
            assert [p for p in directory.iterdir()] == [alive]
            # A reader that took the snapshot before it was closed is told the index cannot answer.
            assert held.page(COLLECTIONS["positions"], {}, "date", False, 5, held.version) is None

    run(go())


def test_a_move_that_fails_leaves_the_index_as_it_was(seeded, tmp_path):
    async def go():
        async with Engine(seeded.url) as engine:
            index = CollectionIndex(engine, directory=tmp_path)
            await index.refresh()
            before = await _indexed(index, "positions", {"party": RUSSIA}, None, None, 50)
            snapshot, held = index._snapshot, index.version
            # A page cache of a few pages: a move's changes reach the file before it ends (as a large one's would).
            snapshot.db.execute("PRAGMA cache_size = 2")
            # The rows of Russia's positions go out, then a malformed row fails to go in: nothing may have changed.
            broken = [(COLLECTIONS["positions"], [("not", "a", "row")], [])]
            with pytest.raises(sqlite3.Error):
                snapshot.move([item["id"] for item in before.items], broken, "another-version", 0)
            assert index.version == held
            assert await _indexed(index, "positions", {"party": RUSSIA}, None, None, 50) == before
            await index.stop()

    run(go())
