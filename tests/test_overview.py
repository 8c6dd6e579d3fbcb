"""The overview view models and chart specs, built offline from rows shaped like the saved queries' answers:
date precision as spans, supersession links, in-force marks, the gap matrix's relations and gaps, empty data,
hostile labels (escaped by the pages) and the captions."""

from __future__ import annotations

import json
import re

import pytest
import rdflib
from conftest import run
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from posgraph import metrics, overview
from posgraph.api import pages
from posgraph.catalog import Catalog
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.errors import InvalidParameter
from posgraph.linked_data import CollectionIndex, collection
from posgraph.overview.gaps import relation_of
from posgraph.overview.timeline import in_force_on

P = "https://w3id.org/posgraph/id/position/"
PARTY = "https://w3id.org/posgraph/id/party/"
ISSUE = "https://w3id.org/posgraph/issue/"
PG = "https://w3id.org/posgraph/ns#"
BASE = "http://127.0.0.1:9"


def link(iri: str) -> str:
    return BASE + "/" + iri.split("/posgraph/", 1)[-1] if iri.startswith("https://w3id.org/") else iri


def row(position, party, issue, stated, kind="Demand", supersedes=None, summary="", party_label=None, sources=""):
    datatype = {4: XSD.gYear, 7: XSD.gYearMonth, 10: XSD.date}[len(stated)]
    found = {
        "position": URIRef(P + position),
        "party": URIRef(PARTY + party),
        "partyLabel": Literal(party_label or party.title(), lang="en"),
        "issue": URIRef(ISSUE + issue),
        "issueLabel": Literal(issue.replace("-", " ").capitalize(), lang="en"),
        "class": URIRef(PG + kind),
        "kind": Literal(kind),
        "statedOn": Literal(stated, datatype=datatype),
        "summary": Literal(summary or f"{party} says {position}", lang="en"),
        "sources": Literal(sources),
    }
    if supersedes:
        found["supersedes"] = URIRef(P + supersedes)
    return found


ROWS = [
    row("a1", "russia", "territory", "2025-07", sources="https://w3id.org/posgraph/id/source/s1"),
    row("u1", "ukraine", "leaders", "2025-05", kind="Offer"),
    row("u2", "ukraine", "leaders", "2025-07-19", kind="Offer", supersedes="u1"),
    row("u2", "ukraine", "leaders", "2025-07-19", kind="Offer", supersedes="u0-outside-the-filters"),
    row("us", "us", "ceasefire", "2025", kind="Proposal"),
    row("bad", "us", "ceasefire", "July", kind="Proposal"),  # not a date: left out
]


def test_period_spans_the_precision_of_the_date():
    assert overview.period("2025") == ("2025-01-01", "2025-12-31", "year")
    assert overview.period("2024-02") == ("2024-02-01", "2024-02-29", "month")  # a leap year's February
    assert overview.period("2025-07-19") == ("2025-07-19", "2025-07-19", "day")
    assert overview.period("2025-07-19T10:00:00Z") == ("2025-07-19", "2025-07-19", "day")
    for bad in ("July", "2025-13", "2025-02-30", ""):
        with pytest.raises(ValueError):
            overview.period(bad)


def test_timeline_lanes_marks_spans_and_supersession():
    timeline = overview.build_timeline(ROWS, in_force={P + "u2", P + "a1"}, as_of="2025-07-31")
    assert [lane.label for lane in timeline.lanes] == ["Ceasefire", "Leaders", "Territory"]
    marks = {m.position.rsplit("/", 1)[1]: m for m in timeline.marks}
    assert set(marks) == {"a1", "u1", "u2", "us"}
    assert (marks["a1"].first, marks["a1"].last, marks["a1"].precision) == ("2025-07-01", "2025-07-31", "month")
    assert (marks["us"].first, marks["us"].last) == ("2025-01-01", "2025-12-31")
    assert marks["u2"].first == marks["u2"].last == "2025-07-19"
    # Both superseded positions are recorded on the mark, but only the one drawn gets a link.
    assert marks["u2"].supersedes == (P + "u1", P + "u0-outside-the-filters")
    assert timeline.links == (overview.timeline.Link(ISSUE + "leaders", P + "u2", P + "u1"),)
    assert [m.in_force for m in (marks["a1"], marks["u1"], marks["u2"], marks["us"])] == [True, False, True, False]
    assert timeline.parties[0] == (PARTY + "russia", "Russia")
    assert timeline.sources == ("https://w3id.org/posgraph/id/source/s1",)


def test_timeline_without_as_of_marks_nothing_in_or_out_of_force():
    assert {m.in_force for m in overview.build_timeline(ROWS).marks} == {None}


def test_events_span_their_dates():
    events = [
        {
            "event": URIRef("https://w3id.org/posgraph/id/event/r1"),
            "label": Literal("Round one"),
            "startDate": Literal("2025-05", datatype=XSD.gYearMonth),
            "round": Literal(True),
        },
        {
            "event": URIRef("https://w3id.org/posgraph/id/event/r2"),
            "startDate": Literal("2025-06-02"),
            "endDate": Literal("2025-06-03"),
        },
    ]
    timeline = overview.build_timeline([], events)
    assert [(e.label, e.first, e.last, e.round) for e in timeline.events] == [
        ("Round one", "2025-05-01", "2025-05-31", True),
        ("r2", "2025-06-02", "2025-06-03", False),
    ]


def test_timeline_spec_draws_spans_links_events_and_a_caption():
    timeline = overview.build_timeline(ROWS, in_force={P + "u2"}, as_of="2025-07-31")
    spec = overview.timeline_spec(timeline, overview.Caption("v42", BASE + "/timeline"), link)
    layers = spec["layer"]
    points = next(layer for layer in layers if layer["mark"]["type"] == "point")
    bars = next(layer for layer in layers if layer["mark"]["type"] == "bar")
    assert points["encoding"]["href"] == {"field": "href"}
    hrefs = {d["position"]: d["href"] for d in points["data"]["values"]}
    assert hrefs[P + "u2"] == BASE + "/id/position/u2"
    # A month is drawn over the whole month (the bar ends the day after its last day); a day is not a bar.
    a1 = next(d for d in bars["data"]["values"] if d["position"] == P + "a1")
    assert (a1["start"], a1["end"]) == ("2025-07-01", "2025-08-01")
    assert all(d["precision"] != "day" for d in bars["data"]["values"])
    assert any(
        layer.get("data", {}).get("values") == [{"issue": "Leaders", "from": "2025-05-16", "to": "2025-07-19"}]
        for layer in layers
    )
    assert "v42" in spec["title"]["subtitle"][0]
    assert any("pgid:source/s1" in line for line in spec["title"]["subtitle"])
    assert (
        points["encoding"]["shape"]["scale"]["range"][points["encoding"]["shape"]["scale"]["domain"].index("Offer")]
        == overview.charts.SHAPES["Offer"]
    )


def test_empty_timeline_and_matrix_still_make_specs_and_pages():
    timeline = overview.build_timeline([])
    assert timeline.lanes == () and timeline.marks == ()
    spec = overview.timeline_spec(timeline, overview.Caption("empty"), link)
    html = pages.timeline_page(
        timeline, overview.Filters(), spec, parties=(), issues=(), base_url=BASE, version="empty"
    )
    assert "id='timeline-table'" in html and "No positions match" in html
    matrix = overview.build_gaps([PARTY + "a", PARTY + "b"], [], {})
    assert matrix.rows == ()
    html = pages.gaps_page(
        matrix,
        overview.Filters(),
        overview.gaps_spec(matrix, overview.Caption("empty"), link),
        parties=(),
        base_url=BASE,
        version="empty",
    )
    assert "id='gap-matrix'" in html


def _state(party, issue, position, stated, kind="Demand", summary="s"):
    return {
        "asOf": Literal("2025-07-31"),
        "party": URIRef(PARTY + party),
        "issue": URIRef(ISSUE + issue),
        "issueLabel": Literal(issue.title(), lang="en"),
        "partyLabel": Literal(party.title(), lang="en"),
        "position": URIRef(P + position),
        "kind": Literal(kind),
        "statedOn": Literal(stated),
        "summary": Literal(summary, lang="en"),
    }


def _pair(issue, a, b, relation, **figures):
    found = {
        "issue": URIRef(ISSUE + issue),
        "positionA": URIRef(P + a),
        "positionB": URIRef(P + b),
        "relation": Literal(relation),
    }
    return found | {k: (URIRef(v) if v.startswith("http") else Literal(v)) for k, v in figures.items()}


def test_relations_combine_strongest_first():
    assert relation_of(["agreed"]) == "meet"
    assert relation_of(["accepts-in-principle", "faces"]) == "partly"
    assert relation_of(["accepts", "rejects"]) == "collide"
    assert relation_of(["faces", "responds", "demand-vs-offer"]) == "open"
    assert relation_of([]) == "open"


def test_gap_matrix_cells_relations_and_gaps_from_positions_in_force():
    a, b = PARTY + "alpha", PARTY + "beta"
    state = [
        _state("alpha", "army", "a-army", "2025-07", summary="Alpha wants a cap of " + "many words " * 10),
        _state("beta", "army", "b-army", "2025-07-20", kind="Offer"),
        _state("alpha", "talks", "a-talks", "2025-06"),
        _state("beta", "talks", "b-talks", "2025-06-10"),
        _state("alpha", "land", "a-land", "2025-05"),
        _state("gamma", "land", "g-land", "2025-05"),  # a party not compared: ignored
    ]
    pairs = {
        (a, b): [
            _pair(
                "army",
                "a-army",
                "b-army",
                "demand-vs-offer",
                kind=PG + "personnel",
                valueA="50000",
                valueB="150000",
                gap="100000",
            ),
            _pair("talks", "a-talks", "b-talks", "rejects"),
            # A pair one of whose positions is not in force on the date does not count.
            _pair("talks", "a-talks", "b-old", "agreed"),
        ]
    }
    matrix = overview.build_gaps([a, b], state, pairs)
    by_issue = {r.label: r for r in matrix.rows}
    assert [r.label for r in matrix.rows] == ["Army", "Land", "Talks"]
    assert (by_issue["Army"].relation, by_issue["Talks"].relation, by_issue["Land"].relation) == (
        "open",
        "collide",
        "no-position",
    )
    assert by_issue["Talks"].relations == ("rejects",)
    (gap,) = by_issue["Army"].gaps
    assert (gap.kind, gap.value_a, gap.value_b, gap.gap) == ("personnel", "50000", "150000", "100000")
    cell = by_issue["Army"].cells[0]
    assert cell.party == a and cell.positions[0].words.endswith("…") and len(cell.positions[0].words.split()) == 12
    assert by_issue["Land"].cells[1].positions == ()
    assert matrix.as_of == "2025-07-31" and matrix.parties == ((a, "Alpha"), (b, "Beta"))
    spec = overview.gaps_spec(matrix, overview.Caption("v7"), link)
    values = spec["layer"][0]["encoding"]["color"]["scale"]
    assert values["domain"] == list(overview.RELATIONS)
    assert {c["relation"] for c in spec["data"]["values"]} == {"open", "collide", "no-position"}
    assert "v7" in spec["title"]["subtitle"][0]
    html = pages.gaps_page(
        matrix, overview.Filters(parties=(a, b)), spec, parties=((a, "Alpha"), (b, "Beta")), base_url=BASE, version="v7"
    )
    assert "data-relation='collide'" in html and "100,000" in html
    assert "class='history' href='/timeline?issue=https%3A%2F%2Fw3id.org%2Fposgraph%2Fissue%2Ftalks&amp;party=" in html


def test_filters_name_the_bad_parameter():
    for kwargs, name in (
        ({"parties": ["not an iri"]}, "party"),
        ({"issues": ["javascript alert(1)"]}, "issue"),
        ({"start": "2025-13"}, "from"),
        ({"end": "yesterday"}, "to"),
        ({"as_of": "2025-02-30"}, "as_of"),
    ):
        with pytest.raises(InvalidParameter) as caught:
            overview.Filters.parse(**kwargs)
        assert caught.value.name == name
    filters = overview.Filters.parse(["pgid:party/russia", "pgid:party/russia"], ["pgi:territory"], "2025", "", "")
    assert filters.parties == (PARTY + "russia",) and filters.issues == (ISSUE + "territory",)


HOSTILE = "<script>alert('x')</script>\"'&"


def test_hostile_labels_and_summaries_are_escaped_and_links_are_web_only():
    rows = [row("h1", "evil", "territory", "2025-07", summary=HOSTILE, party_label=HOSTILE)]
    rows[0]["issueLabel"] = Literal(HOSTILE, lang="en")
    rows.append(row("j1", "evil", "territory", "2025-07") | {"position": URIRef("javascript:alert(1)")})
    timeline = overview.build_timeline(rows, as_of="2025-07-31", in_force=set())
    spec = overview.timeline_spec(timeline, overview.Caption("v"), link)
    html = pages.timeline_page(
        timeline, overview.Filters(), spec, parties=((PARTY + "evil", HOSTILE),), issues=(), base_url=BASE, version="v"
    )
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert not re.search(r"href=['\"]?javascript", html, re.I)
    # The spec inside <script type=application/json> cannot close the element, and reads back as the same data.
    block = re.search(r"<script type='application/json' class='vega-spec'[^>]*>(.*?)</script>", html, re.S).group(1)
    assert "</" not in block and json.loads(block) == json.loads(json.dumps(spec))
    point = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "point")
    assert {d["href"] for d in point["data"]["values"]} == {BASE + "/id/position/h1", None}


def test_a_rdflib_literal_row_and_a_plain_string_row_read_the_same():
    plain = {k: str(v) for k, v in ROWS[0].items()}
    assert overview.build_timeline([plain]).marks == overview.build_timeline([ROWS[0]]).marks
    assert isinstance(rdflib.Literal("x"), rdflib.term.Node)


def test_in_force_on_is_state_of_play_every_page_whoever_works_it_out(seeded_engine):
    # The timeline's "as of" marks: every page of state-of-play's answer, filtered by the one party or issue named,
    # the same when the index reads the positions in force (as the pages do) and when the engine works them out.
    catalog = Catalog.from_dir(PROJECT_FILES.queries_dir)
    ukraine, ceasefire = "https://w3id.org/posgraph/id/party/ukraine", "https://w3id.org/posgraph/issue/ceasefire"

    def index_reads() -> float:
        labels = {"query": "state-of-play", "source": "index"}
        return metrics.REGISTRY.get_sample_value("posgraph_saved_query_fact_reads_total", labels) or 0.0

    async def go():
        async with Engine(seeded_engine.url) as engine:

            async def case(filters: overview.Filters, **params) -> tuple:
                rows = await engine.select(catalog.get("state-of-play").bind(params | {"limit": "5000"}))
                return filters, {str(r["position"]) for r in rows}, len(rows)

            every = await case(overview.Filters(as_of="2025-07-31"), date="2025-07-31")
            cases = [
                every,
                # Two parties: state-of-play takes one, so every party's (the timeline shows only its own marks).
                (overview.Filters(parties=(ukraine, "https://x.example/p"), as_of="2025-07-31"), *every[1:]),
                await case(overview.Filters(parties=(ukraine,), as_of="2025-07-31"), date="2025-07-31", party=ukraine),
                await case(overview.Filters(issues=(ceasefire,), as_of="2025-07"), date="2025-07", issue=ceasefire),
            ]
            assert every[2] > 10 and all(0 < len(c[1]) < len(every[1]) for c in cases[2:])
            index = CollectionIndex(engine)
            await index.refresh()
            try:
                for filters, expected, rows in cases:
                    assert await in_force_on(engine, catalog, filters) == expected, filters
                    assert await in_force_on(engine, catalog, filters, page=3) == expected, filters
                    collection.use_index(engine, index)
                    try:
                        before = index_reads()
                        assert await in_force_on(engine, catalog, filters, page=3) == expected, filters
                        # Every page asked (the last one short), each page's facts read from the index.
                        assert index_reads() - before == rows // 3 + 1, filters
                    finally:
                        collection.use_index(engine, None)
            finally:
                await index.stop()

    run(go())
