"""The timeline and gap matrix over HTTP: one real server on the seed, the 0.2 query fixture (figures to compare)
and a hostile party, checked against the store by SPARQL of our own: every route, each filter, "as of", the
pictures (SVG as XML with its caption, PNG), 400 problems, ETag/304, the CSP header and escaping."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
import virtuoso_support
from conftest import EXAMPLES, Server, posgraph_cli, start_server, wait_indexed

from posgraph.engine import PROFILES

pytestmark = pytest.mark.e2e

PARTY = "https://w3id.org/posgraph/id/party/"
POSITION = "https://w3id.org/posgraph/id/position/"
ISSUE = "https://w3id.org/posgraph/issue/"
EX = "https://w3id.org/posgraph/id/example/"
HOSTILE = "<script>alert('party')</script>"
HOSTILE_SUMMARY = '<img src=x onerror="alert(1)"> & "quotes"'
# Loaded with the fixture as one batch: its addressee and source are the fixture's.
HOSTILE_TTL = f"""
@prefix pg: <https://w3id.org/posgraph/ns#> . @prefix pgi: <https://w3id.org/posgraph/issue/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{PARTY}hostile> a pg:Party ; skos:prefLabel {json.dumps(HOSTILE)}@en .
<{POSITION}hostile-1> a pg:Demand ; pg:heldBy <{PARTY}hostile> ; pg:addressedTo <{EX}b> ;
    pg:statedOn "2025-07-10"^^xsd:date ; pg:concerns pgi:territory ; pg:summary {json.dumps(HOSTILE_SUMMARY)}@en ;
    pg:source <{EX}src> .
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("views")
    hostile = base / "hostile.ttl"
    hostile.write_text(HOSTILE_TTL, encoding="utf-8")
    # Loaded through the CLI into the running server's engine, so that the data reaches whichever engine the
    # suite runs on (the managed Oxigraph, or Virtuoso under POSGRAPH_TEST_ENGINE=virtuoso).
    srv = start_server(base / "store", base / "serve.log", env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000"})
    loaded = posgraph_cli(
        "load",
        str(EXAMPLES / "valid" / "queries-0.2.ttl"),
        str(hostile),
        "--curator",
        "tests",
        env={"POSGRAPH_STORE_DIR": str(base / "store")},
    )
    assert loaded.returncode == 0, loaded.stderr
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each element with an id (for a few checks)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]


def sparql(client, query: str) -> list[dict]:
    prologue = "PREFIX pg: <https://w3id.org/posgraph/ns#>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
    answer = client.post(
        "/sparql", data={"query": prologue + query}, headers={"Accept": "application/sparql-results+json"}
    )
    assert answer.status_code == 200, answer.text
    return [{k: v["value"] for k, v in b.items()} for b in answer.json()["results"]["bindings"]]


def positions_of(client, where: str = "") -> set[str]:
    rows = sparql(
        client,
        "SELECT DISTINCT ?p WHERE { ?p pg:heldBy ?party ; pg:concerns ?issue ; pg:statedOn ?on ; "
        "a ?c . ?c rdfs:subClassOf pg:Position . " + where + " }",
    )
    return {r["p"] for r in rows}


def shown(html: str) -> set[str]:
    return {a["data-position"] for a in Tags(html).find("tr") if "data-position" in a}


def test_timeline_lists_every_position_in_the_store_and_each_links_to_its_page(client):
    page = client.get("/timeline")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert shown(page.text) == positions_of(client)
    # The summary cell links to the position's page, and the page is the position's.
    link = re.search(
        r"<tr data-position='" + re.escape(POSITION) + r"ua-2025-07-19-talks-offer'.*?"
        r"<td class='summary'><a href='([^']+)'",
        page.text,
        re.S,
    ).group(1)
    assert urlsplit(link).path == "/id/position/ua-2025-07-19-talks-offer"
    target = client.get(urlsplit(link).path, headers={"Accept": "text/html"})
    assert target.status_code == 200 and "Istanbul within a week" in target.text


def test_timeline_filters_really_filter(client):
    russia_us = client.get("/timeline", params=[("party", "pgid:party/russia"), ("party", PARTY + "united-states")])
    assert shown(russia_us.text) == positions_of(
        client, f"FILTER (?party IN (<{PARTY}russia>, <{PARTY}united-states>))"
    )
    assert shown(russia_us.text) and not any("ukraine" in p or "/ua-" in p for p in shown(russia_us.text))
    by_issue = client.get("/timeline", params={"issue": "pgi:leaders-meeting"})
    assert shown(by_issue.text) == positions_of(client, f"FILTER (?issue = <{ISSUE}leaders-meeting>)")
    # A month-dated position overlaps a period that starts mid-month; one from May does not overlap June on.
    period = client.get("/timeline", params={"issue": "pgi:leaders-meeting", "from": "2025-06"})
    assert shown(period.text) == {POSITION + "ua-2025-07-19-leaders-meeting"}
    july = client.get("/timeline", params={"party": "pgid:party/russia", "from": "2025-07-15", "to": "2025-07-15"})
    assert POSITION + "ru-2025-07-territory" in shown(july.text)
    assert POSITION + "ru-2025-05-rejects-leaders-meeting" not in shown(july.text)


def test_as_of_marks_what_is_in_force_as_state_of_play_says(client):
    page = client.get("/timeline", params=[("party", "pgid:party/ukraine"), ("as_of", "2025-07-31")])
    flags = {a["data-position"]: a["data-in-force"] for a in Tags(page.text).find("tr") if "data-position" in a}
    state = client.get(
        "/queries/state-of-play",
        params={"date": "2025-07-31", "party": PARTY + "ukraine"},
        headers={"Accept": "application/sparql-results+json"},
    ).json()
    in_force = {b["position"]["value"] for b in state["results"]["bindings"]}
    assert {p for p, f in flags.items() if f == "true"} == in_force
    assert flags[POSITION + "ua-2025-05-leaders-meeting"] == "false"  # superseded on 19 July
    assert set(flags.values()) == {"true", "false"}


def test_the_timeline_page_keeps_the_dom_contract_and_links_its_data(client):
    page = client.get("/timeline", params={"party": "pgid:party/russia", "as_of": "2025-07-31"})
    tags = Tags(page.text)
    (form,) = tags.find("form", id="timeline-filters")
    assert form["method"].lower() == "get"
    names = {(a.get("name"), "multiple" in a) for t, a in tags.tags if t == "select"}
    assert names == {("party", True), ("issue", True)}
    assert tags.find("input", name="from") and tags.find("input", name="to")
    assert tags.find("input", name="as_of", type="date") and tags.find("button", type="submit")
    assert tags.find("div", id="timeline-chart") and tags.find("table", id="timeline-table")
    assert tags.find("html", lang="en") and tags.find("meta", name="viewport") and "<h1>" in page.text
    assert {a["href"] for a in tags.find("a")} >= {"/timeline", "/gaps", "/", "/ns"}
    (spec,) = tags.find("script", type="application/json")
    assert spec["class"] == "vega-spec" and spec["data-target"] == "#timeline-chart"
    (img,) = tags.find("img")
    assert img["src"].startswith("/timeline.svg?") and img["alt"]
    assert tags.find("option", value=PARTY + "russia", selected=None) or "selected" in page.text
    # The data link runs the same saved query: the rows are the positions shown.
    url = next(a["href"] for a in tags.find("a") if a["href"].startswith("/queries/timeline?"))
    answer = client.get(url, headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200
    assert {b["position"]["value"] for b in answer.json()["results"]["bindings"]} == shown(page.text)
    for script in ("/static/charts.js",):
        assert client.get(script).status_code == 200


def _reads(client) -> dict[tuple[str, str, str], float]:
    """posgraph's counts of saved queries' keys and aggregates read, by (metric, query, source)."""
    counts = {}
    for line in client.get("/metrics").text.splitlines():
        for metric in ("posgraph_saved_query_key_pages_total", "posgraph_saved_query_fact_reads_total"):
            if line.startswith(metric + "{"):
                labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
                counts[(metric.split("_")[3], labels["query"], labels["source"])] = float(line.split()[-1])
    return counts


def test_the_pages_read_keys_and_counts_from_the_index_as_the_saved_queries_do(server, client):
    # Once the index holds the current data, a page's newest positions are a page of keys it cuts and the form's
    # issue counts are its aggregate, not the engine's sort and count (what makes a page cost the same at 1M).
    wait_indexed(server, client.get("/positions").headers["x-posgraph-version"])
    before = _reads(client)
    # Parameters no other test asks for: built now, not answered from the representation cache.
    timeline = client.get("/timeline", params={"party": "pgid:party/russia", "to": "2025-07-30"})
    gaps = client.get("/gaps", params={"as_of": "2025-07-30"})
    assert timeline.status_code == gaps.status_code == 200
    after = _reads(client)
    grew = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # The timeline's page of keys, and the newest page that chooses the gap matrix's parties; both forms' counts;
    # the matrix's positions in force (every dated subject here is a position with IRI parties and issues). An
    # engine that does not take an aggregate's rows bound in (its profile says so: Virtuoso) works those out.
    fact = "index" if PROFILES[virtuoso_support.ENGINE].bound_aggregates else "engine"
    expected = {("key", "timeline", "index"): 2, ("fact", "issues", fact): 2, ("fact", "gap-matrix", fact): 1}
    assert grew == expected, grew
    expected = positions_of(client, f"FILTER (?party = <{PARTY}russia> && STR(?on) <= '2025-07-30')")
    assert shown(timeline.text) == expected and expected


def gap_rows(html: str) -> dict[str, str]:
    return {a["data-issue"]: a["data-relation"] for a in Tags(html).find("tr") if "data-issue" in a}


def test_as_of_changes_the_gap_matrix_on_the_seed(client):
    pair = [("party", "pgid:party/russia"), ("party", "pgid:party/ukraine")]
    june = gap_rows(client.get("/gaps", params=pair + [("as_of", "2025-06-30")]).text)
    july = gap_rows(client.get("/gaps", params=pair + [("as_of", "2025-07-31")]).text)
    # On 30 June Russia's rejection answers Ukraine's May offer; by 31 July that offer is superseded.
    assert june[ISSUE + "leaders-meeting"] == "collide" and july[ISSUE + "leaders-meeting"] == "open"
    assert june[ISSUE + "prisoner-exchange"] == "meet"  # the June agreement both hold
    assert june[ISSUE + "ceasefire"] == "no-position"  # Ukraine only
    assert ISSUE + "territory" not in june and july[ISSUE + "territory"] == "no-position"
    # Every issue on which either holds a position in force is a row: as the store's state of play says.
    issues = set()
    for _, party in pair:
        state = client.get(
            "/queries/gap-matrix",
            params={"date": "2025-07-31", "party": party},
            headers={"Accept": "application/sparql-results+json"},
        ).json()
        issues |= {b["issue"]["value"] for b in state["results"]["bindings"]}
    assert set(july) == issues


def test_the_gap_matrix_keeps_the_dom_contract_and_its_history_links_work(client):
    pair = [("party", "pgid:party/russia"), ("party", "pgid:party/ukraine")]
    page = client.get("/gaps", params=pair + [("as_of", "2025-06-30")])
    tags = Tags(page.text)
    assert tags.find("form", id="gap-filters") and tags.find("input", name="as_of", type="date")
    assert any(a.get("name") == "party" and "multiple" in a for t, a in tags.tags if t == "select")
    assert tags.find("table", id="gap-matrix") and "<th scope='row'>" in page.text
    assert len(tags.find("td", **{"data-party": PARTY + "russia"})) == len(gap_rows(page.text)) == 3
    assert len([a for a in tags.find("td") if a.get("class") == "gap"]) == 3
    history = [a["href"] for a in tags.find("a") if a.get("class") == "history"]
    leaders = next(h for h in history if "leaders-meeting" in h)
    assert parse_qsl(urlsplit(leaders).query) == [
        ("issue", ISSUE + "leaders-meeting"),
        ("party", PARTY + "russia"),
        ("party", PARTY + "ukraine"),
    ]
    assert shown(client.get(leaders).text) == positions_of(
        client, f"FILTER (?issue = <{ISSUE}leaders-meeting> && ?party IN (<{PARTY}russia>, <{PARTY}ukraine>))"
    )


def test_the_gap_between_comparable_figures_is_shown(client):
    page = client.get(
        "/gaps",
        params=[("party", EX + "a"), ("party", EX + "b"), ("as_of", "2025-03-31"), ("issue", "pgi:armed-forces-size")],
    )
    row = re.search(r"<tr data-issue='" + re.escape(ISSUE) + r"armed-forces-size'.*?</tr>", page.text, re.S).group(0)
    assert "100,000" in re.search(r"<td class='gap'>(.*?)</td>", row, re.S).group(1)


def _most_recent_parties(client, before: str = "9999") -> list[str]:
    rows = sparql(client, "SELECT ?p ?party ?on WHERE { ?p pg:heldBy ?party ; pg:statedOn ?on }")
    first = {r["p"]: r["on"] + "-01-01"[: 10 - len(r["on"])] if len(r["on"]) < 10 else r["on"][:10] for r in rows}
    chosen: list[str] = []
    for r in sorted(rows, key=lambda r: (first[r["p"]], [-ord(c) for c in r["p"]]), reverse=True):
        if first[r["p"]] <= before and r["party"] not in chosen and len(chosen) < 2:
            chosen.append(r["party"])
    return sorted(chosen)


@pytest.mark.parametrize("as_of", ["", "2025-06-30", "2025-03"])
def test_default_gap_parties_are_the_two_that_stated_positions_most_recently(client, as_of):
    page = client.get("/gaps", params={"as_of": as_of} if as_of else {})
    parties = [a["data-party"] for a in Tags(page.text).find("th") if "data-party" in a]
    last_day = {"2025-06-30": "2025-06-30", "2025-03": "2025-03-31"}.get(as_of, "9999")
    assert parties == _most_recent_parties(client, last_day)
    # Their cells are the positions in force on that date, as the saved query gives them for the two.
    date = as_of or Tags(page.text).find("input", name="as_of")[0].get("value", "")
    state = client.get(
        "/queries/gap-matrix",
        params=[("party", p) for p in parties] + ([("date", date)] if date else []),
        headers={"Accept": "application/sparql-results+json"},
    ).json()
    bindings = state["results"]["bindings"]
    assert bindings and set(gap_rows(page.text)) == {b["issue"]["value"] for b in bindings}
    linked = {a["href"].rsplit("/", 1)[1] for a in Tags(page.text).find("a") if "/id/" in a.get("href", "")}
    assert {b["position"]["value"].rsplit("/", 1)[1] for b in bindings} <= linked


@pytest.mark.parametrize("path", ["/timeline.svg", "/gaps.svg"])
def test_svg_pictures_parse_and_name_the_data_version(client, path):
    answer = client.get(path, params={"as_of": "2025-07-31"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(answer.content)
    assert root.tag.endswith("svg")
    text = " ".join(t for t in root.itertext())
    assert f"data version {answer.headers['X-Posgraph-Version']}" in text
    assert "Sources:" in text


def test_the_timeline_svg_draws_the_filtered_marks_as_links(client):
    answer = client.get("/timeline.svg", params={"issue": "pgi:leaders-meeting"})
    links = set(re.findall(r'href="([^"]+/id/position/[^"]+)"', answer.text))
    assert {urlsplit(u).path.rsplit("/", 1)[1] for u in links} == {
        p.rsplit("/", 1)[1] for p in positions_of(client, f"FILTER (?issue = <{ISSUE}leaders-meeting>)")
    }


@pytest.mark.parametrize("path", ["/timeline.png", "/gaps.png"])
def test_png_pictures(client, path):
    answer = client.get(path)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG\r\n\x1a\n") and len(answer.content) > 5000


@pytest.mark.parametrize(
    "path, params, name",
    [
        ("/timeline", {"party": "not an iri"}, "party"),
        ("/timeline", {"issue": "javascript:alert(1)>"}, "issue"),
        ("/timeline", {"from": "2025-13"}, "from"),
        ("/timeline.svg", {"to": "tomorrow"}, "to"),
        ("/timeline.png", {"as_of": "2025-02-30"}, "as_of"),
        ("/timeline", {"form": "2025"}, "form"),
        ("/gaps", {"party": "pgid:party/russia"}, "party"),
        ("/gaps.svg", {"as_of": "July"}, "as_of"),
        ("/gaps", {"from": "2025"}, "from"),
    ],
)
def test_bad_parameters_are_problems_naming_them(client, path, params, name):
    answer = client.get(path, params=params)
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["parameter"] == name


@pytest.mark.parametrize("path", ["/timeline", "/gaps", "/timeline.svg"])
def test_etag_and_not_modified(client, path):
    first = client.get(path, params={"as_of": "2025-07-31"})
    etag = first.headers["ETag"]
    again = client.get(path, params={"as_of": "2025-07-31"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and not again.content
    other = client.get(path, params={"as_of": "2025-06-30"})
    assert other.headers["ETag"] != etag


@pytest.mark.parametrize("path", ["/timeline", "/gaps.png"])
def test_last_modified_and_if_modified_since_as_for_resources(client, path):
    # Views and resources share one caching rule: Last-Modified from the dataset version; the format is in the
    # path, so views are not negotiated (no Vary: Accept).
    first = client.get(path)
    assert first.status_code == 200 and "accept" not in first.headers.get("Vary", "").lower()
    since = first.headers["Last-Modified"]
    again = client.get(path, headers={"If-Modified-Since": since})
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"] and not again.content


def test_pages_carry_a_script_policy_without_eval(client):
    for path in ("/timeline", "/gaps"):
        policy = client.get(path).headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-eval" not in policy and "default-src 'none'" in policy


def test_hostile_labels_are_escaped_in_pages_and_pictures(client):
    page = client.get("/timeline", params={"party": PARTY + "hostile"})
    assert shown(page.text) == {POSITION + "hostile-1"}
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#39;party&#39;)&lt;/script&gt;" in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &#34;quotes&#34;" in page.text
    gaps = client.get("/gaps", params=[("party", PARTY + "hostile"), ("party", "pgid:party/russia")])
    assert gaps.status_code == 200 and "<script>alert" not in gaps.text and "&lt;script&gt;" in gaps.text
    svg = client.get("/timeline.svg", params={"party": PARTY + "hostile"})
    ET.fromstring(svg.content)  # still well-formed XML
    assert b"<script" not in svg.content


def test_building_a_view_spends_the_clients_query_budget_and_a_cached_view_does_not(tmp_path):
    # A budget of 10 ms of engine time a minute: the first view built spends it all.
    srv = start_server(tmp_path / "store", tmp_path / "serve.log", env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "0.01"})
    try:
        with srv.client() as http:
            first = http.get("/timeline", params={"as_of": "2025-07-01"})
            second = http.get("/gaps", params={"as_of": "2025-07-02"})
            again = http.get("/timeline", params={"as_of": "2025-07-01"})
    finally:
        srv.stop()
    assert first.status_code == 200, first.text[:300]
    assert second.status_code == 429 and second.json()["type"].endswith("/too-many-requests"), second.text[:300]
    assert again.status_code == 200 and again.text == first.text  # from the cache: no query ran, nothing spent
