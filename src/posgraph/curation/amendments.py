"""Corrections through review: a batch may carry, besides its additions, amendment nodes that change what is
already published — a ``pg:Retraction`` (one published triple goes) and a ``pg:Merge`` (every published triple
naming a duplicate IRI is rewritten to the IRI kept, and the duplicate redirects to it).

Amendment nodes are never published as data. Accepting such a batch is one SPARQL update that applies the
amendments and publishes the additions, and keeps beside the batch's graph three graphs of its own:

- ``{batch}/amendments``: the amendment nodes as submitted (what was asked, and why);
- ``{batch}/removed``: every triple the batch took out of the default graph, reified (``rdf:subject`` …);
- ``{batch}/added``: every triple its merges put into the default graph that was not there before, reified.

Reified, so that no ledger graph asserts a triple (a revert keeps a triple that another graph still asserts).
Reverting deletes what was added and re-inserts what was removed, so the default graph is as before.

Parsing runs in worker processes: the functions that do it are top-level and take and return plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pyoxigraph as ox
import rdflib

from posgraph import formats, metrics, workers
from posgraph.curation.intake import NT, PreparedBatch, context_ntriples, validate_prepared
from posgraph.engine import Engine
from posgraph.namespaces import (
    ONTOLOGY_GRAPH,
    PG,
    PGID,
    PREFIXES,
    RDF,
    SH,
    batch_iri,
    compact_iri,
    is_managed_resource,
)
from posgraph.validation import ValidationReport, ValidationResult, Validator

__all__ = [
    "Retraction",
    "Merge",
    "Amendments",
    "may_amend",
    "is_amendment_quad",
    "split_amendments",
    "check_published",
    "validate_amended",
    "validate_batch",
    "amendment_report",
    "ledger_graphs",
    "apply_update",
    "withdraw_update",
]

_TYPE = str(RDF.type)
_RETRACTS = (str(PG.retractsSubject), str(PG.retractsPredicate), str(PG.retractsObject))
_MERGE_PARTS = (str(PG.mergedFrom), str(PG.mergedInto))
_AMENDMENT_TYPES = (str(PG.Retraction), str(PG.Merge), str(PG.Amendment))
_AMENDMENT_PREDICATES = (*_RETRACTS, str(PG.mergedFrom))
# Cheap pre-check on a batch's N-Triples: without any of these IRIs it carries no amendment (nor a pg:mergedInto
# written by hand), and takes the plain path untouched.
_MARKERS = tuple(f"<{iri}>".encode() for iri in (*_AMENDMENT_TYPES, *_AMENDMENT_PREDICATES, str(PG.mergedInto)))
_SHAPE = "posgraph amendment check"  # not a SHACL shape: the checks that need the published graph


@dataclass(frozen=True)
class Retraction:
    """One published triple to remove; terms in N-Triples syntax, ``node`` as the report shows the amendment."""

    node: str
    subject: str
    predicate: str
    object: str
    reason: str | None = None

    def describe(self) -> dict:
        """The retraction as records show it."""
        return {"subject": self.subject, "predicate": self.predicate, "object": self.object, "reason": self.reason}


@dataclass(frozen=True)
class Merge:
    """Rewrite every published triple naming ``merged_from`` (an IRI) to ``merged_into``."""

    node: str
    merged_from: str
    merged_into: str
    reason: str | None = None

    def describe(self) -> dict:
        """The merge as records show it."""
        return {"mergedFrom": self.merged_from, "mergedInto": self.merged_into, "reason": self.reason}


@dataclass(frozen=True)
class Amendments:
    """A batch split into its additions and its amendments (all N-Triples or plain data, so it pickles cheaply)."""

    additions: bytes
    amendment_triples: bytes
    additions_count: int
    additions_subjects: tuple[str, ...]
    additions_mentioned: tuple[str, ...]
    retractions: tuple[Retraction, ...] = ()
    merges: tuple[Merge, ...] = ()
    problems: tuple[ValidationResult, ...] = field(default=())

    def summary(self) -> dict:
        """Counts and details, as a batch's record keeps them."""
        return {
            "added": self.additions_count,
            "retracted": len(self.retractions),
            "merged": len(self.merges),
            "retractions": [r.describe() for r in self.retractions],
            "merges": [m.describe() for m in self.merges],
        }


def may_amend(ntriples: bytes) -> bool:
    """True if the batch's N-Triples may carry amendments (then ``split_amendments`` decides)."""
    return any(marker in ntriples for marker in _MARKERS)


def is_amendment_quad(quad: ox.Quad | ox.Triple) -> bool:
    """True if the quad belongs to an amendment node (a pg:Retraction or pg:Merge, or uses their properties; a
    bare ``pg:mergedInto``, as a dump holds it, is not one)."""
    predicate = quad.predicate.value
    if predicate in _AMENDMENT_PREDICATES:
        return True
    return predicate == _TYPE and isinstance(quad.object, ox.NamedNode) and quad.object.value in _AMENDMENT_TYPES


def _show(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> str:
    if isinstance(term, ox.NamedNode):
        return compact_iri(term.value)
    return str(term)


def _problem(node: str, message: str, *, path: str | None = None, value: str | None = None, hint: str | None = None):
    focus = _term(node)  # the node as the batch names it, as the validator's results give it (focus_id)
    focus_id = f"_:{focus}" if isinstance(focus, rdflib.BNode) else str(focus)
    if isinstance(focus, rdflib.Literal):
        focus_id = None
    return ValidationResult("Violation", node, path, value, _SHAPE, message, hint, focus_id)


def _one(values: list, node: str, name: str, problems: list, *, iri: bool) -> object | None:
    """The single value of an amendment's part, or None with a problem recorded."""
    if len(values) != 1:
        problems.append(_problem(node, f"needs exactly one {name} ({len(values)} given)", path=name))
        return None
    value = values[0]
    if isinstance(value, ox.BlankNode) or (iri and not isinstance(value, ox.NamedNode)):
        problems.append(
            _problem(node, f"{name} must be an IRI" + ("" if iri else " or a literal"), path=name, value=str(value))
        )
        return None
    return value


def split_amendments(ntriples: bytes, source: str = "batch") -> Amendments:
    """Split a batch's N-Triples into additions and amendment nodes (subjects typed pg:Retraction or pg:Merge, or
    using their properties), read the amendments, and list what is wrong with them that the batch alone shows
    (a missing or repeated part, a blank node, provenance, a merge into itself, additions naming a merged IRI).
    Runs in a worker process. Raises RdfSyntaxError."""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in formats.read_quads(ntriples, NT, source)]
    nodes = {
        t.subject
        for t in triples
        if t.predicate.value in _AMENDMENT_PREDICATES
        or (t.predicate.value == _TYPE and isinstance(t.object, ox.NamedNode) and t.object.value in _AMENDMENT_TYPES)
    }
    amendment = [t for t in triples if t.subject in nodes]
    additions = [t for t in triples if t.subject not in nodes]
    problems: list[ValidationResult] = []
    retractions, merges = [], []
    for node in sorted(nodes, key=str):
        parts: dict[str, list] = {}
        types = set()
        for t in amendment:
            if t.subject == node:
                parts.setdefault(t.predicate.value, []).append(t.object)
                if t.predicate.value == _TYPE:
                    types.add(t.object.value)
        shown = _show(node)
        reason = parts.get(str(PG.reason), [None])[0]
        reason_text = reason.value if isinstance(reason, ox.Literal) else None
        is_merge = str(PG.Merge) in types or str(PG.mergedFrom) in parts
        is_retraction = str(PG.Retraction) in types or any(p in parts for p in _RETRACTS)
        if is_merge == is_retraction:
            problems.append(_problem(shown, "an amendment is either a pg:Retraction or a pg:Merge (one of them)"))
            continue
        if is_retraction:
            s = _one(parts.get(_RETRACTS[0], []), shown, "pg:retractsSubject", problems, iri=True)
            p = _one(parts.get(_RETRACTS[1], []), shown, "pg:retractsPredicate", problems, iri=True)
            o = _one(parts.get(_RETRACTS[2], []), shown, "pg:retractsObject", problems, iri=False)
            if s is None or p is None or o is None:
                continue
            if is_managed_resource(s.value) or is_managed_resource(p.value):
                problems.append(
                    _problem(shown, "posgraph's provenance and change records cannot be retracted", value=str(s))
                )
                continue
            retractions.append(Retraction(shown, str(s), str(p), str(o), reason_text))
        else:
            f = _one(parts.get(_MERGE_PARTS[0], []), shown, "pg:mergedFrom", problems, iri=True)
            t = _one(parts.get(_MERGE_PARTS[1], []), shown, "pg:mergedInto", problems, iri=True)
            if f is None or t is None:
                continue
            if f == t:
                problems.append(
                    _problem(shown, "a merge's pg:mergedFrom and pg:mergedInto must differ", value=_show(f))
                )
                continue
            if is_managed_resource(f.value) or is_managed_resource(t.value):
                problems.append(_problem(shown, "posgraph's own records cannot be merged", value=_show(f)))
                continue
            merges.append(Merge(shown, f.value, t.value, reason_text))
    problems += _batch_problems(additions, merges)
    subjects = {t.subject.value for t in additions if isinstance(t.subject, ox.NamedNode)}
    objects = {t.object.value for t in additions if isinstance(t.object, ox.NamedNode)}
    return Amendments(
        additions=ox.serialize(additions, format=ox.RdfFormat.N_TRIPLES),
        amendment_triples=ox.serialize(amendment, format=ox.RdfFormat.N_TRIPLES),
        additions_count=len(additions),
        additions_subjects=tuple(sorted(subjects)),
        additions_mentioned=tuple(sorted(subjects | objects)),
        retractions=tuple(retractions),
        merges=tuple(merges),
        problems=tuple(problems),
    )


def _batch_problems(additions: list[ox.Triple], merges: list[Merge]) -> list[ValidationResult]:
    """What is wrong between a batch's merges and its additions."""
    problems = []
    sources = {m.merged_from for m in merges}
    for merge in merges:
        if [m.merged_from for m in merges].count(merge.merged_from) > 1:
            problems.append(_problem(merge.node, "the same IRI is merged twice in one batch", value=merge.merged_from))
        if merge.merged_into in sources:
            problems.append(
                _problem(
                    merge.node,
                    f"{compact_iri(merge.merged_into)} is itself merged away in this batch: merge into the IRI kept",
                    path="pg:mergedInto",
                )
            )
    for t in additions:
        if t.predicate.value == str(PG.mergedInto):
            problems.append(
                _problem(
                    _show(t.subject),
                    "pg:mergedInto is written by accepting a merge, not stated directly",
                    path="pg:mergedInto",
                    hint="Describe a pg:Merge node with pg:mergedFrom and pg:mergedInto.",
                )
            )
        for term in (t.subject, t.object):
            if isinstance(term, ox.NamedNode) and term.value in sources:
                problems.append(
                    _problem(
                        _show(t.subject),
                        f"this batch merges {compact_iri(term.value)} away: its additions must use the IRI kept",
                        value=compact_iri(term.value),
                    )
                )
    return problems


async def check_published(engine: Engine, amendments: Amendments) -> list[ValidationResult]:
    """What is wrong with the amendments against the published graph as it is now: a retraction of a triple that
    is not published (or is the ontology's); a merge whose pg:mergedFrom is not described, is the ontology's or is
    already merged, or whose pg:mergedInto is neither described nor added by the batch, or is merged away itself.
    One small query per amendment. Raises an engine error."""
    problems = []
    ontology = rdflib.URIRef(str(ONTOLOGY_GRAPH)).n3()
    for r in amendments.retractions:
        triple = f"{r.subject} {r.predicate} {r.object}"
        if not await engine.ask(f"ASK {{ {triple} }}"):
            problems.append(
                _problem(
                    r.node,
                    f"retracts {r.subject} {r.predicate} {r.object}, which is not published",
                    path="pg:retractsObject",
                    value=r.object,
                    hint="A retraction names one published triple exactly (subject, predicate, object with its "
                    "datatype or language): look it up at /id/… first.",
                )
            )
        elif await engine.ask(f"ASK {{ GRAPH {ontology} {{ {triple} }} }}"):
            problems.append(_problem(r.node, "the ontology is not amended by batches", value=r.subject))
    mergedinto = rdflib.URIRef(str(PG.mergedInto)).n3()
    for m in amendments.merges:
        f, t = rdflib.URIRef(m.merged_from).n3(), rdflib.URIRef(m.merged_into).n3()
        rows = await engine.select(f"SELECT ?x WHERE {{ {f} {mergedinto} ?x }} LIMIT 1")
        if rows:
            problems.append(
                _problem(
                    m.node,
                    f"{compact_iri(m.merged_from)} is already merged into {compact_iri(str(rows[0]['x']))}",
                    path="pg:mergedFrom",
                )
            )
        elif not await engine.ask(f"ASK {{ {f} ?p ?o }}"):
            problems.append(
                _problem(
                    m.node,
                    f"{compact_iri(m.merged_from)} is not described in the published graph: there is nothing to merge",
                    path="pg:mergedFrom",
                    value=compact_iri(m.merged_from),
                )
            )
        elif await engine.ask(f"ASK {{ GRAPH {ontology} {{ {f} ?p ?o }} }}"):
            problems.append(_problem(m.node, "the ontology's terms are not merged by batches", path="pg:mergedFrom"))
        rows = await engine.select(f"SELECT ?x WHERE {{ {t} {mergedinto} ?x }} LIMIT 1")
        if rows:
            problems.append(
                _problem(
                    m.node,
                    f"{compact_iri(m.merged_into)} is itself merged into {compact_iri(str(rows[0]['x']))}: "
                    "merge into that",
                    path="pg:mergedInto",
                )
            )
        elif m.merged_into not in amendments.additions_subjects and not await engine.ask(f"ASK {{ {t} ?p ?o }}"):
            problems.append(
                _problem(
                    m.node,
                    f"{compact_iri(m.merged_into)} is neither published nor described in this batch",
                    path="pg:mergedInto",
                    value=compact_iri(m.merged_into),
                )
            )
    return problems


def _amended_context(context: rdflib.Graph, amendments: Amendments) -> None:
    """Apply the amendments to the fetched context, in place: retracted triples out, merged IRIs rewritten and
    redirected (so the merged IRI stays described, by its redirect, as it will be)."""
    if amendments.retractions:
        document = "".join(f"{r.subject} {r.predicate} {r.object} .\n" for r in amendments.retractions).encode()
        for triple in formats.to_rdflib_graph(formats.read_quads(document, NT, "retractions")):
            context.remove(triple)
    for m in amendments.merges:
        old, new = rdflib.URIRef(m.merged_from), rdflib.URIRef(m.merged_into)
        for s, p, o in list(context.triples((old, None, None))) + list(context.triples((None, None, old))):
            context.remove((s, p, o))
            context.add((new if s == old else s, p, new if o == old else o))
        context.add((old, rdflib.URIRef(str(PG.mergedInto)), new))  # as accepting leaves it: the redirect


def validate_amended_ntriples(
    validator: Validator | tuple,
    amendments: Amendments,
    context: tuple[bytes, ...],
    problems: tuple[ValidationResult, ...] = (),
    render: str | None = None,
    shipped: bool = False,
) -> tuple[ValidationReport, bytes | None]:
    """Validate the batch's additions and amendment nodes in ``context`` as the amendments leave it (retracted
    triples absent, merges applied); the resources amended (retractions' subjects, merges' kept IRIs) are
    validated too, as they will be. ``problems`` (the amendment checks') join the report. Returns the report and
    its rendering in ``render`` (``shipped``: as ``intake.validate_ntriples`` says). Runs in a worker."""
    if not isinstance(validator, Validator):
        validator = Validator.cached(validator)
    data = formats.to_rdflib_graph(formats.read_quads(amendments.additions + amendments.amendment_triples, NT, "batch"))
    graph = rdflib.Graph()
    for part in context:
        formats.to_rdflib_graph(formats.read_quads(part, NT, "engine", allow_control_chars=True), graph)
    _amended_context(graph, amendments)
    affected = {rdflib.URIRef(m.merged_into) for m in amendments.merges}
    affected |= {rdflib.URIRef(r.subject[1:-1]) for r in amendments.retractions}
    for node in affected:  # in the data, so that results about them are reported
        for triple in graph.triples((node, None, None)):
            data.add(triple)
    report = amendment_report(validator.validate(data, graph), list(problems))
    rendered = report.render(render) if render else None
    report.graph = None  # the sh:ValidationReport graph is rendered here or not at all: too costly to ship back
    return (report.rendered_summary() if shipped and render else report), rendered


async def validate_amended(
    engine: Engine,
    validator: Validator,
    amendments: Amendments,
    *,
    pool: workers.WorkerPool | None = None,
    render: str | None = None,
) -> tuple[ValidationReport, bytes | None]:
    """Validate an amending batch in the context of the live graph as its amendments leave it (see
    ``validate_amended_ntriples``), in ``pool``, with what ``split_amendments`` and ``check_published`` found
    about its amendments among the results; return the report and its rendering in ``render``.
    Raises an engine error, WorkTimeout, WorkerFailed or Overloaded."""
    problems = (*amendments.problems, *await check_published(engine, amendments))
    amended = {m.merged_from for m in amendments.merges} | {m.merged_into for m in amendments.merges}
    amended |= {r.subject[1:-1] for r in amendments.retractions}
    scope = PreparedBatch(
        ntriples=b"",
        subjects=tuple(sorted(set(amendments.additions_subjects) | amended)),
        mentioned=tuple(sorted(set(amendments.additions_mentioned) | amended)),
        digest="",
        triples=0,
        resources=0,
        sources=(),
    )
    context = await context_ntriples(engine, scope)
    # The amended resources are validated whole, so what their stored statements point at must resolve too
    # (types and key properties): a second, smaller round for the IRIs the first answers name.
    named = {
        q.object.value
        for part in context
        for q in formats.read_quads(part, NT, "engine", allow_control_chars=True)
        if isinstance(q.object, ox.NamedNode) and q.predicate.value != _TYPE
    } - set(scope.mentioned)
    if named:
        context += await context_ntriples(engine, replace(scope, subjects=(), mentioned=tuple(sorted(named))))
    shipped = validator.sources if (pool is not None and validator.sources) else validator
    with metrics.validation_seconds.time():
        return await workers.run(
            pool, validate_amended_ntriples, shipped, amendments, context, problems, render, pool is not None
        )


async def validate_batch(
    engine: Engine,
    validator: Validator,
    prepared: PreparedBatch,
    *,
    pool: workers.WorkerPool | None = None,
    render: str | None = None,
) -> tuple[ValidationReport, bytes | None, Amendments | None]:
    """Validate a prepared batch in the context of the live graph, whether or not it carries amendments (then as
    ``validate_amended``, else as ``intake.validate_prepared``); return the report, its rendering in ``render``
    and the amendments (None when it carries none). What submitting, accepting and a dry run all use.
    Raises an engine error, RdfSyntaxError, WorkTimeout, WorkerFailed or Overloaded."""
    if not may_amend(prepared.ntriples):
        return (*await validate_prepared(engine, validator, prepared, pool=pool, render=render), None)
    amendments = await workers.run(pool, split_amendments, prepared.ntriples)
    return (*await validate_amended(engine, validator, amendments, pool=pool, render=render), amendments)


def amendment_report(report: ValidationReport, problems: list[ValidationResult]) -> ValidationReport:
    """``report`` with the amendment ``problems`` added (each a Violation), in its results and, where it has one,
    its sh:ValidationReport graph."""
    if not problems:
        return report
    results = sorted(
        set(report.results) | set(problems), key=lambda r: (r.severity != "Violation", r.focus_node, r.path or "")
    )
    graph = report.graph
    if graph is not None:
        root = next(iter(graph.subjects(RDF.type, SH.ValidationReport)), None) or rdflib.BNode()
        graph.set((root, RDF.type, SH.ValidationReport))
        graph.set((root, SH.conforms, rdflib.Literal(False)))
        for problem in problems:
            node = rdflib.BNode()
            graph.add((root, SH.result, node))
            graph.add((node, RDF.type, SH.ValidationResult))
            graph.add((node, SH.resultSeverity, SH.Violation))
            graph.add((node, SH.focusNode, _term(problem.focus_node)))
            graph.add((node, SH.resultMessage, rdflib.Literal(problem.message)))
            if problem.path:
                graph.add((node, SH.resultPath, _term(problem.path)))
    return ValidationReport(conforms=False, results=results, graph=graph)


def _term(shown: str) -> rdflib.term.Node:
    """A node back from how a report shows it (``pg:x``, ``_:id``, ``<iri>``)."""
    if shown.startswith("_:"):
        return rdflib.BNode(shown[2:])
    if shown.startswith("<") and shown.endswith(">"):
        return rdflib.URIRef(shown[1:-1])
    prefix, _, rest = shown.partition(":")
    return rdflib.URIRef(PREFIXES[prefix] + rest) if prefix in PREFIXES else rdflib.Literal(shown)


# ------------------------------------------------------------------------------------------ publish and revert
def ledger_graphs(batch_id: str) -> dict[str, str]:
    """The IRIs of an amending batch's own graphs: its amendment nodes, the triples removed, the triples added."""
    base = batch_iri(batch_id)
    return {"amendments": f"{base}/amendments", "removed": f"{base}/removed", "added": f"{base}/added"}


_S, _P, _O = (rdflib.URIRef(str(RDF[name])).n3() for name in ("subject", "predicate", "object"))
# A triple naming a merged IRI in posgraph's own description (a batch's sources, say) is history: it stays.
_NOT_MANAGED = " && ".join(
    f'!STRSTARTS(STR(?s), "{PGID}{prefix}")' for prefix in ("batch/", "change/", "agent/", "staging/")
)


def _naming(merge: Merge) -> str:
    """A pattern binding ?s ?p ?o to each default-graph triple naming ``merge.merged_from``, and ?s2 ?o2 to its
    rewrite."""
    f, t = rdflib.URIRef(merge.merged_from).n3(), rdflib.URIRef(merge.merged_into).n3()
    return (
        f"{{ SELECT DISTINCT ?s ?p ?o WHERE {{ {{ {f} ?p ?o BIND ({f} AS ?s) }} UNION {{ ?s ?p {f} BIND ({f} AS ?o) }}"
        f" FILTER (isBlank(?s) || ({_NOT_MANAGED})) }} }}"
        f" BIND (IF(?s = {f}, {t}, ?s) AS ?s2) BIND (IF(?o = {f}, {t}, ?o) AS ?o2)"
    )


def apply_update(batch_id: str, amendments: Amendments) -> str:
    """The SPARQL operations (to run first, in the same request as the publication) that apply the amendments to
    the default graph and record in the batch's ledger graphs exactly what they removed and added, and keep the
    amendment nodes in their own graph. Retractions first, then merges (in the batch's order)."""
    graphs = {k: rdflib.URIRef(v).n3() for k, v in ledger_graphs(batch_id).items()}
    removed, added = graphs["removed"], graphs["added"]
    ops = []
    for r in amendments.retractions:
        triple = f"{r.subject} {r.predicate} {r.object}"
        ops.append(
            f"INSERT {{ GRAPH {removed} {{ [] {_S} {r.subject} ; {_P} {r.predicate} ; {_O} {r.object} }} }} "
            f"WHERE {{ {triple} }}"
        )
        ops.append(f"DELETE DATA {{ {triple} }}")
    mergedinto = rdflib.URIRef(str(PG.mergedInto)).n3()
    for m in amendments.merges:
        naming = _naming(m)
        f, t = rdflib.URIRef(m.merged_from).n3(), rdflib.URIRef(m.merged_into).n3()
        ops.append(f"INSERT {{ GRAPH {removed} {{ [] {_S} ?s ; {_P} ?p ; {_O} ?o }} }} WHERE {{ {naming} }}")
        ops.append(
            f"INSERT {{ GRAPH {added} {{ [] {_S} ?s2 ; {_P} ?p ; {_O} ?o2 }} }} "
            f"WHERE {{ {naming} FILTER NOT EXISTS {{ ?s2 ?p ?o2 }} }}"
        )
        ops.append(f"DELETE {{ ?s ?p ?o }} INSERT {{ ?s2 ?p ?o2 }} WHERE {{ {naming} }}")
        ops.append(
            f"INSERT DATA {{ {f} {mergedinto} {t} . GRAPH {added} {{ [] {_S} {f} ; {_P} {mergedinto} ; {_O} {t} }} }}"
        )
    nodes = amendments.amendment_triples.decode("utf-8").strip()
    if nodes:
        ops.append(f"INSERT DATA {{ GRAPH {graphs['amendments']} {{ {nodes} }} }}")
    return " ;\n".join(ops)


def insert_data(nquads: bytes) -> str:
    """N-Quads as one SPARQL ``INSERT DATA`` (blank node labels are shared across its graphs, as in the file)."""
    default, named = [], {}
    for quad in formats.read_quads(nquads, formats.format_for_media_type("application/n-quads"), "publication"):
        line = f"{quad.subject} {quad.predicate} {quad.object} ."
        if isinstance(quad.graph_name, ox.DefaultGraph):
            default.append(line)
        else:
            named.setdefault(str(quad.graph_name), []).append(line)
    body = "\n".join(default) + "".join(f"\nGRAPH {g} {{\n" + "\n".join(lines) + "\n}" for g, lines in named.items())
    return f"INSERT DATA {{\n{body}\n}}"


def withdraw_update(batch_id: str) -> str:
    """The SPARQL operations (to run after a revert takes the batch's additions away, in the same request) that
    undo its amendments: the triples its merges added go unless a batch graph asserts them, and the triples it
    removed come back. The ledger graphs stay, as the record of what the batch did. No-ops for a batch without
    amendments."""
    graphs = {k: rdflib.URIRef(v).n3() for k, v in ledger_graphs(batch_id).items()}
    reified = "[] {s} ?s ; {p} ?p ; {o} ?o".format(s=_S, p=_P, o=_O)
    batch = rdflib.URIRef(batch_iri(batch_id)).n3()
    return (
        f"DELETE {{ ?s ?p ?o }} WHERE {{ GRAPH {graphs['added']} {{ {reified} }}\n"
        f"    FILTER NOT EXISTS {{ GRAPH ?g {{ ?s ?p ?o }}\n"
        f'        FILTER (STRSTARTS(STR(?g), "{PGID}batch/") && ?g != {batch}) }} }} ;\n'
        f"INSERT {{ ?s ?p ?o }} WHERE {{ GRAPH {graphs['removed']} {{ {reified} }} }}"
    )


async def ledger_counts(engine: Engine, batch_id: str) -> dict[str, int]:
    """How many triples the batch's amendments removed from and added to the default graph (from its ledger)."""
    graphs = ledger_graphs(batch_id)
    rows = await engine.select(
        f"""SELECT (COUNT(DISTINCT ?r) AS ?removed) (COUNT(DISTINCT ?a) AS ?added) WHERE {{
        {{ GRAPH {rdflib.URIRef(graphs["removed"]).n3()} {{ ?r {_S} ?x }} }}
        UNION {{ GRAPH {rdflib.URIRef(graphs["added"]).n3()} {{ ?a {_S} ?x }} }} }}"""
    )
    row = rows[0] if rows else {}
    return {"removed": int(row.get("removed", 0)), "rewritten": int(row.get("added", 0))}
