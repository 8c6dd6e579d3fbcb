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
    "CONTEXT_VERSION",
    "CONTEXT_IRIS",
    "versioned_context_iri",
    "served_context_urls",
    "ONTOLOGY_IRI",
    "SHAPES_IRI",
    "ONTOLOGY_GRAPH",
    "batch_iri",
    "sparql_prologue",
    "is_managed_graph",
    "is_managed_resource",
    "MANAGED_PREDICATES",
    "MANAGED_TYPES",
    "POSITION_TYPES",
    "PROPERTY_TYPES",
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
# The model version the current context belongs to. Every version's context also has an IRI of its own, immutable
# once published (servers serve it at <public base>/ns/<version>/context.jsonld), so a document can pin it.
CONTEXT_VERSION = "0.2.0"


def versioned_context_iri(version: str) -> str:
    """Return the canonical IRI of the JSON-LD context of model ``version``.

    >>> versioned_context_iri("0.1.0")
    'https://w3id.org/posgraph/ns/0.1.0/context.jsonld'
    """
    return f"{ONTOLOGY_IRI}/{version}/context.jsonld"


# Every published context version, oldest first, by its canonical IRI.
CONTEXT_IRIS: dict[str, str] = {v: versioned_context_iri(v) for v in ("0.1.0", CONTEXT_VERSION)}


def served_context_urls(base: str) -> tuple[str, ...]:
    """Return the URLs a server whose public base is ``base`` serves posgraph's contexts at: the current one, each
    version's, and each version's at the address 0.1.0 published it under.

    >>> served_context_urls("http://localhost:8000")[:2]
    ('http://localhost:8000/ns/context.jsonld', 'http://localhost:8000/ns/0.1.0/context.jsonld')
    """
    base = base.rstrip("/")
    return (
        f"{base}/ns/context.jsonld",
        *(f"{base}/ns/{v}/context.jsonld" for v in CONTEXT_IRIS),
        *(f"{base}/ns/context-{v}.jsonld" for v in CONTEXT_IRIS),
    )


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

# The rdf:types that declare a property in the ontology.
PROPERTY_TYPES = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)

# The kinds of move a position can be (the subclasses of pg:Position), by local name.
POSITION_TYPES = (
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
