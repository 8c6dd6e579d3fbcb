"""Resources by IRI: the dataset's version and size (for ETags and descriptions), a resource's closure as
framed JSON-LD, local URLs of instance IRIs, and the ontology graph.

Every query here is built from fixed text plus RDF terms that rdflib serialises; no request value is pasted in.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyoxigraph as ox
import rdflib
from pyld import jsonld

from posgraph import formats
from posgraph.engine import Engine
from posgraph.errors import NotFound
from posgraph.namespaces import CONTEXT_IRI, ONTOLOGY_GRAPH, PG, PGI, PGID, PREFIXES, PROV, sparql_prologue

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


def _closure(iri: str, text: str = _CLOSURE) -> str:
    return text % {"root": rdflib.URIRef(iri).n3(), "source": PG.source, "held": PG.heldBy}


async def describe(engine: Engine, iri: str) -> list[ox.Quad]:
    """The resource's description as quads: its statements, its blank nodes' (terms, conditions, quantities,
    roles), its sources' descriptions, and the positions a party holds (by reference). Raises NotFound if it has
    none."""
    if _node(iri) is None:  # such a path names no resource (and would not serialise as an IRI)
        raise NotFound(f"no resource <{iri[:200]}>")
    data = await engine.construct(_closure(iri))
    # The engine's own answer: what is stored is shown as it is (bodies coming in are checked, not answers).
    return require_described(formats.read_quads(data, _NT, "engine", allow_control_chars=True), iri)


def _node(iri: str) -> ox.NamedNode | None:
    """``iri`` as a node, or None when it is not an IRI (a request path may hold anything; it then names nothing)."""
    if _NOT_IN_IRIS.search(iri):
        return None
    try:
        return ox.NamedNode(iri)
    except ValueError:
        return None


def require_described(quads: list[ox.Quad], iri: str) -> list[ox.Quad]:
    """Return ``quads`` (a description of ``iri``); raises NotFound when none of them is about ``iri`` (or ``iri``
    is not an IRI)."""
    root = _node(iri)
    if root is None or not any(quad.subject == root for quad in quads):
        raise NotFound(f"no resource <{iri[:200]}>")
    return quads


@dataclass(frozen=True)
class Described:
    """A resource's description (possibly empty: no such resource), the dataset's version it was read at, and the
    IRI the resource was merged into (its ``pg:mergedInto``, the least if several), if any."""

    version: Version
    quads: list[ox.Quad]
    merged_into: str | None


# The version rides in the description's answer under predicates no stored triple can have (a per-process secret):
# one engine round trip instead of two, and the version is the one the description was read at.
_MARK = f"urn:x-posgraph-{secrets.token_hex(8)}:"
_CHANGE, _AT = ox.NamedNode(_MARK + "change"), ox.NamedNode(_MARK + "at")
_VERSIONED_CLOSURE = (
    " ".join(  # one line, single spaces: every request sends it (form-encoded) and the engine parses it
        (
            _CLOSURE.replace(
                "CONSTRUCT { ?s ?p ?o }",
                f"CONSTRUCT {{ ?s ?p ?o . ?v <{_CHANGE.value}> ?change . ?v <{_AT.value}> ?at }}",
            )
            .rstrip()
            .removesuffix("}")
            + f"""UNION {{ {{ SELECT ?change ?at WHERE {{ ?change a <{PG.Change}> ; <{PROV.atTime}> ?at }}
                     ORDER BY DESC(?at) DESC(?change) LIMIT 1 }}
                  BIND (<{_MARK}version> AS ?v) }}
}}"""
        ).split()
    )
)


async def describe_versioned(engine: Engine, iri: str) -> Described:
    """Return the resource's description (as ``describe``, but empty rather than NotFound when there is none)
    with the dataset's version and the resource's merge target, read in one query. Raises an engine error."""
    root = _node(iri)
    if root is None:
        return Described(await dataset_version(engine), [], None)
    data = await engine.construct(_closure(iri, _VERSIONED_CLOSURE))
    quads, change, at = [], None, None
    merged = ox.NamedNode(str(PG.mergedInto))
    targets = []
    for quad in formats.read_quads(data, _NT, "engine", allow_control_chars=True):
        if quad.predicate == _CHANGE:
            change = quad.object.value
        elif quad.predicate == _AT:
            at = quad.object.value
        else:
            quads.append(quad)
            if quad.subject == root and quad.predicate == merged and isinstance(quad.object, ox.NamedNode):
                targets.append(quad.object.value)
    version = (
        Version("empty", None) if change is None else Version(change.rsplit("/", 1)[-1], datetime.fromisoformat(at))
    )
    return Described(version, quads, min(targets) if targets else None)


async def version_and_merge(engine: Engine, iri: str) -> tuple[Version, str | None]:
    """Return the dataset's version (as ``dataset_version``) and the IRI that ``iri`` was merged into (its
    ``pg:mergedInto``, or None), from one query: a resource GET asks both, and an engine round trip costs about as
    much as the rest of answering it. Raises an engine error."""
    if _node(iri) is None:
        return await dataset_version(engine), None
    rows = await engine.select(
        sparql_prologue(("pg", "prov"))
        + f"""
        SELECT ?change ?at ?to WHERE {{
          OPTIONAL {{ SELECT ?change ?at WHERE {{ ?change a pg:Change ; prov:atTime ?at }}
                     ORDER BY DESC(?at) DESC(?change) LIMIT 1 }}
          OPTIONAL {{ {rdflib.URIRef(iri).n3()} <{PG.mergedInto}> ?to }}
        }} ORDER BY ?to LIMIT 1"""
    )
    row = rows[0] if rows else {}
    target = str(row["to"]) if "to" in row else None
    if "change" not in row:
        return Version("empty", None), target
    return Version(str(row["change"]).rsplit("/", 1)[-1], datetime.fromisoformat(str(row["at"]))), target


def _context_loader(context: dict):
    """A JSON-LD document loader that knows posgraph's own context and nothing else (nothing is ever fetched)."""

    def load(url: str, options: dict | None = None) -> dict:
        if url == CONTEXT_IRI:
            # "static": pyld keeps the processed context in its shared cache, keyed by this IRI.
            return {"contextUrl": None, "documentUrl": url, "document": context, "tag": "static"}
        raise jsonld.JsonLdError(f"posgraph never fetches JSON-LD documents ({url})", "loading document failed")

    return load


# Marks a framing input as pyoxigraph's expanded JSON-LD (see _Framer.expand).
_EXPANDED = "posgraphExpanded"
_UNCACHEABLE = object()
_MAX_IRIS = 50_000


class _Framer(jsonld.JsonLdProcessor):
    """pyld's framing and compaction, with what it would compute again on every document kept instead: the
    expanded frame, and each IRI's compaction (term selection looks at a value only through its kind, language,
    datatype and whether its @id is a term, so that is the key). The input, pyoxigraph's expanded JSON-LD, is not
    expanded again: it is in expanded form already. Output is pyld's own, byte for byte (tests compare them);
    three quarters of framing's time went to the two things kept."""

    def __init__(self) -> None:
        super().__init__()
        self._iris: dict = {}  # a plain dict (emptied when full): an LRU's bookkeeping cost more than it saved
        self._frames: dict[str, list] = {}

    def expand(self, input_, options):  # noqa: D102 (pyld's signature)
        if options.get("isFrame"):
            key = json.dumps(input_, sort_keys=True)
            if key not in self._frames:
                self._frames[key] = super().expand(input_, options)
            return copy.deepcopy(self._frames[key])  # framing changes the frame it is given
        if options.get(_EXPANDED):
            return input_
        return super().expand(input_, options)

    def _compact_iri(self, active_ctx, iri, value=None, vocab=False, base=None, reverse=False):
        kind = self._value_kind(active_ctx, value)
        uuid = active_ctx.get("_uuid")
        if kind is _UNCACHEABLE or uuid is None or not isinstance(iri, str):
            return super()._compact_iri(active_ctx, iri, value, vocab, base, reverse)
        key = (uuid, iri, kind, vocab, base, reverse)
        found = self._iris.get(key, _UNCACHEABLE)
        if found is _UNCACHEABLE:
            found = super()._compact_iri(active_ctx, iri, value, vocab, base, reverse)
            if len(self._iris) >= _MAX_IRIS:
                self._iris.clear()
            self._iris[key] = found
        return found

    def compact_framed(self, framed: dict, options: dict) -> dict:
        """Compact a framed expanded document as pyld's ``frame`` compacts its framing's output (same options)."""
        options = {
            **options,
            "base": "",
            "compactArrays": True,
            "embed": "@once",
            "explicit": False,
            "omitDefault": False,
            "requireAll": False,
            "processingMode": "json-ld-1.1",
            "extractAllScripts": False,
            "merged": True,
            "is11": True,
            "graph": False,
            "skipExpansion": True,
            "framing": True,
            "link": {},
        }
        result = self.compact([framed], CONTEXT_IRI, options)
        options["link"] = {}
        return self._cleanup_null(result, options)

    def _value_kind(self, active_ctx, value):
        """What of ``value`` pyld's term selection depends on (``_UNCACHEABLE`` for values not worth keying)."""
        if value is None:
            return None
        if not isinstance(value, dict) or not value.keys().isdisjoint(("@index", "@list", "@graph", "@preserve")):
            return _UNCACHEABLE
        if "@value" in value:
            return ("value", value.get("@language"), value.get("@direction"), value.get("@type"), len(value))
        if "@id" not in value:
            return ("node",)
        # _select_term prefers @vocab over @id when the node's own IRI compacts to a term mapped to it.
        term = self._compact_iri(active_ctx, value["@id"], None, vocab=True)
        mapping = active_ctx["mappings"].get(term)
        return ("node", bool(term is not None and mapping and mapping["@id"] == value["@id"]))


_FRAMER = _Framer()


class _Unusual(Exception):
    """A description whose framing _Framer.frame_resource leaves to pyld's own algorithm."""


_HELD_BY = str(PG.heldBy)
_VALUE_KEYS = frozenset(("@value", "@type", "@language"))


def _add(values: list, value: object) -> None:
    if value not in values:  # pyld's node map keeps each value once
        values.append(value)


def _node_map(expanded: list) -> dict[str, dict]:
    """The subjects of pyoxigraph's expanded JSON-LD by @id, merged as pyld's node map merges them (values in
    order, each once; every referenced node has an entry). Raises _Unusual for what pyld would relabel or treat
    otherwise: blank node types or properties, nodes without @id, values other than references and literals."""
    nodes: dict[str, dict] = {}
    for element in expanded:
        id_ = element.get("@id")
        if not isinstance(id_, str):
            raise _Unusual
        node = nodes.setdefault(id_, {"@id": id_})
        for prop, values in element.items():
            if prop == "@id":
                continue
            if prop == "@type":
                if any(t.startswith("_:") for t in values):
                    raise _Unusual
                for type_ in values:
                    _add(node.setdefault("@type", []), type_)
                continue
            if prop.startswith(("@", "_:")):
                raise _Unusual
            target = node.setdefault(prop, [])
            for value in values:
                if len(value) == 1 and "@id" in value:
                    nodes.setdefault(value["@id"], {"@id": value["@id"]})
                elif "@value" not in value or not _VALUE_KEYS.issuperset(value):
                    raise _Unusual
                _add(target, value)
    return nodes


def _framed(nodes: dict[str, dict], iri: str) -> dict:
    """The expanded framed document pyld's framing makes for posgraph's frame (``iri`` embedding what it refers
    to, each node once and at its first reference in property order; the subjects holding it by reference):
    what pyld's _frame and _cleanup_preserve return for it. Raises _Unusual where pyld would keep a blank node's
    identifier (a blank node referenced twice) or its @reverse handling differs."""
    embedded: set[str] = set()
    blanks: dict[str, int] = {}

    def embed(id_: str) -> dict:
        embedded.add(id_)
        node = nodes[id_]
        out = {"@id": id_}
        for prop in sorted(node):
            if prop == "@id":
                continue
            if prop == "@type":
                out["@type"] = node["@type"]
                continue
            target = out[prop] = []
            for value in node[prop]:
                ref = value.get("@id")
                if ref is None:
                    target.append(value)
                    continue
                if ref.startswith("_:"):
                    blanks[ref] = blanks.get(ref, 0) + 1
                target.append({"@id": ref} if ref in embedded else embed(ref))
        if id_.startswith("_:"):
            del out["@id"]  # a blank node met once loses its identifier (met twice is _Unusual, below)
        return out

    root = embed(iri)
    if any(count > 1 for count in blanks.values()):
        raise _Unusual
    holders = []
    for id_, node in sorted(nodes.items()):
        values = node.get(_HELD_BY, ())
        if any("@id" not in v for v in values):
            raise _Unusual
        if any(v["@id"] == iri for v in values):
            if id_.startswith("_:") or id_ in embedded:
                raise _Unusual
            embedded.add(id_)
            holder = {"@id": id_}
            if "@type" in node:
                holder["@type"] = node["@type"]
            holders.append(holder)
    if holders:
        root["@reverse"] = {_HELD_BY: holders}
    return root


def _expanded(quads: list[ox.Quad]) -> list:
    """The quads as expanded JSON-LD (pyoxigraph's), with types as @type and canonical booleans and integers as
    JSON values."""
    # pyoxigraph writes expanded JSON-LD with rdf:type as a plain property and every literal as a string;
    # framing wants @type, and integrators want JSON numbers and booleans where the lexical form is canonical.
    expanded = json.loads(ox.serialize(quads, format=ox.RdfFormat.JSON_LD))
    # A subject's types, sorted by IRI, on its first node: the engine's triple order is its own (Virtuoso's differs
    # from Oxigraph's, and a subject whose triples are not together comes out as several nodes), a document's order
    # must not depend on it.
    types_of: dict[str, list[str]] = {}
    for node in expanded:
        types = node.get(_RDF_TYPE)
        if types and all("@id" in t for t in types):
            types_of.setdefault(node.get("@id", ""), []).extend(t["@id"] for t in node.pop(_RDF_TYPE))
    for node in expanded:
        if (types := types_of.pop(node.get("@id", ""), None)) is not None:
            node["@type"] = sorted(set(types))
        for values in node.values():
            if isinstance(values, list):
                for value in values:
                    if isinstance(value, dict) and value.get("@type") in _NATIVE:
                        value["@value"] = _NATIVE[value["@type"]](value["@value"])
    return expanded


def frame_doc(iri: str) -> dict:
    """posgraph's JSON-LD frame for the resource ``iri``."""
    return {
        # By IRI, not inline: pyld then caches the processed context by that IRI instead of hashing the whole
        # context on every call (a sixth of a request's time).
        "@context": CONTEXT_IRI,
        "@id": iri,
        "@embed": "@once",
        "@reverse": {_HELD_BY: {"@embed": "@never", "@explicit": True}},
    }


def _frame_options(context: dict) -> dict:
    return {"documentLoader": _context_loader(context), "omitGraph": True, "pruneBlankNodeIdentifiers": True}


def _frame_directly(expanded: list, iri: str, context: dict) -> dict:
    """pyld's framing of ``expanded`` with ``frame_doc(iri)``, written out for that one frame (three times faster
    than pyld's general algorithm, the same document); raises _Unusual for what it leaves to pyld."""
    return _FRAMER.compact_framed(_framed(_node_map(expanded), iri), _frame_options(context))


def frame(quads: list[ox.Quad], iri: str, context: dict, context_url: str | None) -> dict:
    """Frame the description as one JSON-LD object rooted at ``iri``: blank nodes and sources embedded, parties'
    positions listed by reference, compacted with posgraph's context (named by ``context_url``)."""
    expanded = _expanded(quads)
    try:
        framed = _frame_directly(expanded, iri, context)
    except _Unusual:
        framed = _FRAMER.frame(expanded, frame_doc(iri), {**_frame_options(context), _EXPANDED: True})
    framed.pop("@context", None)
    return {"@context": context_url or context["@context"], **framed}
