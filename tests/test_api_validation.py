"""The consistency rules (#12) over real HTTP: POST /validate and batch submission, in the context of the seed data
published on a real server, give the same findings as offline validation; in-context cases (a supersession cycle
half published, a duplicate of a published party) are found only with the store's neighbourhood."""

import httpx
import pytest
from conftest import create_token, start_server

pytestmark = pytest.mark.e2e

TURTLE = {"Content-Type": "text/turtle"}
PREFIXES = """
@prefix pg:       <https://w3id.org/posgraph/ns#> .
@prefix pgi:      <https://w3id.org/posgraph/issue/> .
@prefix party:    <https://w3id.org/posgraph/id/party/> .
@prefix source:   <https://w3id.org/posgraph/id/source/> .
@prefix position: <https://w3id.org/posgraph/id/position/> .
@prefix skos:     <http://www.w3.org/2004/02/skos/core#> .
@prefix wd:       <http://www.wikidata.org/entity/> .
@prefix xsd:      <http://www.w3.org/2001/XMLSchema#> .
"""


def _position(name: str, extra: str, stated_on: str = '"2025-07-19"^^xsd:date') -> bytes:
    """A new, otherwise valid Ukrainian demand on the seed's parties and source, with ``extra`` statements."""
    return (
        PREFIXES
        + f"""
position:{name} a pg:Demand ; pg:heldBy party:ukraine ; pg:addressedTo party:russia ;
    pg:statedOn {stated_on} ; pg:concerns pgi:ceasefire ; pg:source source:st-2025-07-istanbul-offer ;
    pg:summary "A test demand."@en {extra} .
"""
    ).encode()


# Each case: the batch, the shape that must report it, the focus node, and words its message must contain.
CASES = {
    "misspelt-property": (
        _position("test-rules-typo", "; pg:adressedTo party:russia"),
        "pgsh:Vocabulary-knownProperty",
        "pgid:position/test-rules-typo",
        "Did you mean pg:addressedTo?",
    ),
    "future-date": (
        _position("test-rules-future", "", '"2999-07-19"^^xsd:date'),
        "pgsh:Date-notFuture",
        "pgid:position/test-rules-future",
        "lies in the future",
    ),
    "impossible-month": (
        _position("test-rules-month", "", '"2025-13"^^xsd:gYearMonth'),
        "pgsh:Date-lexical",
        "pgid:position/test-rules-month",
        "not a real date",
    ),
    "self-supersession": (
        _position("test-rules-self", "; pg:supersedes position:test-rules-self ; pg:changeType pg:reiterated"),
        "pgsh:Revision-notSelf",
        "pgid:position/test-rules-self",
        "supersedes itself",
    ),
    # The seed publishes ua-2025-07-19-leaders-meeting pg:supersedes ua-2025-05-leaders-meeting; the batch closes
    # the circle from the other end, so only the published half shows the cycle.
    "cycle-half-published": (
        (
            PREFIXES + "position:ua-2025-05-leaders-meeting pg:supersedes position:ua-2025-07-19-leaders-meeting .\n"
        ).encode(),
        "pgsh:Revision-noCycle",
        "pgid:position/ua-2025-05-leaders-meeting",
        "a cycle",
    ),
    # The seed publishes party:russia with wd:Q159.
    "duplicate-party": (
        (
            PREFIXES
            + 'party:russian-federation a pg:Party, pg:State ; skos:prefLabel "Russian Federation"@en ; '
            + "pg:wikidata wd:Q159 .\n"
        ).encode(),
        "pgsh:Identity-oneIriPerWikidataItem",
        "pgid:party/russian-federation",
        "reuse pgid:party/russia",
    ),
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    base = tmp_path_factory.mktemp("rules")
    srv = start_server(base / "store", base / "serve.log")
    srv.curator = {"Authorization": f"Bearer {create_token(base, 'curator', 'cora')}"}
    yield srv
    srv.stop()


def _finding(results: list[dict], shape: str, focus: str) -> dict:
    found = [r for r in results if r["shape"] == shape and r["focus_node"] == focus]
    assert found, f"{shape} on {focus} not in {[(r['shape'], r['focus_node']) for r in results]}"
    return found[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_post_validate_finds_it_in_context(seeded, case):
    body, shape, focus, words = CASES[case]
    with seeded.client() as client:
        response = client.post("/validate", content=body, headers=TURTLE)
    assert response.status_code == 200
    report = response.json()
    assert report["conforms"] is False
    result = _finding(report["results"], shape, focus)
    assert result["severity"] == "Violation" and words in result["message"]
    assert result["hint"]  # the fix, from the shape's sh:description


@pytest.mark.parametrize("case", sorted(CASES))
def test_batch_submission_refuses_it_with_the_same_finding(seeded, case):
    body, shape, focus, words = CASES[case]
    with seeded.client() as client:
        before = client.get("/batches", headers=seeded.curator).json()["batches"]
        response = client.post("/batches", content=body, headers={**TURTLE, **seeded.curator})
        assert response.status_code == 422
        assert words in _finding(response.json()["report"]["results"], shape, focus)["message"]
        # Nothing was staged for review.
        assert client.get("/batches", headers=seeded.curator).json()["batches"] == before


def test_the_report_graph_carries_the_suggestion(seeded):
    body = CASES["misspelt-property"][0]
    with seeded.client() as client:
        turtle = client.post("/validate", content=body, headers={**TURTLE, "Accept": "text/turtle"}).text
    assert "Did you mean pg:addressedTo?" in turtle


def test_in_context_the_near_misses_pass(seeded):
    # The published positions' own consistency is not re-reported, and a new position that supersedes a published
    # one the right way round, by the same party, after the source's month began, conforms.
    body = _position(
        "test-rules-fine",
        "; pg:supersedes position:ua-2025-07-19-leaders-meeting ; pg:changeType pg:reiterated ; "
        "pg:concerns pgi:leaders-meeting",
        '"2025-07"^^xsd:gYearMonth',
    )
    with seeded.client() as client:
        report = client.post("/validate", content=body, headers=TURTLE).json()
    assert report["conforms"] is True, report["results"]


def test_an_existing_party_redescribed_under_its_own_iri_is_no_duplicate(seeded):
    body = (PREFIXES + 'party:russia skos:altLabel "RF"@en .\n').encode()
    with seeded.client() as client:
        report = client.post("/validate", content=body, headers=TURTLE).json()
    assert not [r for r in report["results"] if r["shape"] == "pgsh:Identity-oneIriPerWikidataItem"]


def test_a_partial_acceptance_of_a_published_positions_term_passes_in_context(seeded):
    """An answer may accept or reject only terms of the position it responds to: checked in context, so the
    published position's terms must come with it (the workbench offers exactly those)."""
    answer = (
        PREFIXES
        + """
@prefix term: <https://w3id.org/posgraph/id/term/> .
position:test-partly-accepts a pg:Acceptance ; pg:heldBy party:russia ; pg:addressedTo party:united-states ;
    pg:statedOn "2025-07-19"^^xsd:date ; pg:concerns pgi:ceasefire ; pg:source source:st-2025-07-istanbul-offer ;
    pg:respondsTo position:us-2025-unconditional-ceasefire-first ; pg:extent pg:partialExtent ;
    pg:acceptsTerm term:us-2025-settlement-talks ; pg:rejectsTerm %s .
"""
    )
    ok = httpx.post(
        seeded.url + "/validate", content=(answer % "term:us-2025-unconditional-ceasefire").encode(), headers=TURTLE
    )
    assert ok.status_code == 200 and ok.json()["conforms"] is True, ok.text
    # A term the answered position does not have is still refused.
    wrong = httpx.post(seeded.url + "/validate", content=(answer % "term:made-up").encode(), headers=TURTLE)
    shapes = {r["shape"] for r in wrong.json()["results"] if r["severity"] == "Violation"}
    assert wrong.json()["conforms"] is False and "pgsh:Answer-termsOfAnswered" in shapes, wrong.text
