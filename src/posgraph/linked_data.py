"""Integrators' use cases: resources by IRI (framed JSON-LD and RDF), filtered and paged collections, the
dataset's version (for ETags), the change feed, and dumps.

Every query here is built from fixed text plus RDF terms that rdflib serialises; no request value is pasted in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import AsyncIterator, Mapping

import pyoxigraph as ox
import rdflib
from pyld import jsonld

from posgraph import formats
from posgraph.catalog import Param
from posgraph.engine import Engine
from posgraph.errors import InvalidParameter, NotFound
from posgraph.namespaces import CONTEXT_IRI, ONTOLOGY_GRAPH, PG, PGI, PGID, PREFIXES, sparql_prologue

__all__ = [
    "Version",
    "dataset_version",
    "describe",
    "frame",
    "COLLECTIONS",
    "collection_page",
    "changes",
    "Dump",
    "read_dump",
    "write_dump",
    "DUMP_FORMATS",
    "Summary",
    "dataset_summary",
    "dump_file",
    "local_url",
    "ontology_graph",
]

_NT = formats.format_for_media_type("application/n-triples")
_NOT_IN_IRIS = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_RDF_TYPE = str(rdflib.RDF.type)
_XSD = "http://www.w3.org/2001/XMLSchema#"
# Literals shown as JSON values, each only for its canonical lexical forms (so the RDF reads back the same).
_NATIVE = {
    _XSD + "boolean": lambda v: {"true": True, "false": False}.get(v, v),
    _XSD + "integer": lambda v: int(v) if re.fullmatch(r"-?(0|[1-9][0-9]*)", v) and abs(int(v)) < 2**53 else v,
}


@dataclass(frozen=True)
class Version:
    """The dataset's version: the id of its latest change (None before any) and when that change was made."""

    id: str
    modified: datetime | None


async def dataset_version(engine: Engine) -> Version:
    """Return the latest change's id and time (one small query)."""
    rows = await engine.select(
        sparql_prologue(("pg", "prov"))
        + """
        SELECT ?change ?at WHERE { ?change a pg:Change ; prov:atTime ?at } ORDER BY DESC(?at) DESC(?change) LIMIT 1"""
    )
    if not rows:
        return Version("empty", None)
    return Version(str(rows[0]["change"]).rsplit("/", 1)[-1], datetime.fromisoformat(str(rows[0]["at"])))


@dataclass(frozen=True)
class Summary:
    """The dataset's version and its number of triples in the default graph, read together (one snapshot)."""

    version: Version
    triples: int


async def dataset_summary(engine: Engine) -> Summary:
    """Return the dataset's version and size from one query, so the two always describe the same data."""
    rows = await engine.select(
        sparql_prologue(("pg", "prov"))
        + """
        SELECT ?change ?at ?n WHERE {
          { SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } }
          OPTIONAL { SELECT ?change ?at WHERE { ?change a pg:Change ; prov:atTime ?at }
                     ORDER BY DESC(?at) DESC(?change) LIMIT 1 }
        }"""
    )
    row = rows[0]
    if "change" not in row:
        return Summary(Version("empty", None), int(row["n"]))
    version = Version(str(row["change"]).rsplit("/", 1)[-1], datetime.fromisoformat(str(row["at"])))
    return Summary(version, int(row["n"]))


def local_url(base_url: str, iri: str) -> str:
    """Return this server's URL (under ``base_url``) for an instance or issue IRI; other IRIs come back unchanged."""
    if iri.startswith(str(PGID)):
        return f"{base_url}/id/{iri[len(str(PGID)) :]}"
    if iri.startswith(str(PGI)):
        return f"{base_url}/issue/{iri[len(str(PGI)) :]}"
    return iri


async def ontology_graph(engine: Engine) -> rdflib.Graph:
    """Return the published ontology graph, with posgraph's prefixes bound; raises an engine error."""
    content = (await engine.graph_get(str(ONTOLOGY_GRAPH))).content
    graph = formats.to_rdflib_graph(formats.read_quads(content, _NT, "ontology"))
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


# ------------------------------------------------------------------------------------------ resources
# The root IRI is written into every branch (as a serialised term): a VALUES outside the UNION would not bind
# inside it, since each branch is evaluated on its own.
_CLOSURE = """CONSTRUCT { ?s ?p ?o } WHERE {
  { %(root)s ?p ?o . BIND (%(root)s AS ?s) }
  UNION { %(root)s ?p1 ?s . FILTER (isBlank(?s)) ?s ?p ?o }
  UNION { %(root)s ?p1 ?b1 . FILTER (isBlank(?b1)) ?b1 ?p2 ?s . FILTER (isBlank(?s)) ?s ?p ?o }
  UNION { %(root)s ?p1 ?b1 . FILTER (isBlank(?b1)) ?b1 ?p2 ?b2 . FILTER (isBlank(?b2))
          ?b2 ?p3 ?s . FILTER (isBlank(?s)) ?s ?p ?o }
  UNION { %(root)s <%(source)s> ?s . ?s ?p ?o }
  UNION { ?s <%(held)s> %(root)s . BIND (<%(held)s> AS ?p) BIND (%(root)s AS ?o) }
}"""


async def describe(engine: Engine, iri: str) -> list[ox.Quad]:
    """The resource's description as quads: its statements, its blank nodes' (terms, conditions, quantities,
    roles), its sources' descriptions, and the positions a party holds (by reference). Raises NotFound if it has
    none."""
    if _NOT_IN_IRIS.search(iri):  # such a path names no resource (and would not serialise as an IRI)
        raise NotFound(f"no resource <{iri[:200]}>")
    data = await engine.construct(_CLOSURE % {"root": rdflib.URIRef(iri).n3(), "source": PG.source, "held": PG.heldBy})
    # The engine's own answer: what is stored is shown as it is (bodies coming in are checked, not answers).
    quads = formats.read_quads(data, _NT, "engine", allow_control_chars=True)
    root = ox.NamedNode(iri)
    if not any(quad.subject == root for quad in quads):
        raise NotFound(f"no resource <{iri}>")
    return quads


def _context_loader(context: dict):
    """A JSON-LD document loader that knows posgraph's own context and nothing else (nothing is ever fetched)."""

    def load(url: str, options: dict | None = None) -> dict:
        if url == CONTEXT_IRI:
            # "static": pyld keeps the processed context in its shared cache, keyed by this IRI.
            return {"contextUrl": None, "documentUrl": url, "document": context, "tag": "static"}
        raise jsonld.JsonLdError(f"posgraph never fetches JSON-LD documents ({url})", "loading document failed")

    return load


def frame(quads: list[ox.Quad], iri: str, context: dict, context_url: str | None) -> dict:
    """Frame the description as one JSON-LD object rooted at ``iri``: blank nodes and sources embedded, parties'
    positions listed by reference, compacted with posgraph's context (named by ``context_url``)."""
    # pyoxigraph writes expanded JSON-LD with rdf:type as a plain property and every literal as a string;
    # framing wants @type, and integrators want JSON numbers and booleans where the lexical form is canonical.
    expanded = json.loads(ox.serialize(quads, format=ox.RdfFormat.JSON_LD))
    for node in expanded:
        types = node.get(_RDF_TYPE)
        if types and all("@id" in t for t in types):
            node["@type"] = [t["@id"] for t in node.pop(_RDF_TYPE)]
        for values in node.values():
            if isinstance(values, list):
                for value in values:
                    if isinstance(value, dict) and value.get("@type") in _NATIVE:
                        value["@value"] = _NATIVE[value["@type"]](value["@value"])
    frame_doc = {
        # By IRI, not inline: pyld then caches the processed context by that IRI instead of hashing the whole
        # context on every call (a sixth of a request's time).
        "@context": CONTEXT_IRI,
        "@id": iri,
        "@embed": "@once",
        "@reverse": {str(PG.heldBy): {"@embed": "@never", "@explicit": True}},
    }
    framed = jsonld.frame(
        expanded,
        frame_doc,
        {"documentLoader": _context_loader(context), "omitGraph": True, "pruneBlankNodeIdentifiers": True},
    )
    framed.pop("@context", None)
    return {"@context": context_url or context["@context"], **framed}


# ------------------------------------------------------------------------------------------ collections
@dataclass(frozen=True)
class Collection:
    """One listable kind of resource: which class, which label and date it sorts by, which filters it takes."""

    name: str
    cls: str
    label: str
    date: str | None
    filters: tuple[str, ...]


_POSITION_TYPES = (
    "Demand",
    "Offer",
    "Proposal",
    "Concession",
    "Acceptance",
    "Rejection",
    "Threat",
    "Agreement",
    "Statement",
)
COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in (
        Collection(
            "positions",
            str(PG.Position),
            str(PG.summary),
            str(PG.statedOn),
            ("party", "issue", "type", "stated_from", "stated_to", "as_of", "q"),
        ),
        Collection("parties", str(PG.Party), "http://www.w3.org/2004/02/skos/core#prefLabel", None, ("q",)),
        Collection("people", str(PG.Person), "http://www.w3.org/2004/02/skos/core#prefLabel", None, ("party", "q")),
        Collection(
            "events",
            str(PG.Event),
            "http://www.w3.org/2004/02/skos/core#prefLabel",
            str(PG.startDate),
            ("party", "stated_from", "stated_to", "q"),
        ),
        Collection(
            "sources",
            str(PG.Source),
            "https://schema.org/headline",
            "https://schema.org/datePublished",
            ("stated_from", "stated_to", "q"),
        ),
        Collection(
            "issues",
            "http://www.w3.org/2004/02/skos/core#Concept",
            "http://www.w3.org/2004/02/skos/core#prefLabel",
            None,
            ("q",),
        ),
    )
}
_PARAMS = {
    "party": Param("party", "iri", False),
    "issue": Param("issue", "iri", False),
    "stated_from": Param("stated_from", "date", False),
    "stated_to": Param("stated_to", "date", False),
    "as_of": Param("as_of", "date", False),
    "q": Param("q", "string", False),
}
_FIRST = 'IF(STRLEN(%s) = 4, CONCAT(%s, "-01-01"), IF(STRLEN(%s) = 7, CONCAT(%s, "-01"), %s))'
_LAST = 'IF(STRLEN(%s) = 4, CONCAT(%s, "-12-31"), IF(STRLEN(%s) = 7, CONCAT(%s, "-31"), %s))'


def _span(expr: str, template: str) -> str:
    return template % ((expr,) * 5)


@dataclass(frozen=True)
class Page:
    """One page of a collection: its items and the cursor of the next page (None on the last)."""

    items: list[dict]
    next_cursor: str | None


def _encode_cursor(key: str, item: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([key, item]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        key, item = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(key, str) and isinstance(item, str)):
            raise ValueError
        return key, item
    except (ValueError, TypeError):
        raise InvalidParameter("cursor", "not a cursor this server issued; follow the Link headers") from None


async def collection_page(
    engine: Engine,
    name: str,
    params: Mapping[str, str],
    *,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of collection ``name``, filtered and sorted, after ``cursor`` (keyset pagination: pages neither
    skip nor repeat items while the data is unchanged). Raises NotFound or InvalidParameter naming the parameter."""
    spec = COLLECTIONS.get(name)
    if spec is None:
        raise NotFound(f"no collection {name!r}")
    for key in params:
        if key not in spec.filters and key != "type":
            raise InvalidParameter(key, f"/{name} has no such filter (it takes: {', '.join(spec.filters)})")
    sortable = ("date", "-date", "label", "-label", "id", "-id") if spec.date else ("label", "-label", "id", "-id")
    sort = sort or ("date" if spec.date else "label")
    if sort not in sortable:
        raise InvalidParameter("sort", f"use one of {', '.join(sortable)}")
    if not 1 <= limit <= 500:
        raise InvalidParameter("limit", "must be between 1 and 500")
    values = {k: _PARAMS[k].to_term(v) for k, v in params.items() if k in _PARAMS and v != ""}
    type_name = params.get("type")
    if type_name:
        if name != "positions" or type_name not in _POSITION_TYPES:
            raise InvalidParameter("type", f"use one of {', '.join(_POSITION_TYPES)}")
        values["klass"] = rdflib.URIRef(str(PG) + type_name)
    field = sort.lstrip("-")
    descending = sort.startswith("-")
    if cursor:
        after_key, after_id = _decode_cursor(cursor)
        values["afterKey"], values["afterId"] = rdflib.Literal(after_key), rdflib.Literal(after_id)
    names = ["party", "issue", "stated_from", "stated_to", "as_of", "q", "klass", "afterKey", "afterId"]
    block = (
        "VALUES ("
        + " ".join(f"?{n}" for n in names)
        + ") { ("
        + " ".join(values[n].n3() if n in values else "UNDEF" for n in names)
        + ") }"
    )
    where = [block]
    if spec.cls == str(PG.Position):
        where.append(f"?item a ?type . ?type <http://www.w3.org/2000/01/rdf-schema#subClassOf> <{PG.Position}> .")
        where.append("FILTER (!BOUND(?klass) || ?type = ?klass)")
        where.append(f"FILTER (!BOUND(?party) || EXISTS {{ ?item <{PG.heldBy}> ?party }})")
        where.append(f"FILTER (!BOUND(?issue) || EXISTS {{ ?item <{PG.concerns}> ?issue }})")
    elif spec.cls == str(PG.Event):
        where.append(f"?item a <{spec.cls}> . BIND (<{spec.cls}> AS ?type)")
        where.append(f"FILTER (!BOUND(?party) || EXISTS {{ ?item <{PG.participant}>|<{PG.mediator}> ?party }})")
    elif name == "people":
        where.append(f"?item a <{spec.cls}> . BIND (<{spec.cls}> AS ?type)")
        where.append(f"FILTER (!BOUND(?party) || EXISTS {{ ?item <{PG.holdsRole}>/<{PG.roleFor}> ?party }})")
    elif name == "issues":
        where.append(
            f"?item <http://www.w3.org/2004/02/skos/core#inScheme> <{PGI}scheme> . BIND (<{spec.cls}> AS ?type)"
        )
    else:
        where.append(f"?item a <{spec.cls}> . BIND (<{spec.cls}> AS ?type)")
    where.append(f'OPTIONAL {{ ?item <{spec.label}> ?labelEn FILTER (lang(?labelEn) = "en") }}')
    where.append(f"OPTIONAL {{ ?item <{spec.label}> ?labelAny }}")
    where.append("BIND (COALESCE(?labelEn, ?labelAny) AS ?label)")
    where.append("FILTER (!BOUND(?q) || CONTAINS(LCASE(STR(?label)), LCASE(STR(?q))))")
    if spec.date:
        where.append(f"OPTIONAL {{ ?item <{spec.date}> ?date }}")
        where.append("BIND (STR(?date) AS ?d)")
        where.append(f"FILTER (!BOUND(?stated_from) || {_span('?d', _LAST)} >= {_span('STR(?stated_from)', _FIRST)})")
        where.append(f"FILTER (!BOUND(?stated_to) || {_span('?d', _FIRST)} <= {_span('STR(?stated_to)', _LAST)})")
    if spec.cls == str(PG.Position):
        asof = _span("STR(?as_of)", _LAST)
        where.append(
            f"FILTER (!BOUND(?as_of) || ({_span('?d', _FIRST)} <= {asof} && NOT EXISTS {{ "
            f"?later <{PG.supersedes}> ?item ; <{PG.statedOn}> ?lo . "
            f"FILTER ({_span('STR(?lo)', _FIRST)} <= {asof}) }}))"
        )
    key_expr = {"date": 'COALESCE(STR(?date), "")', "label": 'LCASE(COALESCE(STR(?label), ""))', "id": "STR(?item)"}[
        field
    ]
    where.append(f"BIND ({key_expr} AS ?key)")
    op = "<" if descending else ">"
    where.append(f"FILTER (!BOUND(?afterKey) || ?key {op} ?afterKey || (?key = ?afterKey && STR(?item) {op} ?afterId))")
    order = "DESC(?key) DESC(STR(?item))" if descending else "?key STR(?item)"
    query = (
        "SELECT DISTINCT ?item ?type ?label ?date ?key WHERE {\n  "
        + "\n  ".join(where)
        + f"\n}} ORDER BY {order} LIMIT {limit + 1}"
    )
    rows = await engine.select(query)
    items, seen = [], set()
    for row in rows:
        if str(row["item"]) in seen:  # an item of two move classes appears once
            continue
        seen.add(str(row["item"]))
        items.append(row)
    more = len(items) > limit
    items = items[:limit]
    next_cursor = _encode_cursor(str(items[-1]["key"]), str(items[-1]["item"])) if more and items else None
    return Page([_item(row, spec) for row in items], next_cursor)


_DATE_TERMS = {
    "http://www.w3.org/2001/XMLSchema#date": "",
    "http://www.w3.org/2001/XMLSchema#gYearMonth": "Month",
    "http://www.w3.org/2001/XMLSchema#gYear": "Year",
}
_DATE_NAMES = {
    str(PG.statedOn): "statedOn",
    str(PG.startDate): "startDate",
    "https://schema.org/datePublished": "datePublished",
}
_LABEL_NAMES = {
    str(PG.summary): "summary",
    "http://www.w3.org/2004/02/skos/core#prefLabel": "prefLabel",
    "https://schema.org/headline": "headline",
}


def _item(row: Mapping[str, rdflib.term.Node], spec: Collection) -> dict:
    """A compact JSON-LD node for one collection item (terms chosen so the values expand to the stored RDF)."""
    item: dict = {
        "id": str(row["item"]),
        "type": str(row["type"]).rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        if str(row["type"]).startswith(str(PG))
        else str(row["type"]),
    }
    if spec.name == "issues":
        item["type"] = "skos:Concept"
    label = row.get("label")
    if isinstance(label, rdflib.Literal):
        item[_LABEL_NAMES[spec.label]] = {label.language or "@none": str(label)}
    date = row.get("date")
    if isinstance(date, rdflib.Literal) and spec.date and str(date.datatype) in _DATE_TERMS:
        item[_DATE_NAMES[spec.date] + _DATE_TERMS[str(date.datatype)]] = str(date)
    return item


# ------------------------------------------------------------------------------------------ changes
_CHANGE_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{4}$")


async def changes(engine: Engine, since: str | None, limit: int = 100) -> list[dict]:
    """Changes after ``since`` (a change id, i.e. a dataset version, or an ISO date-time), oldest first."""
    after_time = None
    if since:
        if _CHANGE_ID.match(since):
            rows = await engine.select(
                sparql_prologue(("prov",))
                + "SELECT ?at WHERE { "
                + rdflib.URIRef(f"{PGID}change/{since}").n3()
                + " prov:atTime ?at }"
            )
            if not rows:
                raise InvalidParameter("since", f"no change {since!r} (a version this server issued, or a time)")
            after_time = str(rows[0]["at"])
        else:
            try:
                after_time = datetime.fromisoformat(since.replace("Z", "+00:00")).isoformat()
            except ValueError:
                raise InvalidParameter("since", "use a version (from ETag or /changes) or an ISO date-time") from None
    if not 1 <= limit <= 1000:
        raise InvalidParameter("limit", "must be between 1 and 1000")
    bound = rdflib.Literal(after_time, datatype=rdflib.XSD.dateTime).n3() if after_time else "UNDEF"
    rows = await engine.select(
        sparql_prologue(("pg", "prov", "rdfs"))
        + f"""
        SELECT ?change ?kind ?at ?batch ?who WHERE {{
          VALUES ?after {{ {bound} }}
          ?change a pg:Change ; pg:changeKind ?kind ; prov:atTime ?at .
          FILTER (!BOUND(?after) || ?at > ?after)
          OPTIONAL {{ ?change pg:changedBatch ?batch }}
          OPTIONAL {{ ?change prov:wasAssociatedWith/rdfs:label ?who }}
        }} ORDER BY ?at ?change LIMIT {limit}"""
    )
    return [
        {
            "version": str(r["change"]).rsplit("/", 1)[-1],
            "id": str(r["change"]),
            "kind": str(r["kind"]),
            "atTime": str(r["at"]),
            **({"batch": str(r["batch"])} if "batch" in r else {}),
            **({"by": str(r["who"])} if "who" in r else {}),
        }
        for r in rows
    ]


# ------------------------------------------------------------------------------------------ dumps
DUMP_FORMATS = {
    "nq": ("application/n-quads", False),
    "trig": ("application/trig", False),
    "ttl": ("text/turtle", True),
    "jsonld": ("application/ld+json", True),
}


@dataclass(frozen=True)
class Dump:
    """One generated dump: its file, size and SHA-256 (hex)."""

    path: Path
    size: int
    sha256: str


def _dump_description(directory: Path, extension: str) -> Path:
    return directory / f"posgraph.{extension}.json"


def read_dump(directory: Path, extension: str) -> Dump | None:
    """The dump in one format already written into ``directory`` (one dataset version's), or None."""
    try:
        info = json.loads(_dump_description(directory, extension).read_text())
    except (OSError, ValueError):
        return None
    path = directory / info["file"]
    return Dump(path, info["size"], info["sha256"]) if path.exists() else None


async def write_dump(engine: Engine, extension: str, directory: Path) -> Dump:
    """Write the published data in one format into ``directory`` and return it. Quad formats hold every graph;
    Turtle and JSON-LD the default graph.

    Safe against concurrent writers, in this process or others: the data goes to a temporary file of its own, is
    renamed (atomically) to a name carrying its digest, and only then is the description (size, SHA-256, file
    name) replaced, atomically too. So a reader of the description always finds a complete file with that digest.
    Raises an engine error (nothing is described then).
    """
    media_type, default_only = DUMP_FORMATS[extension]
    digest, size = hashlib.sha256(), 0
    directory.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=directory, prefix=f".posgraph.{extension}.", suffix=".partial")
    try:
        os.fchmod(handle, 0o644)  # public data, like the files before (mkstemp makes them private)
        with os.fdopen(handle, "wb") as sink:
            async for chunk in engine.dump(media_type=media_type, default_graph_only=default_only, timeout=3600):
                sink.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        name = f"posgraph.{extension}.{digest.hexdigest()[:16]}"
        os.replace(scratch, directory / name)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    dump = Dump(directory / name, size, digest.hexdigest())
    handle, scratch = tempfile.mkstemp(dir=directory, prefix=f".posgraph.{extension}.json.", suffix=".partial")
    with os.fdopen(handle, "w") as sink:
        json.dump({"file": name, "size": size, "sha256": dump.sha256}, sink)
    os.replace(scratch, _dump_description(directory, extension))
    return dump


# Dumps being written, by (directory, format): concurrent requests for the same one share a single writer.
_dumps_in_flight: dict[tuple[Path, str], asyncio.Task] = {}


async def dump_file(engine: Engine, dumps_dir: Path, version: Version, extension: str) -> Dump:
    """Return the dump of dataset ``version`` in one format, writing it first (once, however many ask at the same
    time) when it is not in ``dumps_dir`` yet. Raises an engine error."""
    directory = Path(dumps_dir) / version.id
    written = read_dump(directory, extension)
    if written is not None:
        return written
    key = (directory, extension)
    task = _dumps_in_flight.get(key)
    if task is None:
        task = asyncio.ensure_future(write_dump(engine, extension, directory))
        _dumps_in_flight[key] = task
        task.add_done_callback(lambda _: _dumps_in_flight.pop(key, None))
    # Shielded: a client that goes away does not cancel the dump the others are waiting for.
    return await asyncio.shield(task)


async def iter_file(path: Path, chunk: int = 1 << 16) -> AsyncIterator[bytes]:
    """Yield a file's bytes in chunks."""
    with open(path, "rb") as handle:
        while data := handle.read(chunk):
            yield data


# ------------------------------------------------------------------------------------------ exports (the command line)
from typing import BinaryIO  # noqa: E402  (added with this section; belongs with the imports above)


async def export(engine: Engine, extension: str, sink: BinaryIO, *, timeout: float | None = None) -> int:
    """Write the published data in one of ``DUMP_FORMATS`` (quad formats: every graph; Turtle and JSON-LD: the
    default graph) to ``sink`` as the engine streams it; return the number of bytes written.

    ``timeout`` bounds each read (default the engine's). Raises an engine error, or OSError from ``sink``.
    """
    media_type, default_only = DUMP_FORMATS[extension]
    size = 0
    async for chunk in engine.dump(media_type=media_type, default_graph_only=default_only, timeout=timeout):
        sink.write(chunk)
        size += len(chunk)
    return size


async def export_to_file(engine: Engine, extension: str, path: Path, *, timeout: float | None = None) -> int:
    """Write the published data (as ``export``) to the file ``path``; return the number of bytes written.

    The data goes to ``path``.partial first, renamed only when complete, so ``path`` never holds half a dump.
    Raises BadInput (the file cannot be written) or an engine error; nothing is left behind either way.
    """
    from posgraph.errors import BadInput

    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as sink:
            size = await export(engine, extension, sink, timeout=timeout)
        partial.replace(path)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return size
