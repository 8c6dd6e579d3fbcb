"""Aggregates over the positions that saved queries stand on (``#+ facts:``), read from the collections' index.

Each fact means what a saved query's subquery means (the one between its ``#@facts`` lines), over the positions
the index holds (items typed with a subclass of pg:Position, their IRI parties and issues, their dates as written):

- ``in-force`` (asOf, party, issue, position, statedOn): per party and issue, the positions stated on the latest
  first day on or before the date (a month or year counting from its first day; a month or year as the date means
  its last day), and those dated to the day on the latest such day among day-dated ones. Filters: party, issue,
  date (required: the date is what the fact is about).
- ``in-force-cells`` (the same variables): what ``in-force`` gives, but over whatever the engine's pattern
  ``?p pg:heldBy ?party ; pg:concerns ?issue ; pg:statedOn ?on`` binds, typed or not (gap-matrix's subquery);
  without a date, as of the latest first day any position was stated on (its first ten characters). The index
  holds only typed positions with IRI parties and issues, so it answers only while every subject of a
  ``pg:statedOn`` is a position it holds (which the engine's count of them says: EVERY_DATE_HELD) and no position
  has a party or an issue that is not an IRI; else Unanswerable, and the engine works it out. Filters: party, issue,
  date.
- ``last-moved`` (issue, lastMoved, lastDay): per issue, the greatest date as written and the greatest last day a
  position's date covers; with a party, over that party's positions only. Filter: party.
- ``issue-counts`` (issue, counted): per issue, how many positions concern it.
- ``party-demands`` (issue, demand): the first ``first`` (issue, demand) pairs of a party's demands (pg:Demand)
  with a date, in the order of their first row in ``demands-by-issue`` (the issue's English label as a string, none
  first; the earliest date as written; the demand's IRI; the issue's): a prefix of the pairs that holds every pair
  of the first ``first`` rows of that query, whatever their other rows. Filters: party and first (both required).
  Unanswerable when one of those issues is not an issue the index knows (its labels are then unknown here).
  Unlike the others it reads each of the party's dated positions in the index (a scan of its cells, ~2,000 at 1M:
  milliseconds), where the engine would read and sort every demand with its label, date and summary.
- ``conditioned-positions`` (party, position): the first ``first`` (party, position) pairs, in the order of their
  IRIs, of the positions with a condition (having a type and something it requires) on themselves or on one of
  their terms (the index's ``conditioned`` rows): a prefix of the pairs that holds every pair of the first ``first``
  rows of ``conditional-positions``. Filters: first (required) and party. A walk along the party memberships in
  IRI order, skipping the positions without a condition (about nine in ten in the synthetic graph).

Every figure is a few seeks in B-trees ordered for it, per party and issue (a skip from one party or issue to the
next): the cost follows the parties and issues there are, not the positions, where the engine reads every position
of each party and issue to find a maximum. The greatest date is a seek; the greatest first or last day is that of
the greatest date or of its year or month as a date of their own (``_extremes``), so it is a seek too.
"""

from __future__ import annotations

import sqlite3
from typing import Callable, Iterator, Mapping, Sequence

import rdflib

from posgraph.linked_data.collection import first_day, last_day
from posgraph.namespaces import PG

__all__ = ["FACTS", "EVERY_DATE_HELD", "CELL_SCHEMA", "CELL_INDEXES", "CELLS_FROM", "Unanswerable", "fact_rows"]

# One row per position, date, party and issue of the positions that have all three (what the engine's pattern
# ``?p pg:heldBy ?party ; pg:concerns ?issue ; pg:statedOn ?on`` binds), made from the index's rows and memberships.
CELL_SCHEMA = """
CREATE TABLE cell (
  party TEXT NOT NULL, issue TEXT NOT NULL, day INTEGER NOT NULL, dfirst TEXT NOT NULL, date TEXT NOT NULL,
  date_dt TEXT, item TEXT NOT NULL
);
"""
CELL_INDEXES = """
CREATE INDEX cell_first ON cell (party, issue, day, dfirst, item);
CREATE INDEX cell_date ON cell (party, issue, date);
CREATE INDEX cell_item ON cell (item);
"""
# The cells of the position rows numbered from ? on (their memberships inserted already).
CELLS_FROM = """
INSERT INTO cell SELECT DISTINCT p.value, i.value, length(r.date) >= 10, r.dfirst, r.date, r.date_dt, r.item
FROM row r JOIN member p ON p.rid = r.rid AND p.kind = 'party' JOIN member i ON i.rid = r.rid AND i.kind = 'issue'
WHERE r.coll = 'positions' AND r.date IS NOT NULL AND r.rid >= ?
"""

Row = tuple[rdflib.term.Node | None, ...]
Combination = Mapping[str, rdflib.term.Node]


class Unanswerable(Exception):
    """The index lacks something a fact needs (the engine works it out instead)."""


def _extremes(greatest: str, exists: Callable[[str], bool], day: Callable[[str], str]) -> str:
    """The greatest ``day(d)`` over a set of dates whose greatest (as a string) is ``greatest``: ``day`` appends to
    a year or a month and keeps anything else, so a smaller date can beat the greatest only when it is a
    prefix of it, its year or its month (``exists`` says whether the set holds one)."""
    candidates = [greatest] + [greatest[:n] for n in (4, 7) if len(greatest) > n and exists(greatest[:n])]
    return max(day(d) for d in candidates)


def _skip(db: sqlite3.Connection, sql: str, args: Sequence) -> Iterator[str]:
    """Each distinct value of an index's leading column(s), one seek each: ``sql`` selects the least value
    greater than its last argument."""
    value = ""
    while True:
        found = db.execute(sql, (*args, value)).fetchone()[0]
        if found is None:
            return
        yield found
        value = found


def _parties(db: sqlite3.Connection, party: str | None) -> Iterator[str]:
    if party is not None:
        yield party
    else:
        yield from _skip(db, "SELECT min(party) FROM cell WHERE party > ?", ())


def _cells(db: sqlite3.Connection, party: str | None, issue: str | None) -> Iterator[tuple[str, str]]:
    """The (party, issue) pairs that have positions, restricted to ``party`` and ``issue`` when given."""
    for p in _parties(db, party):
        if issue is not None:
            if db.execute("SELECT 1 FROM cell WHERE party = ? AND issue = ? LIMIT 1", (p, issue)).fetchone():
                yield p, issue
        else:
            for i in _skip(db, "SELECT min(issue) FROM cell WHERE party = ? AND issue > ?", (p,)):
                yield p, i


def _date(value: str, datatype: str | None) -> rdflib.Literal:
    return rdflib.Literal(value, datatype=rdflib.URIRef(datatype) if datatype else None)


def _in_force(db: sqlite3.Connection, combination: Combination) -> Iterator[Row]:
    as_of = last_day(str(combination["date"]))
    party, issue = (str(combination[k]) if k in combination else None for k in ("party", "issue"))
    latest_sql = "SELECT max(dfirst) FROM cell WHERE party = ? AND issue = ? AND day = ? AND dfirst <= ?"
    for p, i in _cells(db, party, issue):
        undated, dated = (db.execute(latest_sql, (p, i, day, as_of)).fetchone()[0] for day in (0, 1))
        latest = max((d for d in (undated, dated) if d is not None), default=None)
        if latest is None:
            continue
        # Stated on the latest first day; or dated to the day, on the latest day among those dated to the day.
        found = db.execute(
            "SELECT item, date, date_dt FROM cell WHERE party = ? AND issue = ? AND "
            "((day = 0 AND dfirst = ?) OR (day = 1 AND dfirst IN (?, ?)))",
            (p, i, latest, latest, dated if dated is not None else latest),
        )
        for item, value, datatype in found:
            yield (
                rdflib.Literal(as_of),
                rdflib.URIRef(p),
                rdflib.URIRef(i),
                rdflib.URIRef(item),
                _date(value, datatype),
            )


def _in_force_cells(db: sqlite3.Connection, combination: Combination) -> Iterator[Row]:
    if db.execute("SELECT 1 FROM row WHERE odd = 1 LIMIT 1").fetchone():  # only positions' rows are odd
        raise Unanswerable("a position's party or issue is not an IRI")
    if "date" not in combination:
        # The latest first day any position was stated on, its first ten characters (as the engine's SUBSTR of it;
        # the first ten characters of the greatest first day are the greatest first ten characters).
        greatest = db.execute("SELECT max(dkey) FROM row WHERE coll = 'positions'").fetchone()[0]
        if not greatest:
            return

        def exists(d: str) -> bool:
            sql = "SELECT 1 FROM row WHERE coll = 'positions' AND dkey = ? LIMIT 1"
            return db.execute(sql, (d,)).fetchone() is not None

        latest = _extremes(greatest, exists, first_day)[:10]
        combination = {**combination, "date": rdflib.Literal(latest)}
    yield from _in_force(db, combination)


def _issues(db: sqlite3.Connection) -> Iterator[str]:
    """The issues positions concern (IRIs), one seek each."""
    yield from _skip(db, "SELECT min(value) FROM member WHERE coll = 'positions' AND kind = 'issue' AND value > ?", ())


def _last_moved(db: sqlite3.Connection, combination: Combination) -> Iterator[Row]:
    party = str(combination["party"]) if "party" in combination else None
    if party is None:
        issues = _issues(db)
        greatest_sql = (
            "SELECT m.dkey FROM member m JOIN row r ON r.rid = m.rid WHERE m.coll = 'positions' AND m.kind = 'issue' "
            "AND m.value = ? AND r.date IS NOT NULL ORDER BY m.dkey DESC LIMIT 1"
        )
        exists_sql = (
            "SELECT 1 FROM member m JOIN row r ON r.rid = m.rid WHERE m.coll = 'positions' AND m.kind = 'issue' "
            "AND m.value = ? AND m.dkey = ? AND r.date IS NOT NULL LIMIT 1"
        )
        args: tuple = ()
    else:
        issues = _skip(db, "SELECT min(issue) FROM cell WHERE party = ? AND issue > ?", (party,))
        greatest_sql = "SELECT date FROM cell WHERE party = ? AND issue = ? ORDER BY date DESC LIMIT 1"
        exists_sql = "SELECT 1 FROM cell WHERE party = ? AND issue = ? AND date = ? LIMIT 1"
        args = (party,)
    for issue in list(issues):
        row = db.execute(greatest_sql, (*args, issue)).fetchone()
        if row is None:
            continue
        greatest = row[0]

        def exists(d: str, issue: str = issue) -> bool:
            return db.execute(exists_sql, (*args, issue, d)).fetchone() is not None

        yield rdflib.URIRef(issue), rdflib.Literal(greatest), rdflib.Literal(_extremes(greatest, exists, last_day))


def _issue_counts(db: sqlite3.Connection, combination: Combination) -> Iterator[Row]:
    sql = "SELECT count(DISTINCT item) FROM member WHERE coll = 'positions' AND kind = 'issue' AND value = ?"
    for issue in list(_issues(db)):
        yield rdflib.URIRef(issue), rdflib.Literal(db.execute(sql, (issue,)).fetchone()[0])


def _party_demands(db: sqlite3.Connection, combination: Combination) -> Iterator[Row]:
    party, first = str(combination["party"]), int(combination["first"])
    pairs = db.execute(
        "SELECT c.issue, c.item, min(c.date) FROM cell c WHERE c.party = ? AND EXISTS (SELECT 1 FROM row r "
        "WHERE r.coll = 'positions' AND r.item = c.item AND r.type = ?) GROUP BY c.issue, c.item",
        (party, str(PG.Demand)),
    ).fetchall()
    # The issue's sort key as the query's ORDER BY STR(?issueLabel) makes it: unbound (no English label) first,
    # then its least English label (an issue with two has a row for each; its first row has the least).
    english: dict[str, list[str]] = {}
    for issue, label, lang in db.execute(
        "SELECT item, label, label_lang FROM row WHERE coll = 'issues' AND item IN (SELECT issue FROM cell "
        "WHERE party = ?)",
        (party,),
    ):
        english.setdefault(issue, []).extend([label] if lang == "en" and label is not None else [])
    label_key: dict[str, str] = {}
    for issue in {issue for issue, _, _ in pairs}:
        if issue not in english:
            raise Unanswerable(f"{issue} is not an issue the index holds")
        label_key[issue] = "1" + min(english[issue]) if english[issue] else "0"
    pairs.sort(key=lambda p: (label_key[p[0]], p[2], p[1], p[0]))
    for issue, item, _ in pairs[:first]:
        yield rdflib.URIRef(issue), rdflib.URIRef(item)


def _conditioned_positions(db: sqlite3.Connection, combination: Combination) -> Iterator[Row]:
    party, first = combination.get("party"), int(combination["first"])
    where, args = ("AND m.value = ? ", [str(party)]) if party is not None else ("", [])
    found = db.execute(
        "SELECT DISTINCT m.value, m.item FROM member m JOIN row r ON r.rid = m.rid WHERE m.coll = 'positions' "
        f"AND m.kind = 'party' {where}AND r.conditioned = 1 ORDER BY m.value, m.item LIMIT ?",
        (*args, first),
    )
    for value, item in found:
        yield rdflib.URIRef(value), rdflib.URIRef(item)


# By name: the variables a fact's rows bind (in order), its filters, and how its rows are read for one combination
# of filter values.
Reading = Callable[[sqlite3.Connection, Combination], Iterator[Row]]
FACTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], Reading]] = {
    "in-force": (("asOf", "party", "issue", "position", "statedOn"), ("party", "issue", "date"), _in_force),
    "in-force-cells": (("asOf", "party", "issue", "position", "statedOn"), ("party", "issue", "date"), _in_force_cells),
    "last-moved": (("issue", "lastMoved", "lastDay"), ("party",), _last_moved),
    "issue-counts": (("issue", "counted"), (), _issue_counts),
    "party-demands": (("issue", "demand"), ("party", "first"), _party_demands),
    "conditioned-positions": (("party", "position"), ("party", "first"), _conditioned_positions),
}

# The facts the index answers only while every pg:statedOn triple in the engine is one of a position it holds
# (CollectionIndex asks the engine to count them, once per version): those that mean what the engine's untyped
# pattern binds.
EVERY_DATE_HELD = frozenset({"in-force-cells"})


def fact_rows(db: sqlite3.Connection, fact: str, combinations: Sequence[Combination]) -> list[Row]:
    """The distinct rows of ``fact`` for any of ``combinations`` (filter values by name), in a stable order.
    Raises KeyError for an unknown fact or filter, or a required filter left out; Unanswerable when the index
    lacks what the fact needs."""
    variables, filters, rows_of = FACTS[fact]
    out: dict[Row, None] = {}
    for combination in combinations:
        unknown = set(combination) - set(filters)
        if unknown:
            raise KeyError(f"fact {fact!r} has no filter {sorted(unknown)[0]!r}")
        out.update(dict.fromkeys(rows_of(db, combination)))
    return list(out)
