"""The workbench's reviewer side in a real browser (Debian's chromium through Playwright) on a real server with the
seed: a reviewer opens a curator's batch, reads it in words, accepts it (the position is then public and in
/changes), reverts it with a reason after the preview (the position is gone), and finds it all in the history; a
reviewer does not get to accept their own batch (and the API refuses too); a reader is offered no review at all.

The batches are made through the HTTP API as their curators would (so this file does not depend on the entry
form); everything the page says is checked against what the API says. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from browser_support import _TOO_WIDE, PHONE, SCREENSHOTS, assert_no_problems, browser_fixture, check_page, tab_fixture  # noqa: F401
from conftest import create_token, start_server

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:8]
CURATOR, REVIEWER, OTHER_REVIEWER, READER = (f"{n}-{RUN}" for n in ("cleo", "rita", "rex", "rhea"))
ID = "https://w3id.org/posgraph/id/"
DEMAND = f"{ID}position/ru-{RUN}-workbench-demand"
# A Demand by Russia on Territory, stated 25 July 2025, citing the seed's article: valid against the seed.
DEMAND_TURTLE = f"""@prefix pg: <https://w3id.org/posgraph/ns#> .
@prefix pgi: <https://w3id.org/posgraph/issue/> .
@prefix party: <{ID}party/> .
@prefix source: <{ID}source/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{DEMAND}> a pg:Demand ;
    pg:heldBy party:russia ; pg:addressedTo party:ukraine ;
    pg:statedOn "2025-07-25"^^xsd:date ;
    pg:concerns pgi:territory ;
    pg:hasTerm [ a pg:TerritorialTerm ; pg:obligatedParty party:ukraine ; pg:action pg:cede ;
        pg:wording "the whole of the four regions"@en ; pg:regionScope pg:unspecifiedScope ] ;
    pg:summary "Russia demands the whole of the four regions (workbench review test {RUN})."@en ;
    pg:source source:st-2025-07-istanbul-offer .
"""
# A label a page must show as text, never run.
HOSTILE = "</title><script>window.__pwned = 1</script><b>own batch</b>"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module", autouse=True)
def _browser_first(browser):
    """Launch (or skip for want of) the browser before the server starts."""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A real server on a new store (the seed is loaded on its first start), with a token per person."""
    base = tmp_path_factory.mktemp("browser-review")
    srv = start_server(base / "store", base / "serve.log", env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "100000"})
    srv.tokens = {
        "curator": create_token(base, "curator", CURATOR),
        "reviewer": create_token(base, "reviewer", REVIEWER),
        "other": create_token(base, "reviewer", OTHER_REVIEWER),
        "reader": create_token(base, "reader", READER),
    }
    yield srv
    srv.stop()


def submit(site, token: str, turtle: str, label: str) -> dict:
    """Submit ``turtle`` as a batch through the API; return its record."""
    with site.client() as client:
        answer = client.post(
            "/batches",
            params={"label": label},
            content=turtle.encode(),
            headers={**_auth(token), "Content-Type": "text/turtle"},
        )
    assert answer.status_code == 201, answer.text
    return answer.json()


def sign_in(page, site, token: str) -> None:
    """Open the workbench and sign in with ``token`` through its form (the keyboard: type it, press Enter)."""
    page.goto(site.url + "/workbench")
    page.locator("#sign-in #token").fill(token)
    page.locator("#sign-in #token").press("Enter")
    page.locator("#signed-in").wait_for(state="visible")
    page.wait_for_load_state("networkidle")


def fits_phone(tab, label: str) -> None:
    """The page as it is now (signed in, panels open: check_page's phone check reloads it signed out) fits a 375px
    wide window: nothing scrolls sideways. Saved as build/screenshots/<test>-<label>-phone.png."""
    page = tab.page
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{tab.name}-{label}-phone.png"), full_page=True)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        too_wide = page.evaluate(_TOO_WIDE) if widths[0] > widths[1] else []
        assert widths[0] <= widths[1], f"{page.url} scrolls sideways at 375px once signed in: {widths} {too_wide}"
    finally:
        page.set_viewport_size(size)


def open_tab(page, name: str) -> None:
    """Choose a workbench tab with the keyboard (focus it, press Enter) and wait until its lists are loaded."""
    page.locator(f"#tab-{name}").focus()
    page.keyboard.press("Enter")
    page.locator(f"#{name}").wait_for(state="visible")
    page.wait_for_function(
        "name => { const lists = document.querySelectorAll(`#${name} [aria-busy]`);"
        " return lists.length > 0 && [...lists].every(e => e.getAttribute('aria-busy') === 'false'); }",
        arg=name,
    )


def history_actions(item) -> list[str]:
    return [a for a in item.locator("li[data-action]").evaluate_all("els => els.map(e => e.dataset.action)")]


def test_reviewer_reads_accepts_and_reverts_a_batch(site, tab):
    batch = submit(site, site.tokens["curator"], DEMAND_TURTLE, f"Russia's demand for four regions {RUN}")
    page = tab.page
    sign_in(page, site, site.tokens["reviewer"])
    open_tab(page, "review")

    # The queue: the batch with its curator and its triple count as the API has them.
    item = page.locator(f'#review-queue li[data-batch="{batch["id"]}"]')
    item.wait_for()
    assert CURATOR in item.inner_text() and f"{batch['triples']} triples" in item.inner_text()
    opener = item.locator("button.wb-open")
    opener.focus()
    page.keyboard.press("Enter")

    # The batch in words first: a Demand by Russia on Territory, with its date.
    sentence = page.locator("#review-batch .wb-sentence").first
    sentence.wait_for()
    words = " ".join(page.locator("#review-batch .wb-sentences").inner_text().split())
    for needed in ("Demand", "Russia", "Territory"):
        assert needed in words, f"the summary does not say {needed!r}: {words}"
    assert "2025-07-25" in words or "25 July 2025" in words, words
    # What it links to in the published graph links to the pages of this server.
    source = page.locator('#review-batch .wb-links li[data-published="true"] a[href*="/id/source/"]')
    assert source.count() >= 1 and source.first.get_attribute("href").startswith(site.url + "/id/source/")
    with httpx.Client(base_url=site.url, trust_env=False) as client:
        assert client.get(source.first.get_attribute("href")).status_code == 200
    # Then its report, its triples and its history.
    assert "Conforms" in page.locator("#review-batch").inner_text()
    assert DEMAND in page.locator("#review-batch pre.wb-triples").inner_text()
    assert history_actions(page.locator("#review-batch")) == ["submitted"]
    check_page(tab, "batch", phone=False)
    # What docs/img/review.png shows: the queue, the batch in words, its report and its triples.
    page.screenshot(
        path=str(SCREENSHOTS / f"{tab.name}-words.png"),
        full_page=True,
        clip={"x": 0, "y": 0, "width": 960, "height": 1420},
    )
    fits_phone(tab, "batch")

    page.locator("#review-batch button.wb-accept").focus()
    page.keyboard.press("Enter")
    page.locator("#review-status").filter(has_text="Accepted").wait_for()
    assert page.locator(f'#review-queue li[data-batch="{batch["id"]}"]').count() == 0
    with httpx.Client(base_url=site.url, trust_env=False, timeout=30) as client:
        assert client.get(DEMAND.replace(ID, site.url + "/id/")).status_code == 200
        changes = client.get("/changes", params={"limit": 1000}).json()["changes"]
        assert any(c.get("batch") == batch["iri"] and c["kind"] == "accepted" for c in changes)
        preview = client.post(
            f"/batches/{batch['id']}/revert", params={"dry_run": "true"}, headers=_auth(site.tokens["reviewer"])
        ).json()
    assert preview["triples_removed"] > 0

    # Revert from the published list: the preview first, then the reason and the confirmation.
    published = page.locator(f'#review-published li[data-batch="{batch["id"]}"]')
    published.wait_for()
    published.locator("button.wb-revert-start").click()
    shown = published.locator(".wb-preview")
    shown.wait_for()
    assert f"{preview['triples_removed']} triples would leave the published graph" in shown.inner_text()
    check_page(tab, "revert-preview", phone=False)
    reason = f"Misread the article, the regions are not named ({RUN})"
    shown.locator("textarea").fill(reason)
    shown.locator("button.wb-revert-confirm").focus()
    page.keyboard.press("Enter")
    page.locator("#review-status").filter(has_text="Reverted").wait_for()
    with httpx.Client(base_url=site.url, trust_env=False, timeout=30) as client:
        assert client.get(DEMAND.replace(ID, site.url + "/id/")).status_code == 404
        changes = client.get("/changes", params={"limit": 1000}).json()["changes"]
        assert any(c.get("batch") == batch["iri"] and c["kind"] == "reverted" for c in changes)
        record = client.get(f"/batches/{batch['id']}", headers=_auth(site.tokens["reviewer"])).json()
    assert record["state"] == "reverted"

    # History, per batch: submitted, accepted, reverted, with the reason.
    open_tab(page, "history")
    entry = page.locator(f'#history-batches li[data-batch="{batch["id"]}"]')
    entry.wait_for()
    entry.locator("summary").click()
    assert history_actions(entry) == ["submitted", "accepted", "reverted"]
    text = entry.inner_text()
    assert CURATOR in text and REVIEWER in text and reason in text
    # Per entity: the position's address pasted (it is no longer published, so no label search finds it).
    page.locator("#history-entity").fill(DEMAND.replace(ID, site.url + "/id/"))
    page.locator("#history-entity").press("Enter")
    timeline = page.locator(f'#history-timeline li[data-batch="{batch["id"]}"]')
    timeline.wait_for()
    assert timeline.get_attribute("data-state") == "reverted"
    assert history_actions(timeline) == ["submitted", "accepted", "reverted"] and reason in timeline.inner_text()
    # And by label: Russia, found through the collections, has the seed among the batches touching it.
    page.locator("#history-entity").fill("Russia")
    page.locator("#history-entity").press("Enter")
    match = page.locator(f'#history-matches button.wb-match[data-iri="{ID}party/russia"]')
    match.wait_for()
    match.click()
    page.locator("#history-timeline-heading").filter(has_text="Russia").wait_for()
    assert page.locator("#history-timeline li[data-batch]").count() >= 1
    check_page(tab, "history", phone=False)
    fits_phone(tab, "history")


def test_a_reviewer_cannot_accept_their_own_batch(site, tab):
    turtle = DEMAND_TURTLE.replace("workbench-demand", "own-demand").replace("review test", "own-batch test")
    batch = submit(site, site.tokens["other"], turtle, HOSTILE)
    page = tab.page
    sign_in(page, site, site.tokens["other"])
    open_tab(page, "review")
    opener = page.locator(f'#review-queue button.wb-open[data-batch="{batch["id"]}"]')
    opener.wait_for()
    assert opener.inner_text() == HOSTILE  # the label is text, never markup
    opener.click()
    page.locator("#review-batch .wb-sentence").first.wait_for()
    assert page.locator("#review-batch button.wb-accept").count() == 0
    assert "cannot accept their own batch" in page.locator("#review-own-batch").inner_text()
    assert page.evaluate("window.__pwned") is None
    check_page(tab, phone=False)
    fits_phone(tab, "own-batch")
    # The API says the same.
    with site.client() as client:
        refused = client.post(f"/batches/{batch['id']}/accept", headers=_auth(site.tokens["other"]))
    assert refused.status_code == 403 and "curator" in refused.json()["detail"]
    # Another reviewer is offered the accept button on it.
    other = tab.page.context.browser.new_context()
    try:
        second = other.new_page()
        sign_in(second, site, site.tokens["reviewer"])
        open_tab(second, "review")
        second.locator(f'#review-queue button.wb-open[data-batch="{batch["id"]}"]').click()
        second.locator("#review-batch button.wb-accept").wait_for()
    finally:
        other.close()

    # Its curator may still withdraw it: rejecting needs a reason, then it leaves the queue with the reason kept.
    page.locator("#review-batch button.wb-reject-button").click()
    page.locator("#review-batch .wb-errors [role=alert]").wait_for()
    with site.client() as client:
        assert client.get(f"/batches/{batch['id']}", headers=_auth(site.tokens["other"])).json()["state"] == "submitted"
    reason = f"Entered twice by mistake ({RUN})"
    page.locator("#review-reject-reason").fill(reason)
    page.locator("#review-batch button.wb-reject-button").click()
    page.locator("#review-status").filter(has_text="Rejected").wait_for()
    assert page.locator(f'#review-queue li[data-batch="{batch["id"]}"]').count() == 0
    with site.client() as client:
        record = client.get(f"/batches/{batch['id']}", headers=_auth(site.tokens["other"])).json()
    assert record["state"] == "rejected" and record["history"][-1]["note"] == reason


def test_a_reader_is_offered_no_review(site, tab):
    page = tab.page
    sign_in(page, site, site.tokens["reader"])
    # Signed in (the page says who), and the review tab is not offered.
    assert page.locator("#who-name").inner_text() == READER
    review_tab = page.locator("#tab-review")
    assert review_tab.count() == 0 or not review_tab.is_visible()
    assert page.locator("#review").count() == 0 or not page.locator("#review").is_visible()
    assert page.locator("button.wb-accept, button.wb-revert-start, .wb-reject").count() == 0
    # Nothing was asked that a reader may not have (no 403 from /batches behind the scenes).
    assert_no_problems(tab)
    assert not [p for p in tab.problems if re.search(r"HTTP 40[13]", p)]
    check_page(tab)
