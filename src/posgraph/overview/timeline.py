"""The timeline: one lane per issue, one mark per position (colour by party, shape by kind), each mark spanning
the period its date really names (a month is a month, not its first day), supersession links, events as rules,
and which marks are in force on an "as of" date."""

from __future__ import annotations

import calendar
import itertools
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Mapping, Sequence

import rdflib

from posgraph import research
from posgraph.catalog import Catalog, Param
from posgraph.engine import Engine
from posgraph.linked_data import collection_page
from posgraph.linked_data.collection import index_facts, index_keys

__all__ = [
    "PAGE",
    "TIMELINE_PAGE",
    "Filters",
    "Mark",
    "Link",
    "EventRule",
    "Lane",
    "Timeline",
    "period",
    "build_timeline",
    "load_timeline",
    "select",
    "select_pages",
]

Row = Mapping[str, rdflib.term.Node]
_PRECISIONS = {4: "year", 7: "month", 10: "day"}
PAGE = 500  # positions a timeline shows: its most recent ones
# What the timeline page asks of the saved query besides its filters (its data link asks the same).
TIMELINE_PAGE = {"order": "newest"}


@dataclass(frozen=True)
class Filters:
    """What a timeline or gap matrix shows: parties and issues (IRIs; none: all), a period and an "as of" date
    (each a date as given: YYYY, YYYY-MM or YYYY-MM-DD; empty: none)."""

    parties: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    start: str = ""
    end: str = ""
    as_of: str = ""

    @classmethod
    def parse(
        cls,
        parties: Sequence[str] = (),
        issues: Sequence[str] = (),
        start: str = "",
        end: str = "",
        as_of: str = "",
    ) -> "Filters":
        """Check and normalise raw values (prefixed names become IRIs); raises InvalidParameter naming the
        parameter (``party``, ``issue``, ``from``, ``to``, ``as_of``)."""
        party = Param("party", "iri", False)
        issue = Param("issue", "iri", False)
        return cls(
            tuple(dict.fromkeys(str(party.to_term(p)) for p in parties if p.strip())),
            tuple(dict.fromkeys(str(issue.to_term(i)) for i in issues if i.strip())),
            *(
                str(Param(name, "date", False).to_term(v)) if v.strip() else ""
                for name, v in (("from", start), ("to", end), ("as_of", as_of))
            ),
        )


@dataclass(frozen=True)
class Mark:
    """One position on one issue's lane: its period (first and last day, inclusive) as its date's precision
    allows, and whether it is in force on the timeline's "as of" date (None when no date was asked)."""

    position: str
    party: str
    party_label: str
    issue: str
    kind: str
    kind_label: str
    stated: str
    precision: str
    first: str
    last: str
    summary: str
    supersedes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    in_force: bool | None = None


@dataclass(frozen=True)
class Link:
    """A supersession on one lane: ``newer`` supersedes ``older`` (both position IRIs)."""

    issue: str
    newer: str
    older: str


@dataclass(frozen=True)
class EventRule:
    """An event drawn as a vertical rule (a span when its dates name more than a day)."""

    event: str
    label: str
    stated: str
    first: str
    last: str
    round: bool


@dataclass(frozen=True)
class Lane:
    issue: str
    label: str
    marks: tuple[Mark, ...]


@dataclass(frozen=True)
class Timeline:
    """The view model of a timeline: lanes (issues, by label), parties (IRI, label) in order of first appearance,
    supersession links, events, the "as of" date, and whether the page of positions was full (``truncated``: the
    most recent positions are shown, and earlier ones may be left out)."""

    lanes: tuple[Lane, ...]
    parties: tuple[tuple[str, str], ...]
    links: tuple[Link, ...]
    events: tuple[EventRule, ...]
    as_of: str = ""
    truncated: bool = False
    sources: tuple[str, ...] = field(default=())

    @property
    def marks(self) -> tuple[Mark, ...]:
        """Every mark, oldest first (then by position, party and issue)."""
        return tuple(sorted((m for lane in self.lanes for m in lane.marks), key=_mark_order))


def _mark_order(m: Mark) -> tuple:
    return (m.first, m.last, m.position, m.party, m.issue)


def period(stated: str) -> tuple[str, str, str]:
    """Return (first day, last day, precision) of a date as stated: "2025-07" → ("2025-07-01", "2025-07-31",
    "month"); a year spans the year, a day (or a date-time) is its day. Raises ValueError for anything else."""
    text = stated.strip()
    head = text[:10]
    precision = _PRECISIONS.get(len(text)) or ("day" if len(text) > 10 and text[10] == "T" else None)
    if precision is None:
        raise ValueError(f"{stated!r} is not a date")
    if precision == "year":
        year = int(head)
        return f"{year:04d}-01-01", f"{year:04d}-12-31", precision
    if precision == "month":
        year, month = int(head[:4]), int(head[5:7])
        last = calendar.monthrange(year, month)[1]
        return f"{head}-01", f"{head}-{last:02d}", precision
    date.fromisoformat(head)
    return head, head, precision


def _text(row: Row, name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def _local(iri: str) -> str:
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1] or iri


def build_timeline(
    rows: Sequence[Row],
    event_rows: Sequence[Row] = (),
    *,
    in_force: set[str] | None = None,
    as_of: str = "",
    truncated: bool = False,
) -> Timeline:
    """Return the timeline of the ``timeline`` saved query's rows and the ``timeline-events`` rows; ``in_force``
    (position IRIs in force on ``as_of``, from state-of-play) marks each mark in force or not. Rows with a date
    that is not a date are left out."""
    marks: dict[tuple[str, str, str], dict] = {}
    labels: dict[str, str] = {}
    parties: dict[str, str] = {}
    for row in rows:
        position, party, issue = _text(row, "position"), _text(row, "party"), _text(row, "issue")
        try:
            first, last, precision = period(_text(row, "statedOn"))
        except ValueError:
            continue
        labels.setdefault(issue, _text(row, "issueLabel") or _local(issue))
        parties.setdefault(party, _text(row, "partyLabel") or _local(party))
        key = (position, party, issue)
        found = marks.get(key)
        if found is None:
            found = marks[key] = dict(
                position=position,
                party=party,
                party_label=parties[party],
                issue=issue,
                kind=_text(row, "class"),
                kind_label=_text(row, "kind") or _local(_text(row, "class")),
                stated=_text(row, "statedOn"),
                precision=precision,
                first=first,
                last=last,
                summary=_text(row, "summary"),
                supersedes=[],
                sources=[],
                in_force=None if in_force is None else position in in_force,
            )
        older = _text(row, "supersedes")
        if older and older not in found["supersedes"]:
            found["supersedes"].append(older)
        for source in _text(row, "sources").split():
            if source not in found["sources"]:
                found["sources"].append(source)
    built = [
        Mark(**(m | {"supersedes": tuple(m["supersedes"]), "sources": tuple(m["sources"])})) for m in marks.values()
    ]
    lanes = tuple(
        Lane(issue, labels[issue], tuple(sorted((m for m in built if m.issue == issue), key=_mark_order)))
        for issue in sorted(labels, key=lambda i: (labels[i].casefold(), i))
    )
    on_lane = {(m.issue, m.position) for m in built}
    # Only links whose both ends are drawn: a superseded position outside the filters has no mark to point at.
    links = tuple(
        dict.fromkeys(
            Link(m.issue, m.position, older)
            for m in built
            for older in m.supersedes
            if (m.issue, older) in on_lane and older != m.position
        )
    )
    events = []
    for row in event_rows:
        try:
            first, _, _ = period(_text(row, "startDate"))
            _, last, _ = period(_text(row, "endDate") or _text(row, "startDate"))
        except ValueError:
            continue
        event = _text(row, "event")
        events.append(
            EventRule(
                event,
                _text(row, "label") or _local(event),
                _text(row, "startDate"),
                first,
                last,
                _text(row, "round") in ("true", "1"),
            )
        )
    unique_events = tuple(dict((e.event, e) for e in sorted(events, key=lambda e: (e.first, e.event))).values())
    sources = tuple(sorted({s for m in built for s in m.sources}))
    return Timeline(lanes, tuple(parties.items()), links, unique_events, as_of, truncated, sources)


async def select(engine: Engine, catalog: Catalog, name: str, params: Mapping, timeout: float | None) -> list[Row]:
    """The rows of saved query ``name`` bound with ``params`` (its page they ask for), a keyed query's keys and an
    aggregate's rows read from the collections' index while it holds the current data (as /queries/{name} reads
    them): the pages cost what the researchers' saved queries cost. Raises InvalidParameter, or what the engine
    raises."""
    return await research.select_saved(
        engine,
        catalog,
        name,
        params,
        timeout=timeout,
        key_pages=partial(index_keys, engine),
        facts=partial(index_facts, engine),
    )


async def select_pages(
    engine: Engine,
    catalog: Catalog,
    name: str,
    params: Mapping,
    timeout: float | None,
    *,
    size: int | None = None,
    pages: int | None = None,
) -> list[Row]:
    """Every row of saved query ``name`` bound with ``params``, read as ``select`` reads a page, ``size`` rows (or
    keys) a page (none: the query's largest page, the fewest requests), until a page comes back short or after
    ``pages`` pages (none: no bound). Raises as ``select``."""
    size = size or catalog.get(name).paging.maximum
    found: list[Row] = []
    for n in itertools.count() if pages is None else range(pages):
        rows = await select(engine, catalog, name, params | {"limit": str(size), "offset": str(n * size)}, timeout)
        found += rows
        if len(rows) < size:
            break
    return found


async def load_timeline(
    engine: Engine, catalog: Catalog, filters: Filters, *, limit: int = PAGE, timeout: float | None = None
) -> Timeline:
    """Run the ``timeline`` saved query for its newest page of ``limit`` positions, ``timeline-events``, and
    ``state-of-play`` for what is in force on ``filters.as_of`` (see in_force_on); return the timeline
    (``truncated``: the page was full, so there may be earlier positions). Raises InvalidParameter, or what the
    engine raises."""
    params = {"party": list(filters.parties), "issue": list(filters.issues), "from": filters.start, "to": filters.end}
    # The most recent positions: what a reader opening the timeline looks for first, and a bounded amount of work
    # however large the store (the oldest-first page would be the same work, and show the start of the record).
    rows = await select(engine, catalog, "timeline", params | TIMELINE_PAGE | {"limit": str(limit)}, timeout)
    event_params = {"party": list(filters.parties), "from": filters.start, "to": filters.end, "limit": "1000"}
    events = await select(engine, catalog, "timeline-events", event_params, timeout)
    in_force = await in_force_on(engine, catalog, filters, timeout) if filters.as_of else None
    truncated = len({str(r["position"]) for r in rows}) >= limit
    return build_timeline(rows, events, in_force=in_force, as_of=filters.as_of, truncated=truncated)


async def in_force_on(
    engine: Engine, catalog: Catalog, filters: Filters, timeout: float | None = None, *, page: int | None = None
) -> set[str]:
    """The positions in force on ``filters.as_of``, as the state-of-play saved query gives them (its positions in
    force per party and issue read from the collections' index while that holds the current data: tens of ms at
    1M triples, where working them out in the engine takes seconds), of the one party and the one issue the
    filters name, if they name one; else of every party or issue (the timeline shows only its own marks). Every
    page of the answer, ``page`` rows at a time (none: the query's largest page, the fewest requests). Raises
    InvalidParameter, or what the engine raises."""
    params = {"date": filters.as_of}
    if len(filters.parties) == 1:
        params["party"] = filters.parties[0]
    if len(filters.issues) == 1:
        params["issue"] = filters.issues[0]
    rows = await select_pages(engine, catalog, "state-of-play", params, timeout, size=page)
    return {str(r["position"]) for r in rows}


async def load_choices(
    engine: Engine, catalog: Catalog, *, limit: int = 500, timeout: float | None = None
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Return the parties and the issues a filter form offers, each (IRI, English label) sorted by label: the
    parties collection (its first ``limit``) and the issues saved query. Raises what the engine raises."""
    page = await collection_page(engine, "parties", {}, sort="label", limit=limit)
    parties = tuple((item["id"], (item.get("prefLabel") or {}).get("en") or _local(item["id"])) for item in page.items)
    rows = await select(engine, catalog, "issues", {}, timeout)
    issues = {_text(r, "issue"): _text(r, "label") or _local(_text(r, "issue")) for r in rows}
    return parties, tuple(sorted(issues.items(), key=lambda kv: (kv[1].casefold(), kv[0])))
