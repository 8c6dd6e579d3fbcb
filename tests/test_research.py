"""The saved queries' golden results on the seed data (real engine), and the research use cases."""

import json

from conftest import EXAMPLES, run

from posgraph import curation, research
from posgraph.catalog import Catalog
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine


def _saved_rows(url, name, **params):
    async def go():
        async with Engine(url) as engine:
            answer = await research.run_saved(engine, Catalog.from_dir(PROJECT_FILES.queries_dir), name, params)
            return json.loads(answer.content)["results"]["bindings"]

    return run(go())


def _values(rows, *names):
    return [tuple(row[n]["value"] if n in row else None for n in names) for row in rows]


PGID = "https://w3id.org/posgraph/id/"
PGI = "https://w3id.org/posgraph/issue/"
PG = "https://w3id.org/posgraph/ns#"


def test_golden_russias_demands_by_issue(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "demands-by-issue", party="pgid:party/russia")
    assert _values(rows, "issue", "demand", "statedOn") == [
        (PGI + "armed-forces-size", PGID + "position/ru-2025-07-army-cap", "2025-07"),
        (PGI + "language-identity", PGID + "position/ru-2025-07-russian-language", "2025-07"),
        (PGI + "neutrality-alliances", PGID + "position/ru-2025-07-neutrality", "2025-07"),
        (PGI + "territory", PGID + "position/ru-2025-07-territory", "2025-07"),
    ]


def test_golden_ukraines_positions_in_july(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "positions", party="pgid:party/ukraine", **{"from": "2025-07-01"})
    assert sorted(set(_values(rows, "position", "move"))) == [
        (PGID + "position/ua-2025-07-19-leaders-meeting", "Offer"),
        (PGID + "position/ua-2025-07-19-talks-offer", "Offer"),
    ]
    issues = {r[0] for r in _values(rows, "issue")}
    assert issues == {
        PGI + "talks",
        PGI + "ceasefire",
        PGI + "prisoner-exchange",
        PGI + "deported-children",
        PGI + "leaders-meeting",
    }


def test_golden_positions_date_range_respects_precision(seeded_engine):
    # The US proposal is dated only "2025": it overlaps March 2025, so it is in range; May positions are not.
    rows = _saved_rows(seeded_engine.url, "positions", party="pgid:party/united-states", to="2025-03")
    assert _values(rows, "position", "statedOn") == [
        (PGID + "position/us-2025-unconditional-ceasefire-first", "2025"),
        (PGID + "position/us-2025-unconditional-ceasefire-first", "2025"),
    ]  # two issues
    rows = _saved_rows(
        seeded_engine.url, "positions", party="pgid:party/ukraine", issue="pgi:leaders-meeting", to="2025-06"
    )
    assert _values(rows, "position") == [(PGID + "position/ua-2025-05-leaders-meeting",)]


def test_golden_issue_counts(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "issues")
    counts = {row["issue"]["value"].rsplit("/", 1)[1]: int(row["positions"]["value"]) for row in rows}
    assert counts == {
        "armed-forces-size": 1,
        "ceasefire": 3,
        "elections": 0,
        "peace-settlement": 2,
        "talks": 2,
        "deported-children": 1,
        "language-identity": 1,
        "leaders-meeting": 3,
        "neutrality-alliances": 1,
        "prisoner-exchange": 2,
        "sanctions": 1,
        "security-guarantees": 0,
        "territory": 1,
        # added in model 0.2: the seed article takes no position on them
        "nuclear-safety": 0,
        "food-shipping": 0,
        "military-aid": 0,
        "mobilisation-martial-law": 0,
        "amnesty-justice": 0,
        "reparations-reconstruction": 0,
        "bloc-accession": 0,
        "religion": 0,
        "humanitarian-access": 0,
    }


def test_golden_position_history_says_what_changed(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "position-history", party="pgid:party/ukraine", issue="pgi:leaders-meeting")
    assert _values(rows, "statedOn", "position", "change", "supersedes") == [
        ("2025-05", PGID + "position/ua-2025-05-leaders-meeting", PG + "new", None),
        (
            "2025-07-19",
            PGID + "position/ua-2025-07-19-leaders-meeting",
            PG + "reiterated",
            PGID + "position/ua-2025-05-leaders-meeting",
        ),
    ]


def test_golden_state_of_play_on_a_date(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "state-of-play", date="2025-06-30", party="pgid:party/ukraine")
    assert _values(rows, "issue", "position") == [
        (PGI + "ceasefire", PGID + "position/ua-2025-03-accepts-unconditional-ceasefire"),
        (PGI + "leaders-meeting", PGID + "position/ua-2025-05-leaders-meeting"),
        (PGI + "prisoner-exchange", PGID + "position/ru-ua-2025-06-exchange-of-bodies"),
    ]
    # By the end of July the May offer has been superseded by its reiteration.
    rows = _saved_rows(seeded_engine.url, "state-of-play", date="2025-07", issue="pgi:leaders-meeting")
    assert _values(rows, "party", "position", "change") == [
        (PGID + "party/russia", PGID + "position/ru-2025-05-rejects-leaders-meeting", PG + "new"),
        (PGID + "party/ukraine", PGID + "position/ua-2025-07-19-leaders-meeting", PG + "reiterated"),
    ]
    full = _saved_rows(seeded_engine.url, "state-of-play", date="2025-07-31")
    assert len(full) == 16
    assert (
        "https://w3id.org/posgraph/id/party/russia",
        PGI + "territory",
        PGID + "position/ru-2025-07-territory",
    ) in _values(full, "party", "issue", "position")


def test_golden_where_russia_and_ukraine_meet_or_collide(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "meet-or-collide", a="pgid:party/russia", b="pgid:party/ukraine")
    assert _values(rows, "issue", "relation", "positionA", "positionB") == [
        (
            PGI + "leaders-meeting",
            "faces",
            PGID + "position/ru-2025-05-rejects-leaders-meeting",
            PGID + "position/ua-2025-07-19-leaders-meeting",
        ),
        (
            PGI + "leaders-meeting",
            "rejects",
            PGID + "position/ru-2025-05-rejects-leaders-meeting",
            PGID + "position/ua-2025-05-leaders-meeting",
        ),
        (
            PGI + "prisoner-exchange",
            "agreed",
            PGID + "position/ru-ua-2025-06-exchange-of-bodies",
            PGID + "position/ru-ua-2025-06-exchange-of-bodies",
        ),
        (
            PGI + "prisoner-exchange",
            "faces",
            PGID + "position/ru-ua-2025-06-exchange-of-bodies",
            PGID + "position/ua-2025-07-19-talks-offer",
        ),
        (
            PGI + "talks",
            "responds",
            PGID + "position/ru-2025-07-offer-received",
            PGID + "position/ua-2025-07-19-talks-offer",
        ),
    ]


def test_meet_or_collide_reports_numeric_gaps(fresh_engine, validator):
    async def load():
        async with Engine(fresh_engine.url) as engine:
            await curation.load_batch(
                engine, validator, curation.read_files([EXAMPLES / "valid" / "army-size-gap.ttl"]), curator="t"
            )

    run(load())
    rows = _saved_rows(fresh_engine.url, "meet-or-collide", a="pgid:example/a", b="pgid:example/b")
    assert _values(rows, "issue", "relation", "valueA", "valueB", "gap") == [
        (PGI + "armed-forces-size", "responds", "50000", "150000", "100000"),
        (PGI + "neutrality-alliances", "demand-vs-offer", None, None, None),
    ]


def test_golden_conditional_positions(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "conditional-positions")
    assert _values(rows, "position", "conditioned", "conditionType", "requires", "requiredWording") == [
        (
            PGID + "position/us-2025-unconditional-ceasefire-first",
            PGID + "term/us-2025-settlement-talks",
            PG + "sequencing",
            PGID + "term/us-2025-unconditional-ceasefire",
            "an unconditional ceasefire",
        )
    ]


def test_golden_who_said_what(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "who-said-what", person="pgid:person/peskov")
    assert sorted(_values(rows, "speakerName", "statedOn", "quote")) == [
        (
            "Dmitry Peskov",
            "2025-07-20",
            "President Putin has repeatedly spoken of his desire to bring the Ukrainian "
            "settlement to a peaceful conclusion as soon as possible",
        ),
        ("Dmitry Peskov", "2025-07-20", "This is a long process, it requires effort, and it is not easy."),
        ("Dmitry Peskov", "2025-07-20", "the main thing for us is to achieve our goals"),
    ]
    everyone = _saved_rows(seeded_engine.url, "who-said-what")
    assert {r[0] for r in _values(everyone, "publisher")} == {"The Straits Times"}
    assert len({r[0] for r in _values(everyone, "position")}) == 14  # every position in the seed


def test_golden_negotiation_rounds(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "negotiation-rounds", party="pgid:party/united-states")
    assert _values(rows, "round", "startDate", "mediator", "results") == [
        (
            PGID + "event/2025-06-istanbul-round-2",
            "2025-06",
            PGID + "party/united-states",
            PGID + "position/ru-ua-2025-06-exchange-of-bodies",
        )
    ]
    rows = _saved_rows(seeded_engine.url, "negotiation-rounds")
    assert [r[0] for r in _values(rows, "label")] == ["Istanbul talks, first round", "Istanbul talks, second round"]
    assert sorted(rows[0]["participants"]["value"].split()) == [PGID + "party/russia", PGID + "party/ukraine"]


def test_golden_quiet_issues(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "quiet-issues", since="2025-07-20")
    assert _values(rows, "issue", "lastMoved") == [
        (PGI + "deported-children", "2025-07-19"),
        (PGI + "leaders-meeting", "2025-07-19"),
        (PGI + "prisoner-exchange", "2025-07-19"),
    ]


def test_answers_are_read_through_the_row_and_byte_caps(seeded_engine):
    """SELECT cut at the row cap, N-Triples at the byte cap, other graph formats refused over it (issue #10)."""
    import csv
    import io

    import pytest
    import rdflib

    from posgraph.errors import PayloadTooLarge

    context = json.loads(PROJECT_FILES.context_file.read_bytes())
    everything = "SELECT * WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o"

    async def go():
        async with Engine(seeded_engine.url) as engine:
            cut = await research.run_query(engine, everything, accept="text/csv", max_rows=5)
            exact = await research.run_query(engine, everything + " LIMIT 5", accept="text/csv", max_rows=5)
            triples = await research.run_query(
                engine, "CONSTRUCT WHERE { ?s ?p ?o }", accept="application/n-triples", max_answer_bytes=2000
            )
            graph = await research.read_graph(engine, None, accept="application/n-triples", max_answer_bytes=2000)
            refused = []
            for accept in ("text/turtle", "application/ld+json"):
                with pytest.raises(PayloadTooLarge) as caught:
                    await research.run_query(
                        engine, "CONSTRUCT WHERE { ?s ?p ?o }", accept=accept, context=context, max_answer_bytes=2000
                    )
                refused.append(caught.value.message)
            with pytest.raises(PayloadTooLarge) as caught:
                await research.read_graph(engine, None, accept="text/turtle", context=context, max_answer_bytes=2000)
            refused.append(caught.value.message)
            return cut, exact, triples, graph, refused

    cut, exact, triples, graph, refused = run(go())
    assert cut.truncated and cut.content == exact.content and not exact.truncated
    assert len(list(csv.reader(io.StringIO(cut.content.decode(), newline="")))) == 6
    for answer in (triples, graph):
        assert answer.truncated and len(answer.content) <= 2000
        assert len(rdflib.Graph().parse(data=answer.content, format="nt")) > 5
    assert all("2000 bytes" in message and "N-Triples" in message for message in refused)
    assert "LIMIT" in refused[0] and "LIMIT" not in refused[2]
