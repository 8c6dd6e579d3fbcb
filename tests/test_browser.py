"""Every page kind in a real browser (Debian's chromium through Playwright), on the seed and on a generated store of
about 100,000 triples: no console errors, failed requests or error answers, no serious axe-core violation, readable
on a 375px phone screen, and what the prose says is what the store holds. Screenshots go to build/screenshots/.

The entities are found by SPARQL on the running server (not a hard-coded list that could go stale), and so are the
facts each page must show. The browser fixtures are in tests/browser_support.py.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from browser_support import assert_no_problems, browser_fixture, check_page, tab_fixture  # noqa: F401 (fixtures)
from conftest import EXAMPLES, posgraph_cli, start_server

from bench.generate import write_graph
from posgraph.linked_data import local_url

pytestmark = pytest.mark.e2e

PREFIXES = """PREFIX pg: <https://w3id.org/posgraph/ns#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX schema: <https://schema.org/>
"""
EN = 'FILTER (lang(?title) = "en")'
# One query per page kind: the resource (?iri), the page's heading (?title), text the prose must show (?fact_*)
# and resources it must link (?link_*). ORDER BY keeps the choice stable; on the generated store the synthetic
# entities sort first ("bench-…"), so its pages are the ones loaded there.
KINDS = {
    "position": f"""SELECT ?iri ?title ?fact_holder ?link_holder ?fact_source ?link_source ?fact_earlier ?link_earlier
        ?stated WHERE {{
          ?iri a pg:Position ; pg:summary ?title ; pg:heldBy ?link_holder ; pg:source ?link_source ;
               pg:statedOn ?stated ; pg:supersedes ?link_earlier . {EN}
          ?link_holder skos:prefLabel ?fact_holder . FILTER (lang(?fact_holder) = "en")
          ?link_source schema:headline ?fact_source .
          ?link_earlier pg:summary ?fact_earlier .
        }} ORDER BY ?iri LIMIT 1""",
    "party": f"""SELECT ?iri ?title ?fact_person ?link_person ?fact_role ?fact_position ?link_position WHERE {{
          ?iri a pg:Party ; skos:prefLabel ?title . {EN}
          ?link_person skos:prefLabel ?fact_person ; pg:holdsRole [ pg:roleFor ?iri ; pg:roleTitle ?fact_role ] .
          FILTER (lang(?fact_person) = "en")
          ?link_position pg:heldBy ?iri ; pg:summary ?fact_position ; pg:statedOn ?on .
        }} ORDER BY ?iri DESC(STR(?on)) ?link_position LIMIT 1""",
    "person": f"""SELECT ?iri ?title ?fact_role ?fact_party ?link_party WHERE {{
          ?iri a pg:Person ; skos:prefLabel ?title ; pg:holdsRole [ pg:roleFor ?link_party ; pg:roleTitle ?fact_role ] .
          {EN} ?link_party skos:prefLabel ?fact_party . FILTER (lang(?fact_party) = "en")
        }} ORDER BY ?iri LIMIT 1""",
    "issue": f"""SELECT ?iri ?title ?fact_position ?link_position ?fact_party WHERE {{
          ?link_position pg:concerns ?iri ; pg:summary ?fact_position ; pg:heldBy ?party ; pg:statedOn ?on .
          ?iri skos:prefLabel ?title . {EN}
          ?party skos:prefLabel ?fact_party . FILTER (lang(?fact_party) = "en")
        }} ORDER BY ?iri DESC(STR(?on)) ?link_position LIMIT 1""",
    "negotiation round": f"""SELECT ?iri ?title ?fact_participant ?link_participant ?start WHERE {{
          ?iri a pg:NegotiationRound ; skos:prefLabel ?title ; pg:participant ?link_participant ; pg:startDate ?start .
          {EN} ?link_participant skos:prefLabel ?fact_participant . FILTER (lang(?fact_participant) = "en")
        }} ORDER BY ?iri ?link_participant LIMIT 1""",
    "event": f"""SELECT ?iri ?title ?fact_position ?link_position WHERE {{
          ?iri a pg:Event ; skos:prefLabel ?title . {EN}
          FILTER NOT EXISTS {{ ?iri a pg:NegotiationRound }}
          ?link_position pg:atEvent ?iri ; pg:summary ?fact_position .
        }} ORDER BY ?iri ?link_position LIMIT 1""",
    "source": """SELECT ?iri ?title ?fact_publisher ?link_publisher ?fact_position ?link_position WHERE {
          ?iri a pg:Source ; schema:headline ?title ; schema:publisher ?link_publisher .
          ?link_publisher skos:prefLabel ?fact_publisher .
          ?link_position pg:source ?iri ; pg:summary ?fact_position .
        } ORDER BY ?iri ?link_position LIMIT 1""",
    "document version": f"""SELECT ?iri ?title ?fact_document ?link_document WHERE {{
          ?iri pg:versionOf ?link_document ; skos:prefLabel ?title . {EN}
          OPTIONAL {{ ?link_document skos:prefLabel ?fact_document . FILTER (lang(?fact_document) = "en") }}
        }} ORDER BY ?iri LIMIT 1""",
}
SIZE = 100_000
_MONTHS = "January February March April May June July August September October November December".split()


# ------------------------------------------------------------------ servers


@pytest.fixture(scope="module", autouse=True)
def _browser_first(browser):
    """Launch (or skip for want of) the browser before any server of this module starts."""


@pytest.fixture(scope="module")
def seed_site(tmp_path_factory):
    """A real server on the seed data and the model 0.2 fixture (documents in versions, reports, figures: the seed
    article has no document), loaded through `posgraph load` with validation."""
    base = tmp_path_factory.mktemp("browser-seed")
    loaded = posgraph_cli(
        "load",
        str(EXAMPLES / "valid" / "queries-0.2.ttl"),
        "--curator",
        "browser tests",
        env={"POSGRAPH_STORE_DIR": str(base / "store"), "POSGRAPH_AUDIT_LOG": str(base / "audit.jsonl")},
    )
    assert loaded.returncode == 0, loaded.stderr
    srv = start_server(base / "store", base / "serve.log", env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def generated_site(tmp_path_factory):
    """A real server on a generated store of about 100,000 triples (bench.generate, bulk-loaded; the ontology and
    the seed are added on the server's first start, as on any new store)."""
    base = tmp_path_factory.mktemp("browser-generated")
    data = base / "graph.nt"
    with open(data, "w") as out:
        assert write_graph(out, SIZE) >= SIZE
    loaded = posgraph_cli(
        "load",
        str(data),
        "--no-validate",
        "--bulk",
        "--curator",
        "browser tests",
        env={
            "POSGRAPH_STORE_DIR": str(base / "store"),
            "POSGRAPH_SEED": "false",
            "POSGRAPH_AUDIT_LOG": str(base / "audit.jsonl"),
        },
    )
    assert loaded.returncode == 0, loaded.stderr
    srv = start_server(base / "store", base / "serve.log", env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000"})
    yield srv
    srv.stop()


@pytest.fixture(params=["seed", "generated"])
def site(request):
    """Each test using it runs on the seed server and on the generated one."""
    return request.getfixturevalue(f"{request.param}_site")


def select(srv, query: str) -> list[dict[str, str]]:
    """Run a SELECT on ``srv``'s /sparql; return its rows as {variable: value} (unbound variables left out)."""
    with httpx.Client(base_url=srv.url, timeout=60, trust_env=False) as client:
        answer = client.post(
            "/sparql",
            data={"query": PREFIXES + query},
            headers={"Accept": "application/sparql-results+json"},
        )
    assert answer.status_code == 200, answer.text
    return [{k: v["value"] for k, v in row.items()} for row in answer.json()["results"]["bindings"]]


def url_of(srv, iri: str) -> str:
    """The page of ``iri`` on ``srv``."""
    return local_url(srv.url, iri)


def path_of(srv, iri: str) -> str:
    return urlsplit(url_of(srv, iri)).path


def date_words(value: str) -> str:
    """A stored date as the pages say it: "19 July 2025", "July 2025", "2025"."""
    parts = value[:10].split("-")
    words = [_MONTHS[int(parts[1]) - 1]] if len(parts) > 1 else []
    return " ".join(([str(int(parts[2]))] if len(parts) > 2 else []) + words + [parts[0]])


def main_text(page) -> str:
    """The prose of the page (its <main> before the Data section), whitespace collapsed."""
    return " ".join(page.locator("main").inner_text().split("Data\n")[0].split())


# ------------------------------------------------------------------ the readable resource pages


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_resource_page_reads_what_the_store_holds(site, tab, kind):
    rows = select(site, KINDS[kind])
    if not rows:
        pytest.skip(f"this store has no {kind} to show")
    row = rows[0]
    page = tab.page
    response = page.goto(url_of(site, row["iri"]))
    assert response.status == 200
    assert page.locator("h1").inner_text().strip() == row["title"].strip()
    text = main_text(page)
    for name, value in row.items():
        if name.startswith("fact_"):
            assert " ".join(value.split()) in text, f"{kind} page does not say the {name[5:]} {value!r}"
        if name.startswith("link_"):
            links = page.locator(f'main a[href="{url_of(site, value)}"], main a[href="{path_of(site, value)}"]')
            assert links.count() >= 1, f"{kind} page does not link its {name[5:]} {value}"
    for name in ("stated", "start"):
        if name in row:
            assert date_words(row[name]) in text, f"{kind} page does not give the date {row[name]}"
    # The raw statements stay on the page, with the resource's own IRI, and the other formats are linked.
    assert page.locator("#data").count() == 1 and row["iri"] in page.locator("main").inner_text()
    for media_type in ("application/ld+json", "text/turtle"):
        assert page.locator(f'head link[rel=alternate][type="{media_type}"]').count() == 1
    check_page(tab)


def test_a_link_in_a_resource_page_is_followed_from_the_keyboard(seed_site, tab):
    iri = select(seed_site, KINDS["position"])[0]["iri"]
    page = tab.page
    page.goto(url_of(seed_site, iri))
    # Tab from the top of the page until a link to another resource has the focus, then Enter.
    for _ in range(40):
        page.keyboard.press("Tab")
        href = page.evaluate("document.activeElement.tagName === 'A' ? document.activeElement.href : ''")
        if "/id/" in href and href != page.url:
            break
    else:
        pytest.fail("forty presses of Tab reached no link to another resource")
    page.keyboard.press("Enter")
    page.wait_for_url(href)
    assert page.locator("h1").count() == 1 and page.locator("h1").inner_text().strip()
    assert_no_problems(tab)


def test_no_page_sends_the_browser_to_a_missing_favicon(seed_site, tab):
    # Chromium asks each new site for /favicon.ico; a 404 there is a console error on every first visit.
    tab.page.goto(seed_site.url + "/ns")
    tab.page.wait_for_load_state("networkidle")
    tab.page.wait_for_timeout(300)
    assert not tab.missing_favicon, f"the browser looked for /favicon.ico and got an error: {tab.missing_favicon}"


# ------------------------------------------------------------------ ontology, query page, API docs


def test_ontology_page_lists_the_stores_classes(seed_site, tab):
    classes = select(
        seed_site,
        """SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {
             GRAPH ?g { ?c a <http://www.w3.org/2002/07/owl#Class> }
             FILTER (STRSTARTS(STR(?c), "https://w3id.org/posgraph/ns#"))
             FILTER (STRENDS(STR(?g), "ontology")) }""",
    )
    page = tab.page
    assert page.goto(seed_site.url + "/ns", wait_until="networkidle").status == 200
    assert page.locator("h1").inner_text().strip()
    assert "NegotiationRound" in page.locator("body").inner_text()
    assert page.locator("h2", has_text="Classes").count() == 1
    # Every class of the ontology graph has its entry under "Classes".
    listed = page.locator("h2:has-text('Classes') + dl > dt").count()
    assert listed >= int(classes[0]["n"]) > 0
    check_page(tab)


QUERY = """PREFIX pg: <https://w3id.org/posgraph/ns#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?party ?label WHERE { ?party a pg:Party ; skos:prefLabel ?label . FILTER (lang(?label) = "en") }
ORDER BY ?label"""


# The vendored editor and results viewer: axe findings inside them are upstream's (printed, not failed on).
YASGUI = {".yasgui": "YASGUI (@zazuko/yasgui)"}


def test_query_page_runs_a_query_and_shows_its_rows(seed_site, tab):
    expected = [row["label"] for row in select(seed_site, QUERY.split("\n", 2)[2])]
    page = tab.page
    page.goto(seed_site.url + "/", wait_until="networkidle")
    editor = page.locator(".yasqe .CodeMirror")
    assert editor.count() >= 1, "the query editor (YASGUI, installed by `make ui`) did not render"
    editor.first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(QUERY)
    page.locator(".yasqe_queryButton").first.click()
    rows = page.locator(".yasr table tbody tr")
    rows.first.wait_for()
    shown = rows.all_inner_texts()
    assert len(shown) == len(expected) > 0
    for label, line in zip(expected, shown, strict=True):
        assert label in line
    check_page(tab, phone=False, third_party=YASGUI)
    # The page as it first appears, on a phone.
    page.goto(seed_site.url + "/", wait_until="networkidle")
    check_page(tab, "start", axe=False)


def _operations(srv) -> list[tuple[str, str]]:
    with httpx.Client(base_url=srv.url, timeout=30, trust_env=False) as client:
        spec = client.get("/openapi.json").json()
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return [(m, p) for p, item in spec["paths"].items() for m in item if m in methods]


def test_swagger_ui_lists_every_operation(seed_site, tab):
    operations = _operations(seed_site)
    page = tab.page
    page.goto(seed_site.url + "/docs", wait_until="networkidle")
    blocks = page.locator(".opblock")
    blocks.first.wait_for(timeout=15_000)
    assert blocks.count() == len(operations)
    assert page.locator(".opblock-summary-path", has_text="/queries/{name}").count() >= 1
    check_page(tab, third_party={".swagger-ui": "Swagger UI (swagger-ui-dist)"})


def test_redoc_renders_every_operation(seed_site, tab):
    operations = _operations(seed_site)
    page = tab.page
    page.goto(seed_site.url + "/redoc", wait_until="networkidle")
    sections = page.locator("[data-section-id^='operation/']")
    sections.first.wait_for(timeout=15_000)
    assert sections.count() == len(operations)
    check_page(tab, third_party={"redoc": "ReDoc"})


# ------------------------------------------------------------------ timeline and gap matrix


def _table_positions(page) -> list[str]:
    return page.locator("table#timeline-table tr[data-position]").evaluate_all(
        "rows => rows.map(r => r.dataset.position)"
    )


def _holders(srv, positions: list[str]) -> dict[str, set[str]]:
    values = " ".join(f"<{p}>" for p in positions)
    held: dict[str, set[str]] = {p: set() for p in positions}
    for row in select(srv, f"SELECT ?p ?h WHERE {{ VALUES ?p {{ {values} }} ?p pg:heldBy ?h }}"):
        held[row["p"]].add(row["h"])
    return held


# The position marks: those linking a page (the seed's positions are under /id/position/, the 0.2 fixture's under
# /id/example/).
MARKS = "#timeline-chart svg [role=graphics-symbol][aria-label*='href: http']"
# Vega describes each mark for assistive technology with its encoded fields, the href channel among them.
_HREF = re.compile(r"href: ([^;\s]+)")


def _chart_marks(page) -> list[str]:
    """The paths of the position pages the chart's marks link to, one per mark drawn in the browser."""
    page.locator("#timeline-chart svg").first.wait_for(timeout=15_000)
    labels = page.locator(MARKS).evaluate_all("marks => marks.map(m => m.getAttribute('aria-label'))")
    return [urlsplit(_HREF.search(label).group(1)).path for label in labels]


def test_timeline_chart_table_and_click_through(site, tab):
    page = tab.page
    answer = page.goto(site.url + "/timeline", wait_until="networkidle")
    assert answer.status == 200
    form = page.locator("form#timeline-filters")
    assert (form.get_attribute("method") or "get").lower() == "get"
    for control in (
        "select[name=party][multiple]",
        "select[name=issue][multiple]",
        "input[name=from]",
        "input[name=to]",
        "input[name=as_of][type=date]",
    ):
        assert form.locator(control).count() == 1, f"the timeline form has no {control}"
    positions = _table_positions(page)
    assert positions, "the timeline table has no positions"
    # Every row's summary links to that position's page.
    first = page.locator("table#timeline-table tr[data-position]").first
    assert first.locator(f'a[href$="{path_of(site, positions[0])}"]').count() >= 1
    # A mark for every position of the table (one per issue lane it is on), and none for anything else.
    marks = _chart_marks(page)
    assert len(marks) >= len(positions)
    assert set(marks) == {path_of(site, p) for p in positions}
    # Thousands of rows (the generated store): axe and a whole-page picture would take half a minute each; the
    # template is checked with axe on the seed and on the filtered pages.
    small = len(positions) <= 500
    check_page(tab, axe=small, full_page=small)
    # Click a mark: its position page opens.
    box = next(
        (b for b in (m.bounding_box() for m in page.locator(MARKS).all()[:20]) if b and b["width"] and b["height"]),
        None,
    )
    assert box is not None, "no mark of the chart is on the screen"
    with page.expect_navigation():
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    path = urlsplit(page.url).path
    iri = next((p for p in positions if path_of(site, p) == path), None)
    assert iri is not None, f"the mark opened {page.url}, not a position of the table"
    summary = select(site, f'SELECT ?s WHERE {{ <{iri}> pg:summary ?s . FILTER (lang(?s) = "en") }}')[0]["s"]
    assert page.locator("h1").inner_text().strip() == summary.strip()
    assert_no_problems(tab)


def test_timeline_filtered_by_party_through_the_form(site, tab):
    page = tab.page
    page.goto(site.url + "/timeline", wait_until="networkidle")
    everything = _table_positions(page)
    options = page.locator("form#timeline-filters select[name=party] option").evaluate_all("os => os.map(o => o.value)")
    held = _holders(site, everything)
    # A party with positions on the timeline but not all of them.
    party = next(o for o in options if any(o in h for h in held.values()) and not all(o in h for h in held.values()))
    page.locator("form#timeline-filters select[name=party]").select_option([party])
    with page.expect_navigation():
        page.locator("form#timeline-filters [type=submit]").first.click()
    assert parse_qs(urlsplit(page.url).query).get("party") == [party]
    filtered = _table_positions(page)
    assert filtered and len(filtered) < len(everything)
    for position, holders in _holders(site, filtered).items():
        assert party in holders, f"{position} is not {party}'s but is on its filtered timeline"
    check_page(tab)


def test_timeline_as_of_marks_what_is_in_force(seed_site, tab):
    page = tab.page
    page.goto(seed_site.url + "/timeline?as_of=2025-07-31", wait_until="networkidle")
    rows = page.locator("table#timeline-table tr[data-position]")
    flags = rows.evaluate_all("rows => rows.map(r => r.dataset.inForce)")
    assert flags and set(flags) <= {"true", "false"}
    # A position superseded by the end of July 2025 (by a position stated wholly before then) is not in force.
    superseded = {
        r["p"]
        for r in select(seed_site, "SELECT ?p ?on WHERE { ?later pg:supersedes ?p ; pg:statedOn ?on }")
        if _last_day(r["on"]) <= date(2025, 7, 31)
    }
    assert superseded, "the seed has no supersession to check"
    positions = _table_positions(page)
    for position, flag in zip(positions, flags, strict=True):
        if position in superseded:
            assert flag == "false", f"{position} is superseded but shown in force"
    assert "true" in flags
    check_page(tab)


def _matrix(page) -> list[tuple[str, str, tuple[str, ...]]]:
    rows = page.locator("table#gap-matrix tr[data-issue][data-relation]")
    return [
        (
            row.get_attribute("data-issue"),
            row.get_attribute("data-relation"),
            tuple(" ".join(t.split()) for t in row.locator("td[data-party]").all_inner_texts()),
        )
        for row in rows.all()
    ]


def _last_day(stated: str) -> date:
    """The last day a date of any precision ("2025", "2025-07", "2025-07-19") can mean."""
    parts = [int(p) for p in stated[:10].split("-")]
    if len(parts) == 3:
        return date(*parts)
    year, month = parts[0], parts[1] if len(parts) > 1 else 12
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def _first_day(stated: str) -> date:
    parts = [int(p) for p in stated[:10].split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2])


def test_gap_matrix_changes_with_the_as_of_date(seed_site, tab):
    page = tab.page
    page.goto(seed_site.url + "/gaps?as_of=2025-07-31", wait_until="networkidle")
    form = page.locator("form#gap-filters")
    assert form.locator("select[name=party][multiple]").count() == 1
    assert form.locator("input[name=as_of][type=date]").count() == 1
    july = _matrix(page)
    assert july and {r for _, r, _ in july} <= {"meet", "partly", "collide", "open", "no-position"}
    assert page.locator("table#gap-matrix tr[data-issue] th[scope=row]").count() == len(july)
    check_page(tab, "july")
    # Change the date through the form, as a reader would.
    form.locator("input[name=as_of]").fill("2025-06-30")
    with page.expect_navigation():
        form.locator("[type=submit]").first.click()
    assert parse_qs(urlsplit(page.url).query).get("as_of") == ["2025-06-30"]
    june = _matrix(page)
    assert june != july, "the matrix is the same at the end of June as at the end of July 2025"
    # No cell as of 30 June shows a position stated later.
    linked = page.locator("table#gap-matrix td[data-party] a[href*='/id/position/']").evaluate_all(
        "links => links.map(a => a.href)"
    )
    assert linked, "no cell as of 30 June 2025 links a position"
    stated = {
        path_of(seed_site, r["p"]): r["on"] for r in select(seed_site, "SELECT ?p ?on WHERE { ?p pg:statedOn ?on }")
    }
    for href in linked:
        on = stated[urlsplit(href).path]
        assert _first_day(on) <= date(2025, 6, 30), f"{href}, stated {on}, is shown as of 30 June 2025"
    check_page(tab, "june")


def test_gap_matrix_history_link_opens_that_issues_timeline(site, tab):
    page = tab.page
    page.goto(site.url + "/gaps", wait_until="networkidle")
    link = page.locator("table#gap-matrix tr[data-issue] a.history").first
    issue = link.locator("xpath=ancestor::tr[1]").get_attribute("data-issue")
    with page.expect_navigation():
        link.click()
    assert urlsplit(page.url).path == "/timeline"
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("issue") and query.get("party")
    positions = _table_positions(page)
    assert positions, "the issue's history is empty"
    values = " ".join(f"<{p}>" for p in positions)
    concerns = select(site, f"SELECT ?p ?i WHERE {{ VALUES ?p {{ {values} }} ?p pg:concerns ?i }}")
    issues = {}
    for row in concerns:
        issues.setdefault(row["p"], set()).add(row["i"])
    wanted = set(query["issue"])
    for position in positions:
        assert issues.get(position, set()) & (wanted | {issue}), f"{position} is not about {issue}"
    check_page(tab)
