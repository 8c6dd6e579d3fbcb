"""The API's own structure and its HTML pages: route modules stand alone, routes read the typed state, the Jinja2
pages escape what they show and link only web IRIs (without a server); and, over real HTTP, the readable pages of
each kind of resource tell the seed's facts in prose, keep the raw triples and alternates, cap long lists, escape
hostile data and carry a Content-Security-Policy."""

from __future__ import annotations

import ast
import json
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import rdflib
from conftest import posgraph_cli, start_server

from posgraph import linked_data
from posgraph.api import pages

API = Path(__file__).resolve().parents[1] / "src" / "posgraph" / "api"
RUSSIA = rdflib.URIRef("https://w3id.org/posgraph/id/party/russia")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_route_module_imports_another_and_none_reads_the_untyped_state():
    routes = sorted((API / "routes").glob("*.py"))
    assert routes
    for path in routes:
        imported = _imports(path)
        assert not any(name.startswith("posgraph.api.routes") for name in imported), path.name
    for path in API.rglob("*.py"):
        if path.name != "state.py":
            assert "request.app.state" not in path.read_text(encoding="utf-8"), path


def test_resource_page_escapes_text_and_links_only_web_iris():
    graph = rdflib.Graph()
    graph.add((RUSSIA, rdflib.SKOS.prefLabel, rdflib.Literal("<script>alert(1)</script>", lang="en")))
    graph.add((RUSSIA, rdflib.RDFS.seeAlso, rdflib.URIRef("javascript:alert(1)")))
    blank = rdflib.BNode()
    graph.add((RUSSIA, rdflib.URIRef("https://w3id.org/posgraph/ns#hasTerm"), blank))
    graph.add((blank, rdflib.RDFS.label, rdflib.Literal("nested")))
    page = pages.resource_page(graph, str(RUSSIA), base_url="http://127.0.0.1:9", page_url="http://127.0.0.1:9/x")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "href='javascript:" not in page and "javascript:alert(1)" in page
    assert "href='http://127.0.0.1:9/id/party/russia'" not in page  # the root is not a link to itself
    assert page.count("<table>") == 2 and "nested" in page  # a blank node's statements nest


def test_query_page_config_is_raw_json_that_cannot_close_its_script():
    page = pages.query_page({"endpoint": "/sparql", "welcome": '</script><b>x</b> & "q"'})
    raw = page.split('<script id="posgraph-config" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(raw)["welcome"] == '</script><b>x</b> & "q"'


# ------------------------------------------------------------------------------------------ readable pages, over HTTP
# The pages of a real server on the seed (``server``) and on a server of this module's own that also holds a document
# in two versions, an event with delegates, disputed figures and hostile data (``curated``).
ID = "https://w3id.org/posgraph/id/"
PAGETEST = ID + "pagetest/"
CURATED = """@prefix pg: <https://w3id.org/posgraph/ns#> .
@prefix pgi: <https://w3id.org/posgraph/issue/> .
@prefix ex: <https://w3id.org/posgraph/id/pagetest/> .
@prefix wd: <http://www.wikidata.org/entity/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <https://schema.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix unit: <http://qudt.org/vocab/unit/> .

ex:a a pg:Party, pg:State ; skos:prefLabel "Aland"@en ; pg:wikidata wd:Q1 .
ex:b a pg:Party, pg:State ; skos:prefLabel "Borduria"@en ; pg:wikidata wd:Q2 .
ex:c a pg:Party, pg:State ; skos:prefLabel "Carpania"@en ; pg:wikidata wd:Q4 .
ex:envoy a pg:Person ; skos:prefLabel "Ada Envoy"@en ;
    pg:holdsRole [ a pg:Role ; pg:roleTitle "Special envoy"@en ; pg:roleFor ex:c ] .
ex:negotiator a pg:Person ; skos:prefLabel "Bo Negotiator"@en ;
    pg:holdsRole [ a pg:Role ; pg:roleTitle "Deputy foreign minister"@en ; pg:roleFor ex:b ] .
ex:paper a pg:MediaOrganization ; skos:prefLabel "The Daily Paper"@en .
ex:wire a pg:MediaOrganization ; skos:prefLabel "The Wire Service"@en .
ex:src a pg:Source, schema:NewsArticle ; schema:headline "Plan talks in Geneva"@en ; schema:publisher ex:paper ;
    schema:datePublished "2025-03-06"^^xsd:date ; schema:url <https://example.org/plan-talks> .
ex:src-wire a pg:Source, schema:NewsArticle ; schema:headline "The plan's figures, by the wire"@en ;
    schema:publisher ex:wire ; schema:datePublished "2025-03-07"^^xsd:date .

ex:plan a pg:Document ; skos:prefLabel "The Carpanian peace plan"@en ; pg:documentKind pg:pointPlan ;
    pg:draftedBy ex:c .
ex:plan-v2 a pg:DocumentVersion, pg:Source ; pg:versionOf ex:plan ; skos:prefLabel "Carpanian plan, 15 points"@en ;
    pg:versionLabel "15-point draft"@en ; pg:pointCount 15 ; pg:revises ex:plan-v1 ;
    pg:lifecycleStep [ a pg:LifecycleStep ; pg:stage pg:published ; pg:startDate "2025-03-05"^^xsd:date ;
                       pg:stepBy ex:c ] .
ex:plan-v1 a pg:DocumentVersion, pg:Source ; pg:versionOf ex:plan ; skos:prefLabel "Carpanian plan, 12 points"@en ;
    pg:versionLabel "12-point draft"@en ; pg:pointCount 12 ;
    pg:lifecycleStep [ a pg:LifecycleStep ; pg:stage pg:drafted ; pg:startDate "2025-02"^^xsd:gYearMonth ;
                       pg:stepBy ex:c ] ,
                     [ a pg:LifecycleStep ; pg:stage pg:leaked ; pg:startDate "2025-02-10"^^xsd:date ] .

ex:round a pg:Event, pg:NegotiationRound ; skos:prefLabel "Geneva round on the plan"@en ;
    pg:startDate "2025-03-05"^^xsd:date ; pg:endDate "2025-03-06"^^xsd:date ; pg:place wd:Q71 ;
    pg:participant ex:a, ex:b ; pg:mediator ex:c ;
    pg:delegate [ a pg:Delegate ; pg:member ex:envoy ; pg:roleFor ex:c ; pg:delegateRole pg:headOfDelegation ] ,
                [ a pg:Delegate ; pg:member ex:negotiator ; pg:roleFor ex:b ; pg:delegateRole pg:negotiator ] ;
    pg:outcome "The parties agreed to study the second draft."@en ;
    pg:source ex:src .

ex:plan-truce a pg:Proposal ; pg:heldBy ex:c ; pg:addressedTo ex:a, ex:b ; pg:statedOn "2025-02-10"^^xsd:date ;
    pg:concerns pgi:ceasefire ; pg:source ex:plan-v1 ; pg:statedIn ex:plan-v1 ;
    pg:summary "The first draft proposes a pause in the fighting."@en ;
    pg:hasTerm [ a pg:CeasefireTerm ; pg:obligatedParty ex:a, ex:b ; pg:action pg:halt ;
        pg:quantity [ a pg:Quantity ; pg:quantityKind pg:timeSpan ; pg:minValue 36 ; pg:maxValue 72 ;
                      pg:unit unit:HR ] ] .
ex:plan-land a pg:Proposal ; pg:heldBy ex:c ; pg:addressedTo ex:a, ex:b ; pg:statedOn "2025-03-05"^^xsd:date ;
    pg:statedBy ex:envoy ; pg:atEvent ex:round ;
    pg:concerns pgi:territory, pgi:armed-forces-size ;
    pg:source ex:plan-v2, ex:src, ex:src-wire ; pg:statedIn ex:plan-v2 ;
    pg:summary "The second draft leaves Crimea's status open and caps Borduria's army."@en ;
    pg:report ex:rep-paper, ex:rep-wire ;
    pg:hasTerm [ a pg:TerritorialTerm ; pg:obligatedParty ex:b ; pg:action pg:recognise ; pg:polarity pg:negative ;
                 pg:region wd:Q7835 ; pg:regionScope pg:wholeRegions ] ,
               [ a pg:ArmedForcesTerm ; pg:obligatedParty ex:b ; pg:action pg:cap ; pg:quantityKind pg:personnel ;
                 pg:quantity ex:cap-paper, ex:cap-wire ] .
ex:rep-paper a pg:Report ; pg:source ex:src ; pg:sourcing pg:onTheRecord ; pg:rank pg:preferredRank ;
    pg:quote "Crimea stays where it is for now"@en .
ex:rep-wire a pg:Report ; pg:source ex:src-wire ; pg:sourcing pg:anonymousOfficials ; pg:confidence 0.6 ;
    pg:reportedVia ex:paper .
ex:cap-paper a pg:Quantity ; pg:value 50000 ; pg:qualifier pg:atMost ; pg:accordingTo ex:rep-paper .
ex:cap-wire a pg:Quantity ; pg:minValue 40000 ; pg:maxValue 45000 ; pg:accordingTo ex:rep-wire .
"""
# Loaded without validation, as a careless or hostile loader could: text that is markup, IRIs that would run.
HOSTILE = f"""<{PAGETEST}hostile> a <https://w3id.org/posgraph/ns#Demand>, <https://w3id.org/posgraph/ns#Position> ;
    <https://w3id.org/posgraph/ns#heldBy> <{PAGETEST}a> ;
    <https://w3id.org/posgraph/ns#summary> "<script>alert(1)</script> wants" ;
    <https://w3id.org/posgraph/ns#source> <javascript:alert(2)>, <{PAGETEST}evil-source> ;
    <http://www.w3.org/2000/01/rdf-schema#seeAlso> <javascript:alert(3)> ;
    <https://w3id.org/posgraph/ns#hasTerm> [ a <https://w3id.org/posgraph/ns#TalksTerm> ;
        <https://w3id.org/posgraph/ns#wording> "<img src=x onerror=alert(4)>" ;
        <https://w3id.org/posgraph/ns#venueProposed> <javascript:alert(5)> ] .
<{PAGETEST}evil-source> a <https://w3id.org/posgraph/ns#Source> ;
    <https://schema.org/headline> "</title><script>alert(6)</script>" ;
    <https://schema.org/url> <javascript:alert(7)> .
"""

# More positions than a page lists: a party holding LIST_CAP + 5 of them, all on one issue.
MANY = f"<{PAGETEST}many> a <https://w3id.org/posgraph/ns#Party> ; <http://www.w3.org/2004/02/skos/core#prefLabel> "
MANY += '"Manyland"@en .\n' + "".join(
    f"<{PAGETEST}many-{i}> a <https://w3id.org/posgraph/ns#Statement>, <https://w3id.org/posgraph/ns#Position> ; "
    f"<https://w3id.org/posgraph/ns#heldBy> <{PAGETEST}many> ; "
    f"<https://w3id.org/posgraph/ns#concerns> <https://w3id.org/posgraph/issue/religion> ; "
    f'<https://w3id.org/posgraph/ns#statedOn> "2024-{1 + i % 12:02d}-{1 + i % 28:02d}"^^<{rdflib.XSD.date}> ; '
    f'<https://w3id.org/posgraph/ns#summary> "Manyland statement {i}"@en .\n'
    for i in range(linked_data.LIST_CAP + 5)
)


class _Page(HTMLParser):
    """A page read back: its text (as a browser lays it out: blocks apart, inline runs together), its links (href,
    text) above the Data section, and whether every element it opens is closed in order."""

    VOID = {"meta", "link", "br", "img", "hr", "input"}
    BLOCKS = {"p", "li", "ul", "ol", "dt", "dd", "dl", "tr", "td", "th", "table", "h1", "h2", "h3", "blockquote"}
    BLOCKS |= {"nav", "main", "section"}

    def __init__(self, body: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.all_links: list[str] = []
        self.chunks: list[str] = []
        self.in_data = False
        self._href: str | None = None
        self._link_text: list[str] = []
        self.feed(body)
        self.close()
        if self.stack:
            self.errors.append(f"never closed: {self.stack}")

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._link_text = dict(attrs).get("href"), []
        if tag == "h2" and dict(attrs).get("id") == "data":
            self.in_data = True
        if tag in self.BLOCKS:
            self.chunks.append(" ")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in self.BLOCKS:
            self.chunks.append(" ")
        if tag == "a":
            self.all_links.append(self._href or "")
            if not self.in_data:
                self.links.append((self._href or "", "".join(self._link_text)))
            self._href = None

    def handle_data(self, data):
        if "style" not in self.stack and "title" not in self.stack:
            self.chunks.append(data)
            if self._href is not None:
                self._link_text.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())

    def prose(self) -> str:
        """The text above the Data section."""
        return self.text.split(" Data ", 1)[0]

    def link_to(self, href: str) -> list[str]:
        """The texts of the links to ``href`` above the Data section."""
        return [text for h, text in self.links if h == href]


def _get(srv, path: str) -> tuple[httpx.Response, _Page]:
    with srv.client() as client:
        answer = client.get(path, headers={"Accept": "text/html"})
    assert answer.status_code == 200, (path, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html")
    page = _Page(answer.text)
    assert page.errors == [], (path, page.errors[:5])
    return answer, page


def _assert_safe(answer: httpx.Response, page: _Page) -> None:
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert all(h == "/" or h.startswith(("http://", "https://")) for h in page.all_links), page.all_links
    assert "<script" not in answer.text.lower()


def _assert_data_section(srv, answer: httpx.Response, page: _Page, path: str, predicate: str) -> None:
    """Below the prose: the raw triples (a predicate the resource has) and its other formats, linked."""
    assert " Data " in page.text and predicate in page.text.split(" Data ", 1)[1]
    url = srv.url + path
    for media in ("application/ld+json", "text/turtle"):
        assert f"<link rel='alternate' type='{media}' href='{url}'" in answer.text
        assert f"<a href='{url}' type='{media}'>" in answer.text
    assert f'<{url}>; rel="alternate"; type="text/turtle"' in answer.headers["link"]


@pytest.mark.e2e
def test_position_page_says_who_demands_what_of_whom_when_and_from_which_source(server):
    path = "/id/position/ru-2025-07-neutrality"
    answer, page = _get(server, path)
    prose = page.prose()
    assert "Russia demands of Ukraine — stated July 2025 (known only to the month), reported by Faint signs" in prose
    assert page.link_to(server.url + "/id/party/russia") and page.link_to(server.url + "/id/party/ukraine")
    # In the sentence and in the source list, by headline (and in the Data section by IRI).
    headline = "Faint signs of life appear in effort to halt Ukraine war"
    assert page.link_to(server.url + "/id/source/st-2025-07-istanbul-offer") == [headline] * 2
    assert page.link_to(server.url + "/issue/neutrality-alliances") == ["Neutrality and alliances"]
    # The term in words: who is to act, the action, the alliance by name, the commitments, the source's wording.
    assert "Neutrality term: Ukraine to renounce; alliance: NATO; commitment: Not joining the alliance" in prose
    assert page.link_to(server.url + "/id/party/nato") == ["NATO"]
    assert "“a declaration that Ukraine will not join Nato and will remain a neutral state”" in prose
    assert "published by The Straits Times (from The New York Times), July 2025" in prose
    assert "Reported as one of Russia's standing demands in July 2025" in prose
    _assert_data_section(server, answer, page, path, "pg:hasTerm")
    _assert_safe(answer, page)


@pytest.mark.e2e
def test_position_page_shows_reports_relays_responses_and_quotes(server):
    answer, page = _get(server, "/id/position/ru-2025-07-offer-received")
    prose = page.prose()
    # The report: relayed by Tass, whose page it links.
    assert "Source Sourcing Rank Confidence Relayed via Quotes" in prose
    assert "Faint signs of life appear in effort to halt Ukraine war Relayed Normal Tass" in prose
    assert page.link_to(server.url + "/id/org/tass") == ["Tass"]
    assert "This position responds to:" in prose
    assert page.link_to(server.url + "/id/position/ua-2025-07-19-talks-offer")

    _, offer = _get(server, "/id/position/ua-2025-07-19-talks-offer")
    prose = offer.prose()
    assert "Ukraine offers to Russia — stated 19 July 2025, reported by" in prose
    assert "Responses to it:" in prose and offer.link_to(server.url + "/id/position/ru-2025-07-offer-received")
    assert "conveyed by Rustem Umerov" in prose and "medium video address" in prose
    # Places by their gazetteer names, dates in words, agenda issues linked.
    assert "venue proposed: Istanbul" in prose and "Q406" not in prose
    assert "window end: 27 July 2025; window start: 20 July 2025" in prose
    assert offer.link_to(server.url + "/issue/deported-children")
    assert "“The Russian side must stop hiding from decisions”" in prose
    assert "On the record" in prose


@pytest.mark.e2e
def test_position_page_shows_supersession_both_ways_with_the_change_type(server):
    _, older = _get(server, "/id/position/ua-2025-05-leaders-meeting")
    prose = older.prose()
    assert "It was superseded by: Zelensky repeats his May offer of a face-to-face meeting with Putin." in prose
    assert "offer by Ukraine to Russia, 19 July 2025 (reiterated)" in prose
    assert "Responses to it: After days of silence, Putin turns down" in prose
    _, newer = _get(server, "/id/position/ua-2025-07-19-leaders-meeting")
    assert "This position supersedes (reiterated): Zelensky first offers to meet Putin in person." in newer.prose()
    assert newer.link_to(server.url + "/id/position/ua-2025-05-leaders-meeting")


@pytest.mark.e2e
def test_position_page_words_conditions_durations_confidence_and_year_precision(server):
    _, proposal = _get(server, "/id/position/us-2025-unconditional-ceasefire-first")
    prose = proposal.prose()
    assert "United States proposes to Russia and Ukraine — stated 2025 (known only to the year)" in prose
    assert (
        "Russia and Ukraine to halt; unconditional: yes; in the source's words: “an unconditional ceasefire”" in prose
    )
    assert "Sequencing: requires an unconditional ceasefire" in prose
    assert proposal.link_to(server.url + "/id/term/us-2025-unconditional-ceasefire") == [
        "its own page",
        "an unconditional ceasefire",
    ]
    _, threat = _get(server, "/id/position/us-2025-07-secondary-sanctions")
    prose = threat.prose()
    assert "United States threatens Russia — stated July 2025" in prose
    assert "duration: 50 days" in prose and "Analysis Normal 0.7" in prose


@pytest.mark.e2e
def test_party_page_lists_people_and_positions_by_issue_latest_first(server):
    answer, page = _get(server, "/id/party/ukraine")
    prose = page.prose()
    assert "Rustem Umerov — National security adviser" in prose
    assert "Volodymyr Zelensky — President of Ukraine" in prose
    meeting = prose.split("Leaders' meeting", 1)[1]
    # Latest first within the issue: the July repetition before the May offer.
    assert meeting.index("Zelensky repeats his May offer") < meeting.index("Zelensky first offers to meet Putin")
    assert "(reiterated)" in meeting.split("Zelensky first offers")[0]
    for issue in ("ceasefire", "leaders-meeting", "talks", "prisoner-exchange", "deported-children"):
        assert page.link_to(f"{server.url}/issue/{issue}"), issue
    # The agreement both parties hold is listed for each of them.
    assert "agreement by Russia and Ukraine, June 2025" in prose
    _assert_data_section(server, answer, page, "/id/party/ukraine", "skos:prefLabel")
    _assert_safe(answer, page)


@pytest.mark.e2e
def test_issue_page_tables_every_partys_positions_by_date(server):
    answer, page = _get(server, "/issue/leaders-meeting")
    prose = page.prose()
    assert "Positions over time Date Party Kind Position" in prose
    table = prose.split("Date Party Kind Position", 1)[1]
    rows = [table.index(s) for s in ("Zelensky first offers", "After days of silence", "Zelensky repeats")]
    assert "May 2025 Ukraine Offer Zelensky first offers" in table and "May 2025 Russia Rejection" in table
    assert "19 July 2025 Ukraine Offer Zelensky repeats" in table
    assert max(rows[:2]) < rows[2]  # May before July
    _assert_data_section(server, answer, page, "/issue/leaders-meeting", "skos:definition")
    _assert_safe(answer, page)


@pytest.mark.e2e
def test_event_page_names_place_participants_mediator_outcome_and_resulting_positions(server):
    answer, page = _get(server, "/id/event/2025-06-istanbul-round-2")
    prose = page.prose()
    assert "start date June 2025" in prose and "place Istanbul" in prose
    assert "participant Russia, Ukraine" in prose and "mediator United States" in prose
    assert "outcome The negotiators agreed on little beyond an exchange of the bodies of the dead" in prose
    assert "Positions resulting from it At the June round in Istanbul the two sides agree" in prose
    assert page.link_to(server.url + "/id/position/ru-ua-2025-06-exchange-of-bodies")
    _assert_data_section(server, answer, page, "/id/event/2025-06-istanbul-round-2", "pg:mediator")
    _assert_safe(answer, page)
    _, address = _get(server, "/id/event/2025-07-19-zelensky-address")
    assert "Positions taken at it Ukraine offers to resume talks" in address.prose()


@pytest.mark.e2e
def test_source_page_shows_headline_publisher_date_and_what_cites_it(server):
    answer, page = _get(server, "/id/source/st-2025-07-istanbul-offer")
    prose = page.prose()
    assert prose.startswith("posgraph Faint signs of life appear in effort to halt Ukraine war")
    assert "publisher The Straits Times" in prose and "date published July 2025" in prose
    assert "dateline New York City" in prose
    cited = prose.split("Positions citing it", 1)[1].split("Events citing it", 1)[0]
    assert cited.count(" by ") >= 14 and "Russia wants Ukraine to declare" in cited
    assert page.link_to(server.url + "/id/event/2025-06-istanbul-round-2") == ["Istanbul talks, second round"]
    _assert_data_section(server, answer, page, "/id/source/st-2025-07-istanbul-offer", "schema:headline")
    _assert_safe(answer, page)


@pytest.mark.e2e
def test_person_and_other_pages(server):
    answer, page = _get(server, "/id/person/zelensky")
    prose = page.prose()
    assert "Roles President of Ukraine — for Ukraine" in prose
    assert "Positions stated or conveyed" in prose and "Zelensky first offers to meet Putin in person." in prose
    assert page.link_to("http://www.wikidata.org/entity/Q3874799") == ["wd:Q3874799"]
    _assert_data_section(server, answer, page, "/id/person/zelensky", "pg:holdsRole")
    _assert_safe(answer, page)
    # A named term reads as words too, with what mentions it.
    _, term = _get(server, "/id/term/us-2025-settlement-talks")
    prose = term.prose()
    assert "meet; agenda: Final settlement and war aims" in prose and "Sequencing: requires" in prose
    assert "Mentioned by The Trump administration presses" in prose
    _, media = _get(server, "/id/org/tass")
    assert "Russian state news agency." in media.prose() and "Mentioned by" in media.prose()


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """A server of this module's own: the seed, a reviewed-shape batch loaded by an admin (validated), and hostile
    data loaded without validation."""
    base = tmp_path_factory.mktemp("pages")
    srv = start_server(base / "store", base / "serve.log")
    files = (
        ("curated.ttl", CURATED, ()),
        ("hostile.ttl", HOSTILE, ("--no-validate",)),
        ("many.ttl", MANY, ("--no-validate",)),
    )
    for name, text, extra in files:
        (base / name).write_text(text, encoding="utf-8")
        loaded = posgraph_cli(
            "load", str(base / name), "--curator", "pages", *extra, env={"POSGRAPH_STORE_DIR": str(base / "store")}
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    yield srv
    srv.stop()


@pytest.mark.e2e
def test_document_page_lists_versions_in_order_with_points_steps_and_positions(curated):
    answer, page = _get(curated, "/id/pagetest/plan")
    prose = page.prose()
    assert "document kind N-point plan" in prose and "drafted by Carpania" in prose
    versions = prose.split("Versions", 1)[1]
    assert versions.index("Carpanian plan, 12 points") < versions.index("Carpanian plan, 15 points")
    assert "Carpanian plan, 12 points — 12-point draft, 12 points" in versions
    assert "Drafted, February 2025 by Carpania Leaked, 10 February 2025" in versions
    assert "Carpanian plan, 15 points — 15-point draft, 15 points; revises Carpanian plan, 12 points" in versions
    assert "Published, 5 March 2025 by Carpania" in versions
    first, second = versions.split("Carpanian plan, 15 points — ", 1)
    assert "The first draft proposes a pause" in first and "The second draft leaves Crimea" in second
    assert "The second draft" not in first
    _assert_data_section(curated, answer, page, "/id/pagetest/plan", "pg:documentKind")
    _assert_safe(answer, page)
    # A version is a source: its page names its document and lifecycle and the positions stated in it.
    _, version = _get(curated, "/id/pagetest/plan-v1")
    prose = version.prose()
    assert "version of The Carpanian peace plan" in prose and "point count 12" in prose
    assert "Lifecycle Drafted, February 2025 by Carpania Leaked, 10 February 2025" in prose
    assert "Positions stated in it The first draft proposes a pause in the fighting." in prose


@pytest.mark.e2e
def test_position_page_words_disputed_figures_negation_places_and_the_version(curated):
    _, page = _get(curated, "/id/pagetest/plan-land")
    prose = page.prose()
    assert "Carpania proposes to Aland and Borduria — stated 5 March 2025, reported by" in prose
    assert "Territorial term: Borduria not to recognise; region: Crimea; region scope: Whole administrative" in prose
    assert "Q7835" not in prose
    # One figure per report, each said to be according to its source.
    assert (
        "Armed forces term: Borduria to cap; quantity kind: Personnel; at most 50,000 (according to Plan talks in"
        " Geneva), 40,000–45,000 (according to The plan's figures, by the wire)"
    ) in prose
    assert "Plan talks in Geneva On the record Preferred" in prose and "“Crimea stays where it is for now”" in prose
    assert "Anonymous officials Normal 0.6 The Daily Paper" in prose
    assert "stated in Carpanian plan, 15 points" in prose and page.link_to(curated.url + "/id/pagetest/plan-v2")
    assert "stated by Ada Envoy" in prose and "at event Geneva round on the plan" in prose
    assert "https://example.org/plan-talks" in [h for h, _ in page.links]
    _, truce = _get(curated, "/id/pagetest/plan-truce")
    assert "Aland and Borduria to halt; 36–72 hours (time span)" in truce.prose()


@pytest.mark.e2e
def test_event_page_lists_delegates_and_their_roles(curated):
    _, page = _get(curated, "/id/pagetest/round")
    prose = page.prose()
    assert "start date 5 March 2025" in prose and "end date 6 March 2025" in prose and "place Geneva" in prose
    assert "Delegates Person For Role Ada Envoy Carpania Head of delegation" in prose
    assert "Bo Negotiator Borduria Negotiator" in prose
    assert "Positions taken at it The second draft leaves Crimea" in prose
    _, party = _get(curated, "/id/pagetest/c")
    assert "People Ada Envoy — Special envoy" in party.prose()
    _, person = _get(curated, "/id/pagetest/negotiator")
    assert "Delegations Negotiator at Geneva round on the plan for Borduria" in person.prose()


@pytest.mark.e2e
def test_hostile_data_is_escaped_and_never_a_link(curated):
    for path in ("/id/pagetest/hostile", "/id/pagetest/evil-source", "/id/pagetest/a"):
        answer, page = _get(curated, path)
        _assert_safe(answer, page)
        assert "javascript:" not in "".join(page.all_links)
    answer, page = _get(curated, "/id/pagetest/hostile")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; wants" in answer.text
    assert "“<img src=x onerror=alert(4)>”" in page.prose() and "<img" not in answer.text
    assert "venue proposed: <javascript:alert(5)>" in page.prose()  # shown as text, not a link
    assert "javascript:alert(2)" in page.text and "javascript:alert(3)" in page.text
    _, source = _get(curated, "/id/pagetest/evil-source")
    assert "</title><script>alert(6)</script>" in source.text  # the headline, as text
    assert "URL <javascript:alert(7)>" in source.prose()


@pytest.mark.e2e
def test_long_lists_are_capped_and_say_so(curated):
    cap = linked_data.LIST_CAP
    for path in ("/id/pagetest/many", "/issue/religion"):
        _, page = _get(curated, path)
        assert f"Only the first {cap} are shown." in page.prose(), path
        shown = {h for h, _ in page.links if h.startswith(curated.url + "/id/pagetest/many-")}
        assert len(shown) == cap, (path, len(shown))
    _, party = _get(curated, "/id/pagetest/many")
    # Latest first: the newest statements (28 December) are among those shown.
    assert "Manyland statement 83 — statement by Manyland, 28 December 2024" in party.prose()


# ------------------------------------------------------------------------- the API viewers and the pages' policies
# /docs and /redoc load Swagger UI and ReDoc from this server (copied from npm by `make ui`), never from a CDN, under a
# Content-Security-Policy without inline scripts or eval; without the copies they say so and link /openapi.json.
VIEWERS = {
    "/docs": "/static/vendor/swagger-ui/swagger-ui-bundle.js",
    "/redoc": "/static/vendor/redoc/redoc.standalone.js",
}
MEDIA = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _Refs(HTMLParser):
    """Every URL a page names (src, href, and the viewers' spec-url / data-openapi-url) and its <script> elements."""

    URL_ATTRIBUTES = ("src", "href", "spec-url", "data-openapi-url", "action")

    def __init__(self, text: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.assets: list[str] = []  # what the browser loads by itself: scripts, stylesheets, icons
        self.scripts: list[dict] = []
        self.handlers: list[str] = []  # on* attributes: inline script, which the policies forbid
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.urls += [attributes[a] for a in self.URL_ATTRIBUTES if attributes.get(a)]
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            self.scripts.append(attributes)
            if attributes.get("src"):
                self.assets.append(attributes["src"])
        elif tag == "link" and attributes.get("href") and attributes.get("rel") in ("stylesheet", "icon"):
            self.assets.append(attributes["href"])


def _same_origin(srv, url: str) -> bool:
    return url.startswith(srv.url + "/") or (url.startswith("/") and not url.startswith("//"))


def _directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def _assert_no_inline_script(answer: httpx.Response, refs: _Refs) -> None:
    directives = _directives(answer.headers["content-security-policy"])
    assert directives["default-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    script_src = directives.get("script-src", [])
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    # A script the policy allows: a same-origin file, or JSON data (which browsers never run).
    assert all(s.get("src") or s.get("type") == "application/json" for s in refs.scripts), refs.scripts
    assert refs.handlers == []


@pytest.mark.e2e
@pytest.mark.parametrize("path", sorted(VIEWERS))
def test_api_viewers_load_only_same_origin_files_under_a_policy_without_inline_scripts(server, path):
    from posgraph.api.app import STATIC_DIR

    if not (STATIC_DIR / VIEWERS[path].removeprefix("/static/")).is_file():
        pytest.skip("Swagger UI and ReDoc are not installed (no npm at set-up): see the fallback test")
    with server.client() as client:
        answer = client.get(path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        refs = _Refs(answer.text)
        _assert_no_inline_script(answer, refs)
        assert "cdn" not in answer.text and refs.urls
        assert all(_same_origin(server, u) for u in refs.urls), refs.urls
        assert VIEWERS[path] in refs.assets
        for asset in refs.assets:
            got = client.get(asset)
            assert got.status_code == 200, asset
            assert got.headers["content-type"].startswith(MEDIA[Path(asset).suffix]), (asset, got.headers)
        # The viewer itself, not an empty file; and the document it reads is this server's OpenAPI description.
        assert len(client.get(VIEWERS[path]).content) > 500_000
        assert "/openapi.json" in refs.urls
        assert "/sparql" in client.get("/openapi.json").json()["paths"]
        assert client.head(path).status_code == 200


@pytest.mark.e2e
def test_swagger_ui_starts_from_a_same_origin_script_that_reads_the_page_and_never_asks_a_validator(server):
    with server.client() as client:
        script = client.get("/static/js/swagger-ui-init.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "dataset.openapiUrl" in script.text and "validatorUrl: null" in script.text


@pytest.mark.e2e
def test_the_chart_libraries_are_served_when_installed(server):
    from posgraph.api.app import STATIC_DIR

    names = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "vega-interpreter.min.js")
    if not (STATIC_DIR / "vendor" / "vega" / "vega.min.js").is_file():
        pytest.skip("Vega is not installed (no npm at set-up)")
    with server.client() as client:
        for name in names:
            got = client.get(f"/static/vendor/vega/{name}")
            assert got.status_code == 200 and got.headers["content-type"].startswith("text/javascript"), name
    # vega-interpreter ships as an ES module; `make ui` rewrites it into a classic script setting a global.
    interpreter = (STATIC_DIR / "vendor" / "vega" / "vega-interpreter.min.js").read_text(encoding="utf-8")
    assert "globalThis.vegaInterpreter" in interpreter
    assert not any(line.startswith(("import ", "export ")) for line in interpreter.splitlines())


@pytest.mark.e2e
def test_query_page_runs_only_same_origin_scripts_under_its_policy(server):
    with server.client() as client:
        answer = client.get("/", headers={"Accept": "text/html"})
        refs = _Refs(answer.text)
        _assert_no_inline_script(answer, refs)
        assert answer.headers["content-security-policy"] == pages.QUERY_PAGE_POLICY
        directives = _directives(pages.QUERY_PAGE_POLICY)
        assert directives["script-src"] == ["'self'"] and directives["connect-src"] == ["'self'"]
        assert all(_same_origin(server, u) or u == "data:," for u in refs.urls), refs.urls
        assert "/static/js/query-page.js" in refs.assets
        script = client.get("/static/js/query-page.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    # Without JavaScript the plain form and the saved queries are in the HTML itself.
    assert '<form id="fallback" method="get" action="/sparql">' in answer.text
    assert '<a href="/queries/demands-by-issue">demands-by-issue</a>' in answer.text


@pytest.mark.e2e
def test_ontology_page_carries_the_policy_of_pages_without_script(server):
    with server.client() as client:
        answer = client.get("/ns", headers={"Accept": "text/html"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == pages.CONTENT_SECURITY_POLICY
    assert "script-src" not in answer.headers["content-security-policy"] and "<script" not in answer.text


def test_api_docs_page_without_the_viewer_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(pages, "STATIC_DIR", tmp_path)
    for viewer in ("swagger-ui", "redoc"):
        page, policy = pages.api_docs_page(viewer, "/openapi.json")
        assert policy == pages.CONTENT_SECURITY_POLICY and "<script" not in page
        assert "not installed" in page and '<a href="/openapi.json">' in page


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """A server running a copy of the package without the vendored front-end files, as on a machine without npm."""
    import shutil

    import posgraph

    base = tmp_path_factory.mktemp("bare")
    shutil.copytree(
        Path(posgraph.__file__).parent,
        base / "lib" / "posgraph",
        ignore=lambda folder, names: [n for n in names if n in ("vendor", "__pycache__")],
    )
    srv = start_server(base / "store", base / "serve.log", env={"PYTHONPATH": str(base / "lib")})
    yield srv
    srv.stop()


@pytest.mark.e2e
def test_without_npm_docs_and_redoc_answer_a_plain_page_linking_the_openapi_document(bare):
    with bare.client() as client:
        # The server runs the copy: its own scripts are there, the vendored viewers are not.
        assert client.get("/static/js/swagger-ui-init.js").status_code == 200
        assert client.get(VIEWERS["/docs"]).status_code == 404
        for path, name in (("/docs", "Swagger UI"), ("/redoc", "ReDoc")):
            answer = client.get(path)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), path
            assert answer.headers["content-security-policy"] == pages.CONTENT_SECURITY_POLICY
            refs = _Refs(answer.text)
            assert refs.scripts == [] and refs.assets == []
            assert f"{name}, the interactive viewer of this documentation, is not installed" in answer.text
            assert "/openapi.json" in refs.urls and all(_same_origin(bare, u) for u in refs.urls), refs.urls
        assert client.get("/openapi.json").status_code == 200


def test_favicon_is_served_so_no_page_logs_a_missing_icon(server):
    from xml.etree import ElementTree

    with server.client() as client:
        icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert ElementTree.fromstring(icon.content).tag == "{http://www.w3.org/2000/svg}svg"
