"""Every saved query, its first page and a deep page, at two store sizes side by side, on the bare engine and
through posgraph (issue #16: "no saved query is slower than 5x its 10k time at 1M per returned page").

For each size it takes the synthetic store (bench.generate, bulk-loaded with the ontology and bootstrapped as
`posgraph serve` would, as bench/views.py does: reused from bench/.data/store-SIZE when there, else built once
under --cache), copies it, and serves every copy at once with a bare engine, and (unless --through engine) a
`posgraph serve` in front of that engine (bench.compare's serve and service_env, one service per size, measured
once its collections index is current). Each saved query is then bound with the benchmark parameters
(bench.compare's PARAMS, the same at every size: the synthetic graph has them at every size), and asked of every
size and system in turn, interleaved, so that the machine's load falls on all of them alike:

- its first page at its default limit (at 10k most answers are shorter than that: the pages differ in rows),
- its first page at --deep-limit rows per page (pages of the same size where both sizes have that many), and
- a deep page: page --deep-pages at --deep-limit rows per page.

The bare engine gets the text posgraph would send it for the page (row-paged queries ask one row more, to know
whether there is a next page; the deep page through the cursor posgraph would give). posgraph gets
`GET /queries/NAME?params` (SPARQL JSON results), the deep page reached as a client would, by following the
`Link: <...>; rel="next"` of the pages before it (those requests are not timed). Each page's rows through posgraph
are checked against the engine's (rows, or distinct keys for a key-paged query): a difference is a wrong answer,
and the report says so loudly.

With --before DIR (a directory of .rq files, e.g. an older commit's), the same is measured for that catalog too on
the bare engine, interleaved, for a before/after comparison. Results: --out (bench/results/saved-queries) .md and
.json: median ms per query, page, system and size, rows returned, and the ratio of the largest size to the
smallest against the 5x target (judged on posgraph's ratio).

    python -m bench.saved_queries [--sizes 10000,1000000] [--samples 15] [--through engine|posgraph|both]
        [--before DIR] [--only NAME,NAME] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import httpx

from bench.compare import DATA, ID, PARAMS, RESULTS, _wait_collections, serve, service_env
from bench.generate import write_graph
from posgraph.catalog import Catalog, SavedQuery
from posgraph.cli.common import bootstrap
from posgraph.config import PROJECT_FILES, Settings
from posgraph.supervisor import ManagedEngine, find_engine_binary, free_port

TARGET = 5.0
# Beyond compare's PARAMS: a document (the synthetic graph has none, so document-versions measures finding that
# out), and extra cases where PARAMS alone gives an empty answer at some size although the data has answers.
EXTRA_PARAMS = {"document": f"{ID}document/bench-0"}
CASES: dict[str, list[dict[str, str]]] = {
    # since=2024-01-01 (PARAMS): every issue is quiet at 10k (its dates end in 2022), none at 1M (they run to
    # 2029). since=2030 makes every issue quiet at every size: the answer is the same six rows.
    "quiet-issues": [{"since": PARAMS["since"]}, {"since": "2030-01-01"}],
    # PARAMS names a party and a person: at 10k no position of party 0 was stated by person 0.
    "who-said-what": [{"party": PARAMS["party"], "person": PARAMS["person"]}, {"person": PARAMS["person"]}, {}],
    "positions-in-document": [{}],
}


@dataclass
class Case:
    """One saved query with one set of parameters, in one catalog."""

    catalog: str
    query: SavedQuery
    params: dict[str, str]

    @property
    def label(self) -> str:
        shown = " ".join(f"{k}={v.rsplit('/', 1)[-1]}" for k, v in self.params.items())
        return f"{self.query.name}" + (f" ({shown})" if shown else "")


def cases(catalog: Catalog, name: str, only: set[str]) -> list[Case]:
    """The cases of every query in ``catalog``: compare's PARAMS for the parameters the query takes (CASES where
    they give more than one case)."""
    found = []
    for saved in catalog:
        if only and saved.name not in only:
            continue
        takes = {p.name for p in saved.params}
        sets = CASES.get(saved.name) or [
            {k: v for k, v in (PARAMS | EXTRA_PARAMS).items() if k in takes and k not in ("limit", "offset", "cursor")}
        ]
        for params in sets:
            params = {k: v for k, v in params.items() if k in takes}
            if any(p.required and p.name not in params for p in saved.params):
                continue
            found.append(Case(name, saved, params))
    return found


def page_text(saved: SavedQuery, params: dict[str, str], limit: int | None, page: int) -> str:
    """The text posgraph sends the engine for page ``page`` (0: the first) of ``limit`` rows or keys (None: the
    default), reached through the cursor of the page before it."""
    asked = dict(params)
    if limit is not None:
        asked["limit"] = str(limit)
    if page:
        asked["cursor"] = saved.cursor(asked, page * (limit or saved.paging.default))
    return saved.bind(asked, extra=1 if saved.paging.key is None else 0)


def store(size: int, cache: Path) -> Path:
    """The bootstrapped synthetic store of ``size`` triples: bench/.data's, or one built once under ``cache``."""
    for base in (DATA, cache):
        if (base / f"store-{size}" / ".complete").exists():
            return base / f"store-{size}"
    cache.mkdir(parents=True, exist_ok=True)
    built, data = cache / f"store-{size}", DATA / f"graph-{size}.nt"
    if not data.exists():
        data = cache / f"graph-{size}.nt"
        if not data.exists():
            with open(data, "w") as out:
                write_graph(out, size)
    shutil.rmtree(built, ignore_errors=True)
    command = [find_engine_binary(), "load", "--location", str(built), "--file", str(data)]
    subprocess.run(command + [str(f) for f in PROJECT_FILES.ontology_files], check=True, capture_output=True)
    engine = ManagedEngine(built)
    engine.start()
    try:
        asyncio.run(bootstrap(engine.url, Settings(seed=False)))
    finally:
        engine.stop()
    (built / ".complete").touch()
    return built


ACCEPT = {"Accept": "application/sparql-results+json"}
SYSTEMS = ("engine", "posgraph")


@dataclass
class Answer:
    """What one system answered for one page: its rows (cut to the page for a row-paged query), its distinct keys
    (key-paged queries only) and what they hold (to tell a wrong page from a right one of the same length)."""

    rows: int
    keys: int | None
    content: tuple
    truncated: bool = False

    @property
    def unit(self) -> int:
        """What a page counts: its keys for a key-paged query, else its rows."""
        return self.rows if self.keys is None else self.keys


def _answer(saved: SavedQuery, bindings: list[dict], cap: int, truncated: bool = False) -> Answer:
    """The page in ``bindings``: the first ``cap`` rows of a row-paged answer (the engine is asked one row more),
    every row of a key-paged one."""
    if saved.paging.key is None:
        page = bindings[:cap]
        return Answer(len(page), None, tuple(sorted(_row(b) for b in page)), truncated)
    names = saved.paging.key.split("+")
    keys = {tuple((b.get(n) or {}).get("value") for n in names) for b in bindings}
    return Answer(len(bindings), len(keys), tuple(sorted(keys, key=repr)), truncated)


def _row(binding: dict) -> tuple:
    return tuple(sorted((name, term.get("value")) for name, term in binding.items()))


def _ask(client: httpx.Client, url: str, text: str, timeout: float) -> tuple[float, list[dict], bool]:
    """Ask the bare engine: seconds, the result rows, False (it cuts nothing)."""
    started = time.perf_counter()
    response = client.post(url + "/query", data={"query": text}, headers=ACCEPT, timeout=timeout)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()["results"]["bindings"], False


def _get(client: httpx.Client, url: str, timeout: float) -> tuple[float, list[dict], bool]:
    """Ask posgraph for a page: seconds, the result rows, whether it says it cut them (a row or byte cap)."""
    started = time.perf_counter()
    response = client.get(url, headers=ACCEPT, timeout=timeout)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()["results"]["bindings"], response.headers.get("X-Posgraph-Truncated") == "true"


def _page_url(
    client: httpx.Client, base: str, case: Case, limit: int | None, page: int, timeout: float
) -> tuple[str, bool]:
    """The URL of page ``page`` (0: the first) at ``limit`` per page (None: the default) on the posgraph at
    ``base``, reached as a client reaches it: from the first page through each page's Link rel=next; and whether
    it was so reached. When a page before it has no link (the answer ends earlier), the URL carries the cursor
    posgraph would have given (an empty page, timed as the engine's is)."""
    asked = dict(case.params) | ({"limit": str(limit)} if limit is not None else {})
    url = f"{base}/queries/{case.query.name}?{urlencode(asked)}"
    for _ in range(page):
        response = client.get(url, headers=ACCEPT, timeout=timeout)
        response.raise_for_status()
        following = response.links.get("next")
        if not following:
            cursor = case.query.cursor(asked, page * (limit or case.query.paging.default))
            return f"{base}/queries/{case.query.name}?{urlencode(asked | {'cursor': cursor})}", False
        # The link names posgraph's public base: keep its path and query, on the address actually served.
        url = base + httpx.URL(following["url"]).raw_path.decode("ascii")
    return url, True


def _failure(error: Exception) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def _cell(times: list[float], answer: Answer | None, failed: str | None, unlinked: bool) -> dict:
    return {
        "ms": statistics.median(times) * 1000 if times else None,
        "rows": answer.rows if answer else None,
        "keys": answer.keys if answer else None,
        "truncated": bool(answer and answer.truncated),
        "failed": failed,
        # posgraph's answer ended before this page (no Link led there): asked through the cursor it would give.
        "unlinked": unlinked,
        "samples": len(times),
    }


def _mismatches(row: dict, case: Case, answers: dict[tuple[str, int], Answer | None]) -> list[str]:
    """Where posgraph's page is not the engine's, at each size: a wrong answer, not a slow one."""
    found = []
    unit = "keys" if case.query.paging.key else "rows"
    for size in row["engine"]:
        size = int(size)
        if ("engine", size) not in answers or ("posgraph", size) not in answers:
            continue
        bare, served = answers["engine", size], answers["posgraph", size]
        if bare is None or served is None:
            continue
        where = f"{case.label}, page {row['page']}, at {size:,}"
        cut = " (posgraph says it cut the answer: X-Posgraph-Truncated)" if served.truncated else ""
        if bare.unit != served.unit:
            found.append(f"{where}: posgraph returned {served.unit} {unit}, the engine {bare.unit}{cut}")
        elif bare.content != served.content:
            found.append(
                f"{where}: posgraph returned other {unit} than the engine (as many: {bare.unit}){cut}; a wrong "
                "answer unless the query's order has ties"
            )
    return found


def measure(
    urls: dict[str, dict[int, str]],
    work: list[Case],
    through: str,
    samples: int,
    deep_limit: int,
    deep_pages: int,
    timeout: float,
) -> list[dict]:
    """For each case and page, per system measured ({size: median ms, rows, keys, ...}): the bare engine
    (``urls["engine"]``, {size: base URL}) and posgraph (``urls["posgraph"]``) as ``through`` says ("engine",
    "posgraph" or "both"; the "before" catalog only on the engine), every size and system asked in turn
    (interleaved), and where posgraph's page is not the engine's."""
    results = []
    sizes = sorted({size for by_size in urls.values() for size in by_size})
    with httpx.Client(trust_env=False) as client:
        for case in work:
            systems = [
                system
                for system in SYSTEMS
                if system in urls
                and (
                    (system == "engine" and (case.catalog == "before" or through != "posgraph"))
                    or (system == "posgraph" and case.catalog != "before" and through != "engine")
                )
            ]
            order = [(system, size) for size in sizes for system in systems]
            pages = (("first", None, 0), (f"first@{deep_limit}", deep_limit, 0), ("deep", deep_limit, deep_pages - 1))
            for page_name, limit, page in pages:
                cap = limit or case.query.paging.default
                text = page_text(case.query, case.params, limit, page)
                times: dict[tuple[str, int], list[float]] = {target: [] for target in order}
                answers: dict[tuple[str, int], Answer | None] = {}
                failed: dict[tuple[str, int], str] = {}
                unlinked: set[tuple[str, int]] = set()  # no Link led to this page: the answer ends before it
                targets: dict[tuple[str, int], str] = {}
                for system, size in order:
                    if system == "engine":
                        targets[system, size] = urls[system][size]
                        continue
                    try:  # following the links is not timed: only the page asked
                        url, linked = _page_url(client, urls[system][size], case, limit, page, timeout)
                    except (httpx.HTTPError, ValueError) as error:
                        failed[system, size] = _failure(error)
                        continue
                    targets[system, size] = url
                    if not linked:
                        unlinked.add((system, size))
                deadline = time.monotonic() + 20 * len(order)
                for turn in range(samples + 1):  # the first turn warms up, and is not counted
                    for target in order:
                        if target in failed or target not in targets:
                            continue
                        try:
                            if target[0] == "engine":
                                elapsed, bindings, cut = _ask(client, targets[target], text, timeout)
                            else:
                                elapsed, bindings, cut = _get(client, targets[target], timeout)
                        except (httpx.HTTPError, ValueError, KeyError) as error:
                            failed[target] = _failure(error)
                            continue
                        if target not in answers:
                            answers[target] = _answer(case.query, bindings, cap, cut)
                        if turn:
                            times[target].append(elapsed)
                    if turn >= 3 and time.monotonic() > deadline:
                        break
                row = {
                    "catalog": case.catalog,
                    "case": case.label,
                    "query": case.query.name,
                    "page": page_name,
                    "limit": cap,
                    "paged_by": case.query.paging.key or "rows",
                }
                for system in systems:
                    row[system] = {
                        str(size): _cell(
                            times[system, size],
                            answers.get((system, size)),
                            failed.get((system, size)),
                            (system, size) in unlinked,
                        )
                        for size in sizes
                    }
                row["mismatches"] = _mismatches(row, case, answers) if len(systems) == 2 else []
                results.append(row)
                print(
                    f"{case.catalog:>6} {page_name:>8} {case.label:<60} "
                    + "  ".join(
                        f"{system} {s}: {v['ms'] or 0:8.1f} ms{'*' if v['unlinked'] else ' '} "
                        f"{v['rows'] if v['rows'] is not None else '-':>5} rows"
                        for system in systems
                        for s, v in row[system].items()
                    ),
                    flush=True,
                )
                for line in row["mismatches"]:
                    print(f"WARNING: WRONG ANSWER? {line}", flush=True)
    return results


def _stop(process: subprocess.Popen) -> None:
    """Stop a served process by its PID: SIGTERM, then SIGKILL if it has not ended within 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _interrupted(number: int, frame: object) -> None:
    # Once: a second signal must not cut short the finally that is stopping the served processes.
    for other in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(other, signal.SIG_IGN)
    raise SystemExit(128 + number)


def _up(process: subprocess.Popen, base: str, limit: float = 120) -> None:
    """Wait until the posgraph at ``base`` answers /health; raises RuntimeError if it ends or does not answer."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"posgraph serve for {base} ended with status {process.returncode}")
        try:
            if httpx.get(base + "/health", timeout=2, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base} did not come up")


@contextlib.contextmanager
def served(sizes: list[int], cache: Path, scratch: Path | None, posgraph: bool = True) -> Iterator[dict]:
    """Each size's store (a copy, under a temporary directory in ``scratch``) behind a bare engine and, with
    ``posgraph``, a ``posgraph serve`` in front of it whose collections index is current: yields their URLs,
    {"engine": {size: url}, "posgraph": {size: url}}, and stops them all at the end (also on SIGTERM or SIGHUP).
    Raises RuntimeError when a service does not come up."""
    if scratch:
        scratch.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="posgraph-bench-", dir=scratch))
    engines: dict[int, ManagedEngine] = {}
    staging: dict[int, ManagedEngine] = {}
    services: dict[int, subprocess.Popen] = {}
    # `kill PID` (or a closed terminal) ends the run through the finally below, which stops what it served.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _interrupted)
    try:
        for size in sizes:
            copy = home / f"store-{size}"
            shutil.copytree(store(size, cache), copy)
            engines[size] = ManagedEngine(copy)
            engines[size].start()
        urls: dict[str, dict[int, str]] = {"engine": {s: e.url for s, e in engines.items()}}
        if posgraph:
            bases = {}
            for size in sizes:
                own = home / f"posgraph-{size}"
                own.mkdir()
                staging[size] = ManagedEngine(own / "staging")
                staging[size].start()
                env = service_env(
                    own, {"POSGRAPH_ENGINE_URL": engines[size].url, "POSGRAPH_STAGING_ENGINE_URL": staging[size].url}
                )
                env["POSGRAPH_DATA_DIR"] = str(own)  # nothing the service writes lands in the working directory
                port = free_port()
                services[size] = serve(port, env)
                bases[size] = f"http://127.0.0.1:{port}"
            for size in sizes:
                _up(services[size], bases[size])
                started = time.monotonic()
                _wait_collections(bases[size])
                print(f"posgraph at {size:,}: collections index current after {time.monotonic() - started:.0f} s")
            urls["posgraph"] = bases
        yield urls
    finally:
        for process in services.values():
            _stop(process)
        for engine in [*staging.values(), *engines.values()]:
            engine.stop()
        shutil.rmtree(home, ignore_errors=True)


# Why a page's cost still grows with the store where it does: what each such query must read for one page.
NOTES = """## Where a page's cost still grows with the store, and why

The synthetic graph has 40 parties and 6 issues at every size, so a party's (or an issue's) positions grow with
the store: party 0 holds about 25 positions at 10k and about 2,000 at 1M (about 330 on one issue). A page that is
the first rows of an order the engine cannot walk (Oxigraph sorts; it has no index in date order) reads and sorts
all of the rows that precede the cut: 20-40 ms for 2,000 dates on this machine, against about 1 ms for any query at
10k. posgraph keeps that order in its collections index (SQLite, in step with every write), so:

- positions, position-history, who-said-what and timeline (one party or issue at most) take their page of
  positions from the index while it holds the current data (`#+ keys:`), and the engine reads only that page's
  rows: a page of 10 costs about the same at both sizes. Their `first` page holds 100 (timeline) or 200
  positions at 1M against the 4 or 5 that exist at 10k: more rows, not a dearer page. The engine reads a
  position's details with a lookup per property (about 0.1 ms a position at 1M on this machine; 0.13 ms for a
  timeline row, the widest: kind, date, supersessions, summary, sources), so a first page of 200 timeline rows
  cost 5.6x its 10k page on the engine alone: timeline's default page is 100 (the chart asks its own 500). The
  kinds of position and their labels are joined once per page, not looked up per row. Just after a write,
  until the index has caught up, the engine cuts the page itself (the `engine` columns).
- state-of-play, quiet-issues and issues stand on an aggregate (the positions in force per party and
  issue on a date, when each issue last moved, positions per issue). The index keeps the positions per party and
  issue in first-day and date order, so the aggregate is a few seeks per party and issue (kept until the next
  write), and the engine reads only the rows around it. The `engine` columns show what the engine alone costs
  for them, as just after a write: it reads every position of each party and issue.
- demands-by-issue (a party's demands ordered by issue label, then date) stands on the index too: it gives the
  first (issue, demand) pairs in that order, as many as the page needs, and the engine reads and sorts only
  those; the bare engine sorts all the party's demands (about 450 at 1M).
- conditional-positions (a party's positions with a condition on themselves or a term) stands on the index
  likewise: it knows which positions have one and gives the first (party, position) pairs in IRI order, as many
  as the page needs; the engine reads only those positions' conditions. The bare engine finds and sorts all the
  party's conditions (about 180 at 1M): 60-100 ms, however short the page. The `first` page holds those 180
  rows at 1M against 3 at 10k.
- disputed-figures: the party's positions on the issue, with their reports (none are disputed in the synthetic
  graph: the cost is finding that out).
- gap-matrix stands on the same aggregate for several parties at once, as its own untyped subquery means it:
  the index answers while every subject of a pg:statedOn is a position it holds with IRI parties and issues
  (true of the synthetic graph; the engine counts the dates once per version), and the engine then reads only
  the positions in force and whether each was superseded by the date. The `engine` columns: what it costs just
  after a write, or on data the index cannot answer for.
- meet-or-collide's `first` page likewise holds 200 pairs at 1M against the 8 at 10k. The engine cuts the page
  of pairs in its own order (no sort), then relates only those pairs and compares only their figures; the kinds
  of position and their labels are joined once, not looked up per pair (62 against 56 ms for that page at 1M on
  the engine). Working out where each position ends in the grouping of the pair's figures, instead of a grouped
  pass per side that cuts the page again, took it to 46 ms, but with the positions named (position_a and
  position_b, as the gap matrix asks) Oxigraph then joined the figures over the whole store: 0.25 s became 0.69 s
  for two parties' positions in force at 1M.
"""


def _ratio(row: dict, system: str, small: str, large: str) -> float | None:
    cells = row.get(system)
    if not cells:
        return None
    a, b = cells[small]["ms"], cells[large]["ms"]
    return b / a if a and b else None


def _unequal(row: dict, small: str, large: str) -> str | None:
    """How a page differs between the sizes when it holds fewer rows (keys) at the smaller one (the first page at
    the default limit, where the small store has fewer rows than a page), else None."""
    cells = row.get("engine") or row.get("posgraph")
    if not cells:
        return None
    unit = "rows" if row["paged_by"] == "rows" else "keys"
    a, b = cells[small][unit], cells[large][unit]
    if a is not None and b is not None and a < b:
        return f"{a} vs {b} {unit}"
    return None


def _ms(cell: dict) -> str:
    if cell["ms"]:
        return f"{cell['ms']:.1f}" + (" (no link)" if cell["unlinked"] else "")
    return f"failed ({cell['failed']})"


def _rows(row: dict, small: str, large: str) -> str:
    """Rows per page at each size (the engine's where it was asked), and keys for a key-paged query."""
    cells = row.get("engine") or row["posgraph"]

    def shown(value: int | None) -> str:
        return "–" if value is None else str(value)

    rows = f"{shown(cells[small]['rows'])} / {shown(cells[large]['rows'])}"
    if row["paged_by"] == "rows":
        return rows
    return f"{shown(cells[small]['keys'])} / {shown(cells[large]['keys'])} keys ({rows} rows)"


def report(results: list[dict], sizes: list[int], deep_limit: int, deep_pages: int, samples: int) -> str:
    small, large = str(sizes[0]), str(sizes[-1])
    at_small, at_large = f"{int(small):,}", f"{int(large):,}"
    catalogs = list(dict.fromkeys(r["catalog"] for r in results))
    served = any("posgraph" in r for r in results)
    lines = [
        "# Saved queries at two store sizes, on the bare engine and through posgraph (issue #16)",
        "",
        f"Every saved query at {at_small} and {at_large} triples of the synthetic graph (bench.generate: 40 parties, "
        "6 issues, 30 positions a day from 2022): on the bare engine, bound as posgraph binds a page and posted to "
        "its /query"
        + (
            ", and through posgraph, `GET /queries/NAME?params` (SPARQL JSON results) on a `posgraph serve` in front "
            "of that same engine, its collections index current"
            if served
            else ""
        )
        + f"; every size and system asked in turn, interleaved; medians of up to {samples} requests after one "
        f"warm-up. `first`: the first page at the query's default limit; `first@{deep_limit}`: the first page at "
        f"{deep_limit} per page; `deep`: page {deep_pages} at {deep_limit} per page, through the cursor (posgraph's "
        "reached by following each page's Link rel=next, untimed; only the page itself is timed; `(no link)`: the "
        "answer ends before that page, which is then asked through the cursor posgraph would give, as on the "
        f"engine). `rows`: per page at {at_small} / at {at_large} (for a key-paged query its distinct keys, then "
        "its rows).",
        "",
        f"The target: no saved query slower than {TARGET:g}x its {at_small} time at {at_large} per returned page. "
        f"Where the {at_small} store has fewer rows than a page (the first page at the default limit, mostly), "
        f"the page at {at_large} holds more: a page over the target says so (`4 vs 200 keys`). "
        + (
            f"**It is judged on posgraph's ratio** (posgraph's ms at {at_large} over its ms at {at_small}: what a "
            "client gets); the engine's ratio beside it shows what the engine alone costs for the same page."
            if served
            else "Only the bare engine was measured here (--through engine): its ratio is shown."
        )
        + " `python -m bench.saved_queries`; absolute times vary between machines (this one: 2 cores shared with "
        "other work), the ratios are what to read.",
        "",
    ]
    wrong = [line for r in results for line in r.get("mismatches", [])]
    if wrong:
        lines += [
            f"## WARNING: {len(wrong)} page(s) through posgraph differ from the engine's: wrong, not slow, answers",
            "",
        ] + [f"- **WARNING — WRONG ANSWER?** {line}" for line in wrong]
        lines.append("")
    elif any("posgraph" in r and "engine" in r for r in results):
        lines += [
            "Every page through posgraph held the engine's rows for that page (the same number, and the same rows; "
            "distinct keys for key-paged queries).",
            "",
        ]
    for catalog in catalogs:
        rows = [r for r in results if r["catalog"] == catalog]
        systems = [s for s in SYSTEMS if any(s in r for r in rows)]
        judged = systems[-1]  # posgraph where it was measured
        header = ["query (parameters)", "page"]
        header += [f"{s} ms at {size}" for s in systems for size in (at_small, at_large)]
        header += ["rows", *(f"{s} ratio" for s in systems), f"{judged} within {TARGET:g}x"]
        lines += [f"## {catalog}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in rows:
            cells = [row["case"], row["page"]]
            for system in systems:
                cells += [_ms(row[system][small]), _ms(row[system][large])] if system in row else ["–", "–"]
            cells.append(_rows(row, small, large) + (" ⚠ **differs**" if row.get("mismatches") else ""))
            ratios = {s: _ratio(row, s, small, large) for s in systems}
            cells += [f"{ratios[s]:.1f}x" if ratios[s] else "–" for s in systems]
            verdict = ratios[judged]
            cells.append("–" if verdict is None else ("yes" if verdict <= TARGET else "**no**"))
            if verdict is not None and verdict > TARGET and _unequal(row, small, large):
                cells[-1] += f" ({_unequal(row, small, large)})"
            lines.append("| " + " | ".join(cells) + " |")
        judged_rows = [_ratio(r, judged, small, large) for r in rows]
        within = sum(1 for v in judged_rows if v is not None and v <= TARGET)
        lines += ["", f"{within} of {sum(v is not None for v in judged_rows)} pages within {TARGET:g}x ({judged}).", ""]
    if "before" in catalogs and len(catalogs) == 2 and any("engine" in r for r in results if r["catalog"] != "before"):
        before, after = catalogs
        lines += [
            f"## {before} against {after}, on the bare engine",
            "",
            f"| query (parameters) | page | {before} ms at {at_large} | {after} ms at {at_large} | "
            f"{before} ratio | {after} ratio |",
            "|---|---|---|---|---|---|",
        ]
        index = {(r["catalog"], r["case"], r["page"]): r for r in results}
        for row in (r for r in results if r["catalog"] == after and "engine" in r):
            old = index.get((before, row["case"], row["page"]))
            if old is None:
                continue
            ratios = [_ratio(old, "engine", small, large), _ratio(row, "engine", small, large)]
            lines.append(
                f"| {row['case']} | {row['page']} | {old['engine'][large]['ms'] or 0:.1f} | "
                f"{row['engine'][large]['ms'] or 0:.1f} | "
                + " | ".join(f"{r:.1f}x" if r else "–" for r in ratios)
                + " |"
            )
        lines.append("")
    lines.append(NOTES)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--deep-limit", type=int, default=10)
    parser.add_argument("--deep-pages", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument(
        "--through",
        choices=("engine", "posgraph", "both"),
        default="both",
        help="Measure the bare engine, posgraph (GET /queries/NAME), or both interleaved (the default)",
    )
    parser.add_argument("--before", type=Path, help="A directory of .rq files to measure as well (bare engine)")
    parser.add_argument("--only", default="", help="Only these saved queries (comma-separated names)")
    parser.add_argument("--cache", type=Path, default=DATA, help="Where to build a store bench/.data lacks")
    parser.add_argument("--scratch", type=Path, default=None, help="Where to copy the stores (default: a temp dir)")
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "saved-queries",
        help="Results path without suffix: PATH.md and PATH.json (default bench/results/saved-queries)",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    only = {n for n in args.only.split(",") if n}
    work = []
    if args.before:
        work += cases(Catalog.from_dir(args.before), "before", only)
    work += cases(Catalog.from_dir(PROJECT_FILES.queries_dir), "after" if args.before else "now", only)
    with served(sizes, args.cache, args.scratch, posgraph=args.through != "engine") as urls:
        results = measure(urls, work, args.through, args.samples, args.deep_limit, args.deep_pages, args.timeout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(results, indent=1))
    text = report(results, sizes, args.deep_limit, args.deep_pages, args.samples)
    Path(f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
