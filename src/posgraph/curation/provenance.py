"""What posgraph writes about the data it publishes: a batch's quads with their PROV-O description, and the change
records (one per change to the published data) that give the dataset its version and the change feed.

A batch is its own named graph (``pgid:batch/{id}``); its triples are also written to the default graph, which is
what public queries see, and it is described with PROV-O in the default graph.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from datetime import datetime, timezone
from typing import Iterable

import pyoxigraph as ox

from posgraph import formats
from posgraph.curation.entailment import supertype_triples
from posgraph.curation.intake import NT
from posgraph.engine import Engine
from posgraph.errors import EngineError
from posgraph.namespaces import PG, PGID, PROV, RDF, RDFS, VERSION_GRAPH, XSD, batch_iri

__all__ = [
    "agent",
    "change_triples",
    "change_quads",
    "change_update",
    "NEWEST_ONLY",
    "NEWEST_FROM_RECORDS",
    "settle_version",
    "batch_quads",
    "batch_record",
    "publication_body",
]

_Triple = tuple[ox.NamedNode, ox.NamedNode, object]
log = logging.getLogger("posgraph.curation")


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


# The dataset's version is its newest change. Sorting every change record to find it costs in proportion to their
# number (Oxigraph keeps no index in value order: 0.5 ms with one change, 0.4 s with 100,000), on nearly every
# request. So each change's prov:atTime is also written into VERSION_GRAPH, in the same request as the change, and
# each write then deletes there every entry that a newer one outranks (``NEWEST_ONLY``, run by ``settle_version``;
# the order is the version's: time, then IRI). Only ever dropping an outranked entry keeps the newest change there
# whatever order concurrent writes commit in, and the pruning is a request of its own, best effort: when it fails,
# the entries left still give the right version, and the next write's prune takes them away. (On Virtuoso 7.2 it is
# not run at all: see EngineProfile.prune_versions.)
_VERSION = f"<{VERSION_GRAPH}>"
# The entry kept is picked as the version is read: one sort, where comparing every pair of entries took 11 s for
# 1,000 (a store whose entries piled up: a write's prune failed, or records were written some other way).
NEWEST_ONLY = (
    f"DELETE {{ GRAPH {_VERSION} {{ ?old <{PROV.atTime}> ?t }} }} WHERE {{ "
    f"{{ SELECT ?keep WHERE {{ GRAPH {_VERSION} {{ ?keep <{PROV.atTime}> ?k }} }} "
    "ORDER BY DESC(?k) DESC(?keep) LIMIT 1 } "
    f"GRAPH {_VERSION} {{ ?old <{PROV.atTime}> ?t }} FILTER (?old != ?keep) }}"
)
# For a store whose changes were recorded before VERSION_GRAPH was kept (or none of them were written there): its
# newest change, found the slow way once.
NEWEST_FROM_RECORDS = (
    f"INSERT {{ GRAPH {_VERSION} {{ ?change <{PROV.atTime}> ?at }} }} WHERE {{ "
    f"{{ SELECT ?change ?at WHERE {{ ?change a <{PG.Change}> ; <{PROV.atTime}> ?at }} "
    "ORDER BY DESC(?at) DESC(?change) LIMIT 1 } }"
)


async def settle_version(engine: Engine, attempts: int = 3) -> None:
    """Run ``NEWEST_ONLY`` after a write that recorded a change, up to ``attempts`` times. An engine error is logged,
    not raised: the write is done, and the version graph still gives the right version (a later write drops the
    outranked entries). Nothing is run for an engine whose profile keeps every entry (``prune_versions``)."""
    if not engine.profile.prune_versions:
        return
    for attempt in range(attempts):
        try:
            await engine.update(NEWEST_ONLY)
            return
        except EngineError as exc:
            if attempt == attempts - 1:
                log.warning("version graph not pruned (a later write does it): %s", exc)
            else:
                await asyncio.sleep(0.05 * 4**attempt)


def change_quads(triples: list[_Triple]) -> list[ox.Quad]:
    """``triples`` (from ``change_triples``) as the quads that record the change: the triples in the default
    graph, and its time in the version graph (see ``NEWEST_ONLY``)."""
    default, at = ox.DefaultGraph(), ox.NamedNode(str(PROV.atTime))
    quads = [ox.Quad(s, p, o, default) for s, p, o in triples]
    return quads + [ox.Quad(s, p, o, ox.NamedNode(str(VERSION_GRAPH))) for s, p, o in triples if p == at]


def change_update(kind: str, actor: str, batch: str | None = None, comment: str | None = None) -> str:
    """The SPARQL update (two ``INSERT DATA`` operations) recording one change (see ``change_triples``) and its
    entry in the version graph (the writer runs ``settle_version`` after it); the terms are pyoxigraph's own
    serialisations, so a ``comment`` of any text stays one escaped literal."""
    triples = change_triples(kind, actor, batch=batch, comment=comment)
    body = " ".join(f"{s} {p} {o} ." for s, p, o in triples)
    at = next(f"{s} {p} {o} ." for s, p, o in triples if p.value == str(PROV.atTime))
    # Two operations of one request (one transaction on Oxigraph): an INSERT DATA naming several graphs leaves
    # Virtuoso 7.2 holding the version graph's new row from the readers that every request makes, for 30 s.
    return f"INSERT DATA {{ {body} }} ;\nINSERT DATA {{ GRAPH {_VERSION} {{ {at} }} }}"


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
    IRIs, ``sources`` its pg:source values, its primary sources), its review, and the change that published it
    (with its entry in the version graph: see ``change_quads``; the writer runs ``settle_version`` after it).
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
    change = change_triples(
        "accepted" if reviewer else "loaded", reviewer or curator, batch=graph.value, moment=accepted or now
    )
    default = ox.DefaultGraph()
    return [ox.Quad(s, p, o, default) for s, p, o in description] + change_quads(change)


def publication_body(ntriples: bytes, description: dict) -> bytes:
    """The N-Quads that publish a batch given as N-Triples (see ``batch_quads``, whose keyword arguments
    ``description`` holds); runs in a worker process for large batches."""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in formats.read_quads(ntriples, NT, "batch")]
    return ox.serialize(batch_quads(triples, **description), format=ox.RdfFormat.N_QUADS)
