"""The gap matrix: parties × issues as of a date. Each cell is a party's positions in force on the issue (from the
gap-matrix saved query, which shares state-of-play's rules); each issue's relation between the parties comes from
meet-or-collide over the pairs of positions in force, with the gap between comparable figures."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Mapping, Sequence

import rdflib

from posgraph.catalog import Catalog
from posgraph.engine import Engine
from posgraph.errors import InvalidParameter
from posgraph.overview.timeline import Filters, period, select, select_pages

__all__ = ["RELATIONS", "CellPosition", "Cell", "Gap", "GapRow", "GapMatrix", "relation_of", "build_gaps", "load_gaps"]

Row = Mapping[str, rdflib.term.Node]
# Strongest first: an issue where any pair collides is a collision, however much else they agree on there.
RELATIONS = ("collide", "partly", "meet", "open", "no-position")
_RELATION_OF = {
    "agreed": "meet",
    "accepts": "meet",
    "accepts-in-principle": "partly",
    "accepts-in-part": "partly",
    "conflicts": "collide",
    "rejects": "collide",
}
MAX_PARTIES = 8
# How many positions in force meet-or-collide is asked about at once (the catalog's limits on values).
_MAX_VALUES = 50
_MAX_PAIRS = 500
_WORDS = 12


@dataclass(frozen=True)
class CellPosition:
    """A position in a cell: its IRI, kind, date as stated and its summary cut to a few words."""

    position: str
    kind: str
    stated: str
    words: str
    summary: str


@dataclass(frozen=True)
class Cell:
    party: str
    positions: tuple[CellPosition, ...]


@dataclass(frozen=True)
class Gap:
    """The gap between two comparable figures: B's lowest minus A's highest (as meet-or-collide reports it)."""

    party_a: str
    party_b: str
    kind: str
    unit: str
    value_a: str
    value_b: str
    gap: str


@dataclass(frozen=True)
class GapRow:
    """One issue: its relation between the parties, the raw relations of the pairs behind it, and the cells."""

    issue: str
    label: str
    relation: str
    relations: tuple[str, ...]
    cells: tuple[Cell, ...]
    gaps: tuple[Gap, ...]


@dataclass(frozen=True)
class GapMatrix:
    """Parties (IRI, label) × issues as of ``as_of`` (a date as the query used it: YYYY-MM-DD), with the sources
    behind the cells."""

    parties: tuple[tuple[str, str], ...]
    as_of: str
    rows: tuple[GapRow, ...]
    sources: tuple[str, ...] = ()


def _text(row: Row, name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def _local(iri: str) -> str:
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1] or iri


def _few_words(text: str, n: int = _WORDS) -> str:
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


def relation_of(relations: Sequence[str]) -> str:
    """The matrix's relation for an issue from meet-or-collide's relations of its pairs in force: the strongest of
    collide, partly, meet; "open" when no pair's relation says more than that they face each other."""
    found = {_RELATION_OF.get(r, "open") for r in relations} or {"open"}
    return next(r for r in RELATIONS if r in found)


# The default columns: the parties of the most recent positions on or before the date, from the newest page of the
# timeline query (a sort of the store's dates). Ranking parties by positions in force would run state-of-play over
# every party first (seconds at 1M triples).
_RECENT = 50


async def default_parties(
    engine: Engine, catalog: Catalog, as_of: str = "", n: int = 2, *, timeout: float | None = None
) -> tuple[tuple[str, ...], str]:
    """The ``n`` parties that stated positions most recently on or before ``as_of`` (none: ever), in IRI order so
    that the columns do not swap places, and the first day of the most recent position (or ""). Raises what the
    engine raises."""
    rows = await select(engine, catalog, "timeline", {"order": "newest", "to": as_of, "limit": str(_RECENT)}, timeout)
    dated = [(period(_text(r, "statedOn"))[0], _text(r, "position"), _text(r, "party")) for r in rows if _dated(r)]
    # Newest first, ties by IRI (two stable sorts): within a day the page's own order is the engine's.
    dated.sort(key=lambda d: d[1])
    dated.sort(key=lambda d: d[0], reverse=True)
    chosen: list[str] = []
    for _, _, party in dated:
        if party not in chosen and len(chosen) < n:
            chosen.append(party)
    return tuple(sorted(chosen)), dated[0][0] if dated else ""


def _dated(row: Row) -> bool:
    try:
        period(_text(row, "statedOn"))
    except ValueError:
        return False
    return True


def build_gaps(
    parties: Sequence[str], rows: Sequence[Row], pairs: Mapping[tuple[str, str], Sequence[Row]], as_of: str = ""
) -> GapMatrix:
    """Return the matrix for ``parties`` from the gap-matrix rows (positions in force) and the meet-or-collide rows
    of each pair of parties (keyed (a, b) as asked). Issues none of the parties holds a position on are left out."""
    held: dict[tuple[str, str], dict[str, CellPosition]] = {}
    labels: dict[str, str] = {}
    party_labels: dict[str, str] = {p: _local(p) for p in parties}
    sources: set[str] = set()
    for row in rows:
        party, issue = _text(row, "party"), _text(row, "issue")
        if party not in party_labels:
            continue
        as_of = as_of or _text(row, "asOf")
        party_labels[party] = _text(row, "partyLabel") or party_labels[party]
        labels.setdefault(issue, _text(row, "issueLabel") or _local(issue))
        summary = _text(row, "summary")
        position = _text(row, "position")
        held.setdefault((party, issue), {})[position] = CellPosition(
            position, _text(row, "kind"), _text(row, "statedOn"), _few_words(summary), summary
        )
        sources.update(_text(row, "sources").split())
    matrix_rows = []
    for issue in sorted(labels, key=lambda i: (labels[i].casefold(), i)):
        cells = tuple(
            Cell(
                p, tuple(sorted(held.get((p, issue), {}).values(), key=lambda c: (c.stated, c.position), reverse=True))
            )
            for p in parties
        )
        relations: list[str] = []
        gaps: list[Gap] = []
        if all(c.positions for c in cells):
            for (a, b), found in pairs.items():
                in_force_a = held.get((a, issue), {})
                in_force_b = held.get((b, issue), {})
                for row in found:
                    if _text(row, "issue") != issue:
                        continue
                    if _text(row, "positionA") not in in_force_a or _text(row, "positionB") not in in_force_b:
                        continue
                    relations.append(_text(row, "relation"))
                    if "gap" in row:
                        gaps.append(
                            Gap(
                                a,
                                b,
                                _local(_text(row, "kind")),
                                _local(_text(row, "unit")) if "unit" in row else "",
                                _text(row, "valueA"),
                                _text(row, "valueB"),
                                _text(row, "gap"),
                            )
                        )
            relation = relation_of(relations)
        else:
            relation = "no-position"
        matrix_rows.append(
            GapRow(issue, labels[issue], relation, tuple(dict.fromkeys(relations)), cells, tuple(dict.fromkeys(gaps)))
        )
    return GapMatrix(tuple((p, party_labels[p]) for p in parties), as_of, tuple(matrix_rows), tuple(sorted(sources)))


def _in_force_params(catalog: Catalog, a: list[str], b: list[str]) -> dict:
    """meet-or-collide's parameters naming the two parties' positions in force (only those pairs are shown), when
    the query takes them and the pairs fit in one request; otherwise none (every pair is asked, then sifted)."""
    takes = {p.name for p in catalog.get("meet-or-collide").params}
    if not {"position_a", "position_b"} <= takes or not a or not b:
        return {}
    if max(len(a), len(b)) > _MAX_VALUES or len(a) * len(b) > _MAX_PAIRS:
        return {}
    return {"position_a": a, "position_b": b}


async def load_gaps(engine: Engine, catalog: Catalog, filters: Filters, *, timeout: float | None = None) -> GapMatrix:
    """Return the gap matrix of ``filters.parties`` (at least two; none: the two that stated positions most
    recently on or before the date) on ``filters.as_of`` (none: the latest day a position was stated), over
    ``filters.issues`` (none: all).

    Raises InvalidParameter (``party``: one party, or more than MAX_PARTIES), or what the engine raises."""
    parties = filters.parties
    if len(parties) == 1:
        raise InvalidParameter("party", "give at least two parties to compare (or none: the two most recently active)")
    if len(parties) > MAX_PARTIES:
        raise InvalidParameter("party", f"give at most {MAX_PARTIES} parties")
    date = filters.as_of
    if not parties:
        parties, latest = await default_parties(engine, catalog, filters.as_of, timeout=timeout)
        # Without a date, gap-matrix's date is the latest first day of any position: the newest page just gave it.
        date = date or latest
    params = {"date": date, "party": list(parties), "issue": list(filters.issues)}
    rows = await select(engine, catalog, "gap-matrix", params, timeout) if parties else []
    in_force: dict[str, list[str]] = {}
    for row in rows:
        in_force.setdefault(_text(row, "party"), []).append(_text(row, "position"))
    pairs = list(itertools.combinations(parties, 2))
    issue = filters.issues[0] if len(filters.issues) == 1 else ""
    answers = await asyncio.gather(
        *(
            # Every pair of positions of the two, at most five of meet-or-collide's largest pages.
            select_pages(
                engine,
                catalog,
                "meet-or-collide",
                {"a": a, "b": b, "issue": issue} | _in_force_params(catalog, in_force.get(a, []), in_force.get(b, [])),
                timeout,
                pages=5,
            )
            for a, b in pairs
            # A pair with no position in force for one side has no relation to show.
            if in_force.get(a) and in_force.get(b)
        )
    )
    asked = [(a, b) for a, b in pairs if in_force.get(a) and in_force.get(b)]
    as_of = next((_text(r, "asOf") for r in rows), "") or filters.as_of
    return build_gaps(parties, rows, dict(zip(asked, answers, strict=True)), as_of)
