"""The aggregates saved queries stand on (linked_data/aggregates.py: ``#+ facts:``), read from the collections'
index, against the engine's own reading of each query's ``#@facts`` subquery: the same rows for every case, on the
seed with the 0.2 fixture and awkward data, and on a generated store; every page of each query the same whichever
worked the aggregate out; after a write and its revert, the engine's answer until the index holds the new data;
and over real HTTP, answered from the index (the metric says so) with the engine's rows."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from typing import Iterator

import pytest
from conftest import Server, run, start_server, wait_indexed
from rdflib import Literal, URIRef
from rdflib.namespace import XSD
from test_collection_index import (  # noqa: F401, F811 (generated, seeded: fixtures)
    PGI,
    PGID,
    RUSSIA,
    _Counted,
    _load,
    _loaded,
    _served_page,
    generated,
    seeded,
)

from posgraph import curation, research
from posgraph.catalog import Catalog
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.linked_data import CollectionIndex, collection
from posgraph.linked_data.aggregates import FACTS
from posgraph.linked_data.collection import index_facts
from posgraph.supervisor import ManagedEngine

pytestmark = pytest.mark.e2e

CATALOG = Catalog.from_dir(PROJECT_FILES.queries_dir)
JSON = "application/sparql-results+json"
UKRAINE = f"{PGID}party/ukraine"
TERRITORY = f"{PGI}territory"
# What the aggregates must read as the engine does: a position of two kinds, of two parties on two issues; a month,
# its first day and a later day in one cell (the day-dated one displaces only day-dated ones); a date longer than a
# day; a year after everything; an untyped subject and a literal issue (no position, nor an issue: neither counts).
ODD = """
@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix pos: <https://w3id.org/posgraph/id/position/> .
@prefix party: <https://w3id.org/posgraph/id/party/> . @prefix pgi: <https://w3id.org/posgraph/issue/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
pos:zz-two-kinds a pg:Demand, pg:Offer ; pg:heldBy party:russia, party:ukraine ; pg:concerns pgi:territory,
  pgi:ceasefire ; pg:statedOn "2025-08"^^xsd:gYearMonth .
pos:zz-month-first a pg:Demand ; pg:heldBy party:ukraine ; pg:concerns pgi:territory ;
  pg:statedOn "2025-08-01"^^xsd:date .
pos:zz-month-later a pg:Offer ; pg:heldBy party:ukraine ; pg:concerns pgi:territory ;
  pg:statedOn "2025-08-20"^^xsd:date .
pos:zz-long-date a pg:Statement ; pg:heldBy party:russia ; pg:concerns pgi:ceasefire ;
  pg:statedOn "2025-09-02T10:00:00"^^xsd:dateTime .
pos:zz-late-year a pg:Statement ; pg:heldBy party:russia ; pg:concerns pgi:sanctions ;
  pg:statedOn "2031"^^xsd:gYear .
pos:zz-untyped pg:heldBy party:russia ; pg:concerns pgi:territory ; pg:statedOn "2032-01-01"^^xsd:date .
pos:zz-literal-issue a pg:Demand ; pg:heldBy party:russia ; pg:concerns "territory" ;
  pg:statedOn "2025-08-05"^^xsd:date .
"""
# What a party's demands by issue must read as the engine does: an issue with no English label (its demands come
# first), one with two English labels (a row under each), a demand on two dates and one without a date, and a
# party with a demand on an issue outside the scheme (the index does not know its labels: the engine answers).
DEMANDS = """
@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix pos: <https://w3id.org/posgraph/id/position/> .
@prefix party: <https://w3id.org/posgraph/id/party/> . @prefix pgi: <https://w3id.org/posgraph/issue/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
pgi:zz-unlabelled skos:inScheme pgi:scheme ; skos:prefLabel "ohne Namen"@de .
pgi:zz-two-labels skos:inScheme pgi:scheme ; skos:prefLabel "Zeta"@en, "Alpha"@en .
pos:zz-d1 a pg:Demand ; pg:heldBy party:russia ; pg:concerns pgi:zz-unlabelled ; pg:statedOn "2025-09"^^xsd:gYearMonth .
pos:zz-d2 a pg:Demand ; pg:heldBy party:russia ; pg:concerns pgi:zz-unlabelled, pgi:zz-two-labels ;
  pg:statedOn "2025-07-02"^^xsd:date, "2024"^^xsd:gYear ; pg:summary "two dates"@en, "zwei"@de .
pos:zz-d3 a pg:Demand ; pg:heldBy party:russia ; pg:concerns pgi:zz-two-labels .
pos:zz-d4 a pg:Demand ; pg:heldBy party:zz-elsewhere ; pg:concerns <https://example.org/issue/x>, pgi:territory ;
  pg:statedOn "2025-07-01"^^xsd:date .
"""
# What a party's conditional positions must read as the engine does: a position of two parties with a condition
# of its own; one conditioned through one of two terms (the other's condition lacks what it requires); one whose
# only condition lacks it (not conditional, until a write completes it); a term with no condition yet (and a
# condition on nothing yet); an untyped subject and a literal party with conditions (no position, nor a party:
# neither counts).
CONDITIONS = """
@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix pos: <https://w3id.org/posgraph/id/position/> .
@prefix party: <https://w3id.org/posgraph/id/party/> . @prefix term: <https://w3id.org/posgraph/id/term/> .
@prefix cond: <https://w3id.org/posgraph/id/condition/> .
pos:zz-c1 a pg:Demand ; pg:heldBy party:russia, party:ukraine ;
  pg:hasCondition [ pg:conditionType pg:reciprocity ; pg:requires term:zz-t1 ] .
pos:zz-c2 a pg:Offer ; pg:heldBy party:russia ; pg:hasTerm term:zz-t1, term:zz-t2 .
term:zz-t1 pg:wording "a first term"@en ; pg:hasCondition [ pg:conditionType pg:precondition ; pg:requires pos:zz-c1 ] .
term:zz-t2 pg:hasCondition cond:zz-half .
cond:zz-half pg:conditionType pg:package .
pos:zz-c3 a pg:Demand ; pg:heldBy party:russia ; pg:hasCondition cond:zz-half .
pos:zz-c4 a pg:Offer ; pg:heldBy party:ukraine ; pg:hasTerm term:zz-t3 .
term:zz-t3 pg:wording "a term without a condition"@en .
cond:zz-full pg:conditionType pg:approval ; pg:requires pos:zz-c1 .
pos:zz-c5 pg:heldBy party:russia ; pg:hasCondition [ pg:conditionType pg:precondition ; pg:requires term:zz-t1 ] .
pos:zz-c6 a pg:Demand ; pg:heldBy "Russia" ;
  pg:hasCondition [ pg:conditionType pg:precondition ; pg:requires term:zz-t1 ] .
"""

CASES = [
    ("issues", {}),
    ("quiet-issues", {"since": "2025-07-01"}),
    ("quiet-issues", {"since": "2040"}),
    ("quiet-issues", {"since": "2040", "party": RUSSIA}),
    ("quiet-issues", {"since": "2025-08", "party": UKRAINE}),
    ("state-of-play", {"date": "2025-07-31"}),
    ("state-of-play", {"date": "2025-08"}),
    ("state-of-play", {"date": "2025-06-30", "party": UKRAINE}),
    ("state-of-play", {"date": "2024", "party": RUSSIA, "issue": TERRITORY}),
    ("state-of-play", {"date": "2025-08-31", "issue": TERRITORY}),
    ("state-of-play", {"date": "1990"}),
    ("state-of-play", {"date": "2040"}),
    ("state-of-play", {"date": "2025-09", "issue": TERRITORY}),
    ("state-of-play", {"date": "2025-08-10", "party": UKRAINE, "issue": TERRITORY}),
    ("demands-by-issue", {"party": RUSSIA}),
    ("demands-by-issue", {"party": UKRAINE}),
    ("demands-by-issue", {"party": f"{PGID}party/united-states"}),
    ("conditional-positions", {}),
    ("conditional-positions", {"party": RUSSIA}),
    ("conditional-positions", {"party": UKRAINE}),
    ("conditional-positions", {"party": f"{PGID}party/united-states"}),
]

# gap-matrix stands on in-force-cells: what the engine's untyped pattern binds, which the index holds only while
# every subject of a pg:statedOn is a position it holds with IRI parties and issues (the fixture and the generated
# graph are such data; ODD is not).
CELL_CASES = [
    ("gap-matrix", {"date": "2025-07-31"}),
    ("gap-matrix", {}),
    ("gap-matrix", {"date": "2025-06-30", "party": [RUSSIA, UKRAINE]}),
    ("gap-matrix", {"party": [RUSSIA, UKRAINE], "issue": [TERRITORY, f"{PGI}ceasefire"]}),
    ("gap-matrix", {"date": "2025-08", "issue": TERRITORY}),
    ("gap-matrix", {"date": "2024", "party": RUSSIA}),
]
_PREFIXES = """PREFIX pg: <https://w3id.org/posgraph/ns#> PREFIX pos: <https://w3id.org/posgraph/id/position/>
PREFIX party: <https://w3id.org/posgraph/id/party/> PREFIX pgi: <https://w3id.org/posgraph/issue/>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> """
# Each kind of data on which the index cannot say what the untyped pattern binds: (what, its triples, inserted and
# then deleted: its blank node _:b as a variable).
NOT_CELLS = [
    (
        "an untyped subject",
        'pos:zz-untyped pg:heldBy party:russia ; pg:concerns pgi:territory ; pg:statedOn "2025-07-30"^^xsd:date .',
    ),
    (
        "a literal issue",
        'pos:zz-literal a pg:Demand ; pg:heldBy party:russia ; pg:concerns "territory" ; '
        'pg:statedOn "2025-07-30"^^xsd:date .',
    ),
    (
        "a blank-node party",
        "pos:zz-blank-party a pg:Demand ; pg:heldBy _:b ; pg:concerns pgi:territory ; "
        'pg:statedOn "2025-07-30"^^xsd:date .',
    ),
    (
        "a blank-node position",
        '_:b a pg:Demand ; pg:heldBy party:russia ; pg:concerns pgi:territory ; pg:statedOn "2025-07-30"^^xsd:date .',
    ),
    # No party or issue: it changes only the latest date of all, which gap-matrix takes when given none.
    (
        "a date of something else",
        '<https://w3id.org/posgraph/id/event/zz-dated> a pg:Event ; pg:statedOn "2040"^^xsd:gYear .',
    ),
]


def _with_odd_data(url: str) -> None:
    async def go():
        async with Engine(url) as engine:
            await engine.graph_write("POST", None, (ODD + DEMANDS + CONDITIONS).encode(), media_type="text/turtle")

    run(go())


@pytest.fixture(scope="module")
def store(tmp_path_factory, validator) -> Iterator[ManagedEngine]:
    managed = ManagedEngine(tmp_path_factory.mktemp("aggregates") / "store")
    managed.start()
    _load(managed.url, validator, fixture=True)
    _with_odd_data(managed.url)
    yield managed
    managed.stop()


def test_the_queries_that_stand_on_facts_are_the_ones_checked_here_and_bind_what_the_facts_give():
    assert {q.name for q in CATALOG if q.facts is not None} == {name for name, _ in CASES + CELL_CASES}
    for saved in CATALOG:
        if saved.facts is not None:
            variables, filters, _ = FACTS[saved.facts.fact]
            assert saved.facts.variables == variables, saved.name
            assert {f for f, _ in saved.facts.filters} <= set(filters), saved.name


async def _engine_facts(engine: Engine, name: str, params: dict) -> set[tuple]:
    """The rows the query's ``#@facts`` subquery gives on the engine, as tuples of terms."""
    saved = CATALOG.get(name)
    rows = await engine.select(saved.bind(params, facts_only=True))
    return {tuple(row.get(v) for v in saved.facts.variables) for row in rows}


def _normal(rows: list[dict]) -> list[dict]:
    return [
        {k: (" ".join(sorted(v["value"].split())) if k == "sources" else v["value"]) for k, v in r.items()}
        for r in rows
    ]


async def _pages(engine: Engine, name: str, params: dict, limit: int, facts) -> list[list[dict]]:
    """Every page of saved query ``name`` from the first, following its cursors; rows with each space-joined set
    (none of these queries joins lists, but a page's rows are compared as text) in one order."""
    pages, cursor = [], None
    while len(pages) < 200:
        ask = params | {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        answer = await research.run_saved(engine, CATALOG, name, ask, accept=JSON, facts=facts)
        pages.append(_normal(json.loads(answer.content)["results"]["bindings"]))
        cursor = answer.next_cursor
        if cursor is None:
            break
    return pages


async def _agree(engine: Engine, index: CollectionIndex, name: str, params: dict, limit: int) -> tuple[int, int]:
    """Assert the index's fact rows are the engine's, and every page the same whichever worked them out; return
    the fact rows and the answer's rows."""
    saved = CATALOG.get(name)
    expected = await _engine_facts(engine, name, params)
    first_page = saved.page(params | {"limit": str(limit)})
    got = await index.facts(saved.facts.fact, saved.facts.combinations(saved.params, params, first_page))
    assert got is not None, "the index did not answer"
    if saved.facts.first:  # a prefix of the whole, as long as the first page needs (the pages below say which)
        assert set(got) <= expected and len(got) == min(limit + 1, len(expected)), (name, params, got, expected)
    else:
        assert len(got) == len(set(got)) and set(got) == expected, (name, params, set(got) ^ expected)
    use = _Counted(partial(index_facts, engine))
    collection.use_index(engine, index)
    try:
        by_index = await _pages(engine, name, params, limit, use)
        by_engine = await _pages(engine, name, params, limit, None)
        # The rows posgraph's own pages read (research.select_saved): the first page, its facts from the index.
        rows = await research.select_saved(engine, CATALOG, name, params | {"limit": str(limit)}, facts=use)
    finally:
        collection.use_index(engine, None)
    assert use.answered == len(by_index) + 1 and use.declined == 0, "who worked the facts out"
    assert by_index == by_engine, (name, params, limit)
    as_json = [{k: {"value": str(v)} for k, v in row.items()} for row in rows]
    assert _normal(as_json) == by_engine[0], ("select_saved", name, params, limit)
    return len(expected), sum(len(p) for p in by_engine)


def test_the_indexs_facts_are_the_engines_and_so_is_every_page(store, generated):  # noqa: F811
    async def go():
        facts = answered = 0
        async with Engine(store.url, timeout=120) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            try:
                for n, (name, params) in enumerate(CASES):
                    f, a = await _agree(engine, index, name, params, 3 if n % 2 else 7)
                    facts, answered = facts + f, answered + a

                # The odd data reads as meant: the untyped subject and the literal issue count nowhere; a month and
                # its first day stand together, a later day displaces both; the long date counts by its first ten
                # characters.
                async def in_force(params: dict) -> tuple[set, set]:
                    dates = {k: Literal(v, datatype=XSD.date) for k, v in params.items()}
                    combination = {"party": URIRef(UKRAINE)} | dates
                    rows = await index.facts("in-force", [combination])
                    on_territory = {str(r[3]).rsplit("/", 1)[1] for r in rows if str(r[2]) == TERRITORY}
                    return {str(r[0]) for r in rows}, on_territory

                assert await in_force({"date": "2025-08-10"}) == ({"2025-08-10"}, {"zz-two-kinds", "zz-month-first"})
                # Conditional: a condition of its own or of a term, complete; neither the untyped subject nor the
                # literal party, nor a position whose only condition requires nothing.
                rows = await index.facts("conditioned-positions", [{"first": Literal(1000)}])
                ours = {(str(r[0]).rsplit("/", 1)[1], str(r[1]).rsplit("/", 1)[1]) for r in rows if "zz-" in str(r[1])}
                assert ours == {("russia", "zz-c1"), ("ukraine", "zz-c1"), ("russia", "zz-c2")}, ours
                assert rows == sorted(rows, key=lambda r: (str(r[0]), str(r[1])))
                # The date is what the fact is about: without one it is refused.
                with pytest.raises(KeyError, match="date"):
                    await in_force({})
                counts = {str(r[0]): int(r[1]) for r in await index.facts("issue-counts", [{}])}
                kinds = await engine.select(
                    f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p <https://w3id.org/posgraph/ns#concerns> "
                    f"<{TERRITORY}> ; a ?k . ?k <http://www.w3.org/2000/01/rdf-schema#subClassOf> "
                    "<https://w3id.org/posgraph/ns#Position> }"
                )
                assert counts[TERRITORY] == int(kinds[0]["n"]) and "territory" not in counts
                # A demand on an issue outside the scheme: the index cannot order it (its labels are not there), so
                # it declines and the engine answers, rightly.
                elsewhere = {"party": f"{PGID}party/zz-elsewhere"}
                first = {"first": Literal(10)}
                assert await index.facts("party-demands", [{"party": URIRef(elsewhere["party"])} | first]) is None
                use = _Counted(partial(index_facts, engine))
                collection.use_index(engine, index)
                try:
                    pages = await _pages(engine, "demands-by-issue", elsewhere, 1, use)
                finally:
                    collection.use_index(engine, None)
                assert use.declined == 2 and use.answered == 0
                assert [[r["issue"] for r in page] for page in pages] == [["https://example.org/issue/x"], [TERRITORY]]
            finally:
                await index.stop()
        async with Engine(generated.url, timeout=120) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            try:
                for name, params in [
                    ("issues", {}),
                    ("quiet-issues", {"since": "2030"}),
                    ("quiet-issues", {"since": "2030", "party": f"{PGID}party/bench-3"}),
                    ("state-of-play", {"date": "2022-06-30"}),
                    ("state-of-play", {"date": "2022-03", "party": f"{PGID}party/bench-1"}),
                    ("state-of-play", {"date": "2023", "issue": TERRITORY}),
                    ("demands-by-issue", {"party": f"{PGID}party/bench-2"}),
                    ("conditional-positions", {"party": f"{PGID}party/bench-2"}),
                    ("conditional-positions", {}),
                    ("gap-matrix", {}),
                    ("gap-matrix", {"date": "2022-06-30", "party": [f"{PGID}party/bench-1", f"{PGID}party/bench-2"]}),
                    ("gap-matrix", {"date": "2022-03", "issue": [TERRITORY, f"{PGI}ceasefire"]}),
                ]:
                    f, a = await _agree(engine, index, name, params, 25)
                    facts, answered = facts + f, answered + a
            finally:
                await index.stop()
        # Not agreement on nothing: the cases have facts and answers.
        assert facts > 300 and answered > 300, (facts, answered)

    run(go())


def test_after_a_write_and_its_revert_the_facts_are_the_engines_until_the_index_holds_them(
    store, validator, tmp_path, tmp_path_factory
):
    staging = ManagedEngine(tmp_path_factory.mktemp("aggregates-staging") / "store")
    staging.start()
    new = f"{PGID}position/zz-facts-after-a-write"
    turtle = f"""@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{new}> a pg:Demand ; pg:summary "Facts after a write"@en ; pg:heldBy <{RUSSIA}> ;
  pg:concerns <{TERRITORY}> ; pg:statedOn "2039-01-01"^^xsd:date .
<{PGID}condition/zz-half> pg:requires <{PGID}term/zz-t1> .
<{PGID}term/zz-t3> pg:hasCondition <{PGID}condition/zz-full> ."""
    # The write completes the condition zz-c3 alone has (zz-c2 has it too, through a term, and more) and puts a
    # complete one on zz-c4's term: neither position is in the batch, both are conditional after it (the index
    # must follow).
    conditional = {f"{PGID}position/zz-c3", f"{PGID}position/zz-c4"}
    ask = {"date": "2039", "party": RUSSIA, "issue": TERRITORY}

    async def positions(engine: Engine, use) -> list[str]:
        answer = await research.run_saved(engine, CATALOG, "state-of-play", ask, accept=JSON, facts=use)
        return [r["position"]["value"] for r in json.loads(answer.content)["results"]["bindings"]]

    async def conditioned(index: CollectionIndex) -> set[str]:
        return {str(r[1]) for r in await index.facts("conditioned-positions", [{"first": Literal(1000)}])}

    async def go():
        async with Engine(store.url, timeout=120) as public, Engine(staging.url) as stage:
            index = CollectionIndex(public)
            await index.refresh()
            collection.use_index(public, index)
            use = _Counted(partial(index_facts, public))
            try:
                before = await positions(public, use)
                assert use.answered == 1 and before and new not in before
                batch = (await _loaded(public, validator, tmp_path, "facts-after", turtle)).batch_id
                # The index still holds the version before the write: the engine works the facts out, and they are
                # the new ones (the new position displaces the old in its cell).
                assert await positions(public, use) == [new] and use.declined == 1
                await index.refresh()
                assert index.last is not None and index.last.kind == "incremental"
                assert await positions(public, use) == [new] and use.answered == 2
                assert conditional <= await conditioned(index)
                for name, params in CASES:
                    if name == "conditional-positions":
                        await _agree(public, index, name, params, 2)
                collection.use_index(public, index)  # _agree lets go of it
                await curation.revert_batch(public, stage, batch, actor="rev", role="reviewer")
                assert await positions(public, use) == before and use.declined == 2
                await index.refresh()
                assert index.last is not None and index.last.kind == "incremental"
                assert await positions(public, use) == before and use.answered == 3
                assert not conditional & await conditioned(index)
                for name, params in CASES:
                    await _agree(public, index, name, params, 50)
            finally:
                collection.use_index(public, None)
                await index.stop()

    try:
        run(go())
    finally:
        staging.stop()


def test_an_engine_whose_profile_does_not_take_bound_aggregates_works_them_out_itself(store):
    # The profile says the engine would not answer a text with the fact rows bound in as it answers the subquery
    # (Virtuoso 7.2): the index is not asked, and the answer is the engine's own.
    async def go():
        async with Engine(store.url, timeout=120) as engine:
            plain = Engine(store.url, timeout=120, profile=replace(engine.profile, bound_aggregates=False))
            async with plain:
                index = CollectionIndex(engine)
                await index.refresh()
                collection.use_index(engine, index)
                try:
                    for name, params in CASES[:8]:
                        use = _Counted(partial(index_facts, engine))
                        by_engine = await _pages(engine, name, params, 50, None)
                        assert await _pages(plain, name, params, 50, use) == by_engine, (name, params)
                        assert (use.answered, use.declined) == (0, 0), name
                        # Its own profile's engine takes them: the same pages, the rows from the index.
                        assert await _pages(engine, name, params, 50, use) == by_engine, (name, params)
                        assert use.answered == len(by_engine), name
                finally:
                    collection.use_index(engine, None)
                    await index.stop()

    run(go())


def test_gap_matrix_stands_on_the_index_only_while_every_dated_subject_is_a_position_it_holds(
    seeded,  # noqa: F811 (a fixture): the seed and the 0.2 fixture, every dated subject a position with IRI parties
    validator,
    tmp_path,
):
    async def pages_agree(engine: Engine, use: _Counted, declined: bool) -> list:
        """Every case's pages, the same whoever works out the positions in force (the index, unless
        ``declined``)."""
        answered, refused, pages = use.answered, use.declined, []
        for name, params in CELL_CASES:
            by_index = await _pages(engine, name, params, 4, use)
            assert by_index == await _pages(engine, name, params, 4, None), (name, params)
            pages.append(by_index)
        asked = use.answered - answered + use.declined - refused
        assert (use.declined - refused, use.answered - answered) == ((asked, 0) if declined else (0, asked))
        return pages

    async def go():
        async with Engine(seeded.url, timeout=120) as engine:
            index = CollectionIndex(engine)
            await index.refresh()
            use = _Counted(partial(index_facts, engine))
            collection.use_index(engine, index)
            try:
                facts = 0
                for name, params in CELL_CASES:
                    facts += (await _agree(engine, index, name, params, 4))[0]
                    collection.use_index(engine, index)  # _agree lets go of it
                assert facts > 20
                clean = await pages_agree(engine, use, declined=False)
                assert sum(len(page) for pages in clean for page in pages) > 50
                for what, triples in NOT_CELLS:
                    # Written as posgraph writes (a change recorded: a new version, the index built again).
                    await curation.run_update(engine, f"{_PREFIXES} INSERT DATA {{ {triples} }}", actor="t")
                    await index.refresh()
                    assert await index.facts("in-force-cells", [{}]) is None, what
                    # The engine works them out, and the pages are its own (the new data in them).
                    assert await pages_agree(engine, use, declined=True) != clean, what
                    pattern = triples.replace("_:b", "?b")
                    await curation.run_update(engine, f"{_PREFIXES} DELETE WHERE {{ {pattern} }}", actor="t")
                    await index.refresh()
                    assert await index.facts("in-force-cells", [{}]) is not None, what
                    assert await pages_agree(engine, use, declined=False) == clean, what
                # A batch that gives a position the index holds a literal issue: read again alone (incremental),
                # and from then on the index declines.
                literal = f'<{PGID}position/ru-2025-07-territory> <https://w3id.org/posgraph/ns#concerns> "x" .'
                await _loaded(engine, validator, tmp_path, "literal", literal)
                await index.refresh()
                assert index.last is not None and index.last.kind == "incremental"
                assert await index.facts("in-force-cells", [{}]) is None
                assert await pages_agree(engine, use, declined=True) != clean
            finally:
                collection.use_index(engine, None)
                await index.stop()

    run(go())


@pytest.fixture(scope="module")
def served(tmp_path_factory, validator) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("aggregates-served")
    public, staging = ManagedEngine(base / "public"), ManagedEngine(base / "staging")
    public.start()
    staging.start()
    _load(public.url, validator, fixture=True)
    _with_odd_data(public.url)
    env = {"POSGRAPH_ENGINE_URL": public.url, "POSGRAPH_STAGING_ENGINE_URL": staging.url}
    srv = start_server(base / "unused", base / "serve.log", env=env)
    srv.engine_url = public.url
    yield srv
    srv.stop()
    public.stop()
    staging.stop()


def _fact_reads(client, name: str, source: str) -> float:
    line = f'posgraph_saved_query_fact_reads_total{{query="{name}",source="{source}"}} '
    for text in client.get("/metrics").text.splitlines():
        if text.startswith(line):
            return float(text.split()[-1])
    return 0.0


def test_over_http_the_facts_come_from_the_index_and_the_answers_are_the_engines(served):
    with served.client() as client:
        wait_indexed(served, _served_page(client, "positions", {})[0])

    async def engine_pages(name: str, params: dict) -> list[list[dict]]:
        async with Engine(served.engine_url) as engine:
            return await _pages(engine, name, params, 1000, None)

    for name, params in [
        ("issues", {}),
        ("quiet-issues", {"since": "2025-07-01"}),
        ("state-of-play", {"date": "2025-07-31"}),
        ("state-of-play", {"date": "2025-06-30", "party": UKRAINE}),
        ("state-of-play", {"date": "2025-08", "issue": TERRITORY}),
    ]:
        expected = run(engine_pages(name, params))
        with served.client() as client:
            before = (_fact_reads(client, name, "index"), _fact_reads(client, name, "engine"))
            response = client.get(f"/queries/{name}", params=params | {"limit": "1000"}, headers={"Accept": JSON})
            assert response.status_code == 200, response.text
            after = (_fact_reads(client, name, "index"), _fact_reads(client, name, "engine"))
        got = _normal(response.json()["results"]["bindings"])
        assert [got] == expected and got, name
        assert after == (before[0] + 1, before[1]), (name, before, after)
