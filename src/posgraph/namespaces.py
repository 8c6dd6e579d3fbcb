"""The one place that knows posgraph's vocabulary IRIs, prefixes and well-known graph names."""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import DCTERMS, ORG, OWL, PROV, RDF, RDFS, SH, SKOS, XSD

__all__ = [
    "PG",
    "PGSH",
    "PGI",
    "PGID",
    "WD",
    "SCHEMA",
    "STAGING",
    "SD",
    "VOID",
    "FORMATS",
    "OWL",
    "RDF",
    "RDFS",
    "SH",
    "SKOS",
    "XSD",
    "DCTERMS",
    "PROV",
    "ORG",
    "PREFIXES",
    "compact_iri",
    "CONTEXT_IRI",
    "ONTOLOGY_IRI",
    "SHAPES_IRI",
    "ONTOLOGY_GRAPH",
    "batch_iri",
    "sparql_prologue",
    "is_managed_graph",
    "is_managed_resource",
    "MANAGED_PREDICATES",
    "MANAGED_TYPES",
]

PG = Namespace("https://w3id.org/posgraph/ns#")
PGSH = Namespace("https://w3id.org/posgraph/shapes#")
PGI = Namespace("https://w3id.org/posgraph/issue/")
PGID = Namespace("https://w3id.org/posgraph/id/")
WD = Namespace("http://www.wikidata.org/entity/")
SCHEMA = Namespace("https://schema.org/")

ONTOLOGY_IRI = "https://w3id.org/posgraph/ns"
SHAPES_IRI = "https://w3id.org/posgraph/shapes"
# Curation batches awaiting review live under this namespace, in a store public queries never reach.
STAGING = Namespace("https://w3id.org/posgraph/id/staging/")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")

# The canonical IRI of the published JSON-LD context (each server also serves it at <public base>/ns/context.jsonld).
CONTEXT_IRI = "https://w3id.org/posgraph/ns/context.jsonld"

# The ontology and vocabularies also live in a graph of their own, so they can be replaced as a unit.
ONTOLOGY_GRAPH = PGID["graph/ontology"]

# What posgraph itself writes and only its curation workflow may change: batch graphs, staging graphs, the ontology
# graph, and in the default graph the PROV description of batches, their agents and the change records.
_MANAGED_GRAPH_PREFIXES = (f"{PGID}batch/", str(STAGING))
_MANAGED_RESOURCE_PREFIXES = (f"{PGID}batch/", f"{PGID}change/", f"{PGID}agent/", str(STAGING))
MANAGED_PREDICATES = frozenset(
    str(PG[name])
    for name in (
        "batchState",
        "tripleCount",
        "shapesVersion",
        "contentHash",
        "resourceCount",
        "bulkLoaded",
        "reviewedBy",
        "acceptedAt",
        "revertedAt",
        "changeKind",
        "changedBatch",
    )
)
MANAGED_TYPES = frozenset({str(PG.Batch), str(PG.Change), str(PROV.Bundle), str(PROV.Agent)})

PREFIXES: dict[str, str] = {
    "pg": str(PG),
    "pgsh": str(PGSH),
    "pgi": str(PGI),
    "pgid": str(PGID),
    "wd": str(WD),
    "schema": str(SCHEMA),
    "skos": str(SKOS),
    "prov": str(PROV),
    "org": str(ORG),
    "owl": str(OWL),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "sh": str(SH),
    "dcterms": str(DCTERMS),
    "sd": str(SD),
    "void": str(VOID),
}


def compact_iri(iri: str) -> str:
    """Return ``iri`` as prefix:rest with the longest matching known namespace, or ``<iri>`` if none matches.

    >>> compact_iri("https://w3id.org/posgraph/id/party/russia")
    'pgid:party/russia'
    """
    for prefix, namespace in _BY_LENGTH:
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return f"<{iri}>"


_BY_LENGTH = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))


def batch_iri(batch_id: str) -> str:
    """Return the IRI (also the named graph) of curation batch ``batch_id``.

    >>> batch_iri("seed")
    'https://w3id.org/posgraph/id/batch/seed'
    """
    return f"{PGID}batch/{batch_id}"


def sparql_prologue(names: tuple[str, ...] | None = None) -> str:
    """Return ``PREFIX`` lines for ``names`` (all known prefixes when None), for queries posgraph writes itself."""
    chosen = PREFIXES if names is None else {n: PREFIXES[n] for n in names}
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in chosen.items())


def is_managed_graph(iri: str) -> bool:
    """True for a named graph only posgraph's curation workflow writes: a batch's, a staging graph, the ontology's."""
    return iri.startswith(_MANAGED_GRAPH_PREFIXES) or iri == str(ONTOLOGY_GRAPH)


def is_managed_resource(iri: str) -> bool:
    """True for a resource posgraph describes itself (a batch, a change record, an agent, anything staged), or a
    property of that description (every PROV-O term and posgraph's batch and change properties)."""
    return iri.startswith(_MANAGED_RESOURCE_PREFIXES) or iri.startswith(str(PROV)) or iri in MANAGED_PREDICATES
