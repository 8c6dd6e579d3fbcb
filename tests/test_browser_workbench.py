"""The curator workbench in a real browser (Debian's chromium through Playwright) on a real server with the seed:
a curator enters a demand through the form drawn from the shapes, sees the live violation at its field, fixes it
with a picker and submits; a reader is offered nothing to curate; a house rule added with POSGRAPH_EXTRA_SHAPES
shows as a required field; a hostile label stays text in the workbench and on the public page. What the browser
did is checked through the HTTP API (the batch, its triples). Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from browser_support import (  # noqa: F401 (fixtures)
    PHONE,
    SCREENSHOTS,
    assert_no_problems,
    browser_fixture,
    check_page,
    tab_fixture,
)
from conftest import create_token, start_server

from posgraph.linked_data import local_url

pytestmark = pytest.mark.e2e

PG = "https://w3id.org/posgraph/ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RUSSIA = "https://w3id.org/posgraph/id/party/russia"
SEED_SOURCE = "https://w3id.org/posgraph/id/source/st-2025-07-istanbul-offer"
HOSTILE = "</title><script>alert(1)</script>"
HOUSE_RULE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix pg: <https://w3id.org/posgraph/ns#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix house: <https://example.org/house#> .
house:PositionDesk a sh:NodeShape ; sh:targetClass pg:Position ; sh:severity sh:Violation ;
    sh:message "Every position carries the desk's reference." ;
    sh:property house:PositionDesk-reference .
house:PositionDesk-reference a sh:PropertyShape ; sh:path house:deskReference ; sh:minCount 1 ; sh:maxCount 1 ;
    sh:datatype xsd:string ; sh:severity sh:Violation ; sh:name "Desk reference" ; sh:order 5 ;
    sh:message "A position needs the desk's reference (house:deskReference)." ;
    sh:description "Copy the reference from the desk's log, such as DESK-2025-0412." .
"""


def field(page, path: str):
    """The workbench field for property ``path`` in the main entry form."""
    return page.locator(f'#entry-form .entity > .entity-fields .field[data-path="{path}"]').first


# ------------------------------------------------------------------ servers


@pytest.fixture(scope="module", autouse=True)
def _browser_first(browser):
    """Launch (or skip for want of) the browser before any server of this module starts."""


def _site(base, env: dict[str, str] | None = None):
    srv = start_server(
        base / "store", base / "serve.log", env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000", **(env or {})}
    )
    srv.tokens = {
        "curator": ("Cora Curator", create_token(base, "curator", "Cora Curator")),
        "reader": ("Rea Reader", create_token(base, "reader", "Rea Reader")),
        "reviewer": ("Rev Reviewer", create_token(base, "reviewer", "Rev Reviewer")),
    }
    return srv


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A real server on the seed (its engine, staging engine and tokens), with a curator, a reader and a reviewer."""
    srv = _site(tmp_path_factory.mktemp("workbench"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def house_site(tmp_path_factory):
    """A server whose institution adds a house rule: every position needs a desk reference."""
    base = tmp_path_factory.mktemp("workbench-house")
    rules = base / "house-rules.ttl"
    rules.write_text(HOUSE_RULE)
    srv = _site(base, {"POSGRAPH_EXTRA_SHAPES": str(rules)})
    yield srv
    srv.stop()


def api(srv, role: str) -> httpx.Client:
    return httpx.Client(
        base_url=srv.url,
        timeout=60,
        trust_env=False,
        headers={"Authorization": f"Bearer {srv.tokens[role][1]}"},
    )


# ------------------------------------------------------------------ steps


def sign_in(page, srv, role: str) -> None:
    from playwright.sync_api import expect

    page.goto(srv.url + "/workbench")
    expect(page.locator("#no-script")).to_be_hidden()
    page.locator("#token").fill(srv.tokens[role][1])
    page.locator("#token").press("Enter")
    expect(page.locator("#who-name")).to_have_text(srv.tokens[role][0])
    expect(page.locator("#who-role")).to_have_text(role)


def choose(page, form_label: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#form-choice option", has_text=form_label).first).to_be_attached()
    page.locator("#form-choice").select_option(label=form_label)
    expect(page.locator("#entry-form fieldset.entity")).to_be_visible()


def pick(page, path: str, typed: str, expected: str, within=None) -> None:
    """Type ``typed`` into the picker of ``path`` (in the main form, or ``within`` a nested part), wait for
    ``expected`` among the matches, pick it by keyboard."""
    from playwright.sync_api import expect

    box = within.locator(f'.field[data-path="{path}"]').first if within is not None else field(page, path)
    combo = box.locator("input[role=combobox]")
    combo.press_sequentially(typed, delay=30)
    options = box.locator("[role=listbox] [role=option]")
    expect(options.filter(has_text=expected).first).to_be_visible()
    labels = options.all_inner_texts()
    index = next(i for i, text in enumerate(labels) if expected in text)
    for _ in range(index):
        combo.press("ArrowDown")
    expect(options.nth(index)).to_have_attribute("aria-selected", "true")
    combo.press("Enter")
    expect(box.locator(".chip", has_text=expected)).to_be_visible()


def fill_demand(page, summary: str) -> None:
    """Russia (picked), an issue, a month-precision date and a summary; no source."""
    from playwright.sync_api import expect

    pick(page, PG + "heldBy", "Rus", "Russia")
    pick(page, PG + "concerns", "Terr", "Territory")
    stated = field(page, PG + "statedOn")
    stated.locator("select.precision").select_option(label="month")
    expect(stated.locator("input")).to_have_attribute("type", "month")
    stated.locator("input").fill("2025-07")
    field(page, PG + "summary").locator("textarea, input[type=text]").first.fill(summary)


def submitted_batch(page) -> str:
    from playwright.sync_api import expect

    expect(page.locator("#submit-batch")).to_be_enabled(timeout=20_000)
    expect(page.locator("#submit-batch")).to_have_text("Submit for review")
    page.locator("#submit-batch").click()
    done = page.locator("#submit-result .ok")
    expect(done).to_be_visible(timeout=20_000)
    return done.get_attribute("data-batch")


# ------------------------------------------------------------------ journeys


def test_curator_enters_a_demand_sees_the_violation_at_its_field_fixes_it_and_submits(site, tab):
    from playwright.sync_api import expect

    page = tab.page
    sign_in(page, site, "curator")
    # A curator is offered entry and their batches, not the review queue.
    expect(page.locator("#tab-enter")).to_be_visible()
    expect(page.locator("#tab-batches")).to_be_visible()
    expect(page.locator("#tab-review")).to_be_hidden()
    choose(page, "Demand")
    # The form is the shapes': required fields marked, help text from them.
    held = field(page, PG + "heldBy")
    expect(held.locator("label")).to_contain_text("Held by")
    expect(held.locator(".required-mark")).to_be_visible()
    fill_demand(page, "Russia demands the rest of Donetsk before any ceasefire (workbench journey).")
    # No source: the server's violation shows at the source field, and the button counts what remains.
    source = field(page, PG + "source")
    violation = source.locator(".results li.violation")
    expect(violation).to_be_visible(timeout=20_000)
    expect(violation).to_contain_text("source")
    expect(violation.locator(".fix")).to_contain_text("Fix:")
    expect(page.locator("#submit-batch")).to_be_disabled()
    expect(page.locator("#submit-batch")).to_have_text(re.compile(r"^1 violation remains"))
    check_page(tab, "violation")
    # The top of the form, as docs/img/workbench.png shows it: pickers, the minted IRI, a warning at its field.
    page.screenshot(
        path=str(SCREENSHOTS / f"{tab.name}-top.png"),
        full_page=True,
        clip={"x": 0, "y": 0, "width": 960, "height": 1330},
    )
    pick(page, PG + "source", "Faint", "Faint signs of life")
    expect(violation).to_have_count(0, timeout=20_000)
    # The IRI the position will get is minted from its date and summary, and shown.
    expect(page.locator("#entry-form .minted-iri")).to_contain_text("pgid:position/2025-07-russia-demands")
    page.locator("#batch-label").fill("ST, July 2025: Russia's demand (workbench)")
    page.locator("#batch-note").fill("Entered through the workbench form.")
    batch_id = submitted_batch(page)
    assert batch_id
    check_page(tab, "submitted")

    with api(site, "curator") as client:
        batch = client.get(f"/batches/{batch_id}").json()
        triples = client.get(f"/batches/{batch_id}/triples", headers={"Accept": "application/n-triples"}).text
    assert batch["state"] == "submitted"
    assert batch["curator"] == "Cora Curator"
    assert batch["label"] == "ST, July 2025: Russia's demand (workbench)"
    assert f"<{PG}heldBy> <{RUSSIA}>" in triples
    assert f'<{PG}statedOn> "2025-07"^^<{XSD}gYearMonth>' in triples
    assert f"<{PG}source> <{SEED_SOURCE}>" in triples
    assert f"<{PG}concerns> <https://w3id.org/posgraph/issue/territory>" in triples

    # My batches lists it with its state and note.
    page.locator("#submit-result a", has_text="My batches").click()
    row = page.locator(f'#my-batches-list tr[data-batch="{batch_id}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("submitted")
    expect(row).to_contain_text("Russia's demand (workbench)")
    check_page(tab, "my-batches")
    assert_no_problems(tab)


def test_a_reader_is_offered_no_curation(site, tab):
    from playwright.sync_api import expect

    page = tab.page
    sign_in(page, site, "reader")
    expect(page.locator("#role-note")).to_contain_text("cannot curate")
    for hidden in ("#tabs", "#enter", "#form-choice", "#submit-batch", "#my-batches", "#review", "#history"):
        expect(page.locator(hidden)).to_be_hidden()
    check_page(tab)
    # Signing out forgets the token.
    page.locator("#sign-out").click()
    expect(page.locator("#token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('posgraph.token')") is None


def test_a_house_rule_from_extra_shapes_is_a_required_field(house_site, tab):
    from playwright.sync_api import expect

    page = tab.page
    sign_in(page, house_site, "curator")
    choose(page, "Demand")
    desk = field(page, "https://example.org/house#deskReference")
    expect(desk).to_be_visible()
    expect(desk.locator("label").first).to_contain_text("Desk reference")
    expect(desk.locator(".required-mark")).to_be_visible()
    expect(desk.locator("input").first).to_have_attribute("aria-required", "true")
    # The server validates with the house rule too: its violation shows at the new field.
    expect(desk.locator(".results li.violation")).to_contain_text("desk's reference", timeout=20_000)
    desk.locator("input").first.fill("DESK-2025-0412")
    expect(desk.locator(".results li.violation")).to_have_count(0, timeout=20_000)
    check_page(tab)


def test_a_hostile_label_stays_text_in_the_workbench_and_on_the_public_page(site, tab):
    from playwright.sync_api import expect

    page = tab.page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, site, "curator")
    scripts = page.evaluate("document.scripts.length")
    choose(page, "Demand")
    held = field(page, PG + "heldBy")
    combo = held.locator("input[role=combobox]")
    combo.fill(HOSTILE)
    new = held.locator("[role=option]", has_text="New party")
    expect(new).to_be_visible()
    expect(new).to_contain_text(HOSTILE)
    new.click()
    # The new party's form opens with the label as its name, and its IRI minted from it.
    party = page.locator('#new-entities fieldset.entity[data-form="Party"]')
    expect(party).to_be_visible()
    expect(party.locator("input[type=text]").first).to_have_value(HOSTILE)
    expect(party.locator(".minted-iri")).to_contain_text("pgid:party/title-script-alert-1-script")
    expect(held.locator(".chip")).to_contain_text(HOSTILE)
    pick(page, PG + "concerns", "Cease", "Ceasefire")
    stated = field(page, PG + "statedOn")
    stated.locator("input").fill("2025-07-20")
    field(page, PG + "summary").locator("textarea, input[type=text]").first.fill("A hostile party's demand.")
    pick(page, PG + "source", "Faint", "Faint signs of life")
    batch_id = submitted_batch(page)
    iri = party.locator(".minted-iri").inner_text()
    assert page.evaluate("document.scripts.length") == scripts
    assert page.evaluate("[...document.scripts].every(s => !s.textContent.includes('alert'))")
    assert not dialogs
    check_page(tab, "workbench")

    with api(site, "reviewer") as client:
        accepted = client.post(f"/batches/{batch_id}/accept")
    assert accepted.status_code == 200, accepted.text
    party_iri = "https://w3id.org/posgraph/id/" + iri.removeprefix("pgid:")
    page.goto(local_url(site.url, party_iri))
    expect(page.locator("h1")).to_have_text(HOSTILE)
    assert page.evaluate("[...document.scripts].every(s => !s.textContent.includes('alert'))")
    assert page.title().startswith(HOSTILE)
    assert not dialogs
    check_page(tab, "public-page")


def test_nested_parts_are_blank_nodes_whose_results_show_at_their_fields(site, tab):
    from playwright.sync_api import expect

    page = tab.page
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/validate") else None)
    sign_in(page, site, "curator")
    choose(page, "Demand")
    fill_demand(page, "Russia demands Kherson (nested parts).")
    pick(page, PG + "source", "Faint", "Faint signs of life")
    reports = field(page, PG + "report")
    reports.get_by_role("button", name="Add a report").click()
    report = reports.locator("fieldset.nested").first
    expect(report.locator("legend").first).to_have_text("Report 1")
    # The report's own violations show at its fields (the server names it by the blank node the page sent).
    sourcing = report.locator(f'.field[data-path="{PG}sourcing"]')
    expect(sourcing.locator(".results li.violation")).to_be_visible(timeout=20_000)
    expect(report.locator(f'.field[data-path="{PG}source"] .results li.violation')).to_be_visible()
    sourcing.locator("select").select_option(label="Readout")
    pick(page, PG + "source", "Faint", "Faint signs of life", within=report)
    expect(report.locator(".results li.violation")).to_have_count(0, timeout=20_000)
    # A term of a kind chosen from the shapes' subclasses, with the kind's own fields.
    terms = field(page, PG + "hasTerm")
    terms.get_by_role("button", name="Add a term").click()
    term = terms.locator("fieldset.nested").first
    term.get_by_label("Kind of term").select_option(label="Territorial term")
    expect(term.locator(f'.field[data-path="{PG}region"], .field[data-path="{PG}regionScope"]').first).to_be_visible()
    pick(page, PG + "obligatedParty", "Ukr", "Ukraine", within=term)
    # "Regions or wording" (an sh:alternativePath) shows at both fields until one is given.
    for path in ("region", "wording"):
        expect(term.locator(f'.field[data-path="{PG}{path}"] .results li.violation')).to_be_visible(timeout=20_000)
    wording = term.locator(f'.field[data-path="{PG}wording"]')
    wording.locator("textarea, input[type=text]").first.fill("the whole of Kherson region")
    expect(term.locator(".results li.violation")).to_have_count(0, timeout=20_000)
    expect(page.locator("#submit-batch")).to_be_enabled(timeout=20_000)
    draft = json.loads(sent[-1])
    nodes = {n["@id"]: n for n in draft}
    position = next(n for n in draft if n["@type"] == [PG + "Demand"])
    assert position[PG + "report"] == [{"@id": "_:wb-report-1"}]
    assert position[PG + "hasTerm"] == [{"@id": "_:wb-term-1"}]
    assert nodes["_:wb-term-1"]["@type"] == [PG + "TerritorialTerm"]
    assert nodes["_:wb-term-1"][PG + "obligatedParty"] == [{"@id": "https://w3id.org/posgraph/id/party/ukraine"}]
    assert nodes["_:wb-report-1"][PG + "sourcing"] == [{"@id": PG + "readout"}]
    assert nodes["_:wb-term-1"][PG + "wording"] == [{"@value": "the whole of Kherson region", "@language": "en"}]
    assert position["@id"].startswith("https://w3id.org/posgraph/id/position/2025-07-russia-demands-kherson")
    check_page(tab)
    # The whole drawn form, nested parts and all, fits a 375px phone screen (check_page's phone pass loads the
    # page afresh, signed out).
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the form scrolls sideways at 375px: {widths}"
    page.screenshot(path=str(SCREENSHOTS / "workbench-form-phone.png"), full_page=True)


def test_pasted_and_uploaded_data_is_validated_and_submitted(site, tab, tmp_path):
    from playwright.sync_api import expect

    page = tab.page
    sign_in(page, site, "curator")
    page.get_by_label("Paste Turtle or JSON-LD, or upload a file").check()
    expect(page.locator("#paste-text")).to_be_visible()
    unnamed = "<https://w3id.org/posgraph/id/party/pasted-party> a <https://w3id.org/posgraph/ns#Party> ."
    page.locator("#paste-text").fill(unnamed)
    results = page.locator("#paste-results li.violation")
    expect(results.first).to_be_visible(timeout=20_000)
    expect(results.first).to_contain_text("pgid:party/pasted-party")
    expect(page.locator("#submit-batch")).to_be_disabled()
    expect(page.locator("#submit-batch")).to_contain_text("remain")
    upload = tmp_path / "party.ttl"
    upload.write_text(
        unnamed[:-1] + '; <http://www.w3.org/2004/02/skos/core#prefLabel> "Pasted Party"@en .\n', encoding="utf-8"
    )
    page.locator("#upload").set_input_files(str(upload))
    expect(page.locator("#paste-text")).to_have_value(re.compile("Pasted Party"))
    expect(page.locator("#paste-type")).to_have_value("text/turtle")
    expect(results).to_have_count(0, timeout=20_000)
    page.locator("#batch-label").fill("an uploaded party")
    batch_id = submitted_batch(page)
    with api(site, "curator") as client:
        triples = client.get(f"/batches/{batch_id}/triples", headers={"Accept": "application/n-triples"}).text
    assert '"Pasted Party"@en' in triples
    check_page(tab)


# ------------------------------------------------------------------ references picked by label, never typed IRIs

US_POSITION = "https://w3id.org/posgraph/id/position/us-2025-unconditional-ceasefire-first"
US_TERMS = {
    "https://w3id.org/posgraph/id/term/us-2025-unconditional-ceasefire": "an unconditional ceasefire",
    "https://w3id.org/posgraph/id/term/us-2025-settlement-talks": "substantive talks on a final settlement",
}


def test_according_to_offers_the_drafts_reports_by_their_source(site, tab):
    """A term's "According to report" lists the reports of this draft's position by source and sourcing, follows
    them as they are added and removed, and sends the report's blank node: the server finds it a report of the
    same position (pgsh:AccordingTo-ownReport passes) and the batch links the two."""
    from playwright.sync_api import expect

    page = tab.page
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/validate") else None)
    sign_in(page, site, "curator")
    choose(page, "Demand")
    fill_demand(page, "Russia demands Zaporizhzhia (according to a report).")
    pick(page, PG + "source", "Faint", "Faint signs of life")
    terms = field(page, PG + "hasTerm")
    terms.get_by_role("button", name="Add a term").click()
    term = terms.locator("fieldset.nested").first
    term.get_by_label("Kind of term").select_option(label="Territorial term")
    according = term.locator(f'.field[data-path="{PG}accordingTo"]')
    expect(according).to_have_attribute("data-widget", "ref")
    # Never a text box for an IRI: a select, by label, with nothing to pick until the position has a report.
    expect(according.locator("input")).to_have_count(0)
    choice = according.get_by_label("According to report")
    expect(choice.locator("option")).to_have_count(1)
    expect(according.locator(".ref-note")).to_contain_text("Add a report")
    reports = field(page, PG + "report")
    reports.get_by_role("button", name="Add a report").click()
    report = reports.locator("fieldset.nested").first
    report.locator(f'.field[data-path="{PG}sourcing"] select').select_option(label="Readout")
    pick(page, PG + "source", "Faint", "Faint signs of life", within=report)
    option = choice.locator("option", has_text="Faint signs of life")
    expect(option).to_have_count(1)
    expect(option).to_contain_text("(Readout)")
    expect(according.locator(".ref-note")).to_have_text("")
    choice.select_option(label=option.inner_text())
    pick(page, PG + "obligatedParty", "Ukr", "Ukraine", within=term)
    term.locator(f'.field[data-path="{PG}wording"]').locator("textarea, input[type=text]").first.fill(
        "the whole of Zaporizhzhia region"
    )
    expect(page.locator("#submit-batch")).to_be_enabled(timeout=20_000)
    expect(according.locator(".results li")).to_have_count(0)
    draft = {n["@id"]: n for n in json.loads(sent[-1])}
    assert draft["_:wb-term-1"][PG + "accordingTo"] == [{"@id": "_:wb-report-1"}]
    assert draft["_:wb-report-1"][PG + "source"] == [{"@id": SEED_SOURCE}]
    batch_id = submitted_batch(page)
    check_page(tab, "according-to")
    with api(site, "curator") as client:
        triples = client.get(f"/batches/{batch_id}/triples", headers={"Accept": "application/n-triples"}).text
    reported = re.search(rf"<{re.escape(PG)}report> (_:\S+) \.", triples).group(1)
    assert re.search(rf"_:\S+ <{re.escape(PG)}accordingTo> {re.escape(reported)} \.", triples), triples
    assert f"{reported} <{PG}source> <{SEED_SOURCE}>" in triples


def test_according_to_drops_a_removed_report(site, tab):
    from playwright.sync_api import expect

    page = tab.page
    sign_in(page, site, "curator")
    choose(page, "Demand")
    reports = field(page, PG + "report")
    reports.get_by_role("button", name="Add a report").click()
    reports.get_by_role("button", name="Add a report").click()
    terms = field(page, PG + "hasTerm")
    terms.get_by_role("button", name="Add a term").click()
    choice = terms.locator(f'fieldset.nested .field[data-path="{PG}accordingTo"] select').first
    expect(choice.locator("option")).to_have_count(3)
    second = reports.locator("fieldset.nested").nth(1)
    second.locator(f'.field[data-path="{PG}sourcing"] select').select_option(label="Leak")
    choice.select_option(label=choice.locator("option", has_text="(Leak)").inner_text())
    second.get_by_role("button", name="Remove this report").click()
    expect(choice.locator("option")).to_have_count(2)
    expect(choice).to_have_value("")


def test_an_acceptance_offers_the_answered_positions_terms_by_label(site, tab):
    """An Acceptance of the seed's US proposal (whose terms have IRIs) offers those terms by their wording once the
    proposal is picked under "Responds to"; the checked one is sent as the term's IRI (that the server then finds it
    a term of the answered position is test_an_accepted_term_of_a_published_position_passes_in_context). A position
    whose terms are blank nodes says why none can be picked."""
    from playwright.sync_api import expect

    page = tab.page
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/validate") else None)
    sign_in(page, site, "curator")
    choose(page, "Acceptance")
    accepts = field(page, PG + "acceptsTerm")
    expect(accepts).to_have_attribute("data-widget", "ref")
    expect(accepts.locator("input[type=url], input[type=text]")).to_have_count(0)
    expect(accepts.locator(".ref-note")).to_contain_text("Responds to")
    pick(page, PG + "respondsTo", "unconditional ceasefire", "unconditional ceasefire before any substantive talks")
    boxes = accepts.locator("input[type=checkbox]")
    expect(boxes).to_have_count(2, timeout=20_000)
    for iri, wording in US_TERMS.items():
        box = accepts.get_by_label(re.compile(re.escape(wording)))
        expect(box).to_have_value(iri)
    expect(accepts.locator("label", has_text="an unconditional ceasefire")).to_contain_text("Ceasefire term")
    accepts.get_by_label(re.compile("an unconditional ceasefire")).check()
    rejects = field(page, PG + "rejectsTerm")
    expect(rejects.locator("input[type=checkbox]")).to_have_count(2)
    expect(page.locator("#submit-batch")).not_to_have_text("Checking…", timeout=20_000)
    position = next(
        n for n in json.loads(sent[-1]) if n.get("@type") == [PG + "Acceptance"] and PG + "acceptsTerm" in n
    )
    assert position[PG + "acceptsTerm"] == [{"@id": next(iter(US_TERMS))}]
    assert position[PG + "respondsTo"] == [{"@id": US_POSITION}]
    check_page(tab, "accepts-term")

    # A position whose terms are blank nodes: nothing to pick, and the field says why.
    accepts.get_by_label(re.compile("an unconditional ceasefire")).uncheck()
    page.locator(f'#entry-form .field[data-path="{PG}respondsTo"] .chip button').click()
    expect(boxes).to_have_count(0)
    pick(page, PG + "respondsTo", "more Ukrainian territory", "Russia seeks more Ukrainian territory")
    expect(accepts.locator(".ref-note")).to_contain_text("terms have no IRIs of their own", timeout=20_000)
    expect(boxes).to_have_count(0)


ACCEPTANCE = f"""@prefix pg: <{PG}> .
<https://w3id.org/posgraph/id/position/2025-03-ukraine-accepts-the-ceasefire> a pg:Acceptance ;
    pg:respondsTo <{US_POSITION}> ;
    pg:acceptsTerm <https://w3id.org/posgraph/id/term/us-2025-unconditional-ceasefire> .
"""


def test_an_accepted_term_of_a_published_position_passes_in_context(site):
    """What the workbench sends for a partial acceptance of the US proposal: the server, validating it with the
    live graph, finds the accepted term among the answered position's terms (and refuses one that is not)."""
    with api(site, "curator") as client:
        good = client.post(
            "/validate", content=ACCEPTANCE, headers={"Content-Type": "text/turtle", "Accept": "application/json"}
        ).json()
        wrong = ACCEPTANCE.replace("term/us-2025-unconditional-ceasefire", "term/us-2025-no-such-term")
        bad = client.post(
            "/validate", content=wrong, headers={"Content-Type": "text/turtle", "Accept": "application/json"}
        ).json()
    assert [r for r in bad["results"] if "is not a term of" in r["message"]], bad
    assert not [r for r in good["results"] if "is not a term of" in r["message"]], good
