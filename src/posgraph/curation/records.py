"""Batch records: what the staging store keeps about submitted batches, what the public store says about published
ones, and the one view of a batch made from both.

A submitted batch lives in the staging store (a separate engine public queries never reach): its triples in the
graph STAGING/{id}, its record (curator, report, state, history) as a JSON literal on pgid:batch/{id}. Accepting
copies it into the public store in one Graph Store request (one transaction); the public store's pg:batchState is
the truth when the two disagree (a crash between publishing and updating the record).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import rdflib

from posgraph.engine import Engine
from posgraph.errors import Conflict, NotFound
from posgraph.namespaces import PG, PGID, STAGING, batch_iri, sparql_prologue

__all__ = [
    "staging_graph",
    "find_batch_by_hash",
    "find_staged_by_hash",
    "list_batches",
    "batches_about",
    "get_batch",
    "batch_triples",
    "save_record",
    "add_history",
    "now",
    "stamp",
]

# The staging store's own bookkeeping predicates: private, so they live in the staging namespace, not the ontology.
_RECORD, _STATE, _HASH = STAGING["record"], STAGING["state"], STAGING["contentHash"]


def staging_graph(batch_id: str) -> str:
    """The staging graph that holds a submitted batch's triples."""
    return f"{STAGING}{batch_id}"


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    """``moment`` as records show it (ISO 8601, to the second)."""
    return moment.isoformat(timespec="seconds")


async def find_batch_by_hash(engine: Engine, digest: str) -> str | None:
    """Return the IRI of an accepted batch whose content hash is ``digest``, or None."""
    rows = await engine.select(
        sparql_prologue(("pg",))
        + "SELECT ?batch WHERE { ?batch a pg:Batch ; pg:contentHash "
        + rdflib.Literal(digest).n3()
        + " ; pg:batchState pg:accepted } LIMIT 1"
    )
    return str(rows[0]["batch"]) if rows else None


async def find_staged_by_hash(staging: Engine, digest: str) -> str | None:
    """Return the IRI of a submitted or accepted batch in staging whose content hash is ``digest``, or None."""
    rows = await staging.select(
        f"SELECT ?b WHERE {{ ?b <{_HASH}> {rdflib.Literal(digest).n3()} ; "
        f'<{_STATE}> ?s FILTER (?s IN ("submitted", "accepted")) }} LIMIT 1'
    )
    return str(rows[0]["b"]) if rows else None


async def _records(staging: Engine, batch_id: str | None = None) -> list[dict]:
    where = f"BIND ({rdflib.URIRef(batch_iri(batch_id)).n3()} AS ?b) " if batch_id else ""
    rows = await staging.select(f"SELECT ?r WHERE {{ {where}?b <{_RECORD}> ?r }}")
    return [json.loads(str(row["r"])) for row in rows]


async def _public_states(public: Engine, batch_id: str | None = None) -> dict[str, dict]:
    where = f"BIND ({rdflib.URIRef(batch_iri(batch_id)).n3()} AS ?b) " if batch_id else ""
    rows = await public.select(
        sparql_prologue(("pg", "prov", "rdfs"))
        + f"""
        SELECT ?b ?state ?label ?note ?curator ?submitted ?triples ?hash ?reviewer ?accepted ?acceptedBy ?reverted
               ?revertedBy ?revertReason ?bulk
        WHERE {{
          {where}?b a pg:Batch ; pg:batchState ?state .
          OPTIONAL {{ ?b rdfs:label ?label }} OPTIONAL {{ ?b prov:wasAttributedTo/rdfs:label ?curator }}
          OPTIONAL {{ ?b prov:generatedAtTime ?submitted }} OPTIONAL {{ ?b pg:tripleCount ?triples }}
          OPTIONAL {{ ?b pg:contentHash ?hash }} OPTIONAL {{ ?b pg:reviewedBy/rdfs:label ?reviewer }}
          OPTIONAL {{ ?b pg:acceptedAt ?accepted }} OPTIONAL {{ ?b pg:revertedAt ?reverted }}
          OPTIONAL {{ ?b pg:bulkLoaded ?bulk }} OPTIONAL {{ ?b rdfs:comment ?note }}
          OPTIONAL {{ ?acceptance pg:changedBatch ?b ; pg:changeKind "accepted" ;
                      prov:wasAssociatedWith/rdfs:label ?acceptedBy }}
          OPTIONAL {{ ?reversion pg:changedBatch ?b ; pg:changeKind "reverted" ;
                      prov:wasAssociatedWith/rdfs:label ?revertedBy
                      OPTIONAL {{ ?reversion rdfs:comment ?revertReason }} }}
        }}"""
    )
    out = {}
    for row in rows:
        iri = str(row["b"])
        out[iri.rsplit("/", 1)[-1]] = {k: str(v) for k, v in row.items()}
    return out


def _record_from_public(public: dict) -> dict:
    """The record of a batch loaded directly (seed, `posgraph load`): only its public description exists."""
    record = {
        "id": public["b"].rsplit("/", 1)[-1],
        "label": public.get("label"),
        "curator": public.get("curator"),
        "submitted": public.get("submitted"),
        "triples": int(public.get("triples", 0)),
        "content_hash": public.get("hash"),
        "reviewer": public.get("reviewer"),
        # What the public store's PROV says happened to it: loaded, and perhaps reverted (with its reason).
        "history": [{"time": public.get("submitted"), "actor": public.get("curator"), "action": "loaded"}],
        "report": None,
        "staged": False,
    }
    if public.get("note"):
        record["note"] = public["note"]
    if public.get("revertedBy"):
        reverted = {"time": public.get("reverted"), "actor": public["revertedBy"], "action": "reverted"}
        record["history"].append(reverted | ({"note": public["revertReason"]} if public.get("revertReason") else {}))
    if public.get("bulk") == "true":
        record["bulk_loaded"] = True
    return record


def _merge(record: dict | None, public: dict | None) -> dict:
    """One view of a batch: the staging record, corrected by the public store's state where it has one."""
    if record is None:
        assert public is not None
        record = _record_from_public(public)
    record = dict(record)
    if public is not None:
        record["state"] = public["state"].rsplit("#", 1)[-1]
        if public.get("accepted"):
            record.setdefault("accepted", public["accepted"])
        # A service stopped between the publishing write and the record's update leaves a record without the
        # decision; the acceptance's change record, written in the same transaction as the batch, names it.
        accepted_by = public.get("acceptedBy")
        if accepted_by and not record.get("reviewer"):
            record["reviewer"] = accepted_by
        history = record.get("history") or []
        if accepted_by and record.get("staged", True) and not any(h.get("action") == "accepted" for h in history):
            record["history"] = [*history, {"time": record.get("accepted"), "actor": accepted_by, "action": "accepted"}]
    record["iri"] = batch_iri(record["id"])
    return record


async def list_batches(public: Engine, staging: Engine, *, state: str | None = None) -> list[dict]:
    """Every batch (staged ones and those loaded directly), newest first, optionally in one state."""
    records = {r["id"]: r for r in await _records(staging)}
    published = await _public_states(public)
    merged = [_merge(records.get(i), published.get(i)) for i in set(records) | set(published)]
    if state:
        merged = [b for b in merged if b["state"] == state]
    return sorted(merged, key=lambda b: (b.get("submitted") or "", b["id"]), reverse=True)


async def batches_about(public: Engine, staging: Engine, iri: str, *, state: str | None = None) -> list[dict]:
    """The batches (any state, or ``state``) whose triples say something about ``iri`` (as subject) or whose
    amendments retract a statement about it or merge it (either side), newest first, each with its history: the
    entity's history. Staged batches are found in staging, directly loaded ones in their public graph (a
    bulk-loaded baseline keeps no graph, so it is not found). ``iri`` is bound as a term, never pasted as text."""
    term = rdflib.URIRef(iri).n3()
    touches = f"{{ {term} ?p ?o }} UNION {{ ?a <{PG.retractsSubject}>|<{PG.mergedFrom}>|<{PG.mergedInto}> {term} }}"
    staged = await staging.select(f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ {touches} }} }}")
    ids = {str(r["g"]).removeprefix(str(STAGING)) for r in staged if str(r["g"]).startswith(str(STAGING))}
    prefix = f"{PGID}batch/"
    # An amending batch's ledger graphs ({batch}/removed …) are not batches: a batch id holds no "/".
    loaded = await public.select(
        f"""SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ {term} ?p ?o }}
            FILTER (STRSTARTS(STR(?g), "{prefix}") && !CONTAINS(STRAFTER(STR(?g), "{prefix}"), "/")) }}"""
    )
    ids |= {str(r["g"]).removeprefix(prefix) for r in loaded}
    return [b for b in await list_batches(public, staging, state=state) if b["id"] in ids]


async def get_batch(public: Engine, staging: Engine, batch_id: str) -> dict:
    """The batch's record (state, curator, report, history); raises NotFound."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", batch_id):
        raise NotFound(f"no batch {batch_id[:100]!r}")
    records = await _records(staging, batch_id)
    published = (await _public_states(public, batch_id)).get(batch_id)
    if not records and published is None:
        raise NotFound(f"no batch {batch_id!r}")
    return _merge(records[0] if records else None, published)


async def batch_triples(public: Engine, staging: Engine, batch_id: str) -> bytes:
    """The batch's triples as N-Triples (from staging, or from its public graph for a directly loaded batch).

    Raises NotFound, or Conflict for a bulk-loaded batch (which keeps no copy)."""
    batch = await get_batch(public, staging, batch_id)
    if batch.get("bulk_loaded"):
        raise Conflict(f"batch {batch_id} was bulk-loaded: its triples are the store's baseline (see /dumps)")
    if batch.get("staged", True):
        return (await staging.graph_get(staging_graph(batch_id))).content
    if batch["state"] == "accepted":
        return (await public.graph_get(batch_iri(batch_id))).content
    return b""


async def save_record(staging: Engine, record: dict) -> None:
    """Replace the batch's record in the staging store, in one update."""
    subject = rdflib.URIRef(batch_iri(record["id"])).n3()
    literal = rdflib.Literal(json.dumps(record, ensure_ascii=False)).n3()
    state = rdflib.Literal(record["state"]).n3()
    digest = rdflib.Literal(record["content_hash"]).n3()
    await staging.update(
        f"DELETE {{ {subject} ?p ?o }} WHERE {{ {subject} ?p ?o }} ;\n"
        f"INSERT DATA {{ {subject} <{_RECORD}> {literal} ; <{_STATE}> {state} ; <{_HASH}> {digest} }}"
    )


def add_history(record: dict, actor: str, action: str, note: str | None = None) -> None:
    """Append one entry (now, ``actor``, ``action``, optional ``note``) to the record's history."""
    entry = {"time": stamp(now()), "actor": actor, "action": action}
    if note:
        entry["note"] = note
    record.setdefault("history", []).append(entry)
