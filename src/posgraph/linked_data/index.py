"""A derived index of the collections in SQLite (which Python ships): one row per item (and per sort key, as the
engine would list it), a B-tree per collection and sort, so that a page is an index seek plus LIMIT whatever the
store's size and the page's depth.

It is derived, never authoritative. It is built from the engine when the app starts (in the background) and built
again whenever the dataset's version (``dataset_version``: every write path records a change) has moved. A page is
answered from it only when it holds the version the engine holds at that moment; otherwise the engine answers
(``collection.sparql_collection_page``, the reference the index must agree with) while the index catches up. So no
page ever disagrees with the engine, only some pages are slower just after a write.

Each worker process keeps its own index, in memory: it is rebuilt on every start anyway, and a private one needs
no locking between processes, nor a leader to build it, and cannot be read half-written by another process.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Mapping

import rdflib

from posgraph.engine import Engine
from posgraph.errors import EngineError
from posgraph.linked_data.collection import COLLECTIONS, Collection, Page, page_of, use_index
from posgraph.linked_data.resources import dataset_version
from posgraph.namespaces import PG, PGI, RDFS, SKOS

__all__ = ["CollectionIndex"]

log = logging.getLogger("posgraph.linked_data")

_TSV = "text/tab-separated-values"
_RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

# The filters that are memberships of an item (several values each), by collection: the property path to follow.
_MEMBERSHIPS: dict[tuple[str, str], str] = {
    ("positions", "party"): f"<{PG.heldBy}>",
    ("positions", "issue"): f"<{PG.concerns}>",
    ("events", "party"): f"<{PG.participant}>|<{PG.mediator}>",
    ("people", "party"): f"<{PG.holdsRole}>/<{PG.roleFor}>",
}

_SCHEMA = """
CREATE TABLE row (
  rid INTEGER PRIMARY KEY, coll TEXT NOT NULL, item TEXT NOT NULL, type TEXT NOT NULL,
  label TEXT, label_lang TEXT, label_dt TEXT, label_prop TEXT, date TEXT, date_dt TEXT,
  lkey TEXT NOT NULL, dkey TEXT NOT NULL, dfirst TEXT, dlast TEXT, superseded TEXT
);
CREATE TABLE member (
  coll TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, rid INTEGER NOT NULL,
  item TEXT NOT NULL, lkey TEXT NOT NULL, dkey TEXT NOT NULL
);
"""
# Built after the rows are in (faster than keeping them up to date row by row). rowid (= rid) ends every index.
_INDEXES = """
CREATE INDEX row_date ON row (coll, dkey, item);
CREATE INDEX row_label ON row (coll, lkey, item);
CREATE INDEX row_id ON row (coll, item);
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
_KEY_COLUMNS = {"date": "dkey", "label": "lkey", "id": "item"}


# ------------------------------------------------------------------------------------------ reading the engine
@dataclass(frozen=True)
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
        return _Term(True, _ESCAPES.sub(_unescape, text[1:-1]) if "\\" in text else text[1:-1])
    if text.startswith('"'):
        end = text.rindex('"')
        value = text[1:end]
        value = _ESCAPES.sub(_unescape, value) if "\\" in value else value
        rest = text[end + 1 :]
        if rest.startswith("@"):
            return _Term(False, value, rest[1:], _RDF_LANG_STRING)
        return _Term(False, value, None, rest[3:-1] if rest.startswith("^^<") else None)
    return _Term(False, text)  # an abbreviated number or boolean: never asked for here


def _rows(tsv: bytes) -> list[list[_Term | None]]:
    """The rows of a SPARQL TSV answer. Parsed in Python, line by line, so a thread doing it lets the event loop
    run (a C parser of a large JSON answer would hold the interpreter for its whole length)."""
    lines = tsv.decode("utf-8").split("\n")
    return [[_term(cell) for cell in line.rstrip("\r").split("\t")] for line in lines[1:] if line]


def _first(d: str) -> str:
    """The first day a date value covers, as the engine's filters compute it (``collection._FIRST``)."""
    return d + "-01-01" if len(d) == 4 else d + "-01" if len(d) == 7 else d


def _last(d: str) -> str:
    """The last day a date value covers, as the engine's filters compute it (``collection._LAST``)."""
    return d + "-12-31" if len(d) == 4 else d + "-31" if len(d) == 7 else d


class _Reader:
    """The queries an index is built from: simple patterns the engine streams fast; joined here, not there.
    Answers are parsed in a thread and kept for the build (several collections share a label property)."""

    def __init__(self, engine: Engine, timeout: float) -> None:
        self.engine, self.timeout = engine, timeout
        self._cache: dict[str, list[list[_Term | None]]] = {}

    async def rows(self, query: str) -> list[list[_Term | None]]:
        if query not in self._cache:
            response = await self.engine.query(query, accept=_TSV, timeout=self.timeout)
            self._cache[query] = await asyncio.to_thread(_rows, response.content)
        return self._cache[query]

    async def values(self, path: str, lowered: bool = False) -> list[list[_Term | None]]:
        """Subjects and objects along ``path``, with the engine's LCASE of the object's string when ``lowered``
        (the label sort key, computed by the engine so that it sorts as the engine sorts)."""
        extra = " (LCASE(STR(?v)) AS ?k)" if lowered else ""
        return await self.rows(f"SELECT ?item ?v{extra} WHERE {{ ?item {path} ?v }}")

    async def fetch(self, spec: Collection) -> dict[str, list[list[_Term | None]]]:
        """All the engine answers one collection is built from, by name."""
        if spec.name == "positions":
            members = f"SELECT ?item ?type WHERE {{ ?item a ?type . ?type <{RDFS.subClassOf}> <{PG.Position}> }}"
        elif spec.name == "issues":
            members = f"SELECT ?item WHERE {{ ?item <{SKOS.inScheme}> <{PGI}scheme> }}"
        else:
            members = f"SELECT ?item WHERE {{ ?item a <{spec.cls}> }}"
        raw = {"members": await self.rows(members), "labels": await self.values(f"<{spec.label}>", lowered=True)}
        if spec.fallback_label:
            raw["fallback"] = await self.values(f"<{spec.fallback_label}>", lowered=True)
        if spec.date:
            raw["dates"] = await self.values(f"<{spec.date}>")
        if spec.name == "positions":
            raw["superseded"] = await self.rows(
                f"SELECT ?item ?v WHERE {{ ?later <{PG.supersedes}> ?item ; <{PG.statedOn}> ?v }}"
            )
        for (name, kind), path in _MEMBERSHIPS.items():
            if name == spec.name:
                raw["member:" + kind] = await self.values(path)
        return raw


# ------------------------------------------------------------------------------------------ building
def _by_item(rows: list[list[_Term | None]]) -> dict[str, list[tuple[_Term, str]]]:
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


def _assemble(spec: Collection, raw: dict[str, list[list[_Term | None]]]) -> tuple[list[tuple], list[tuple]]:
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
        superseded[item] = min(_first(t.value) for t, _ in lows)
    kinds = {name.split(":", 1)[1]: _by_item(rows) for name, rows in raw.items() if name.startswith("member:")}
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
                            _first(d) if d is not None else None,
                            _last(d) if d is not None else None,
                            superseded.get(item),
                        )
                    )
        for kind, values in kinds.items():
            for value, _ in values.get(item, []):
                if value.iri:
                    members_of += [(kind, value.value, n) for n in range(first_row, len(rows))]
    return rows, members_of


def _build(collections: list[tuple[Collection, list[tuple], list[tuple]]]) -> sqlite3.Connection:
    """A new in-memory database holding these rows (run in a thread: sqlite3 lets the event loop run meanwhile)."""
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    db.executescript(_SCHEMA)
    db.execute("BEGIN")
    rid = 0
    for spec, rows, members_of in collections:
        db.executemany(
            "INSERT INTO row VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((rid + n, *row) for n, row in enumerate(rows)),
        )
        db.executemany(
            "INSERT INTO member VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((spec.name, kind, value, rid + n, rows[n][1], rows[n][9], rows[n][10]) for kind, value, n in members_of),
        )
        rid += len(rows)
    db.execute("COMMIT")
    db.executescript(_INDEXES)
    db.execute("ANALYZE")
    return db


# ------------------------------------------------------------------------------------------ pages
def _glob(text: str) -> str:
    """A GLOB pattern matching strings that contain ``text``."""
    return "*" + re.sub(r"([*?\[])", r"[\1]", text) + "*"


def _page_query(
    spec: Collection, values: Mapping[str, rdflib.term.Node], field: str, descending: bool, limit: int, rare_q: bool
) -> tuple[str, list]:
    """The SQL of one page and its arguments: a seek in the B-tree of the sort (of the collection, or of one of
    its memberships when the request filters by party or issue), the other filters checked along the way."""
    column = _KEY_COLUMNS[field]
    args: list = []
    kinds = [k for k in ("party", "issue") if k in values]
    if kinds:  # start from the smaller set: the items of one party or issue, in the order of the sort
        source, s = "member s JOIN row r ON r.rid = s.rid", "s"
        where = ["s.coll = ?", "s.kind = ?", "s.value = ?"]
        args += [spec.name, kinds[0], str(values[kinds[0]])]
    else:
        source, s = "row r", "r"
        where = ["r.coll = ?"]
        args.append(spec.name)
    if rare_q:  # start from the few labels that contain q (CROSS JOIN keeps that order of the loops)
        source = "label_text f CROSS JOIN row r ON r.rid = f.rowid" + (
            " CROSS JOIN member s ON s.rid = r.rid" if kinds else ""
        )
        where.append("f.lkey GLOB ?")
        args.append(_glob(str(values["q"]).lower()))
    for kind in kinds[1:]:
        where.append("EXISTS (SELECT 1 FROM member x WHERE x.rid = r.rid AND x.kind = ? AND x.value = ?)")
        args += [kind, str(values[kind])]
    if "klass" in values:
        where.append("r.type = ?")
        args.append(str(values["klass"]))
    if "q" in values:  # CONTAINS(LCASE(STR(?label)), LCASE(STR(?q))): false for an item without a label
        where.append("r.label IS NOT NULL AND instr(r.lkey, ?) > 0")
        args.append(str(values["q"]).lower())
    # Each date filter also bounds the date key itself (a value is a prefix of its first and last days), so
    # that a page sorted by date seeks to the range instead of walking up to it.
    if "stated_from" in values:
        first = _first(str(values["stated_from"]))
        where.append(f"r.dlast >= ? AND {s}.dkey >= ?")
        args += [first, first[:4]]
    if "stated_to" in values:
        where.append(f"r.dfirst <= ? AND {s}.dkey <= ?")
        args += [_last(str(values["stated_to"]))] * 2
    if "as_of" in values and spec.name == "positions":  # stated by then, and not yet superseded then
        where.append(f"r.dfirst <= ? AND {s}.dkey <= ? AND (r.superseded IS NULL OR r.superseded > ?)")
        args += [_last(str(values["as_of"]))] * 3
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
    """One built database and the dataset version it holds; its lock serialises the threads that read it."""

    db: sqlite3.Connection
    version: str
    lock: threading.Lock

    def page(
        self, spec: Collection, values: Mapping[str, rdflib.term.Node], field: str, descending: bool, limit: int
    ) -> list[tuple]:
        """The rows of one page (up to ``limit`` + 1)."""
        with self.lock:
            rare_q = False
            q = str(values["q"]).lower() if "q" in values else ""
            if len(q) >= 3:  # the trigram index needs three characters
                sql = "SELECT count(*) FROM (SELECT 1 FROM label_text WHERE lkey GLOB ? LIMIT ?)"
                rare_q = self.db.execute(sql, (_glob(q), _RARE)).fetchone()[0] < _RARE
            return self.db.execute(*_page_query(spec, values, field, descending, limit, rare_q)).fetchall()


# ------------------------------------------------------------------------------------------ the index
class CollectionIndex:
    """The collections of ``engine``, indexed; ``start`` builds it in the background and keeps it current
    (checking the dataset's version every ``poll`` seconds, and at once when a page found it behind)."""

    def __init__(self, engine: Engine, *, poll: float = 2.0, timeout: float = 600.0) -> None:
        self.engine, self.poll, self.timeout = engine, poll, timeout
        self._snapshot: _Snapshot | None = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    @property
    def version(self) -> str | None:
        """The dataset version the index holds (None before it is first built)."""
        return self._snapshot.version if self._snapshot else None

    def start(self) -> None:
        """Serve collection pages of the engine from this index (when current) and keep it current, in a task of
        the running event loop."""
        use_index(self.engine, self)
        self._task = asyncio.get_running_loop().create_task(self._keep_current(), name="collection index")

    async def stop(self) -> None:
        """Stop keeping the index current and stop answering from it."""
        use_index(self.engine, None)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._snapshot = None

    async def _keep_current(self) -> None:
        failures = 0
        while True:
            try:
                current = (await dataset_version(self.engine)).id
                if current != self.version:
                    await self.refresh(current)
                failures = 0
            except (EngineError, OSError, sqlite3.Error) as exc:  # the engine away or restarting: try again later
                failures += 1
                if failures == 1:
                    log.warning("the collection index could not be built: %s", exc)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(self.poll * (1 + failures), 60))
            except TimeoutError:
                pass

    async def refresh(self, version: str | None = None) -> str:
        """Build the index again from the engine and return the version it holds: the one read before reading
        the data (``version``, read now when not given), so a write that lands meanwhile is rebuilt next time."""
        version = version or (await dataset_version(self.engine)).id
        started = time.monotonic()
        reader = _Reader(self.engine, self.timeout)
        built = []
        for spec in COLLECTIONS.values():
            built.append((spec, *await asyncio.to_thread(_assemble, spec, await reader.fetch(spec))))
        db = await asyncio.to_thread(_build, built)
        self._snapshot = _Snapshot(db, version, threading.Lock())
        log.info(
            "collection index holds version %s (%d rows, built in %.1f s)",
            version,
            sum(len(rows) for _, rows, _ in built),
            time.monotonic() - started,
        )
        return version

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
        snapshot = self._snapshot
        if snapshot is None:
            return None
        if (version or (await dataset_version(self.engine)).id) != snapshot.version:
            self._wake.set()
            return None
        rows = await asyncio.to_thread(snapshot.page, spec, values, field, descending, limit)
        return page_of(_node_rows(rows), spec, limit)
