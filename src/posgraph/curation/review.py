"""The review workflow: a curator submits a batch (validated in context, kept in staging), a reviewer accepts it
(published in one transaction) or rejects it, and an accepted batch can be reverted. Who may decide what is
checked here, and only here: routes authenticate and pass the caller's role."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime
from typing import Callable, Sequence

import rdflib

from posgraph import workers
from posgraph.audit import AuditLog
from posgraph.curation.amendments import (
    Amendments,
    apply_update,
    insert_data,
    ledger_counts,
    validate_batch,
    withdraw_update,
)
from posgraph.curation.intake import ParsedFile, PreparedBatch, prepare_ntriples, prepare_quads
from posgraph.curation.provenance import agent, change_update, publication_body
from posgraph.curation.records import (
    add_history,
    find_batch_by_hash,
    find_staged_by_hash,
    get_batch,
    now,
    save_record,
    staging_graph,
    stamp,
)
from posgraph.engine import Engine
from posgraph.errors import BadInput, Conflict, Forbidden, NotConformant
from posgraph.namespaces import PG, PGID, PROV, RDF, RDFS, XSD, batch_iri
from posgraph.tokens import role_allows
from posgraph.validation import REPORT_JSON, ValidationReport, Validator

__all__ = [
    "permissions",
    "may_submit",
    "may_accept",
    "may_reject",
    "may_revert",
    "submit_batch",
    "accept_batch",
    "reject_batch",
    "revert_preview",
    "revert_batch",
]

log = logging.getLogger("posgraph.curation")


# ------------------------------------------------------------------------------------------ who may decide
def _needs(actor: str, role: str, needed: str) -> None:
    if not role_allows(role, needed):  # worded as the API's authentication words a role too low
        raise Forbidden(f"token {actor!r} has role {role}; this needs {needed} or higher")


def may_submit(actor: str, role: str) -> None:
    """Raise Forbidden unless ``actor`` (with ``role``) may submit batches: a curator or higher."""
    _needs(actor, role, "curator")


def may_write_directly(actor: str, role: str) -> None:
    """Raise Forbidden unless ``actor`` (with ``role``) may change published data without review (SPARQL Update,
    Graph Store writes): an admin."""
    _needs(actor, role, "admin")


def may_accept(batch: dict, actor: str, role: str, allow_self_accept: bool) -> None:
    """Raise Forbidden unless ``actor`` (with ``role``) may accept ``batch``: a reviewer, not its own curator
    unless self-acceptance is allowed (then its curator may too); an admin always."""
    _needs(actor, role, "curator")
    if role_allows(role, "admin"):
        return
    own = batch.get("curator") == actor
    if own and not allow_self_accept:
        raise Forbidden("a batch is reviewed by someone other than its curator (POSGRAPH_ALLOW_SELF_ACCEPT is off)")
    if not role_allows(role, "reviewer") and not (own and allow_self_accept):
        raise Forbidden("reviewing batches needs the reviewer role")


def may_reject(batch: dict, actor: str, role: str) -> None:
    """Raise Forbidden unless ``actor`` (with ``role``) may reject ``batch``: a reviewer, or its own curator."""
    _needs(actor, role, "curator")
    if not role_allows(role, "reviewer") and batch.get("curator") != actor:
        raise Forbidden("rejecting another curator's batch needs the reviewer role")


def may_revert(actor: str, role: str) -> None:
    """Raise Forbidden unless ``actor`` (with ``role``) may revert a batch: a reviewer."""
    _needs(actor, role, "reviewer")


def _allowed(check: Callable[[], None]) -> bool:
    try:
        check()
    except Forbidden:
        return False
    return True


def permissions(actor: str, role: str, *, allow_self_accept: bool = False) -> dict[str, bool]:
    """What ``actor`` (with ``role``) may do, as the checks above decide it (asked, not restated): ``submit``
    batches; ``review`` (accept or reject) other curators' batches; ``accept_own`` batches they submitted
    (POSGRAPH_ALLOW_SELF_ACCEPT); ``revert`` accepted batches; ``update`` published data directly."""
    others = {"curator": None}  # a batch someone else submitted: no actor's name is None
    own = {"curator": actor}
    return {
        "submit": _allowed(lambda: may_submit(actor, role)),
        "review": _allowed(lambda: may_accept(others, actor, role, allow_self_accept))
        and _allowed(lambda: may_reject(others, actor, role)),
        "accept_own": _allowed(lambda: may_accept(own, actor, role, allow_self_accept)),
        "revert": _allowed(lambda: may_revert(actor, role)),
        "update": _allowed(lambda: may_write_directly(actor, role)),
    }


# ------------------------------------------------------------------------------------------ submit
async def submit_batch(
    public: Engine,
    staging: Engine,
    validator: Validator,
    batch: Sequence[ParsedFile] | PreparedBatch,
    *,
    curator: str,
    label: str | None = None,
    note: str | None = None,
    pool: workers.WorkerPool | None = None,
) -> dict:
    """Validate the batch (parsed files, or prepared in a worker) in context, in ``pool``, and store it in staging
    as "submitted"; return its record. The curator's ``note`` (what the batch is, where it comes from) is kept in
    the record ("note", and its "submitted" history entry) and, once accepted, in its PROV (rdfs:comment).

    Raises NotConformant (nothing is stored), BadInput (no triples), Conflict when the same content is already
    submitted or published, or an engine or worker error.
    """
    prepared = batch if isinstance(batch, PreparedBatch) else prepare_quads(q for f in batch for q in f.quads)
    if not prepared.triples:
        raise BadInput("the batch holds no triples")
    report, amendments = await _conformant(public, validator, prepared, pool, source="batch")
    digest = prepared.digest
    existing = await find_staged_by_hash(staging, digest) or await find_batch_by_hash(public, digest)
    if existing:
        raise Conflict(f"the same content was already submitted as batch {existing.rsplit('/', 1)[-1]}", existing)
    moment = now()
    batch_id = f"{moment:%Y%m%dT%H%M%S%fZ}-{digest[:8]}"
    record = {
        "id": batch_id,
        "label": label or f"Batch submitted by {curator}",
        "curator": curator,
        "submitted": stamp(moment),
        "state": "submitted",
        "content_hash": digest,
        "triples": prepared.triples,
        "resources": prepared.resources,
        "sources": list(prepared.sources),
        "shapes_version": validator.shapes_version,
        "report": report.to_dict(),
        "staged": True,
    }
    if note:
        record["note"] = note
    if amendments is not None:
        record["amendments"] = amendments.summary()
    add_history(record, curator, "submitted", note)
    await staging.graph_write("PUT", staging_graph(batch_id), prepared.ntriples)  # one transaction
    await save_record(staging, record)
    log.info("batch %s submitted by %s: %d triples", batch_id, curator, prepared.triples)
    return await get_batch(public, staging, batch_id)


# ------------------------------------------------------------------------------------------ accept, reject
async def _submitted(public: Engine, staging: Engine, batch_id: str) -> dict:
    """The batch's record; Conflict unless it is in state submitted."""
    batch = await get_batch(public, staging, batch_id)
    if batch["state"] != "submitted":
        raise Conflict(f"batch {batch_id} is {batch['state']}, not submitted")
    return batch


async def _conformant(
    public: Engine, validator: Validator, prepared: PreparedBatch, pool: workers.WorkerPool | None, *, source: str
) -> tuple[ValidationReport, Amendments | None]:
    """The batch's report in the context of the live graph, and its amendments (None when it carries none): an
    amending batch is validated in the context as its amendments leave it, with their own checks added.

    Raises NotConformant (naming ``source``) when the batch does not conform, with the report already rendered as
    JSON by the worker: a report of thousands of results, encoded on the event loop, would hold up every request.
    """
    report, rendered, amendments = await validate_batch(public, validator, prepared, pool=pool, render=REPORT_JSON)
    if not report.conforms:
        raise NotConformant(report, source=source, rendered=rendered)
    return report, amendments


async def _revalidated(
    public: Engine, staging: Engine, validator: Validator, batch_id: str, pool: workers.WorkerPool | None
) -> tuple[PreparedBatch, Amendments | None]:
    """The staged batch, parsed in ``pool`` and valid against the live graph as it is now (else NotConformant),
    with its amendments (None when it carries none)."""
    content = (await staging.graph_get(staging_graph(batch_id))).content
    prepared = await workers.run(pool, prepare_ntriples, content, f"batch {batch_id}")
    _, amendments = await _conformant(
        public, validator, prepared, pool, source=f"batch {batch_id} (against the graph as it is now)"
    )
    return prepared, amendments


def _decided(batch: dict, **changes: str) -> dict:
    """The batch's record (without its computed IRI) with ``changes`` applied."""
    record = {k: v for k, v in batch.items() if k != "iri"}
    record.update(changes)
    return record


async def accept_batch(
    public: Engine,
    staging: Engine,
    validator: Validator,
    batch_id: str,
    *,
    reviewer: str,
    role: str,
    allow_self_accept: bool = False,
    audit: AuditLog | None = None,
    pool: workers.WorkerPool | None = None,
) -> dict:
    """Publish a submitted batch: re-validate it against the live graph (parsing and validating in ``pool``), then
    write its graph, its triples in the default graph and its PROV-O description in one transaction; return the
    updated record. A batch with amendments (see ``amendments``) is published by one SPARQL update that first
    applies them (retracted triples out, merged IRIs rewritten and redirected) and records in its ledger graphs
    exactly what they removed and added; its amendment nodes are kept in a graph of their own, not published.
    With ``audit``, the publishing write is logged as an attempt ("batch-accept", naming the batch; the reviewer
    is the actor) before it is made, and its outcome after.

    Raises NotFound, Conflict (not in state submitted), Forbidden (see ``may_accept``), NotConformant (the graph
    changed since).
    """
    batch = await _submitted(public, staging, batch_id)
    may_accept(batch, reviewer, role, allow_self_accept)
    prepared, amendments = await _revalidated(public, staging, validator, batch_id, pool)
    moment = now()
    description = {
        "batch_id": batch_id,
        "curator": batch["curator"],
        "label": batch["label"],
        "digest": batch["content_hash"],
        "shapes_version": validator.shapes_version,
        "now": datetime.fromisoformat(batch["submitted"]),
        "reviewer": reviewer,
        "accepted": moment,
        "note": batch.get("note"),
    }
    additions = prepared.ntriples if amendments is None else amendments.additions
    body = await workers.run(pool, publication_body, additions, description)
    with audit.attempt(reviewer, "batch-accept", batch=batch_id, role=role) if audit else nullcontext():
        if amendments is None:
            await public.add_quads(body, timeout=max(public.timeout, 600.0))
        else:  # one update, so one transaction: amendments applied and additions published, or nothing
            publish = await workers.run(pool, insert_data, body)
            update = " ;\n".join(op for op in (apply_update(batch_id, amendments), publish) if op)
            await public.update(update, timeout=max(public.timeout, 600.0))
    # Stopped here, the record still says submitted: get_batch then takes the decision from the public store.
    record = _decided(batch, state="accepted", reviewer=reviewer, accepted=stamp(moment))
    add_history(record, reviewer, "accepted")
    if amendments is not None:
        counts = {"added": amendments.additions_count, **await ledger_counts(public, batch_id)}
        counts |= {"retracted": len(amendments.retractions), "merged": len(amendments.merges)}
        record["amendments"] = {**amendments.summary(), **counts}
        record["history"][-1].update(counts)
    await save_record(staging, record)
    log.info("batch %s accepted by %s", batch_id, reviewer)
    return await get_batch(public, staging, batch_id)


async def reject_batch(
    public: Engine,
    staging: Engine,
    batch_id: str,
    *,
    reviewer: str,
    role: str,
    note: str | None = None,
    allow_self_accept: bool = False,
) -> dict:
    """Mark a submitted batch rejected (it stays in staging, never public); return the updated record.

    Raises NotFound, Conflict (not in state submitted) or Forbidden (see ``may_reject``)."""
    batch = await _submitted(public, staging, batch_id)
    may_reject(batch, reviewer, role)
    record = _decided(batch, state="rejected", reviewer=reviewer, decided=stamp(now()))
    add_history(record, reviewer, "rejected", note)
    await save_record(staging, record)
    return await get_batch(public, staging, batch_id)


# ------------------------------------------------------------------------------------------ revert
def _refuse_bulk(batch: dict) -> None:
    if batch.get("bulk_loaded"):
        raise Conflict(
            f"batch {batch['id']} was bulk-loaded as the store's baseline: no copy of its triples is kept, so it "
            "cannot be reverted (build a new store instead)"
        )


async def revert_preview(public: Engine, staging: Engine, batch_id: str) -> dict:
    """What reverting would take away (and, for a batch with amendments, give back), what in other batches
    depends on it (supersedes, responds to, …), and which accepted batches amended its data since
    (``amended_by``: they must be reverted first).

    Raises NotFound, or Conflict for a bulk-loaded batch."""
    batch = await get_batch(public, staging, batch_id)
    _refuse_bulk(batch)
    graph = rdflib.URIRef(batch_iri(batch_id)).n3()
    # An amending batch's ledger graphs ({batch}/removed …) are not batches: a batch id holds no "/".
    rows = await public.select(f"""SELECT DISTINCT ?dependent ?property ?target ?g WHERE {{
        GRAPH {graph} {{ ?target ?x ?y FILTER (isIRI(?target)) }}
        GRAPH ?g {{ ?dependent ?property ?target }}
        FILTER (isIRI(?dependent) && ?g != {graph} && ?property != <{RDF.type}>
                && STRSTARTS(STR(?g), "{PGID}batch/") && !CONTAINS(STRAFTER(STR(?g), "{PGID}batch/"), "/")) }}
        ORDER BY ?dependent ?property""")
    removed = await public.select(f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }}
        FILTER NOT EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (?g != {graph}) }} }}""")
    accepted = batch["state"] == "accepted"
    preview = {
        "batch": batch_id,
        "state": batch["state"],
        "triples_removed": int(removed[0]["n"]) if accepted else 0,
        "dependents": [
            {
                "resource": str(r["dependent"]),
                "property": str(r["property"]),
                "depends_on": str(r["target"]),
                "batch": str(r["g"]).rsplit("/", 1)[-1],
            }
            for r in rows
        ],
    }
    if accepted:
        preview["amended_by"] = await _amended_by(public, batch_id)
    if batch.get("amendments"):
        ledger = await ledger_counts(public, batch_id) if accepted else {"removed": 0, "rewritten": 0}
        # What its amendments took out comes back; what its merges wrote goes.
        preview["triples_restored"] = ledger["removed"]
        preview["merge_triples_removed"] = ledger["rewritten"]
    return preview


async def _amended_by(public: Engine, batch_id: str) -> list[str]:
    """The accepted batches (other than this one) whose amendments removed or rewrote a triple this batch asserts:
    reverting this one first could not restore the graph exactly, so they are reverted first."""
    graph = rdflib.URIRef(batch_iri(batch_id)).n3()
    rows = await public.select(f"""SELECT DISTINCT ?b WHERE {{
        GRAPH ?removed {{ ?r <{RDF.subject}> ?s ; <{RDF.predicate}> ?p ; <{RDF.object}> ?o }}
        FILTER (STRSTARTS(STR(?removed), "{PGID}batch/") && STRENDS(STR(?removed), "/removed"))
        GRAPH {graph} {{ ?s ?p ?o }}
        BIND (IRI(STRBEFORE(STR(?removed), "/removed")) AS ?b)
        FILTER (?b != {graph})
        ?b <{PG.batchState}> <{PG.accepted}> }} ORDER BY ?b""")
    return [str(r["b"]).rsplit("/", 1)[-1] for r in rows]


def _withdrawal(batch_id: str, actor: str, when: str, reason: str | None = None) -> str:
    """The one SPARQL update that withdraws an accepted batch (see ``revert_batch``)."""
    graph = rdflib.URIRef(batch_iri(batch_id)).n3()
    moment = rdflib.Literal(when, datatype=XSD.dateTime).n3()
    who = rdflib.URIRef(agent(actor).value).n3()
    return f"""
            DELETE {{ ?s ?p ?o }} WHERE {{ GRAPH {graph} {{ ?s ?p ?o }}
                FILTER NOT EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (?g != {graph}) }} }} ;
            {withdraw_update(batch_id)} ;
            DROP SILENT GRAPH {graph} ;
            DELETE {{ {graph} <{PG.batchState}> ?state }} WHERE {{ {graph} <{PG.batchState}> ?state }} ;
            INSERT DATA {{ {graph} <{PG.batchState}> <{PG.reverted}> ; <{PG.revertedAt}> {moment} ;
                <{PG.reviewedBy}> {who} . {who} a <{PROV.Agent}> ; <{RDFS.label}> {rdflib.Literal(actor).n3()} }} ;
            {change_update("reverted", actor, batch_iri(batch_id), comment=reason)}"""


async def revert_batch(
    public: Engine,
    staging: Engine,
    batch_id: str,
    *,
    actor: str,
    role: str,
    reason: str | None = None,
    audit: AuditLog | None = None,
    audit_detail: dict | None = None,
) -> dict:
    """Withdraw an accepted batch from the default graph in one update: its triples go unless another graph
    still asserts them, what its amendments removed comes back and what its merges wrote goes (see
    ``amendments.withdraw_update``), its graph is dropped, and its description says reverted (by whom, when).
    The content stays in staging (or, for a directly loaded batch, nowhere but the record). Returns the updated record.
    The reviewer's ``reason`` is kept in the record's "reverted" history entry, in the audit line and on the
    revert's change record in the public store (rdfs:comment).
    With ``audit``, the update is logged as an attempt ("batch-revert", with ``audit_detail``) before it is made.

    Raises Forbidden (see ``may_revert``), NotFound, Conflict (not accepted, bulk-loaded, or its data since
    amended by another accepted batch: see ``revert_preview``'s ``amended_by``) or an engine error."""
    may_revert(actor, role)
    batch = await get_batch(public, staging, batch_id)
    if batch["state"] != "accepted":
        raise Conflict(f"batch {batch_id} is {batch['state']}, not accepted")
    _refuse_bulk(batch)
    amenders = await _amended_by(public, batch_id)
    if amenders:
        raise Conflict(
            f"batch {batch_id}'s data was since amended by accepted batch(es) {', '.join(amenders)}: "
            "revert those first, so that reverting this one restores the graph exactly"
        )
    when = stamp(now())
    detail = {**(audit_detail or {}), **({"reason": reason} if reason else {})}
    logged = audit.attempt(actor, "batch-revert", batch=batch_id, role=role, **detail) if audit else None
    with logged or nullcontext():
        await public.update(_withdrawal(batch_id, actor, when, reason), timeout=max(public.timeout, 600.0))
    if batch.get("staged", True):
        record = _decided(batch, state="reverted", reverted=when)
        add_history(record, actor, "reverted", reason)
        if batch.get("amendments"):  # what the revert gave back, as the ledger says
            ledger = await ledger_counts(public, batch_id)
            record["history"][-1].update({"restored": ledger["removed"], "unmerged": ledger["rewritten"]})
        await save_record(staging, record)
    log.info("batch %s reverted by %s", batch_id, actor)
    return await get_batch(public, staging, batch_id)
