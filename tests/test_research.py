"""The query guard, and the saved queries' golden results on the seed data (real engine)."""

import json

import pytest

from posgraph import research
from posgraph.catalog import Catalog
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.errors import QueryRefused, QuerySyntaxError

from conftest import run


@pytest.mark.parametrize("query", [
    "SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }",
    "select * {service<http://127.0.0.1/>{}}",
    "SELECT * { SERVICE SILENT <file:///etc/passwd> { ?s ?p ?o } }",
    "SELECT * { SeRvIcE ?endpoint { ?s ?p ?o } }",
    "# comment\nSELECT * {\n  SERVICE\n<http://localhost/>{?s ?p ?o}}",
])
def test_service_to_a_local_url_is_refused(query):
    with pytest.raises(QueryRefused, match="SERVICE"):
        research.refuse_unsafe(query)


@pytest.mark.parametrize("query", [
    'SELECT ?service WHERE { ?service ?p "SERVICE" }',
    "SELECT * WHERE { <http://example.org/service/a> ?p ?o } # SERVICE in a comment",
    "PREFIX service: <http://a#> SELECT * { ?s service:x ?o }",
    "SELECT * WHERE { ?s ?p '''a SERVICE inside a long string''' }",
])
def test_the_word_service_elsewhere_is_allowed(query):
    research.refuse_unsafe(query)


def test_load_is_refused_in_updates():
    with pytest.raises(QueryRefused, match="LOAD"):
        research.refuse_unsafe("LOAD <file:///etc/passwd>", update=True)
    research.refuse_unsafe('INSERT DATA { <http://a> <http://b> "LOAD" }', update=True)


def test_query_form():
    assert research.query_form("PREFIX a: <http://select/> ASK {}") == "ask"
    assert research.query_form("construct { ?s ?p ?o } where { ?s ?p ?o }") == "construct"
    with pytest.raises(QuerySyntaxError):
        research.query_form("INSERT DATA {}")


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
    assert issues == {PGI + "talks", PGI + "ceasefire", PGI + "prisoner-exchange", PGI + "deported-children",
                      PGI + "leaders-meeting"}


def test_golden_positions_date_range_respects_precision(seeded_engine):
    # The US proposal is dated only "2025": it overlaps March 2025, so it is in range; May positions are not.
    rows = _saved_rows(seeded_engine.url, "positions", party="pgid:party/united-states", to="2025-03")
    assert _values(rows, "position", "statedOn") == [
        (PGID + "position/us-2025-unconditional-ceasefire-first", "2025"),
        (PGID + "position/us-2025-unconditional-ceasefire-first", "2025")]  # two issues
    rows = _saved_rows(seeded_engine.url, "positions", party="pgid:party/ukraine", issue="pgi:leaders-meeting",
                       to="2025-06")
    assert _values(rows, "position") == [(PGID + "position/ua-2025-05-leaders-meeting",)]


def test_golden_issue_counts(seeded_engine):
    rows = _saved_rows(seeded_engine.url, "issues")
    counts = {row["issue"]["value"].rsplit("/", 1)[1]: int(row["positions"]["value"]) for row in rows}
    assert counts == {"armed-forces-size": 1, "ceasefire": 3, "elections": 0, "peace-settlement": 2, "talks": 2,
                      "deported-children": 1, "language-identity": 1, "leaders-meeting": 3,
                      "neutrality-alliances": 1, "prisoner-exchange": 2, "sanctions": 1,
                      "security-guarantees": 0, "territory": 1}
