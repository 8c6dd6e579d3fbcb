"""A derived index of the collections in SQLite (which Python ships): one row per item (and per sort key, as the
engine would list it), a B-tree per collection and sort, so that a page is an index seek plus LIMIT whatever the
store's size and the page's depth. The positions are also kept per party and issue ("cells", ordered by first day
and by date), from which the aggregates saved queries stand on are read (posgraph.linked_data.aggregates).

It is derived, never authoritative. It is built from the engine when the app starts (in the background) and kept
at the dataset's version (``dataset_version``: every write path records a change). When the version moves, the
change feed says what changed since the version the index holds: a batch loaded or accepted (its graph, and the
ledger graphs of its amendments), or reverted (what the index read of that batch when it was published). Only the
items those triples describe, and the items whose rows depend on them (a position superseded by one whose date
changed, a person holding a role whose party changed, a position one of whose terms gained or lost a condition),
are read again, and the index moves to the new version in one SQLite transaction. When the feed cannot say (a
direct SPARQL update or Graph Store write, an ontology load or migration, a bulk load, a batch reverted that this
index never saw published, too many items, a version the feed does not reach, a change recorded out of order), it
is built again whole.

A page is answered from it only when it holds the version the engine holds at that moment (checked under the
lock that the move to a new version takes); otherwise the engine answers (``collection.sparql_collection_page``,
the reference the index must agree with) while the index catches up. So no page ever disagrees with the engine,
only some pages are slower just after a write.

Each worker process keeps its own index, in a private file (a SQLite database that is never synced to disk: it
is rebuilt on every start anyway): a private one needs no locking between processes, nor a leader to build it, and
cannot be read half-written by another process; on disk, it costs the process a small page cache, not its size in
memory (about 190 MB at a million triples), and it is built one collection at a time, so that only one
collection's rows are held in Python at once. Files a killed process left are removed when the next index starts.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import rdflib

from posgraph.engine import Engine
from posgraph.errors import InvalidParameter, PosgraphError
from posgraph.linked_data.aggregates import (
    CELL_INDEXES,
    CELL_SCHEMA,
    CELLS_FROM,
    EVERY_DATE_HELD,
    FACTS,
    Unanswerable,
    fact_rows,
)
from posgraph.linked_data.changes import changes
from posgraph.linked_data.collection import COLLECTIONS, Collection, Page, first_day, last_day, page_of, use_index
from posgraph.linked_data.resources import dataset_version
from posgraph.namespaces import PG, PGI, PGID, PROV, RDF, RDFS, SKOS

__all__ = ["CollectionIndex", "Refresh"]

log = logging.getLogger("posgraph.linked_data")

_TSV = "text/tab-separated-values"
_RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

# The filters that are memberships of an item (several values each), by collection: the property path to follow.
_MEMBERSHIPS: dict[tuple[str, str], str] = {
    ("positions", "party"): f"<{PG.heldBy}>",
    ("positions", "issue"): f"<{PG.concerns}>",
    ("positions", "person"): f"<{PG.statedBy}>",
    ("events", "party"): f"<{PG.participant}>|<{PG.mediator}>",
    ("people", "party"): f"<{PG.holdsRole}>/<{PG.roleFor}>",
}

_SCHEMA = """
CREATE TABLE row (
  rid INTEGER PRIMARY KEY, coll TEXT NOT NULL, item TEXT NOT NULL, type TEXT NOT NULL,
  label TEXT, label_lang TEXT, label_dt TEXT, label_prop TEXT, date TEXT, date_dt TEXT,
  lkey TEXT NOT NULL, dkey TEXT NOT NULL, dfirst TEXT, dlast TEXT, superseded TEXT, conditioned INTEGER NOT NULL,
  odd INTEGER NOT NULL
);
CREATE TABLE member (
  coll TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, rid INTEGER NOT NULL,
  item TEXT NOT NULL, lkey TEXT NOT NULL, dkey TEXT NOT NULL
);
"""
# A position with a condition (of a type, requiring something) on itself or on one of its terms: what
# conditional-positions lists (aggregates: conditioned-positions).
# (The condition's triples in each branch: joined after the UNION, Oxigraph takes minutes at 1M triples.)
_COMPLETE = f"?c <{PG.conditionType}> ?ct ; <{PG.requires}> ?r ."
_CONDITIONED = (
    f"{{ ?item <{PG.hasCondition}> ?c . {_COMPLETE} }} "
    f"UNION {{ ?item <{PG.hasTerm}> ?t . ?t <{PG.hasCondition}> ?c . {_COMPLETE} }}"
)
# Built after the rows are in (faster than keeping them up to date row by row). rowid (= rid) ends every index.
# row_label also holds the date keys: a walk along the labels checks a date range in the index alone (at 1M
# triples a page walked through a six-month range read 1.5 ms of rows, 0.3 ms of index).
_INDEXES = """
CREATE INDEX row_date ON row (coll, dkey, item);
CREATE INDEX row_label ON row (coll, lkey, item, rid, dkey, dfirst, dlast);
CREATE INDEX row_id ON row (coll, item);
CREATE INDEX row_odd ON row (odd) WHERE odd = 1;
CREATE INDEX member_date ON member (coll, kind, value, dkey, item, rid);
CREATE INDEX member_label ON member (coll, kind, value, lkey, item, rid);
CREATE INDEX member_id ON member (coll, kind, value, item, rid);
CREATE INDEX member_row ON member (rid, kind, value);
CREATE VIRTUAL TABLE label_text USING fts5 (
  lkey, content='row', content_rowid='rid', tokenize='trigram case_sensitive 1', detail=none
);
INSERT INTO label_text (label_text) VALUES ('rebuild');
"""
# A ``q`` matching fewer rows than this is looked up in the trigram index of the labels, then sorted; a commoner
# one is checked along the sort's own B-tree (its matches are dense enough to fill a page soon).
_RARE = 2000
# A page sorted by label or IRI but filtered by date is read one of two ways: the rows in the date range, sorted
# (cost: the range's n rows), or a walk along the sort's own B-tree from the cursor, checking the dates (cost: the
# page over the share of rows in the range, limit * N / n of the N rows read from). The two meet at n = sqrt(limit
# * N): a range of fewer rows than that, or than this floor, is sorted; a wider one is walked, within a budget of
# SQLite steps (a share that is not spread evenly over the order, e.g. labels that begin with their date, can make
# the walk long: past the budget the range is sorted after all).
_WIDE = 500
_WALK_STEPS = 50_000
# SQLite calls a progress handler every n steps counted over a statement's whole life, and the walk's statement is
# cached: a handler every _WALK_STEPS steps came anywhere within the first _WALK_STEPS of a walk (one walk in eight
# that needed an eighth of the budget was abandoned). A handler called every 1/_WALK_CALLS of it, counting its calls,
# holds every walk to between _WALK_STEPS and 1 + 1/_WALK_CALLS times that.
_WALK_CALLS = 8
_DATE_FILTERS = ("stated_from", "stated_to", "as_of")
# The B-tree of each sort but the date's, by where a page is read from.
_SORT_INDEXES = {
    ("r", "label"): "row_label",
    ("r", "id"): "row_id",
    ("s", "label"): "member_label",
    ("s", "id"): "member_id",
}
_KEY_COLUMNS = {"date": "dkey", "label": "lkey", "id": "item"}
# Every pg:statedOn triple, counted (a scan of one predicate: ~60 ms at 1M triples).
_COUNT_DATES = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{PG.statedOn}> ?d }}"
# Items named in one VALUES block when an incremental refresh reads items again.
_CHUNK = 400
# Entries of a version's memo (fact rows, q counts, sizes) kept for the version held.
_MEMO = 256


# ------------------------------------------------------------------------------------------ reading the engine
@dataclass(frozen=True, slots=True)  # millions of them while an index of 1M triples is built: no __dict__ each
class _Term:
    """An RDF term as read from a SPARQL TSV answer: ``value``, and for literals the language and datatype."""

    iri: bool
    value: str
    lang: str | None = None
    datatype: str | None = None


_ESCAPES = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)
_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape(match: re.Match) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else _ECHAR.get(match.group(3), match.group(3))


def _term(text: str) -> _Term | None:
    """One cell of a SPARQL 1.1 TSV answer (Turtle syntax; empty when unbound); blank nodes count as unbound."""
    if not text or text.startswith("_:"):
        return None
    if text.startswith("<"):
        # One string per IRI however many answers of a build name it (an item in each, a party in thousands).
        return _Term(True, sys.intern(_ESCAPES.sub(_unescape, text[1:-1]) if "\\" in text else text[1:-1]))
    if text.startswith('"'):
        end = text.rindex('"')
        value = text[1:end]
        value = _ESCAPES.sub(_unescape, value) if "\\" in value else value
        rest = text[end + 1 :]
        if rest.startswith("@"):
            return _Term(False, value, rest[1:], _RDF_LANG_STRING)
        return _Term(False, value, None, rest[3:-1] if rest.startswith("^^<") else None)
    return _Term(False, text)  # an abbreviated number or boolean: never asked for here


_Row = tuple[_Term | None, ...]


def _rows(tsv: bytes) -> list[_Row]:
    """The rows of a SPARQL TSV answer. Parsed in Python, line by line, so a thread doing it lets the event loop
    run (a C parser of a large JSON answer would hold the interpreter for its whole length). A value repeated
    past the first column (a party, an issue, a type) is one term, however many rows hold it."""
    lines = tsv.decode("utf-8").split("\n")
    seen: dict[str, _Term | None] = {}
    out = []
    for line in lines[1:]:
        if line:
            first, *rest = line.rstrip("\r").split("\t")
            values = [seen[cell] if cell in seen else seen.setdefault(cell, _term(cell)) for cell in rest]
            out.append((_term(first), *values))
    return out


class _Reader:
    """The queries an index is built from: simple patterns the engine streams fast; joined here, not there.
    Answers are parsed in a thread and kept for the build (several collections share a label property).

    With ``items``, every pattern is asked about those items only (a VALUES block, a few hundred IRIs a query):
    what an incremental refresh reads again."""

    def __init__(self, engine: Engine, timeout: float, items: Sequence[str] | None = None) -> None:
        self.engine, self.timeout = engine, timeout
        self._cache: dict[str, list[_Row]] = {}
        if items is None:
            self._blocks = [""]
        else:
            terms = [rdflib.URIRef(item).n3() for item in items]
            self._blocks = [
                "VALUES ?item { " + " ".join(terms[n : n + _CHUNK]) + " } " for n in range(0, len(terms), _CHUNK)
            ]

    async def rows(self, select: str, where: str) -> list[_Row]:
        """The rows of ``select`` WHERE { ``where`` } (restricted to the reader's items, when it has some)."""
        key = select + where
        if key not in self._cache:
            out: list[_Row] = []
            for block in self._blocks:
                query = f"{select} WHERE {{ {block}{where} }}"
                response = await self.engine.query(query, accept=_TSV, timeout=self.timeout)
                out += await asyncio.to_thread(_rows, response.content)
            self._cache[key] = out
        return self._cache[key]

    async def values(self, path: str, lowered: bool = False) -> list[_Row]:
        """Subjects and objects along ``path``, with the engine's LCASE of the object's string when ``lowered``
        (the label sort key, computed by the engine so that it sorts as the engine sorts)."""
        extra = " (LCASE(STR(?v)) AS ?k)" if lowered else ""
        return await self.rows(f"SELECT ?item ?v{extra}", f"?item {path} ?v")

    async def fetch(self, spec: Collection) -> dict[str, list[_Row]]:
        """All the engine answers one collection is built from, by name."""
        if spec.name == "positions":
            members = await self.rows(
                "SELECT ?item ?type", f"?item a ?type . ?type <{RDFS.subClassOf}> <{PG.Position}>"
            )
        elif spec.name == "issues":
            members = await self.rows("SELECT ?item", f"?item <{SKOS.inScheme}> <{PGI}scheme>")
        else:
            members = await self.rows("SELECT ?item", f"?item a <{spec.cls}>")
        raw = {"members": members, "labels": await self.values(f"<{spec.label}>", lowered=True)}
        if spec.fallback_label:
            raw["fallback"] = await self.values(f"<{spec.fallback_label}>", lowered=True)
        if spec.date:
            raw["dates"] = await self.values(f"<{spec.date}>")
        if spec.name == "positions":
            raw["superseded"] = await self.rows(
                "SELECT ?item ?v", f"?later <{PG.supersedes}> ?item ; <{PG.statedOn}> ?v"
            )
            raw["conditioned"] = await self.rows("SELECT DISTINCT ?item", _CONDITIONED)
        for (name, kind), path in _MEMBERSHIPS.items():
            if name == spec.name:
                raw["member:" + kind] = await self.values(path)
        return raw


# ------------------------------------------------------------------------------------------ building
def _by_item(rows: list[_Row]) -> dict[str, list[tuple[_Term, str]]]:
    """Each IRI subject's distinct (object, sort key) pairs, in the engine's order."""
    out: dict[str, list[tuple[_Term, str]]] = {}
    for row in rows:
        item, value = row[0], row[1] if len(row) > 1 else None
        if item is None or value is None or not item.iri:
            continue
        key = row[2].value if len(row) > 2 and row[2] is not None else ""
        pairs = out.setdefault(item.value, [])
        if (value, key) not in pairs:
            pairs.append((value, key))
    return out


def _labels(spec: Collection, labels: list, fallback: list) -> list[tuple[_Term | None, str | None, str]]:
    """(label, labelProp, sort key) rows of one item, as the engine's OPTIONAL/COALESCE makes them: its English
    labels, else any label, else (where the collection has one) the fallback property's, English first."""
    prop = (spec.label if labels else spec.fallback_label) if spec.fallback_label else None
    for candidates in (labels, fallback):
        chosen = [(t, k) for t, k in candidates if t.lang == "en"] or candidates
        if chosen:
            return [(t, prop, k) for t, k in chosen]
    return [(None, prop, "")]


def _assemble(spec: Collection, raw: dict[str, list[_Row]]) -> tuple[list[tuple], list[tuple]]:
    """The index rows of one collection (one per item, type, label and date, as the engine's query lists them)
    and its membership rows (kind, value, row number). Run in a thread: it is a loop over every item."""
    members: dict[str, list[str]] = {}
    for row in raw["members"]:
        if row[0] is not None and row[0].iri:
            kind = row[1].value if len(row) > 1 and row[1] is not None else spec.cls
            types = members.setdefault(row[0].value, [])
            if kind not in types:
                types.append(kind)
    own, other = _by_item(raw["labels"]), _by_item(raw.get("fallback", []))
    dates = _by_item(raw.get("dates", []))
    # When an item stops being in force: the first day of the earliest statement of a position superseding it.
    superseded: dict[str, str] = {}
    for item, lows in _by_item(raw.get("superseded", [])).items():
        superseded[item] = min(first_day(t.value) for t, _ in lows)
    kinds = {name.split(":", 1)[1]: _by_item(rows) for name, rows in raw.items() if name.startswith("member:")}
    conditioned = {row[0].value for row in raw.get("conditioned", []) if row and row[0] is not None and row[0].iri}
    # A position with a party or an issue that is not an IRI (a literal; a blank node, read as None): the engine's
    # ``?p pg:heldBy ?party ; pg:concerns ?issue`` binds it where the index's cells hold none (see
    # aggregates: in-force-cells).
    odd = {
        row[0].value
        for name in ("member:party", "member:issue")
        for row in (raw.get(name, []) if spec.name == "positions" else [])
        if row[0] is not None and row[0].iri and (row[1] is None or not row[1].iri)
    }
    rows: list[tuple] = []
    members_of: list[tuple] = []
    for item, types in members.items():
        labels = _labels(spec, own.get(item, []), other.get(item, []))
        item_dates = [t for t, _ in dates.get(item, [])] or [None]
        first_row = len(rows)
        for kind in types:
            for label, prop, lkey in labels:
                for date in item_dates:
                    d = date.value if date is not None else None
                    rows.append(
                        (
                            spec.name,
                            item,
                            kind,
                            label.value if label else None,
                            label.lang if label else None,
                            label.datatype if label else None,
                            prop,
                            d,
                            date.datatype if date is not None else None,
                            lkey,
                            d or "",
                            first_day(d) if d is not None else None,
                            last_day(d) if d is not None else None,
                            superseded.get(item),
                            int(item in conditioned),
                            int(item in odd),
                        )
                    )
        for kind, values in kinds.items():
            for value, _ in values.get(item, []):
                if value.iri:
                    members_of += [(kind, value.value, n) for n in range(first_row, len(rows))]
    return rows, members_of


_FILE_PREFIX = "posgraph-index-"


def _remove_orphans(directory: Path) -> None:
    """Delete the index files of processes that are gone (killed before they could delete their own)."""
    for path in directory.glob(f"{_FILE_PREFIX}*.sqlite"):
        pid = path.name[len(_FILE_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a number no process has: kept, to be safe)
    return True


def _new_database(directory: Path) -> tuple[sqlite3.Connection, Path]:
    """A new, empty database in a file of its own in ``directory`` (made if missing), and that file."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{_FILE_PREFIX}{os.getpid()}-", suffix=".sqlite", dir=directory)
    os.close(fd)
    db = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
    # Derived data, rebuilt on every start: no waiting for the disk, and a modest page cache of its own. The rollback
    # journal stays (in memory: a move to a new version that fails must leave the rows as they were).
    db.executescript("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA cache_size = -16384;")
    db.executescript(_SCHEMA + CELL_SCHEMA)
    return db, Path(name)


def _insert_collection(db: sqlite3.Connection, built: tuple[Collection, list[tuple], list[tuple]], rid: int) -> None:
    """Insert one collection's rows (numbered from ``rid``) into a database being built, in one transaction."""
    db.execute("BEGIN")
    _insert_rows(db, [built], rid)
    db.execute("COMMIT")


def _finish(db: sqlite3.Connection) -> None:
    """Build the B-trees and the trigram index of a database whose rows are in (faster than keeping them up to
    date row by row), the positions' cells of party and issue (aggregates.CELL_SCHEMA) and the statistics the
    query planner reads."""
    db.executescript(_INDEXES)
    db.execute(CELLS_FROM, (0,))
    db.executescript(CELL_INDEXES)
    db.execute("ANALYZE")


def _insert_rows(
    db: sqlite3.Connection, collections: list[tuple[Collection, list[tuple], list[tuple]]], rid: int, *, text=False
) -> None:
    """Insert these rows (numbered from ``rid``) and their memberships; with ``text``, their labels into the
    trigram index too (a new database gets that index whole, from its rows, once they are in)."""
    for spec, rows, members_of in collections:
        db.executemany(
            "INSERT INTO row VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((rid + n, *row) for n, row in enumerate(rows)),
        )
        db.executemany(
            "INSERT INTO member VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((spec.name, kind, value, rid + n, rows[n][1], rows[n][9], rows[n][10]) for kind, value, n in members_of),
        )
        if text:
            db.executemany(
                "INSERT INTO label_text (rowid, lkey) VALUES (?, ?)", ((rid + n, row[9]) for n, row in enumerate(rows))
            )
        rid += len(rows)


def _replace(db: sqlite3.Connection, items: Iterable[str], collections: list[tuple]) -> int:
    """In one transaction of a built database: every row of ``items`` (in any collection) out, ``collections``'
    rows (those items as the engine now lists them) in. Returns the rows now there. Raises sqlite3.Error (then
    the database is as it was)."""
    db.execute("BEGIN")
    try:
        db.execute("CREATE TEMP TABLE IF NOT EXISTS stale (item TEXT PRIMARY KEY)")
        db.execute("DELETE FROM stale")
        db.executemany("INSERT OR IGNORE INTO stale VALUES (?)", ((item,) for item in items))
        for name in COLLECTIONS:  # by collection, so that each lookup is a seek in row_id
            old = "FROM row WHERE coll = ? AND item IN (SELECT item FROM stale)"
            # An external-content FTS table forgets a row only when told the values it indexed.
            db.execute(f"INSERT INTO label_text (label_text, rowid, lkey) SELECT 'delete', rid, lkey {old}", (name,))
            db.execute(f"DELETE FROM member WHERE rid IN (SELECT rid {old})", (name,))
            db.execute(f"DELETE {old}", (name,))
        db.execute("DELETE FROM cell WHERE item IN (SELECT item FROM stale)")
        start = db.execute("SELECT coalesce(max(rid), -1) + 1 FROM row").fetchone()[0]
        _insert_rows(db, collections, start, text=True)
        db.execute(CELLS_FROM, (start,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return db.execute("SELECT count(*) FROM row").fetchone()[0]


# ------------------------------------------------------------------------------------------ pages
def _glob(text: str) -> str:
    """A GLOB pattern matching strings that contain ``text``."""
    return "*" + re.sub(r"([*?\[])", r"[\1]", text) + "*"


def _filtered(
    spec: Collection,
    values: Mapping[str, rdflib.term.Node],
    rare_q: bool,
    walk: str | None = None,
    rows: bool = True,
) -> tuple[str, str, list[str], list]:
    """Where a page is read (the collection's rows, or one of its memberships when the request filters by party
    or issue, ``s`` in the SQL, whose B-tree of the sort is walked; with ``walk`` (a sort field), that sort's
    B-tree even when a date filter offers another, see _WIDE) and the filters checked along the way: the FROM
    clause, ``s``, the conditions and their arguments. Without ``rows`` (only ``s``'s item and date key are
    read), a membership is not joined with its row unless a condition needs the row."""
    args: list = []
    kinds = _member_kinds(values)
    if kinds:  # start from the smaller set: the items of one person, party or issue, in the order of the sort
        s = "s"
        # The membership holds the item and its date key: a page of keys filtered by memberships alone needs no
        # row (at 1M triples a party's 330 positions on one issue: 7.4 ms with the join, 3.9 ms without).
        # (The filters below that read the row: one left out of this set is an SQL error, "no such column".)
        needs_row = rows or rare_q or bool({"klass", "q", "stated_from", "stated_to", "as_of"} & values.keys())
        source = f"member s{_indexed_by(s, walk)}" + (" JOIN row r ON r.rid = s.rid" if needs_row else "")
        where = ["s.coll = ?", "s.kind = ?", "s.value = ?"]
        args += [spec.name, kinds[0], str(values[kinds[0]])]
    else:
        s = "r"
        source = f"row r{_indexed_by(s, walk)}"
        where = ["r.coll = ?"]
        args.append(spec.name)
    if rare_q:  # start from the few labels that contain q (CROSS JOIN keeps that order of the loops)
        source = "label_text f CROSS JOIN row r ON r.rid = f.rowid" + (
            " CROSS JOIN member s ON s.rid = r.rid" if kinds else ""
        )
        where.append("f.lkey GLOB ?")
        args.append(_glob(str(values["q"]).lower()))
    for kind in kinds[1:]:
        where.append(f"EXISTS (SELECT 1 FROM member x WHERE x.rid = {s}.rid AND x.kind = ? AND x.value = ?)")
        args += [kind, str(values[kind])]
    if "klass" in values:
        where.append("r.type = ?")
        args.append(str(values["klass"]))
    if "q" in values:  # CONTAINS(LCASE(STR(?label)), LCASE(STR(?q))): false for an item without a label
        where.append("r.label IS NOT NULL AND instr(r.lkey, ?) > 0")
        args.append(str(values["q"]).lower())
    # Each date filter also bounds the date key itself (a value is a prefix of its first and last days), so
    # that a page sorted by date seeks to the range instead of walking up to it. A value written before the
    # range's first day can reach into it only as that day's year or month: those two keys, not all before.
    if "stated_from" in values:
        first = first_day(str(values["stated_from"]))
        where.append(f"r.dlast >= ? AND ({s}.dkey >= ? OR {s}.dkey IN (?, ?))")
        args += [first, first, first[:4], first[:7]]
    if "stated_to" in values:
        where.append(f"r.dfirst <= ? AND {s}.dkey <= ?")
        args += [last_day(str(values["stated_to"]))] * 2
    if "as_of" in values and spec.name == "positions":  # stated by then, and not yet superseded then
        where.append(f"r.dfirst <= ? AND {s}.dkey <= ? AND (r.superseded IS NULL OR r.superseded > ?)")
        args += [last_day(str(values["as_of"]))] * 3
    return source, s, where, args


def _member_kinds(values: Mapping[str, rdflib.term.Node]) -> list[str]:
    """The memberships a request filters by, the first of them the one a page is read from."""
    return [k for k in ("person", "party", "issue") if k in values]


def _indexed_by(s: str, walk: str | None) -> str:
    return f" INDEXED BY {_SORT_INDEXES[(s, walk)]}" if walk is not None else ""


def _page_query(
    spec: Collection,
    values: Mapping[str, rdflib.term.Node],
    field: str,
    descending: bool,
    limit: int,
    rare_q: bool,
    walk: bool = False,
) -> tuple[str, list]:
    """The SQL of one page and its arguments: a seek in the B-tree of the sort (of the collection, or of one of
    its memberships when the request filters by party or issue), the other filters checked along the way; with
    ``walk``, that B-tree even when a date filter offers another (see _WIDE)."""
    column = _KEY_COLUMNS[field]
    source, s, where, args = _filtered(spec, values, rare_q, field if walk and not rare_q and field != "date" else None)
    op, order = ("<", "DESC") if descending else (">", "ASC")
    if "afterKey" in values:
        key, after = str(values["afterKey"]), str(values["afterId"])
        if field == "id":  # the key is the item: "key > k or (key = k and item > i)" is one range
            strict = after >= key if not descending else after <= key
            where.append(f"{s}.item {op}{'' if strict else '='} ?")
            args.append(key)
        else:
            where.append(f"({s}.{column}, {s}.item) {op} (?, ?)")
            args += [key, after]
    keys = [f"{s}.item"] if field == "id" else [f"{s}.{column}", f"{s}.item"]
    # One item's several rows (two dates, two labels) tie on the sort: they come in the order the engine read
    # them, as its sort leaves them, in either direction.
    sql = (
        "SELECT r.item, r.type, r.label, r.label_lang, r.label_dt, r.label_prop, r.date, r.date_dt, "
        f"r.{column} FROM {source} WHERE {' AND '.join(where)} "
        f"ORDER BY {', '.join(k + ' ' + order for k in keys)}, {s}.rid LIMIT {limit + 1}"
    )
    return sql, args


def _keys_query(
    spec: Collection, values: Mapping[str, rdflib.term.Node], offset: int, limit: int, descending: bool
) -> tuple[str, list]:
    """The SQL of one page of (item, date key) pairs in date order (or its reverse), the first ``offset`` pairs
    skipped: what a saved query's key subquery selects (``SELECT DISTINCT ?position ?key … ORDER BY ?key
    STR(?position)``)."""
    source, s, where, args = _filtered(spec, values, False, rows=False)
    order = "DESC" if descending else "ASC"
    sql = (
        f"SELECT DISTINCT {s}.item, {s}.dkey FROM {source} WHERE {' AND '.join(where)} "
        f"ORDER BY {s}.dkey {order}, {s}.item {order} LIMIT ? OFFSET ?"
    )
    return sql, [*args, limit, offset]


def _node_rows(rows: Iterable[tuple]) -> list[dict[str, rdflib.term.Node]]:
    """SQL rows as the engine's rows (rdflib terms by variable), for ``collection.page_of``."""
    out = []
    for item, kind, label, lang, label_dt, prop, date, date_dt, key in rows:
        row: dict[str, rdflib.term.Node] = {"item": rdflib.URIRef(item), "type": rdflib.URIRef(kind)}
        row["key"] = rdflib.Literal(key)
        if label is not None:
            row["label"] = rdflib.Literal(
                label, lang=lang, datatype=None if lang or not label_dt else rdflib.URIRef(label_dt)
            )
        if prop is not None:
            row["labelProp"] = rdflib.URIRef(prop)
        if date is not None:
            row["date"] = rdflib.Literal(date, datatype=rdflib.URIRef(date_dt) if date_dt else None)
        out.append(row)
    return out


@dataclass
class _Snapshot:
    """One built database, the dataset version it holds and how many changes the dataset had recorded up to that
    version (None when unknown); its lock serialises the threads that read it and the move to a new version."""

    db: sqlite3.Connection
    version: str
    changes: int | None
    path: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False
    # What was read at this version (oldest first): fact rows by fact and filter values, whether a q is rare, the
    # rows a page is read from.
    memo: dict = field(default_factory=dict)
    # How the pages sorted otherwise than by date but filtered by date were read (see _WIDE): "walked", "sorted"
    # (few rows in the range) or "abandoned" (the walk ran past its budget, then sorted).
    walks: Counter = field(default_factory=Counter)
    # Whether every pg:statedOn triple in the engine at this version is a position's the index holds (None: not
    # yet asked; see CollectionIndex._every_date_held).
    every_date_held: bool | None = None

    def close(self) -> None:
        """Close the database and delete its file, once no reader is in it; later reads answer None."""
        with self.lock:
            self.closed = True
            self.db.close()
            if self.path is not None:
                self.path.unlink(missing_ok=True)

    def page(
        self,
        spec: Collection,
        values: Mapping[str, rdflib.term.Node],
        field: str,
        descending: bool,
        limit: int,
        version: str,
    ) -> list[tuple] | None:
        """The rows of one page (up to ``limit`` + 1), or None unless the database holds ``version`` (checked
        under the lock, so a page is read wholly before or wholly after a move to a new version)."""
        with self.lock:
            if self.closed or self.version != version:
                return None
            q = str(values["q"]).lower() if "q" in values else ""
            rare_q = len(q) >= 3 and self._rare(q)  # the trigram index needs three characters
            if field != "date" and not rare_q and any(k in values for k in _DATE_FILTERS):
                rows = self._walked(spec, values, field, descending, limit)
                if rows is not None:
                    return rows
            return self.db.execute(*_page_query(spec, values, field, descending, limit, rare_q)).fetchall()

    def _walked(
        self, spec: Collection, values: Mapping[str, rdflib.term.Node], field: str, descending: bool, limit: int
    ) -> list[tuple] | None:
        """The page read along the sort's B-tree, or None when the date filters leave few rows (then sorting them
        is cheaper) or the walk ran past its budget (see _WIDE). Called under the lock."""
        wide = max(_WIDE, math.isqrt(limit * self._size(spec, values)) + 1)
        if self._in_range(spec, values, wide) < wide:
            self.walks["sorted"] += 1
            return None
        calls = itertools.count()
        # A true answer stops the walk: past the budget, whatever the statement's earlier runs counted.
        self.db.set_progress_handler(lambda: next(calls) >= _WALK_CALLS, max(1, _WALK_STEPS // _WALK_CALLS))
        try:
            rows = self.db.execute(*_page_query(spec, values, field, descending, limit, False, walk=True)).fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" not in str(exc):
                raise
            self.walks["abandoned"] += 1
            return None
        finally:
            self.db.set_progress_handler(None, 0)
        self.walks["walked"] += 1
        return rows

    def dated_positions(self, version: str) -> int | None:
        """How many (position, date) pairs the index holds (each a ``pg:statedOn`` triple of a position), or None
        unless the database holds ``version``; kept for the version."""
        sql = "SELECT count(*) FROM (SELECT DISTINCT item, date, date_dt FROM row WHERE coll = ? AND date IS NOT NULL)"
        with self.lock:
            if self.closed or self.version != version:
                return None
            return self._remembered(("dated",), lambda: self.db.execute(sql, ("positions",)).fetchone()[0])

    def _remembered(self, key: tuple, work: Callable[[], object]) -> object:
        """What ``work`` gives, kept in ``memo`` for the version held (under the lock)."""
        if key not in self.memo:
            if len(self.memo) >= _MEMO:
                self.memo.pop(next(iter(self.memo)))
            self.memo[key] = work()
        return self.memo[key]

    def _rare(self, q: str) -> bool:
        """Whether fewer than _RARE labels contain ``q`` (lower case, three characters or more): a count in the
        trigram index (milliseconds at a million triples), kept for the version, so that the next pages of a
        search do not count again."""
        sql = "SELECT count(*) FROM (SELECT 1 FROM label_text WHERE lkey GLOB ? LIMIT ?)"
        return self._remembered(("rare", q), lambda: self.db.execute(sql, (_glob(q), _RARE)).fetchone()[0] < _RARE)

    @staticmethod
    def _source(spec: Collection, values: Mapping[str, rdflib.term.Node]) -> tuple[str, tuple]:
        """The table a page of ``spec`` filtered by ``values`` is read from, with the conditions that pick its rows
        (the collection's, or the first person's, party's or issue's memberships, as _filtered starts from)."""
        kinds = _member_kinds(values)
        if not kinds:
            return "row WHERE coll = ?", (spec.name,)
        return "member WHERE coll = ? AND kind = ? AND value = ?", (spec.name, kinds[0], str(values[kinds[0]]))

    def _size(self, spec: Collection, values: Mapping[str, rdflib.term.Node]) -> int:
        """How many rows a page of ``spec`` filtered by ``values`` is read from, kept for the version."""
        table, args = self._source(spec, values)
        return self._remembered(
            ("size", *args), lambda: self.db.execute(f"SELECT count(*) FROM {table}", args).fetchone()[0]
        )

    def _in_range(self, spec: Collection, values: Mapping[str, rdflib.term.Node], cap: int) -> int:
        """How many of the rows a page is read from have a date key the date filters admit (the bounds on the key
        that _filtered writes), counting up to ``cap``: at least the rows in the range (the other filters are not
        applied), read from the date's B-tree alone, without a look at the rows."""
        table, args = self._source(spec, values)
        high = min((last_day(str(values[k])) for k in ("stated_to", "as_of") if k in values), default="\uffff")
        low, early = "\x01", ()  # "" is no date
        if "stated_from" in values:
            low = first_day(str(values["stated_from"]))
            early = tuple(k for k in dict.fromkeys((low[:4], low[:7])) if k <= high)
        ranged = f"SELECT count(*) FROM (SELECT 1 FROM {table} AND dkey >= ? AND dkey <= ? LIMIT ?)"
        n = self.db.execute(ranged, (*args, low, high, cap)).fetchone()[0]
        for key in early:  # a year or month written before the range's first day reaches into it
            if n < cap:
                n += self.db.execute(
                    f"SELECT count(*) FROM (SELECT 1 FROM {table} AND dkey = ? LIMIT ?)", (*args, key, cap)
                ).fetchone()[0]
        return n

    def keys(
        self,
        spec: Collection,
        values: Mapping[str, rdflib.term.Node],
        offset: int,
        limit: int,
        descending: bool,
        version: str,
    ) -> list[tuple[str, str]] | None:
        """Up to ``limit`` (item, date key) pairs after the first ``offset``, or None unless the database holds
        ``version`` (checked under the lock, as ``page``)."""
        with self.lock:
            if self.closed or self.version != version:
                return None
            return self.db.execute(*_keys_query(spec, values, offset, limit, descending)).fetchall()

    def facts(self, fact: str, combinations: list[dict], version: str) -> list[tuple] | None:
        """The rows of ``fact`` for ``combinations`` (see aggregates.fact_rows), or None unless the database holds
        ``version`` (checked under the lock, as ``page``). Kept for the version they were read at: one set of
        rows costs a few seeks per party and issue, and the same request again costs nothing until a write."""
        key = (fact, repr(sorted(sorted((k, v.n3()) for k, v in c.items()) for c in combinations)))
        with self.lock:
            if self.closed or self.version != version:
                return None
            return self._remembered(key, lambda: fact_rows(self.db, fact, combinations))

    def move(self, items: Iterable[str], collections: list[tuple], version: str, changes: int) -> int:
        """Replace ``items``' rows by ``collections``' and hold ``version`` from now on, in one step for readers;
        return the rows now there. Raises sqlite3.Error (then nothing changed)."""
        with self.lock:
            if self.closed:
                raise sqlite3.ProgrammingError("the index was closed")
            rows = _replace(self.db, items, collections)
            self.version, self.changes = version, changes
            self.memo.clear()
            return rows


# ------------------------------------------------------------------------------------------ what a change touched
class _CannotSay(Exception):
    """The change feed cannot say which items changed: the index is built again whole (the message says why)."""


@dataclass(frozen=True)
class _Footprint:
    """What one batch's triples touch: the items whose rows they can change, and the IRIs other items' rows depend
    on through them (a position's date, for the positions it supersedes; a role's party, for the people holding
    it), whose dependents are looked up again when the batch is reverted."""

    items: frozenset[str]
    seeds: frozenset[str]


@dataclass(frozen=True)
class Refresh:
    """What one refresh did: ``kind`` "full" (built whole, ``reason`` saying why) or "incremental"; the version
    it moved to, the items read again (incremental), the rows the index then held, and how long it took."""

    kind: str
    version: str
    items: int
    rows: int
    seconds: float
    reason: str | None = None


_CHANGE = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{4}$")  # a change's id (changes._CHANGE_ID): a dataset version


def _change(version: str) -> str:
    return rdflib.URIRef(f"{PGID}change/{version}").n3()


def _published(batch: str) -> str:
    """A pattern binding ?s ?p ?o to each triple ``batch`` published (its graph) and to each its amendments took
    out of or put into the default graph (its ledger graphs, reified: they outlive a revert)."""
    ledgers = " ".join(rdflib.URIRef(f"{batch}/{name}").n3() for name in ("removed", "added"))
    return (
        f"{{ {{ GRAPH {rdflib.URIRef(batch).n3()} {{ ?s ?p ?o }} }} UNION {{ VALUES ?ledger {{ {ledgers} }} "
        f"GRAPH ?ledger {{ ?r <{RDF.subject}> ?s ; <{RDF.predicate}> ?p ; <{RDF.object}> ?o }} }} }}"
    )


# What an item's rows are made of, besides its own statements (see _Reader.fetch), as the statements of another
# subject ?s that change them and the items ?item that depend on ?s through them: the date of a position that
# supersedes it, the party of a role it holds, a condition on one of its terms, the type or requirement of a
# condition on it or on one of its terms. A change to the class hierarchy changes which items are positions: the
# feed cannot follow that.
_DEPENDS_ON: tuple[tuple[tuple[rdflib.URIRef, ...], str], ...] = (
    ((PG.statedOn,), f"?s <{PG.supersedes}> ?item"),
    ((PG.roleFor,), f"?item <{PG.holdsRole}> ?s"),
    ((PG.hasCondition,), f"?item <{PG.hasTerm}> ?s"),
    (
        (PG.conditionType, PG.requires),
        f"{{ ?item <{PG.hasCondition}> ?s }} UNION {{ ?item <{PG.hasTerm}> ?t . ?t <{PG.hasCondition}> ?s }}",
    ),
)
_DEPENDENTS = " UNION ".join(f"{{ {pattern} }}" for _, pattern in _DEPENDS_ON)
_SEED_PROPERTIES = ", ".join(f"<{prop}>" for props, _ in _DEPENDS_ON for prop in props)


# ------------------------------------------------------------------------------------------ the index
class CollectionIndex:
    """The collections of ``engine``, indexed; ``start`` builds it in the background and keeps it current
    (checking the dataset's version every ``poll`` seconds, and at once when a page found it behind).

    A move to a new version reads again only what the changes since touched, up to ``max_items`` items and
    ``max_changes`` changes; beyond, or when the feed cannot say, the index is built whole. ``full_rebuilds``,
    ``incremental_refreshes`` and ``last`` (a Refresh) say what it did; ``key_pages`` counts the saved queries'
    pages of keys it answered, ``fact_reads`` the sets of fact rows (aggregates) it gave them."""

    def __init__(
        self,
        engine: Engine,
        *,
        poll: float = 2.0,
        timeout: float = 600.0,
        max_items: int = 20_000,
        max_changes: int = 500,
        remembered_items: int = 200_000,
        directory: Path | None = None,
    ) -> None:
        self.engine, self.poll, self.timeout = engine, poll, timeout
        self.directory = Path(directory or tempfile.gettempdir())
        self.max_items, self.max_changes, self.remembered_items = max_items, min(max_changes, 999), remembered_items
        self.full_rebuilds = 0
        self.incremental_refreshes = 0
        self.key_pages = 0
        self.fact_reads = 0
        self.last: Refresh | None = None
        self._snapshot: _Snapshot | None = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._refreshing = asyncio.Lock()
        # What the batches this index saw published touched (oldest first): a revert's graph is gone, and the
        # change feed does not say what it took away.
        self._footprints: OrderedDict[str, _Footprint] = OrderedDict()

    @property
    def version(self) -> str | None:
        """The dataset version the index holds (None before it is first built)."""
        return self._snapshot.version if self._snapshot else None

    @property
    def walks(self) -> Counter:
        """How the pages sorted by label or IRI and filtered by date were read at the version held: "walked"
        along the sort, "sorted" (the range had few rows), "abandoned" (the walk ran past its budget, then the
        range was sorted)."""
        return Counter(self._snapshot.walks) if self._snapshot else Counter()

    def start(self) -> None:
        """Serve collection pages of the engine from this index (when current) and keep it current, in a task of
        the running event loop."""
        use_index(self.engine, self)
        self._task = asyncio.get_running_loop().create_task(self._keep_current(), name="collection index")

    async def stop(self) -> None:
        """Stop keeping the index current and stop answering from it; its file is deleted."""
        use_index(self.engine, None)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            await asyncio.to_thread(snapshot.close)

    async def _keep_current(self) -> None:
        failures = 0
        while True:
            try:
                current = (await dataset_version(self.engine)).id
                if current != self.version:
                    await self.refresh(current)
                failures = 0
            # The engine away or restarting, or refusing a query of the index's (a dialect quirk, a wrong path): try
            # again later, and say so, rather than end the task (the pages would then never be read from the index
            # again). Any error an engine's answer stands for: a fault in posgraph's own code still ends it.
            except (PosgraphError, OSError, sqlite3.Error) as exc:
                failures += 1
                if failures == 1:
                    log.warning("the collection index could not be built: %s", exc)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(self.poll * (1 + failures), 60))
            except TimeoutError:
                pass

    async def refresh(self, version: str | None = None, *, full: bool = False) -> str:
        """Bring the index to the engine's data and return the version it then holds: the one read before reading
        the data (``version``, read now when not given), so a write that lands meanwhile is read next time.

        Reads again only the items the changes since the version held touched (see the module's docstring), or,
        with ``full``, or when the change feed cannot say, builds it whole. Raises an engine error or
        sqlite3.Error; the index then holds what it held."""
        async with self._refreshing:
            version = version or (await dataset_version(self.engine)).id
            snapshot = self._snapshot
            if snapshot is not None and snapshot.version == version and not full:
                return version
            reason = "asked to" if full else "first build" if snapshot is None else None
            if reason is None:
                try:
                    return await self._incremental(snapshot, version)
                except _CannotSay as exc:
                    reason = str(exc)
            return await self._rebuild(version, reason)

    async def _rebuild(self, version: str, reason: str) -> str:
        started = time.monotonic()
        count = await self._changes_up_to(version) if _CHANGE.match(version) else None
        reader = _Reader(self.engine, self.timeout)
        if self.full_rebuilds == 0:
            await asyncio.to_thread(_remove_orphans, self.directory)
        db, path = await asyncio.to_thread(_new_database, self.directory)
        rows = 0
        try:
            # One collection at a time: read, assembled and written, then let go (sqlite3 lets the event loop run).
            for spec in COLLECTIONS.values():
                built = (spec, *await asyncio.to_thread(_assemble, spec, await reader.fetch(spec)))
                await asyncio.to_thread(_insert_collection, db, built, rows)
                rows += len(built[1])
                del built
            await asyncio.to_thread(_finish, db)
        except BaseException:
            db.close()
            path.unlink(missing_ok=True)
            raise
        old, self._snapshot = self._snapshot, _Snapshot(db, version, count, path)
        if old is not None:
            await asyncio.to_thread(old.close)
        seconds = time.monotonic() - started
        self.full_rebuilds += 1
        self.last = Refresh("full", version, 0, rows, seconds, reason)
        log.info(
            "collection index holds version %s (built whole: %d rows in %.2f s; %s)", version, rows, seconds, reason
        )
        return version

    async def _incremental(self, snapshot: _Snapshot, version: str) -> str:
        """Move ``snapshot`` to ``version``, reading again only what the changes since touched; raises _CannotSay
        when the change feed cannot say what that is."""
        started = time.monotonic()
        if snapshot.changes is None or not (_CHANGE.match(snapshot.version) and _CHANGE.match(version)):
            raise _CannotSay(f"version {snapshot.version} is not one the change feed starts from")
        try:
            feed = await changes(self.engine, snapshot.version, limit=self.max_changes + 1)
        except InvalidParameter:  # the store was replaced, or restored from an older backup
            raise _CannotSay(f"the change feed no longer has version {snapshot.version}") from None
        ids = [change["version"] for change in feed]
        if version not in ids:
            if len(feed) > self.max_changes:
                raise _CannotSay(f"more than {self.max_changes} changes")
            raise _CannotSay(f"the change feed does not reach version {version} from {snapshot.version}")
        feed = feed[: ids.index(version) + 1]  # later ones are the next refresh's
        # A change recorded with a time before the version held (a write whose time was taken before another's
        # and committed after it) is not after that version in the feed: only the count shows it.
        count = await self._changes_up_to(version)
        if count != snapshot.changes + len(feed):
            raise _CannotSay(f"{count - snapshot.changes - len(feed)} change(s) recorded out of time order")
        items: set[str] = set()
        for change in feed:
            items |= await self._touched(change)
            if len(items) > self.max_items:
                raise _CannotSay(f"more than {self.max_items} items touched")
        reader = _Reader(self.engine, self.timeout, sorted(items))
        built = []
        for spec in COLLECTIONS.values():
            built.append((spec, *await asyncio.to_thread(_assemble, spec, await reader.fetch(spec))))
        rows = await asyncio.to_thread(snapshot.move, items, built, version, count)
        seconds = time.monotonic() - started
        self.incremental_refreshes += 1
        self.last = Refresh("incremental", version, len(items), rows, seconds)
        log.info(
            "collection index holds version %s (incremental: %d change(s), %d item(s) read again, in %.2f s)",
            version,
            len(feed),
            len(items),
            seconds,
        )
        return version

    async def _changes_up_to(self, version: str) -> int:
        """How many changes the dataset records up to ``version`` (at its time or before)."""
        rows = await self.engine.select(
            f"""SELECT (COUNT(DISTINCT ?change) AS ?n) WHERE {{ {_change(version)} <{PROV.atTime}> ?to .
            ?change a <{PG.Change}> ; <{PROV.atTime}> ?at . FILTER (?at <= ?to) }}"""
        )
        return int(rows[0]["n"]) if rows else 0

    async def _touched(self, change: dict) -> set[str]:
        """The items whose rows ``change`` (an entry of the change feed) may have changed; raises _CannotSay."""
        kind, batch = change["kind"], change.get("batch")
        if batch and kind in ("accepted", "loaded"):
            footprint = await self._footprint(batch)
            # Read after the footprint: a batch still accepted then was wholly there when its graph was read
            # (a revert drops the graph and changes the state in one transaction).
            rows = await self.engine.select(
                f"""SELECT ?state ?bulk WHERE {{ VALUES ?batch {{ {rdflib.URIRef(batch).n3()} }}
                OPTIONAL {{ ?batch <{PG.batchState}> ?state }} OPTIONAL {{ ?batch <{PG.bulkLoaded}> ?bulk }} }}"""
            )
            state = rows[0] if rows else {}
            if "bulk" in state:
                raise _CannotSay(f"batch {batch} was bulk-loaded: its graph does not hold its triples")
            if str(state.get("state")) != str(PG.accepted):
                raise _CannotSay(f"batch {batch} was reverted before this index read it")
            self._remember(batch, footprint)
            return set(footprint.items)
        if batch and kind == "reverted":
            known = self._footprints.get(batch)
            if known is None:
                raise _CannotSay(f"batch {batch} was reverted, and this index never read it published")
            ledgers = await self._footprint(batch)  # its graph is gone; its amendments' ledgers stay
            return set(known.items | ledgers.items | await self._dependents(known.seeds))
        raise _CannotSay(f"a change of kind {kind!r}, which does not say what it touched")

    async def _footprint(self, batch: str) -> _Footprint:
        """What ``batch``'s published triples touch (see _Footprint), as the engine holds them now; raises
        _CannotSay when they touch more than ``max_items`` items or the class hierarchy."""
        triples = _published(batch)
        rows = await self.engine.select(
            # The predicate given by VALUES, not by FILTER (?p = …): Virtuoso 7.2 fails to compile the FILTER here
            # ("SP031 … sparp_gp_deprecate(): equiv replaces filter but under deprecation").
            f"""SELECT DISTINCT ?item WHERE {{ {{ {triples} BIND (?s AS ?item) }}
              UNION {{ VALUES ?p {{ <{PG.supersedes}> }} {triples} BIND (?o AS ?item) }}
              FILTER (isIRI(?item)) }} LIMIT {self.max_items + 1}""",
            timeout=self.timeout,
        )
        if len(rows) > self.max_items:
            raise _CannotSay(f"batch {batch} touches more than {self.max_items} items")
        items = {str(row["item"]) for row in rows}
        seeds = await self.engine.select(
            f"""SELECT DISTINCT ?s ?p WHERE {{ {triples}
              FILTER (?p IN ({_SEED_PROPERTIES}, <{RDFS.subClassOf}>)) }}""",
            timeout=self.timeout,
        )
        if any(str(row["p"]) == str(RDFS.subClassOf) for row in seeds):
            raise _CannotSay(f"batch {batch} changes the class hierarchy")
        named = frozenset(str(row["s"]) for row in seeds if isinstance(row["s"], rdflib.URIRef))
        items |= await self._dependents(named)
        # A blank node (a role or a condition, as most data writes them) can only be joined to within one query.
        # Joined after the batch's few triples are found: an engine asked for both at once may walk every
        # pg:supersedes first.
        for props, dependents in _DEPENDS_ON:
            if any(row["p"] in props and isinstance(row["s"], rdflib.BNode) for row in seeds):
                found = await self.engine.select(
                    f"""SELECT DISTINCT ?item WHERE {{ {triples}
                      FILTER (?p IN ({", ".join(f"<{p}>" for p in props)}) && isBlank(?s))
                      {dependents} FILTER (isIRI(?item)) }}""",
                    timeout=self.timeout,
                )
                items |= {str(row["item"]) for row in found}
        if len(items) > self.max_items:
            raise _CannotSay(f"batch {batch} touches more than {self.max_items} items")
        return _Footprint(frozenset(items), named)

    async def _dependents(self, seeds: frozenset[str]) -> frozenset[str]:
        """The items whose rows depend on ``seeds`` now (see _DEPENDENTS)."""
        found: set[str] = set()
        terms = [rdflib.URIRef(seed).n3() for seed in sorted(seeds)]
        for n in range(0, len(terms), _CHUNK):
            rows = await self.engine.select(
                f"SELECT DISTINCT ?item WHERE {{ VALUES ?s {{ {' '.join(terms[n : n + _CHUNK])} }} {_DEPENDENTS} "
                "FILTER (isIRI(?item)) }",
                timeout=self.timeout,
            )
            found |= {str(row["item"]) for row in rows}
        return frozenset(found)

    def _remember(self, batch: str, footprint: _Footprint) -> None:
        """Keep what ``batch`` touched (for its revert), forgetting the oldest beyond ``remembered_items``."""
        self._footprints[batch] = footprint
        self._footprints.move_to_end(batch)
        total = sum(len(f.items) + len(f.seeds) for f in self._footprints.values())
        while total > self.remembered_items and len(self._footprints) > 1:
            _, oldest = self._footprints.popitem(last=False)
            total -= len(oldest.items) + len(oldest.seeds)

    async def page(
        self,
        spec: Collection,
        values: Mapping[str, rdflib.term.Node],
        field: str,
        descending: bool,
        limit: int,
        *,
        version: str | None = None,
    ) -> Page | None:
        """The page from the index, or None when the index does not hold the engine's current version (``version``
        when the caller has just read it, else read here; then the engine must answer and the index is told to
        catch up)."""
        rows = await self._read(version, lambda snapshot, at: snapshot.page(spec, values, field, descending, limit, at))
        return None if rows is None else page_of(_node_rows(rows), spec, limit)

    async def keys(
        self,
        spec: Collection,
        values: Mapping[str, rdflib.term.Node],
        offset: int,
        limit: int,
        descending: bool = False,
        *,
        version: str | None = None,
    ) -> list[tuple[str, str]] | None:
        """Up to ``limit`` (item, date key) pairs of collection ``spec`` filtered by ``values``, in date order (or
        its reverse) after the first ``offset`` (a saved query's page of keys), or None when the index does not
        hold the engine's current version (as ``page``)."""
        rows = await self._read(
            version, lambda snapshot, at: snapshot.keys(spec, values, offset, limit, descending, at)
        )
        if rows is None:
            return None
        self.key_pages += 1
        return [(item, key) for item, key in rows]

    async def facts(
        self, fact: str, combinations: Sequence[Mapping[str, rdflib.term.Node]], *, version: str | None = None
    ) -> list[tuple] | None:
        """The rows of ``fact`` (aggregates.FACTS) for any of ``combinations`` (its filter values by name), or None
        when the index does not hold the engine's current version (as ``page``) or lacks what the fact needs.
        Raises KeyError for an unknown fact or filter."""
        if fact not in FACTS:
            raise KeyError(f"no fact {fact!r}")
        if fact in EVERY_DATE_HELD and not await self._every_date_held():
            return None
        combos = [dict(c) for c in combinations]
        try:
            rows = await self._read(version, lambda snapshot, at: snapshot.facts(fact, combos, at))
        except Unanswerable:
            return None
        if rows is not None:
            self.fact_reads += 1
        return rows

    async def _every_date_held(self) -> bool:
        """Whether every ``pg:statedOn`` triple in the engine is one of a position the index holds (the engine's
        count of them equals the index's; the index's are some of them), at the version the index holds: checked
        once per version, and only when the version did not move while the engine counted."""
        snapshot = self._snapshot
        if snapshot is None:
            return False
        if snapshot.every_date_held is None:
            before = (await dataset_version(self.engine)).id
            rows = await self.engine.select(_COUNT_DATES, timeout=self.timeout)
            if before != snapshot.version or (await dataset_version(self.engine)).id != before:
                self._wake.set()
                return False
            held = await asyncio.to_thread(snapshot.dated_positions, before)
            snapshot.every_date_held = held is not None and int(rows[0]["n"]) == held
        return snapshot.every_date_held

    async def _read(self, version: str | None, read: Callable[[_Snapshot, str], list | None]) -> list | None:
        """``read`` of the snapshot at the engine's current version (``version``, or read here), in a thread; None
        when the index holds another version (then it is told to catch up)."""
        snapshot = self._snapshot
        if snapshot is None:
            return None
        current = version or (await dataset_version(self.engine)).id
        rows = None
        if current == snapshot.version:  # checked again under the snapshot's lock, where it counts
            rows = await asyncio.to_thread(read, snapshot, current)
        if rows is None:
            self._wake.set()
        return rows
