"""Real-browser test support: Debian's chromium driven by Playwright, and the checks every page must pass.

Shared by the browser tests of the views (tests/test_browser.py) and, later, of the curator workbench: import the
fixtures into a test module (``from browser_support import browser_fixture, tab_fixture  # noqa: F401``; they
are named ``browser`` and ``tab``) and call ``check_page(tab)`` on each page a test reaches.

The browser is the system's chromium (``$POSGRAPH_CHROMIUM``, else /usr/bin/chromium), never Playwright's own
download (not reachable here). Without it the tests skip with the reason; under ``CI=true`` they fail instead,
since .ci/run was supposed to install it.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

# In the checkout's git-ignored build/ folder, where a person looks after a run.
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
# axe-core impacts that fail a test; "moderate" and "minor" findings are printed only.
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_path() -> str | None:
    """Return the chromium executable to drive ($POSGRAPH_CHROMIUM, else /usr/bin/chromium), or None if absent."""
    candidate = os.environ.get("POSGRAPH_CHROMIUM") or "/usr/bin/chromium"
    found = shutil.which(candidate)
    return found if found and os.access(found, os.X_OK) else None


def _unavailable(reason: str) -> None:
    """Skip (no browser on this machine), or fail under CI, where .ci/run should have installed one."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason} (.ci/run should have installed chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator:
    """A headless chromium for the module's tests (skips, or fails under CI, when none can be launched)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (the test extra: pip install -e '.[test]')")
    executable = chromium_path()
    if executable is None:
        _unavailable(
            f"no chromium at {os.environ.get('POSGRAPH_CHROMIUM') or '/usr/bin/chromium'} "
            "(apt-get install chromium, or set POSGRAPH_CHROMIUM)"
        )
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, headless=True)
        except Error as exc:
            _unavailable(f"chromium at {executable} does not start: {exc.message.splitlines()[0]}")
        yield launched
        launched.close()


@dataclass
class Tab:
    """A page in a fresh browser context with everything that went wrong on it recorded: console errors
    (CSP violations among them), uncaught exceptions, failed requests and answers of status 400 or more."""

    page: object
    name: str
    problems: list[str] = field(default_factory=list)
    missing_favicon: list[str] = field(default_factory=list)
    shots: int = 0

    def watch(self, page) -> None:
        page.on("console", lambda message: self._console(message))
        page.on("pageerror", lambda error: self.problems.append(f"uncaught exception: {error}"))
        page.on(
            "requestfailed", lambda request: self.problems.append(f"request failed: {request.url} ({request.failure})")
        )
        page.on("response", lambda response: self._response(response))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        # Chromium asks every site for /favicon.ico on its own; that 404 is counted apart (one test asserts it),
        # so that it does not hide what each page itself does wrong.
        if urlsplit(where).path == "/favicon.ico":
            self.missing_favicon.append(message.text)
            return
        self.problems.append(f"console error: {message.text} at {where or '?'}")

    def _response(self, response) -> None:
        if response.status >= 400 and urlsplit(response.url).path != "/favicon.ico":
            self.problems.append(f"HTTP {response.status} for {response.request.method} {response.url}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


@pytest.fixture(name="tab")
def tab_fixture(browser, request) -> Iterator[Tab]:
    """A page of its own for one test, in a desktop-sized context, watched for problems (see ``Tab``)."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watched = Tab(page, _slug(request.node.name))
    watched.watch(page)
    yield watched
    context.close()


def assert_no_problems(tab: Tab) -> None:
    """Fail with every console error, uncaught exception, failed request or 4xx/5xx answer the page had."""
    assert not tab.problems, f"{tab.page.url}:\n  " + "\n  ".join(tab.problems)


def run_axe(page, third_party: dict[str, str] | None = None) -> list[dict]:
    """Run axe-core (the copy bundled in axe-playwright-python: no network) on ``page``; fail on serious or
    critical violations, print the others; return all violations.

    ``third_party`` maps the root selector of a vendored widget (".swagger-ui") to its name: a violation whose every
    element lies inside such a root is upstream's, printed as such and not failed on; posgraph's own markup around
    it is held to the rule.
    """
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    blocking = []
    for v in violations:
        owner = _owner(page, v, third_party or {})
        print(
            f"axe {v['impact']}: {v['id']} ({len(v['nodes'])}) on {page.url}{f' in {owner}' if owner else ''}: "
            f"{v['help']}"
        )
        if v["impact"] in BLOCKING_IMPACTS and owner is None:
            blocking.append(v)
    assert not blocking, f"axe on {page.url}:\n" + "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']} — {[n['target'] for n in v['nodes'][:5]]} "
        f"{(v['nodes'][0].get('failureSummary') or '').splitlines()[-1:] if v['nodes'] else ''}"
        for v in blocking
    )
    return violations


def _owner(page, violation: dict, third_party: dict[str, str]) -> str | None:
    """The name of the vendored widget holding every element of ``violation``, or None."""
    targets = [n["target"][0] for n in violation["nodes"] if n.get("target")]
    for root, name in third_party.items():
        inside = page.evaluate(
            "([targets, root]) => targets.every(t => { const el = document.querySelector(t); "
            "return el !== null && el.closest(root) !== null; })",
            [targets, root],
        )
        if targets and inside:
            return name
    return None


def check_page(
    tab: Tab,
    label: str = "",
    *,
    axe: bool = True,
    phone: bool = True,
    full_page: bool = True,
    third_party: dict[str, str] | None = None,
) -> Path:
    """Check the page ``tab`` shows now: no problems so far (see ``Tab``), no serious or critical axe-core
    violation (outside the ``third_party`` widgets, see ``run_axe``). A screenshot, of the whole page or with
    ``full_page=False`` of the window (a page of thousands of rows takes seconds to capture whole), is saved first
    as build/screenshots/<test>[-label].png. With ``phone``, the same URL is loaded again in a 375x800 phone
    context (touch, mobile viewport) and saved as ...-phone.png: no problems there either, a viewport meta tag,
    and nothing wider than the screen (the page itself never scrolls sideways).

    Returns the desktop screenshot's path. Raises AssertionError on any failed check.
    """
    page = tab.page
    page.wait_for_load_state("networkidle")
    # The pictures first, so that a failing page can be looked at too.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.shots += 1
    stem = "-".join(p for p in (tab.name, _slug(label) or (str(tab.shots) if tab.shots > 1 else "")) if p)
    shot = SCREENSHOTS / f"{stem}.png"
    page.screenshot(path=str(shot), full_page=full_page)
    assert_no_problems(tab)
    if axe:
        run_axe(page, third_party)
        assert_no_problems(tab)
    if phone:
        _check_phone(page.context.browser, page.url, SCREENSHOTS / f"{stem}-phone.png", full_page)
    return shot


# The outermost elements that reach past the right edge of the screen, as "tag.class (right edge px): text…".
_TOO_WIDE = """() => {
  const edge = document.documentElement.clientWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.getBoundingClientRect().right <= edge + 0.5) continue;
    if (el.parentElement && el.parentElement.getBoundingClientRect().right > edge + 0.5) continue;
    out.push(`${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''} `
      + `(${Math.round(el.getBoundingClientRect().right)}px): ${el.textContent.trim().slice(0, 50)}`);
    if (out.length >= 5) break;
  }
  return out;
}"""


def _check_phone(browser, url: str, shot: Path, full_page: bool) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = context.new_page()
        watched = Tab(page, shot.stem)
        watched.watch(page)
        page.goto(url, wait_until="networkidle")
        page.screenshot(path=str(shot), full_page=full_page)
        assert_no_problems(watched)
        viewport = page.locator("meta[name=viewport]")
        assert viewport.count() == 1 and "width=device-width" in (viewport.get_attribute("content") or ""), (
            f"{url} has no <meta name=viewport content='width=device-width…'>: phones render it 980px wide"
        )
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (
            f"{url} scrolls sideways on a 375px screen: {widths[0]}px wide content; too wide: "
            + "; ".join(page.evaluate(_TOO_WIDE))
        )
    finally:
        context.close()
