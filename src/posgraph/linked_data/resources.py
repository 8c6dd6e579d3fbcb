"""Resources by IRI: the dataset's version and size (for ETags and descriptions), a resource's closure as
framed JSON-LD, local URLs of instance IRIs, and the ontology graph.

Every query here is built from fixed text plus RDF terms that rdflib serialises; no request value is pasted in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import pyoxigraph as ox
import rdflib
from pyld import jsonld

from posgraph import formats
from posgraph.engine import Engine
from posgraph.errors import NotFound
from posgraph.namespaces import CONTEXT_IRI, ONTOLOGY_GRAPH, PG, PGI, PGID, PREFIXES, sparql_prologue

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


async def merged_into(engine: Engine, iri: str) -> str | None:
    """The IRI that ``iri`` was merged into by an accepted batch (its ``pg:mergedInto``), or None; raises an
    engine error."""
    if _NOT_IN_IRIS.search(iri):
        return None
    rows = await engine.select(f"SELECT ?to WHERE {{ {rdflib.URIRef(iri).n3()} <{PG.mergedInto}> ?to }} LIMIT 1")
    return str(rows[0]["to"]) if rows else None


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
