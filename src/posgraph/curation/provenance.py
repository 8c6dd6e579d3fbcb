"""What posgraph writes about the data it publishes: a batch's quads with their PROV-O description, and the change
records (one per change to the published data) that give the dataset its version and the change feed.

A batch is its own named graph (``pgid:batch/{id}``); its triples are also written to the default graph, which is
what public queries see, and it is described with PROV-O in the default graph.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from typing import Iterable

import pyoxigraph as ox

from posgraph import formats
from posgraph.curation.entailment import supertype_triples
from posgraph.curation.intake import NT
from posgraph.namespaces import PG, PGID, PROV, RDF, RDFS, XSD, batch_iri

__all__ = ["agent", "change_triples", "change_update", "batch_quads", "batch_record", "publication_body"]

_Triple = tuple[ox.NamedNode, ox.NamedNode, object]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "anonymous"


def agent(name: str) -> ox.NamedNode:
    """The IRI of the PROV agent named ``name``."""
    return ox.NamedNode(f"{PGID}agent/{_slug(name)}")


def _date_time(moment: datetime, timespec: str = "seconds") -> ox.Literal:
    return ox.Literal(moment.isoformat(timespec=timespec), datatype=ox.NamedNode(str(XSD.dateTime)))


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(str(XSD.integer)))


def change_triples(
    kind: str, actor: str, *, batch: str | None = None, moment: datetime | None = None, comment: str | None = None
) -> list[_Triple]:
    """The triples recording one change to the published data (its IRI sorts by time: the dataset's version);
    ``comment`` (why, as the actor gave it: a revert's reason) becomes its rdfs:comment."""
    moment = moment or datetime.now(timezone.utc)
    change = ox.NamedNode(f"{PGID}change/{moment:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(2)}")
    nn = ox.NamedNode
    triples = [
        (change, nn(str(RDF.type)), nn(str(PG.Change))),
        (change, nn(str(PG.changeKind)), ox.Literal(kind)),
        (change, nn(str(PROV.atTime)), _date_time(moment, "microseconds")),
        (change, nn(str(PROV.wasAssociatedWith)), agent(actor)),
    ]
    if batch is not None:
        triples.append((change, nn(str(PG.changedBatch)), nn(batch)))
    if comment:
        triples.append((change, nn(str(RDFS.comment)), ox.Literal(comment)))
    return triples


def change_update(kind: str, actor: str, batch: str | None = None, comment: str | None = None) -> str:
    """A SPARQL ``INSERT DATA`` recording one change (see ``change_triples``); the terms are pyoxigraph's own
    serialisations, so a ``comment`` of any text stays one escaped literal."""
    body = " ".join(f"{s} {p} {o} ." for s, p, o in change_triples(kind, actor, batch=batch, comment=comment))
    return f"INSERT DATA {{ {body} }}"


def _agent_triples(name: str) -> list[_Triple]:
    who = agent(name)
    return [
        (who, ox.NamedNode(str(RDF.type)), ox.NamedNode(str(PROV.Agent))),
        (who, ox.NamedNode(str(RDFS.label)), ox.Literal(name)),
    ]


def _description(
    graph: ox.NamedNode,
    triples: int,
    resources: int,
    *,
    curator: str,
    label: str,
    digest: str,
    shapes_version: str,
    now: datetime,
    bulk_count: int | None,
    note: str | None = None,
) -> list[_Triple]:
    """The batch's own PROV-O description: what it is, who made it when, its counts and content hash, and the
    curator's note on submitting it (rdfs:comment, beside the label) when there is one."""
    nn = ox.NamedNode
    description = [
        (graph, nn(str(RDF.type)), nn(str(PG.Batch))),
        (graph, nn(str(RDF.type)), nn(str(PROV.Bundle))),
        (graph, nn(str(RDFS.label)), ox.Literal(label)),
        (graph, nn(str(PROV.wasAttributedTo)), agent(curator)),
        (graph, nn(str(PROV.generatedAtTime)), _date_time(now)),
        (graph, nn(str(PG.batchState)), nn(str(PG.accepted))),
        (graph, nn(str(PG.tripleCount)), _integer(triples if bulk_count is None else bulk_count)),
        (graph, nn(str(PG.shapesVersion)), ox.Literal(shapes_version)),
        *_agent_triples(curator),
    ]
    if note:
        description.append((graph, nn(str(RDFS.comment)), ox.Literal(note)))
    if bulk_count is None:
        description += [
            (graph, nn(str(PG.contentHash)), ox.Literal(digest)),
            (graph, nn(str(PG.resourceCount)), _integer(resources)),
        ]
    else:
        description.append((graph, nn(str(PG.bulkLoaded)), ox.Literal("true", datatype=nn(str(XSD.boolean)))))
    return description


def _review(graph: ox.NamedNode, reviewer: str | None, accepted: datetime | None) -> list[_Triple]:
    """Who reviewed the batch and when it was accepted, when it was."""
    review = []
    if reviewer is not None:
        review += [(graph, ox.NamedNode(str(PG.reviewedBy)), agent(reviewer)), *_agent_triples(reviewer)]
    if accepted is not None:
        review.append((graph, ox.NamedNode(str(PG.acceptedAt)), _date_time(accepted)))
    return review


def batch_quads(
    triples: list[ox.Triple],
    *,
    batch_id: str,
    curator: str,
    label: str,
    digest: str,
    shapes_version: str,
    now: datetime,
    reviewer: str | None = None,
    accepted: datetime | None = None,
    bulk_count: int | None = None,
    note: str | None = None,
) -> list[ox.Quad]:
    """The batch's quads: its triples, with the superclass types they imply (see ``entailment``), in the default
    graph and in its own graph (so a revert takes the superclass types away too), and its PROV description, whose
    counts are of ``triples`` alone.

    ``note``: the curator's note on submitting the batch (see ``_description``).
    With ``bulk_count`` only the description (``triples`` are already in the store, bulk-loaded, uncopied).
    """
    graph = ox.NamedNode(batch_iri(batch_id))
    default = ox.DefaultGraph()
    data = [*triples, *supertype_triples(triples)]
    quads = [ox.Quad(t.subject, t.predicate, t.object, default) for t in data]
    quads += [ox.Quad(t.subject, t.predicate, t.object, graph) for t in data]
    return quads + batch_record(
        batch_id,
        triples=len(triples),
        resources=len({t.subject for t in triples if isinstance(t.subject, ox.NamedNode)}),
        sources={t.object for t in triples if t.predicate.value == str(PG.source)},
        curator=curator,
        label=label,
        digest=digest,
        shapes_version=shapes_version,
        now=now,
        reviewer=reviewer,
        accepted=accepted,
        bulk_count=bulk_count,
        note=note,
    )


def batch_record(
    batch_id: str,
    *,
    triples: int,
    resources: int,
    sources: Iterable[object],
    curator: str,
    label: str,
    digest: str,
    shapes_version: str,
    now: datetime,
    reviewer: str | None = None,
    accepted: datetime | None = None,
    bulk_count: int | None = None,
    note: str | None = None,
) -> list[ox.Quad]:
    """The batch's record, in the default graph: its PROV description (``triples`` statements about ``resources``
    IRIs, ``sources`` its pg:source values, its primary sources), its review, and the change that published it.
    What ``batch_quads`` adds after the data; for a batch whose data is written some other way (streamed).
    Keyword arguments as ``batch_quads``'s."""
    graph = ox.NamedNode(batch_iri(batch_id))
    description = _description(
        graph,
        triples,
        resources,
        curator=curator,
        label=label,
        digest=digest,
        shapes_version=shapes_version,
        now=now,
        bulk_count=bulk_count,
        note=note,
    )
    description += _review(graph, reviewer, accepted)
    description += [(graph, ox.NamedNode(str(PROV.hadPrimarySource)), s) for s in sorted(sources, key=str)]
    description += change_triples(
        "accepted" if reviewer else "loaded", reviewer or curator, batch=graph.value, moment=accepted or now
    )
    default = ox.DefaultGraph()
    return [ox.Quad(s, p, o, default) for s, p, o in description]


def publication_body(ntriples: bytes, description: dict) -> bytes:
    """The N-Quads that publish a batch given as N-Triples (see ``batch_quads``, whose keyword arguments
    ``description`` holds); runs in a worker process for large batches."""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in formats.read_quads(ntriples, NT, "batch")]
    return ox.serialize(batch_quads(triples, **description), format=ox.RdfFormat.N_QUADS)
