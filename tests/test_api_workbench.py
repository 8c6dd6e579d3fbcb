"""The workbench's routes over a real server on the seed: the page (its Content-Security-Policy, no inline script or
style, the no-JavaScript notice), the forms described from the server's shapes (ETag, 304) and IRIs minted from
labels against what the store and staging already hold."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from conftest import create_token, start_server

from posgraph.api.pages import WORKBENCH_POLICY
from posgraph.config import PROJECT_FILES
from posgraph.curation.forms import form_spec
from posgraph.validation import Validator

PGID = "https://w3id.org/posgraph/id/"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("workbench-api")
    srv = start_server(base / "store", base / "serve.log", env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000"})
    srv.curator = create_token(base, "curator", "api curator")
    yield srv
    srv.stop()


class _Markup(HTMLParser):
    """The page's script and style elements, inline event handlers and style attributes, and its links."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.inline: list[str] = []
        self.links: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")
        self.inline += [f"{tag} {name}" for name, _ in attrs if name.startswith("on") or name == "style"]
        if tag == "a":
            self.links.append(attributes.get("href") or "")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(f"script text {data.strip()[:40]!r}")


def test_the_page_is_served_under_its_policy_with_no_inline_script(site):
    with site.client() as client:
        answer = client.get("/workbench")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert policy == WORKBENCH_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'" and directives["default-src"] == "'none'"
    markup = _Markup()
    markup.feed(answer.text)
    assert markup.inline == []
    sources = [s.get("src") for s in markup.scripts]
    assert sources and all(s and s.startswith("/static/js/") for s in sources)
    assert "/static/js/workbench.js" in sources
    # Every script the page names is served (a 404 would be a console error and a dead page).
    with site.client() as client:
        for src in sources + ["/static/workbench.css"]:
            assert client.get(src).status_code == 200, src
    # Without JavaScript the page says so and points at the HTTP API's curation section.
    assert "The workbench needs JavaScript" in answer.text
    assert "/docs#/curation" in markup.links
    # The layout the review side relies on.
    for element in (
        'id="sign-in"',
        'id="token"',
        'id="tab-enter"',
        'id="tab-batches"',
        'id="tab-review"',
        'id="tab-history"',
        'id="enter"',
        'id="my-batches"',
        'id="review"',
        'id="history"',
    ):
        assert element in answer.text


def test_the_forms_are_the_servers_shapes_with_an_etag(site):
    with site.client() as client:
        first = client.get("/workbench/forms")
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/json"
        etag = first.headers["etag"]
        again = client.get("/workbench/forms", headers={"If-None-Match": etag})
        other = client.get("/workbench/forms", headers={"If-None-Match": '"not-this-one"'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert other.status_code == 200 and other.content == first.content
    body = first.json()
    validator = Validator.from_files(PROJECT_FILES.shapes_files, PROJECT_FILES.ontology_files)
    expected = json.loads(json.dumps(form_spec(validator.shapes, validator.ontology)))
    assert {k: v for k, v in body.items() if k != "prefixes"} == expected
    assert body["prefixes"]["pg"] == "https://w3id.org/posgraph/ns#"
    demand = next(f for f in body["forms"] if f["id"] == "Demand")
    held = next(f for f in demand["fields"] if f["path"] == "https://w3id.org/posgraph/ns#heldBy")
    assert held["min"] == 1 and held["widget"] == "entity" and held["collection"] == "parties"


def test_mint_gives_a_free_iri_from_the_label(site):
    with site.client() as client:
        taken = client.get("/workbench/mint", params={"form": "Party", "label": "Russia"})
        free = client.get("/workbench/mint", params={"form": "State", "label": "Republic of Moldova"})
        dated = client.get(
            "/workbench/mint", params={"form": "Demand", "label": "Russia demands Donbas", "date": "2025-07-23"}
        )
    assert taken.status_code == 200
    assert taken.json()["iri"] == PGID + "party/russia-2"  # the seed has party/russia
    assert "-2, -3" in taken.json()["rule"]
    assert free.json()["iri"] == PGID + "party/republic-of-moldova"
    assert dated.json()["iri"] == PGID + "position/2025-07-23-russia-demands-donbas"


def test_mint_counts_batches_awaiting_review_as_taken(site):
    party = PGID + "party/kingdom-of-atlantis"
    with site.client() as client:
        first = client.get("/workbench/mint", params={"form": "Party", "label": "Kingdom of Atlantis"})
        assert first.json()["iri"] == party
        submitted = client.post(
            "/batches",
            params={"label": "a party for the mint test"},
            content=f"<{party}> a <https://w3id.org/posgraph/ns#Party> ; "
            '<http://www.w3.org/2004/02/skos/core#prefLabel> "Kingdom of Atlantis"@en .',
            headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {site.curator}"},
        )
        assert submitted.status_code == 201, submitted.text
        again = client.get("/workbench/mint", params={"form": "Party", "label": "Kingdom of Atlantis"})
    assert again.json()["iri"] == party + "-2"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"form": "Party"}, "label"),
        ({"form": "Party", "label": "   "}, "label"),
        ({"label": "Russia"}, "form"),
        ({"form": "Unicorn", "label": "Russia"}, "form"),
        ({"form": "Place", "label": "Istanbul"}, "form"),  # a place is its Wikidata item: nothing to mint
        ({"form": "Demand", "label": "Russia demands", "date": "July"}, "date"),
        ({"form": "Party", "label": "Russia", "lang": "en"}, "lang"),
    ],
)
def test_mint_refuses_bad_input_naming_the_parameter(site, params, parameter):
    with site.client() as client:
        answer = client.get("/workbench/mint", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["parameter"] == parameter
